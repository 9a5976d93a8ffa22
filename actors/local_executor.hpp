#pragma once
// LocalExecutor: the executor every actor runs on (spawn() wraps the io_context's in it). What an actor hop queues —
// a mailbox message waking its receiver, a timer's or a socket's completion resuming a coroutine — runs within the
// asio handler that queued it, after it, instead of going through asio's queue one handler at a time: asio polls its
// reactor (epoll_wait with a zero timeout, a system call) every time its queue comes round while more handlers are
// queued, so each hop between actors cost one (ARCHITECTURE.md, "Where a put's time goes"). At most kMaxLocalRun
// continuations run so; the rest go back to asio's queue, so that sockets and timers are still looked at.
// Only handlers of the same io_context are kept local: in the simulator several replicas' io_contexts run on one
// thread, and each keeps its own.

#include <asio/any_io_executor.hpp>
#include <asio/execution.hpp>
#include <asio/io_context.hpp>

#include <cstddef>
#include <deque>
#include <memory>
#include <type_traits>
#include <utility>

namespace coraft::actors {

class LocalExecutor {
 public:
  static constexpr std::size_t kMaxLocalRun = 64;

  explicit LocalExecutor(asio::io_context::executor_type inner) noexcept : inner_(std::move(inner)) {}

  asio::io_context& query(asio::execution::context_t) const noexcept { return inner_.context(); }
  static constexpr asio::execution::blocking_t query(asio::execution::blocking_t) noexcept {
    return asio::execution::blocking.never;
  }
  LocalExecutor require(asio::execution::blocking_t::never_t) const noexcept { return *this; }

  template <class Function>
  void execute(Function&& f) const {
    using Task = TaskOf<std::decay_t<Function>>;
    if (Run* run = current(); run && run->context == &inner_.context()) {
      run->queue.push_back(std::make_unique<Task>(std::forward<Function>(f)));
      return;
    }
    std::unique_ptr<TaskBase> first = std::make_unique<Task>(std::forward<Function>(f));
    post_run(std::move(first), {});
  }

  friend bool operator==(const LocalExecutor& a, const LocalExecutor& b) noexcept { return a.inner_ == b.inner_; }
  friend bool operator!=(const LocalExecutor& a, const LocalExecutor& b) noexcept { return !(a == b); }

  const asio::io_context::executor_type& inner() const noexcept { return inner_; }

 private:
  struct TaskBase {
    virtual ~TaskBase() = default;
    virtual void run() = 0;
  };
  template <class F>
  struct TaskOf final : TaskBase {
    template <class G>
    explicit TaskOf(G&& g) : f(std::forward<G>(g)) {}
    void run() override { std::move(f)(); }
    F f;
  };
  using Queue = std::deque<std::unique_ptr<TaskBase>>;
  // The continuations queued on this thread while a handler of `context` runs.
  struct Run {
    const asio::execution_context* context;
    Queue queue;
  };
  static Run*& current() noexcept;

  // One asio handler: runs `first` (if any), then what is queued, up to kMaxLocalRun; what is left (or what a
  // throwing continuation left) goes back to asio's queue as the next such handler.
  void post_run(std::unique_ptr<TaskBase> first, Queue queued) const;
  void run_here(std::unique_ptr<TaskBase> first, Queue queued) const;

  asio::io_context::executor_type inner_;
};

// The io_context's own executor under `executor` (itself if it is not a LocalExecutor). A coroutine that yields with
// `co_await asio::post(event_loop(ex), asio::use_awaitable)` lets every handler already in asio's queue, and the
// reactor, have a turn first; posted to a LocalExecutor it would only go behind the continuations queued locally.
asio::any_io_executor event_loop(const asio::any_io_executor& executor);

}  // namespace coraft::actors
