#pragma once
// The real clock: std::chrono::steady_clock, with one asio steady_timer per pending deadline.

#include "actors/clock.hpp"

#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>

#include <memory>
#include <unordered_map>

namespace coraft::actors {

class RealClock final : public Clock {
 public:
  explicit RealClock(asio::io_context& io) : io_(io) {}
  ~RealClock() override;

  TimePoint now() const override;
  TimerId call_at(TimePoint deadline, std::function<void()> fire) override;
  void cancel(TimerId id) override;

 private:
  asio::io_context& io_;
  TimerId next_id_ = 1;
  std::unordered_map<TimerId, std::unique_ptr<asio::steady_timer>> timers_;
};

}  // namespace coraft::actors
