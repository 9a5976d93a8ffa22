#pragma once
// Mailbox<Message>: the one way actors talk. A bounded asio channel of one message type (a std::variant per actor).
//
// Full-mailbox policy, stated once for the whole project:
//  - try_send() never waits. A full or closed mailbox refuses the message and counts it in dropped(). Used on every
//    edge where a lost message is harmless or recovered by a timer (network ingress, level-triggered notices) and on
//    every edge *into* an actor that the receiver itself sends to with send() — so waits can never form a cycle.
//  - send() waits for room (back-pressure). Used only along the acyclic edges listed in ARCHITECTURE.md.
// Shutdown: close() cancels every pending operation and then closes the channel (close() alone would leave a pending
// async_send hanging), so a waiting sender gets false and a waiting receiver gets std::nullopt.

#include <asio/awaitable.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/channel.hpp>
#include <asio/use_awaitable.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>

namespace coraft::actors {

template <class Message>
class Mailbox {
 public:
  Mailbox(asio::any_io_executor executor, std::size_t capacity, std::string name)
      : channel_(std::move(executor), capacity), name_(std::move(name)) {}

  Mailbox(const Mailbox&) = delete;
  Mailbox& operator=(const Mailbox&) = delete;

  // Never waits. Returns false (and counts a drop) when the mailbox is full or closed.
  bool try_send(Message message) {
    if (channel_.try_send(asio::error_code{}, std::move(message))) return true;
    ++dropped_;
    return false;
  }

  // Waits for room, then moves `message` in. Returns false if the mailbox was closed first.
  // Takes a named Message only: GCC 12 destroys a temporary of class type inside a co_await expression twice (a
  // crash, reproduced with this very channel), so callers build the message in a variable and pass that.
  asio::awaitable<bool> send(Message& message) {
    if (channel_.try_send(asio::error_code{}, std::move(message))) co_return true;
    auto [error] = co_await channel_.async_send(asio::error_code{}, std::move(message),
                                                asio::experimental::as_tuple(asio::use_awaitable));
    co_return !error;
  }

  // Waits for the next message; std::nullopt once the mailbox is closed.
  asio::awaitable<std::optional<Message>> receive() {
    auto [error, message] = co_await channel_.async_receive(asio::experimental::as_tuple(asio::use_awaitable));
    if (error) co_return std::nullopt;
    co_return std::optional<Message>(std::move(message));
  }

  // Takes a message that is already queued, without waiting. Lets an actor drain a burst into one batch.
  std::optional<Message> try_receive() {
    std::optional<Message> out;
    channel_.try_receive([&](asio::error_code error, Message message) {
      if (!error) out.emplace(std::move(message));
    });
    return out;
  }

  // Hands `handle` up to `at_most` messages that are already queued (a burst), without waiting.
  template <class Handle>
  void drain(std::size_t at_most, Handle&& handle) {
    for (std::size_t i = 0; i < at_most; ++i) {
      std::optional<Message> more = try_receive();
      if (!more) return;
      handle(*more);
    }
  }

  void close() {
    channel_.cancel();
    channel_.close();
  }

  bool is_open() const { return channel_.is_open(); }
  asio::any_io_executor executor() { return channel_.get_executor(); }
  std::uint64_t dropped() const { return dropped_; }
  const std::string& name() const { return name_; }

 private:
  asio::experimental::channel<void(asio::error_code, Message)> channel_;
  std::string name_;
  std::uint64_t dropped_ = 0;
};

}  // namespace coraft::actors
