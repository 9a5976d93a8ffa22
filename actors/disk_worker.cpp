#include "actors/disk_worker.hpp"

#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/thread_pool.hpp>

namespace coraft::actors {
namespace {

class ThreadDiskWorker final : public DiskWorker {
 public:
  explicit ThreadDiskWorker(asio::io_context& io) : io_(io) {}
  ~ThreadDiskWorker() override { thread_.join(); }

  void submit(Job job, Done done) override {
    // The work guard keeps the replica's io_context running until the answer is back.
    asio::post(thread_, [job = std::move(job), done = std::move(done), work = asio::make_work_guard(io_)]() mutable {
      std::exception_ptr failure;
      try {
        job();
      } catch (...) {
        failure = std::current_exception();
      }
      asio::post(work.get_executor(), [done = std::move(done), failure] { done(failure); });
    });
  }

 private:
  asio::io_context& io_;
  asio::thread_pool thread_{1};
};

class InlineDiskWorker final : public DiskWorker {
 public:
  void submit(Job job, Done done) override {
    std::exception_ptr failure;
    try {
      job();
    } catch (...) {
      failure = std::current_exception();
    }
    done(failure);
  }
};

}  // namespace

std::unique_ptr<DiskWorker> make_thread_worker(asio::io_context& io) { return std::make_unique<ThreadDiskWorker>(io); }

std::unique_ptr<DiskWorker> make_inline_worker() { return std::make_unique<InlineDiskWorker>(); }

}  // namespace coraft::actors
