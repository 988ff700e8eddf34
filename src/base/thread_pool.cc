#include "base/thread_pool.h"

#include <algorithm>
#include <utility>

#include "base/error.h"

namespace lightvlm {

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

void ThreadPool::ParallelFor(int64_t count, const std::function<void(int64_t, int64_t)>& fn,
                             int64_t min_chunk) {
  if (count <= 0) return;
  const int64_t max_parts = std::max<int64_t>(1, count / std::max<int64_t>(1, min_chunk));
  const int parts = static_cast<int>(std::min<int64_t>(num_threads(), max_parts));
  if (parts == 1) {
    fn(0, count);
    return;
  }
  {
    std::lock_guard lock(mutex_);
    for (int i = 0; i < num_threads(); ++i) {
      ranges_[i] = i < parts ? std::pair{count * i / parts, count * (i + 1) / parts}
                             : std::pair<int64_t, int64_t>{0, 0};
    }
    task_ = &fn;
    error_ = nullptr;
    pending_ = parts - 1;
    ++generation_;
  }
  work_ready_.notify_all();
  try {
    fn(ranges_[0].first, ranges_[0].second);
  } catch (...) {
    std::lock_guard lock(mutex_);
    if (!error_) error_ = std::current_exception();
  }
  std::unique_lock lock(mutex_);
  work_done_.wait(lock, [this] { return pending_ == 0; });
  task_ = nullptr;
  if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
}

void ThreadPool::WorkerLoop(int worker) {
  uint64_t seen = 0;
  while (true) {
    std::unique_lock lock(mutex_);
    work_ready_.wait(lock, [&] { return stopping_ || generation_ != seen; });
    if (stopping_) return;
    seen = generation_;
    const auto [begin, end] = ranges_[worker];
    if (begin == end) continue;
    const auto* task = task_;
    lock.unlock();
    try {
      (*task)(begin, end);
    } catch (...) {
      std::lock_guard error_lock(mutex_);
      if (!error_) error_ = std::current_exception();
    }
    lock.lock();
    if (--pending_ == 0) work_done_.notify_one();
  }
}

}  // namespace lightvlm
