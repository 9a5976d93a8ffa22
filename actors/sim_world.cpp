#include "actors/sim_world.hpp"

#include <asio/io_context.hpp>
#include <asio/post.hpp>

#include <algorithm>

namespace coraft::actors {
namespace {

class SimClock final : public Clock {
 public:
  SimClock(SimWorld& world, asio::io_context& io, std::int64_t rate_ppm)
      : world_(world), io_(io), rate_ppm_(rate_ppm), start_(world.now()) {}
  // Local time runs at rate_ppm / 10^6 of the world's from start_ (which both clocks agree on).
  TimePoint now() const override {
    if (rate_ppm_ == kExact) return world_.now();
    return start_ + Micros((world_.now() - start_).count() * rate_ppm_ / kExact);
  }
  TimerId call_at(TimePoint deadline, std::function<void()> fire) override {
    TimePoint world_deadline = deadline;
    if (rate_ppm_ != kExact) {
      // The first world instant at which now() reaches `deadline` (rounded up, so a timer never fires early).
      const std::int64_t local = std::max<std::int64_t>(0, (deadline - start_).count());
      world_deadline = start_ + Micros((local * kExact + rate_ppm_ - 1) / rate_ppm_);
    }
    return world_.schedule(io_, world_deadline, std::move(fire));
  }
  void cancel(TimerId id) override { world_.cancel(id); }
  bool simulated() const override { return true; }

 private:
  static constexpr std::int64_t kExact = 1'000'000;
  SimWorld& world_;
  asio::io_context& io_;
  std::int64_t rate_ppm_;
  TimePoint start_;
};

}  // namespace

SimWorld::SimWorld() = default;
SimWorld::~SimWorld() = default;

void SimWorld::add_context(asio::io_context& io) { contexts_.push_back(&io); }

void SimWorld::pause(asio::io_context& io) {
  if (std::find(paused_.begin(), paused_.end(), &io) == paused_.end()) paused_.push_back(&io);
}

void SimWorld::resume(asio::io_context& io) {
  paused_.erase(std::remove(paused_.begin(), paused_.end(), &io), paused_.end());
}

void SimWorld::remove_context(asio::io_context& io) {
  resume(io);
  contexts_.erase(std::remove(contexts_.begin(), contexts_.end(), &io), contexts_.end());
  for (auto it = queue_.begin(); it != queue_.end();) {
    if (it->second.io == &io) {
      deadline_of_.erase(it->first.id);
      it = queue_.erase(it);
    } else {
      ++it;
    }
  }
  std::erase_if(posted_, [&](const auto& entry) { return entry.second == &io; });
}

std::unique_ptr<Clock> SimWorld::make_clock(asio::io_context& io, std::int64_t rate_ppm) {
  return std::make_unique<SimClock>(*this, io, rate_ppm);
}

TimerId SimWorld::schedule(asio::io_context& io, TimePoint deadline, std::function<void()> fire) {
  const TimerId id = next_id_++;
  deadline = std::max(deadline, now_);
  queue_.emplace(Key{deadline, id}, Pending{&io, std::move(fire)});
  deadline_of_.emplace(id, deadline);
  return id;
}

void SimWorld::cancel(TimerId id) {
  auto it = deadline_of_.find(id);
  if (it == deadline_of_.end()) {
    posted_.erase(id);
    return;
  }
  queue_.erase(Key{it->second, id});
  deadline_of_.erase(it);
}

std::size_t SimWorld::run_until_idle() {
  std::size_t total = 0;
  for (;;) {
    std::size_t ran = 0;
    // Index loop: a handler may add a context (a replica restarting).
    for (std::size_t i = 0; i < contexts_.size(); ++i) {
      asio::io_context& io = *contexts_[i];
      if (!paused_.empty() && std::find(paused_.begin(), paused_.end(), &io) != paused_.end()) continue;
      io.restart();
      ran += io.poll();
    }
    total += ran;
    if (ran == 0) return total;
  }
}

bool SimWorld::step() {
  run_until_idle();
  if (queue_.empty()) return false;
  auto node = queue_.extract(queue_.begin());
  deadline_of_.erase(node.key().id);
  now_ = node.key().deadline;
  const TimerId id = node.key().id;
  asio::io_context& io = *node.mapped().io;
  posted_.emplace(id, &io);
  asio::post(io, [this, id, fire = std::move(node.mapped().fire)] {
    if (posted_.erase(id) == 0) return;  // cancelled after it came due
    fire();
  });
  run_until_idle();
  ++steps_;
  if (after_step_) after_step_();
  return true;
}

void SimWorld::run_until(TimePoint until) {
  run_until_idle();
  while (!queue_.empty() && queue_.begin()->first.deadline <= until) step();
  now_ = std::max(now_, until);
}

bool SimWorld::run_until(const std::function<bool()>& done, TimePoint limit) {
  run_until_idle();
  while (!done()) {
    if (queue_.empty() || queue_.begin()->first.deadline > limit) {
      now_ = std::max(now_, limit);
      return done();
    }
    step();
  }
  return true;
}

}  // namespace coraft::actors
