// A fixed pool of worker threads that kernels use to split loops.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

namespace lightvlm {

class ThreadPool {
 public:
  // num_threads counts the calling thread; 0 means one per hardware thread.
  explicit ThreadPool(int num_threads = 0);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int num_threads() const { return static_cast<int>(workers_.size()) + 1; }

  // Splits [0, count) into at most num_threads() contiguous ranges of at least `min_chunk`
  // items and runs fn(begin, end) on each, the caller taking one; returns when all are done.
  // The first exception thrown by fn is rethrown here. Not reentrant.
  void ParallelFor(int64_t count, const std::function<void(int64_t, int64_t)>& fn,
                   int64_t min_chunk = 1);

 private:
  void WorkerLoop(int worker);
  void RunRange(int thread);

  std::vector<std::thread> workers_;
  // A decode step is hundreds of short loops; a worker woken through the kernel for each would
  // wait tens of microseconds every time, so workers and caller first spin on these atomics for
  // a moment and only then sleep on the condition variables.
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> pending_{0};  // workers yet to finish the current generation
  std::atomic<bool> stopping_{false};
  std::mutex mutex_;  // guards the sleepers' counts and error_
  std::condition_variable work_ready_;
  std::condition_variable work_done_;
  int sleeping_workers_ = 0;
  bool caller_sleeping_ = false;
  const std::function<void(int64_t, int64_t)>* task_ = nullptr;
  std::vector<std::pair<int64_t, int64_t>> ranges_;  // [workers + 1], range of each thread
  std::exception_ptr error_;
};

}  // namespace lightvlm
