#pragma once
// Time, as every actor sees it: one interface with a real implementation (asio timers) and a simulated one (a
// deadline queue advanced by the simulation harness, no system calls). Actors never sleep on a timer directly: a
// Timer delivers its expiry as a message into the owner's inbox, so each actor keeps a single wait point
// (asio 1.22 can lose a channel message when `receive() || timer` is raced, asio issue #1041).
//
// This header stays free of asio so that pure code and widely included headers do not pay for it.

#include <chrono>
#include <cstdint>
#include <functional>

namespace coraft::actors {

using Micros = std::chrono::microseconds;
using Millis = std::chrono::milliseconds;
// Monotonic time. Under simulation the epoch is the start of the run.
using TimePoint = std::chrono::time_point<std::chrono::steady_clock, Micros>;
using TimerId = std::uint64_t;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint now() const = 0;
  // Runs `fire` on this clock's io_context at (or, for real time, soon after) `deadline`, unless cancelled first.
  // A cancelled id never fires; cancelling an id that already fired or is unknown does nothing.
  virtual TimerId call_at(TimePoint deadline, std::function<void()> fire) = 0;
  virtual void cancel(TimerId id) = 0;
  // True for the simulated clock (logging shows simulated time instead of the wall clock).
  virtual bool simulated() const { return false; }
};

// A one-shot deadline owned by an actor. arm() replaces any earlier deadline. On expiry it calls `on_expiry` with the
// generation it was armed with; the actor posts that into its own inbox and, when the message is handled, asks
// is_current(generation) so an expiry that raced with a re-arm or disarm is ignored.
class Timer {
 public:
  using OnExpiry = std::function<void(std::uint64_t generation)>;

  Timer(Clock& clock, OnExpiry on_expiry) : clock_(clock), on_expiry_(std::move(on_expiry)) {}
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;
  ~Timer() { disarm(); }

  std::uint64_t arm_at(TimePoint deadline) {
    disarm();
    const std::uint64_t generation = ++generation_;
    armed_ = true;
    id_ = clock_.call_at(deadline, [this, generation] {
      if (generation != generation_) return;
      armed_ = false;
      on_expiry_(generation);
    });
    return generation;
  }
  std::uint64_t arm_after(Micros delay) { return arm_at(clock_.now() + delay); }

  void disarm() {
    if (armed_) clock_.cancel(id_);
    armed_ = false;
    ++generation_;
  }

  bool armed() const { return armed_; }
  bool is_current(std::uint64_t generation) const { return generation == generation_; }

 private:
  Clock& clock_;
  OnExpiry on_expiry_;
  TimerId id_ = 0;
  std::uint64_t generation_ = 0;
  bool armed_ = false;
};

}  // namespace coraft::actors
