#pragma once
// Simulated time for a whole cluster in one process. The world owns the clock reading and a queue of deadlines, each
// tagged with the io_context it belongs to. The harness runs every registered io_context until none has work left,
// then jumps the clock to the earliest deadline and fires it — one deadline at a time, ties in the order they were
// scheduled — so a run is a pure function of its seed. No system call reads or waits on time.

#include "actors/clock.hpp"

#include <functional>
#include <map>
#include <memory>
#include <unordered_map>
#include <vector>

namespace asio {
class io_context;
}

namespace coraft::actors {

class SimWorld {
 public:
  SimWorld();
  ~SimWorld();
  SimWorld(const SimWorld&) = delete;
  SimWorld& operator=(const SimWorld&) = delete;

  TimePoint now() const { return now_; }

  // Contexts are run in the order they were added. A removed context's pending deadlines are discarded.
  void add_context(asio::io_context& io);
  void remove_context(asio::io_context& io);
  // A paused context runs nothing (its deadlines still come due and wait, still cancellable) until it is resumed.
  void pause(asio::io_context& io);
  void resume(asio::io_context& io);
  // A Clock for actors on `io`, reading this world's time. `rate_ppm` lets a replica's clock run fast or slow
  // (1'000'000: exact; 1'050'000: 5 % fast), counted from when the clock is made.
  std::unique_ptr<Clock> make_clock(asio::io_context& io, std::int64_t rate_ppm = 1'000'000);

  // Runs ready handlers on every context until all are idle. Returns how many handlers ran.
  std::size_t run_until_idle();
  // Fires the earliest deadline (and runs everything until idle). False when no deadline is pending.
  bool step();
  // Steps until the next deadline would be after `until`, then sets the clock to `until`.
  void run_until(TimePoint until);
  void run_for(Micros duration) { run_until(now_ + duration); }
  // Steps until `done()` holds or the clock would pass `limit`. Returns whether `done()` held.
  bool run_until(const std::function<bool()>& done, TimePoint limit);

  // Called after every step: the place for invariant checks.
  void set_after_step(std::function<void()> hook) { after_step_ = std::move(hook); }

  std::uint64_t steps() const { return steps_; }
  std::size_t pending() const { return queue_.size(); }

  // For SimClock.
  TimerId schedule(asio::io_context& io, TimePoint deadline, std::function<void()> fire);
  void cancel(TimerId id);

 private:
  struct Key {
    TimePoint deadline;
    TimerId id;  // ids grow with scheduling order: the tie-break
    auto operator<=>(const Key&) const = default;
  };
  struct Pending {
    asio::io_context* io;
    std::function<void()> fire;
  };

  TimePoint now_{};
  std::vector<asio::io_context*> contexts_;
  std::vector<asio::io_context*> paused_;
  std::map<Key, Pending> queue_;
  std::unordered_map<TimerId, TimePoint> deadline_of_;
  // Deadlines that came due and were posted to their context but have not run yet (a paused context holds them; so
  // does a busy one, behind handlers queued earlier). cancel() still reaches them, as it reaches an asio timer whose
  // expiry is queued (RealClock): "a cancelled id never fires" holds under both clocks.
  std::unordered_map<TimerId, asio::io_context*> posted_;
  TimerId next_id_ = 1;
  std::uint64_t steps_ = 0;
  std::function<void()> after_step_;
};

}  // namespace coraft::actors
