#pragma once
// A simulated disk for the storage actor: each job finishes after a random simulated latency, one at a time, so the
// storage actor's asynchronous path runs under simulation exactly as it does on a thread in a process. The jobs run
// the real write-ahead log over a MemoryFileSystem.
//
// interrupt() is the machine dying while the disk works: the job under way runs only up to a given number of file
// changes (the file system throws MachineStopped past it) and nothing queued runs at all.

#include "actors/clock.hpp"
#include "actors/disk_worker.hpp"
#include "actors/rng.hpp"

#include <deque>

namespace coraft::raft {
class MemoryFileSystem;
}

namespace coraft::actors {

class SimDiskWorker final : public DiskWorker {
 public:
  SimDiskWorker(Clock& clock, Rng rng, Micros min_latency, Micros max_latency);
  ~SimDiskWorker() override;

  void submit(Job job, Done done) override;
  // Returns whether a job was under way (and so was cut short).
  bool interrupt(raft::MemoryFileSystem& fs, std::uint64_t changes);
  bool busy() const { return busy_; }

 private:
  void start_next();
  void finish();

  Clock& clock_;
  Rng rng_;
  Micros min_latency_, max_latency_;
  std::deque<std::pair<Job, Done>> queue_;
  bool busy_ = false;
  bool dead_ = false;
  TimerId timer_ = 0;
};

}  // namespace coraft::actors
