#include "base/thread_pool.h"

#include <algorithm>
#include <chrono>
#include <utility>

#include "base/error.h"

namespace lightvlm {
namespace {

// Long enough to cover the gap between two loops of a decode step (norms, sampling, the
// caller's own bookkeeping), short enough that an idle pool leaves the cores at once.
constexpr std::chrono::microseconds kSpin{100};

// Spins until done() holds or kSpin has passed; returns done(). Each turn yields the core:
// when another process competes for the cores, a thread spinning with pause instructions
// would burn the time slices the thread it waits for needs (measured on 2 cores with one busy
// process beside a batch-1 decode: 51 ms a step spinning with pause, 24 ms yielding, 25 ms
// sleeping at once; idle: 15 ms spinning either way, 21.5 ms sleeping at once).
template <typename Done>
bool SpinUntil(const Done& done) {
  const auto deadline = std::chrono::steady_clock::now() + kSpin;
  for (int i = 1;; ++i) {
    if (done()) return true;
    std::this_thread::yield();
    if (i % 8 == 0 && std::chrono::steady_clock::now() > deadline) return done();
  }
}

}  // namespace

ThreadPool::ThreadPool(int num_threads) {
  Check(num_threads >= 0, "thread count must be >= 0 (0: all cores), got ", num_threads);
  if (num_threads <= 0) num_threads = std::max(1u, std::thread::hardware_concurrency());
  ranges_.resize(num_threads);
  for (int worker = 1; worker < num_threads; ++worker) {
    workers_.emplace_back([this, worker] { WorkerLoop(worker); });
  }
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  work_ready_.notify_all();
  for (auto& thread : workers_) thread.join();
}

void ThreadPool::RunRange(int thread) {
  const auto [begin, end] = ranges_[thread];
  if (begin == end) return;
  try {
    (*task_)(begin, end);
  } catch (...) {
    std::lock_guard lock(mutex_);
    if (!error_) error_ = std::current_exception();
  }
}

void ThreadPool::ParallelFor(int64_t count, const std::function<void(int64_t, int64_t)>& fn,
                             int64_t min_chunk) {
  if (count <= 0) return;
  const int64_t max_parts = std::max<int64_t>(1, count / std::max<int64_t>(1, min_chunk));
  const int parts = static_cast<int>(std::min<int64_t>(num_threads(), max_parts));
  if (parts == 1) {
    fn(0, count);
    return;
  }
  for (int i = 0; i < num_threads(); ++i) {
    ranges_[i] = i < parts ? std::pair{count * i / parts, count * (i + 1) / parts}
                           : std::pair<int64_t, int64_t>{0, 0};
  }
  task_ = &fn;
  // Every worker acknowledges every generation, so none can still be reading ranges_ when the
  // next call rewrites them.
  pending_.store(static_cast<int>(workers_.size()), std::memory_order_relaxed);
  {
    std::lock_guard lock(mutex_);
    generation_.fetch_add(1, std::memory_order_release);
    if (sleeping_workers_ > 0) work_ready_.notify_all();
  }
  RunRange(0);
  if (!SpinUntil([this] { return pending_.load(std::memory_order_acquire) == 0; })) {
    std::unique_lock lock(mutex_);
    caller_sleeping_ = true;
    work_done_.wait(lock, [this] { return pending_.load(std::memory_order_acquire) == 0; });
    caller_sleeping_ = false;
  }
  task_ = nullptr;
  std::lock_guard lock(mutex_);
  if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
}

void ThreadPool::WorkerLoop(int worker) {
  uint64_t seen = 0;
  const auto has_news = [&] {
    return stopping_.load(std::memory_order_relaxed) ||
           generation_.load(std::memory_order_acquire) != seen;
  };
  while (true) {
    if (!SpinUntil(has_news)) {
      std::unique_lock lock(mutex_);
      ++sleeping_workers_;
      work_ready_.wait(lock, has_news);
      --sleeping_workers_;
    }
    if (stopping_.load(std::memory_order_relaxed)) return;
    seen = generation_.load(std::memory_order_acquire);
    RunRange(worker);
    if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      std::lock_guard lock(mutex_);
      if (caller_sleeping_) work_done_.notify_one();
    }
  }
}

}  // namespace lightvlm
