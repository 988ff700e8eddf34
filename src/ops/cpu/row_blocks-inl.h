// The loop of the weight-only quantised decode kernels (gemm_int8.cc, gemm_q4.cc) over blocks of
// rows of x and tiles of weight rows. Compiled once per SIMD target, as Highway's -inl.h headers
// are: the per-target include guard below lets foreach_target.h include it again for each.
#if defined(LIGHTVLM_OPS_CPU_ROW_BLOCKS_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef LIGHTVLM_OPS_CPU_ROW_BLOCKS_INL_H_
#undef LIGHTVLM_OPS_CPU_ROW_BLOCKS_INL_H_
#else
#define LIGHTVLM_OPS_CPU_ROW_BLOCKS_INL_H_
#endif

#include <algorithm>
#include <cstdint>

#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace lightvlm::ops::HWY_NAMESPACE {

// Calls dot.operator()<R>(r0, j) for blocks of R <= 4 rows of x from row r0 and every output
// column j in [begin, end), in tiles of columns whose weights (row_bytes each) stay in cache
// while every block of rows passes over them: each weight byte comes from memory once.
template <class Dot>
void ForEachRowBlock(int64_t m, int64_t row_bytes, int64_t begin, int64_t end, const Dot& dot) {
  const int64_t tile = std::max<int64_t>(1, (256 << 10) / row_bytes);
  for (int64_t first = begin; first < end; first += tile) {
    const int64_t last = std::min(end, first + tile);
    for (int64_t r0 = 0; r0 < m; r0 += 4) {
      for (int64_t j = first; j < last; ++j) {
        switch (std::min<int64_t>(4, m - r0)) {
          case 1:
            dot.template operator()<1>(r0, j);
            break;
          case 2:
            dot.template operator()<2>(r0, j);
            break;
          case 3:
            dot.template operator()<3>(r0, j);
            break;
          default:
            dot.template operator()<4>(r0, j);
            break;
        }
      }
    }
  }
}

}  // namespace lightvlm::ops::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // LIGHTVLM_OPS_CPU_ROW_BLOCKS_INL_H_
