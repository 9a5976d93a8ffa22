#include "actors/real_clock.hpp"

namespace coraft::actors {

// The clock must outlive the running of its io_context: queued expiries refer to it.
RealClock::~RealClock() {
  for (auto& [id, timer] : timers_) timer->cancel();
}

TimePoint RealClock::now() const {
  return std::chrono::time_point_cast<Micros>(std::chrono::steady_clock::now());
}

TimerId RealClock::call_at(TimePoint deadline, std::function<void()> fire) {
  const TimerId id = next_id_++;
  auto timer = std::make_unique<asio::steady_timer>(io_, deadline);
  timer->async_wait([this, id, fire = std::move(fire)](const asio::error_code& error) {
    if (error) return;  // cancelled, or the clock is going away
    // An expiry already queued when cancel() ran still arrives here with success: the id is gone, so it must not fire.
    auto it = timers_.find(id);
    if (it == timers_.end()) return;
    timers_.erase(it);
    fire();
  });
  timers_.emplace(id, std::move(timer));
  return id;
}

void RealClock::cancel(TimerId id) {
  auto it = timers_.find(id);
  if (it == timers_.end()) return;
  it->second->cancel();
  // Destroying a timer with a pending wait completes that wait with operation_aborted, never with success.
  timers_.erase(it);
}

}  // namespace coraft::actors
