#pragma once
// spawn(): start an actor coroutine with a name. Never detached: if the actor throws, the failure is logged with the
// actor's name and rethrown out of io_context::run()/poll(), which fails the process (kvstore) or the test (harness).

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>

#include <functional>
#include <string>
#include <type_traits>

namespace coraft::actors {

// Called once when the actor returns normally (used to know when every actor of a replica has stopped).
using OnActorExit = std::function<void()>;

void spawn(const asio::any_io_executor& executor, std::string name, asio::awaitable<void> body,
           OnActorExit on_exit = {});

// Spawns `body()` keeping the callable alive for as long as the coroutine runs. Use this for lambdas with captures:
// a coroutine lambda's captures live in the lambda object, not in the coroutine frame.
template <class Body>
  requires std::is_invocable_r_v<asio::awaitable<void>, Body&>
void spawn(const asio::any_io_executor& executor, std::string name, Body body, OnActorExit on_exit = {}) {
  auto keep_alive = [](Body fn) -> asio::awaitable<void> { co_await fn(); };
  spawn(executor, std::move(name), keep_alive(std::move(body)), std::move(on_exit));
}

}  // namespace coraft::actors
