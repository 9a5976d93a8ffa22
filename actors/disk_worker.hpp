#pragma once
// Where the storage actor's blocking file work runs. In a process: a thread of its own (ThreadDiskWorker). In the
// simulator: a simulated disk that finishes each job after a simulated latency (actors/sim_disk_worker.hpp). Either
// way the storage actor hands the job over and hears back later through its inbox, so simulations run the same
// asynchronous path as production.

#include <exception>
#include <functional>
#include <memory>

namespace asio {
class io_context;
}

namespace coraft::actors {

class DiskWorker {
 public:
  using Job = std::function<void()>;
  using Done = std::function<void(std::exception_ptr)>;

  virtual ~DiskWorker() = default;
  // Runs `job` away from the replica's thread, one job at a time in submission order; afterwards `done` runs on the
  // replica's io_context with what the job threw, if anything (an inline worker calls it before submit returns).
  virtual void submit(Job job, Done done) = 0;
};

// A thread of its own; its destructor waits for the job under way.
std::unique_ptr<DiskWorker> make_thread_worker(asio::io_context& io);
// No thread: the replica's own thread runs the job on the spot and calls `done` before submit returns. For writes
// whose replies wait for them anyway (a follower's, or any without fsync) this saves two thread hand-offs and the
// turns of the event loop in between.
std::unique_ptr<DiskWorker> make_inline_worker();

}  // namespace coraft::actors
