#include "actors/sim_disk_worker.hpp"

#include "raft/memory_file_system.hpp"

namespace coraft::actors {

SimDiskWorker::SimDiskWorker(Clock& clock, Rng rng, Micros min_latency, Micros max_latency)
    : clock_(clock), rng_(rng), min_latency_(min_latency), max_latency_(max_latency) {}

SimDiskWorker::~SimDiskWorker() {
  if (busy_) clock_.cancel(timer_);
}

void SimDiskWorker::submit(Job job, Done done) {
  if (dead_) return;
  queue_.emplace_back(std::move(job), std::move(done));
  if (!busy_) start_next();
}

void SimDiskWorker::start_next() {
  if (queue_.empty() || dead_) return;
  busy_ = true;
  const auto latency = Micros(static_cast<std::int64_t>(
      rng_.between(static_cast<std::uint64_t>(min_latency_.count()), static_cast<std::uint64_t>(max_latency_.count()))));
  timer_ = clock_.call_at(clock_.now() + latency, [this] { finish(); });
}

void SimDiskWorker::finish() {
  if (dead_ || !busy_) return;  // interrupted after the deadline had fired but before this ran
  busy_ = false;
  auto [job, done] = std::move(queue_.front());
  queue_.pop_front();
  std::exception_ptr failure;
  try {
    job();
  } catch (const raft::MachineStopped&) {
    dead_ = true;  // the simulation is crashing this machine
    queue_.clear();
    return;
  } catch (...) {
    failure = std::current_exception();
  }
  done(failure);
  start_next();
}

bool SimDiskWorker::interrupt(raft::MemoryFileSystem& fs, std::uint64_t changes) {
  const bool under_way = busy_ && !dead_;
  if (under_way) {
    clock_.cancel(timer_);
    busy_ = false;
    fs.stop_after(changes);
    try {
      queue_.front().first();
    } catch (const std::exception&) {
      // Cut short (MachineStopped), or it failed on its own: either way its answer is never heard.
    }
  }
  dead_ = true;
  queue_.clear();
  return under_way;
}

}  // namespace coraft::actors
