#pragma once
// co_await sleep_until(clock, deadline): for the few coroutines without an inbox (load generators, simulated
// clients, tests). Actors with an inbox use a Timer instead, so they keep one wait point. Cancellable through the
// completion token's cancellation slot (for example asio::bind_cancellation_slot): then it completes with
// asio::error::operation_aborted and the deadline never fires.

#include "actors/clock.hpp"

#include <asio/associated_cancellation_slot.hpp>
#include <asio/associated_executor.hpp>
#include <asio/async_result.hpp>
#include <asio/error.hpp>
#include <asio/post.hpp>
#include <asio/use_awaitable.hpp>

#include <memory>
#include <optional>

namespace coraft::actors {

template <class Token = asio::use_awaitable_t<>>
auto sleep_until(Clock& clock, TimePoint deadline, Token&& token = {}) {
  return asio::async_initiate<Token, void(asio::error_code)>(
      [&clock, deadline](auto handler) {
        using Handler = decltype(handler);
        struct State {
          Clock& clock;
          std::optional<Handler> handler;
          TimerId id = 0;
        };
        auto state = std::make_shared<State>(State{clock, std::move(handler), 0});
        // Completion always goes through post(): never inline from inside cancel() or the clock.
        auto complete = [](const std::shared_ptr<State>& s, asio::error_code error) {
          if (!s->handler) return;
          Handler h = std::move(*s->handler);
          s->handler.reset();
          asio::get_associated_cancellation_slot(h).clear();
          auto executor = asio::get_associated_executor(h);
          asio::post(executor, [h = std::move(h), error]() mutable { h(error); });
        };
        auto slot = asio::get_associated_cancellation_slot(*state->handler);
        state->id = clock.call_at(deadline, [state, complete] { complete(state, {}); });
        if (slot.is_connected()) {
          slot.assign([state, complete](asio::cancellation_type) {
            state->clock.cancel(state->id);
            complete(state, asio::error::operation_aborted);
          });
        }
      },
      token);
}

template <class Token = asio::use_awaitable_t<>>
auto sleep_for(Clock& clock, Micros duration, Token&& token = {}) {
  return sleep_until(clock, clock.now() + duration, std::forward<Token>(token));
}

}  // namespace coraft::actors
