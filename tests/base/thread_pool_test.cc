#include "base/thread_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <utility>
#include <vector>

namespace lightvlm {
namespace {

TEST(ThreadPoolTest, DefaultHasAtLeastOneThread) {
  ThreadPool pool;
  EXPECT_GE(pool.num_threads(), 1);
}

TEST(ThreadPoolTest, CoversEveryIndexExactlyOnce) {
  for (int threads : {1, 2, 3, 5, 8}) {
    ThreadPool pool(threads);
    for (int64_t count : {0, 1, 2, 3, 7, 8, 9, 100, 1001}) {
      for (int64_t min_chunk : {1, 4, 100}) {
        std::vector<std::atomic<int>> visits(count);
        pool.ParallelFor(
            count,
            [&](int64_t begin, int64_t end) {
              for (int64_t i = begin; i < end; ++i) visits[i].fetch_add(1);
            },
            min_chunk);
        for (int64_t i = 0; i < count; ++i) {
          ASSERT_EQ(visits[i].load(), 1) << "threads=" << threads << " count=" << count
                                         << " min_chunk=" << min_chunk << " index=" << i;
        }
      }
    }
  }
}

TEST(ThreadPoolTest, RespectsMinChunkAndThreadCount) {
  ThreadPool pool(4);
  for (int64_t count : {1, 5, 10, 11, 40, 1000}) {
    for (int64_t min_chunk : {1, 3, 10, 2000}) {
      std::mutex mutex;
      std::vector<std::pair<int64_t, int64_t>> ranges;
      pool.ParallelFor(
          count,
          [&](int64_t begin, int64_t end) {
            std::lock_guard lock(mutex);
            ranges.emplace_back(begin, end);
          },
          min_chunk);
      EXPECT_LE(ranges.size(), 4u);
      for (const auto& [begin, end] : ranges) {
        // A range shorter than min_chunk only when the whole count is.
        EXPECT_GE(end - begin, std::min(min_chunk, count))
            << "count=" << count << " min_chunk=" << min_chunk;
      }
    }
  }
}

TEST(ThreadPoolTest, ExceptionPropagatesFromCallerAndWorkers) {
  ThreadPool pool(3);
  // Index 0 runs on the calling thread, the last index on a worker.
  for (int64_t failing_index : {0, 299}) {
    EXPECT_THROW(pool.ParallelFor(300,
                                  [&](int64_t begin, int64_t end) {
                                    if (begin <= failing_index && failing_index < end) {
                                      throw std::runtime_error("task failed");
                                    }
                                  }),
                 std::runtime_error);
    // The pool still works after a failure.
    std::atomic<int64_t> sum = 0;
    pool.ParallelFor(300, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) sum += i;
    });
    EXPECT_EQ(sum.load(), 300 * 299 / 2);
  }
}

TEST(ThreadPoolTest, ReusableManyTimes) {
  ThreadPool pool(3);
  for (int round = 0; round < 2000; ++round) {
    const int64_t count = 1 + round % 17;
    std::atomic<int64_t> sum = 0;
    pool.ParallelFor(count, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) sum += i + 1;
    });
    ASSERT_EQ(sum.load(), count * (count + 1) / 2) << "round " << round;
  }
}

// Workers first spin on the next loop, then sleep: loops far apart (workers asleep), back to
// back (workers spinning) and in between, and a caller whose own range is slow (it sleeps
// while waiting) or fast (it spins), must all see every index once.
TEST(ThreadPoolTest, LoopsAfterSpinningAndSleepingWorkers) {
  ThreadPool pool(3);
  for (const int gap_us : {0, 50, 150, 2000, 0, 5000}) {
    for (const bool slow_caller : {false, true}) {
      std::this_thread::sleep_for(std::chrono::microseconds(gap_us));
      std::vector<std::atomic<int>> visits(30);
      pool.ParallelFor(30, [&](int64_t begin, int64_t end) {
        if (slow_caller && begin == 0) std::this_thread::sleep_for(std::chrono::milliseconds(2));
        if (!slow_caller && begin != 0) std::this_thread::sleep_for(std::chrono::milliseconds(2));
        for (int64_t i = begin; i < end; ++i) visits[i].fetch_add(1);
      });
      for (int i = 0; i < 30; ++i) {
        ASSERT_EQ(visits[i].load(), 1) << "gap " << gap_us << " us, index " << i;
      }
    }
  }
}

// A pool destroyed while its workers sleep, and one destroyed while they still spin.
TEST(ThreadPoolTest, StopsWhetherWorkersSpinOrSleep) {
  for (const int idle_ms : {0, 5}) {
    ThreadPool pool(4);
    std::atomic<int64_t> sum = 0;
    pool.ParallelFor(100, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) sum += i;
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(idle_ms));
    EXPECT_EQ(sum.load(), 4950);
  }
}

}  // namespace
}  // namespace lightvlm
