#include "actors/local_executor.hpp"

#include <asio/post.hpp>

namespace coraft::actors {

LocalExecutor::Run*& LocalExecutor::current() noexcept {
  thread_local Run* run = nullptr;
  return run;
}

void LocalExecutor::post_run(std::unique_ptr<TaskBase> first, Queue queued) const {
  asio::post(inner_, [self = *this, first = std::move(first), queued = std::move(queued)]() mutable {
    self.run_here(std::move(first), std::move(queued));
  });
}

void LocalExecutor::run_here(std::unique_ptr<TaskBase> first, Queue queued) const {
  Run run{&inner_.context(), std::move(queued)};
  Run* const outer = std::exchange(current(), &run);
  // Whatever is still queued when this returns (the bound reached, or a continuation threw) runs in a later handler.
  struct Restore {
    const LocalExecutor& self;
    Run& run;
    Run* outer;
    ~Restore() {
      current() = outer;
      if (!run.queue.empty()) self.post_run(nullptr, std::move(run.queue));
    }
  } restore{*this, run, outer};
  if (first) first->run();
  for (std::size_t ran = 0; ran < kMaxLocalRun && !run.queue.empty(); ++ran) {
    std::unique_ptr<TaskBase> next = std::move(run.queue.front());
    run.queue.pop_front();
    next->run();
  }
}

asio::any_io_executor event_loop(const asio::any_io_executor& executor) {
  if (const auto* local = executor.target<LocalExecutor>()) return local->inner();
  return executor;
}

}  // namespace coraft::actors
