// The chat room's slot logic against an in-memory store that can lose requests and answers: no sockets, no clock.

#include "actors/spawn.hpp"
#include "chat/chat_room.hpp"

#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <map>
#include <vector>

using namespace coraft;

namespace {

// A store with the Client's cas/get signatures. Every operation first yields to the io_context, so coroutines that
// share a store interleave as real clients would.
class FakeKv {
 public:
  explicit FakeKv(std::map<std::string, std::string>& data) : data_(data) {}

  int lose_answers = 0;                 // the next this many cas are applied, then answered with silence
  int lose_requests = 0;                // the next this many cas are dropped, and answered with silence
  std::size_t max_value_bytes = 1000;   // larger values are refused for good
  int cas_calls = 0;

  asio::awaitable<net::CallResult> cas(const std::string& key, const std::optional<std::string>& expected,
                                       const std::string& value) {
    co_await yield();
    ++cas_calls;
    net::CallResult r;
    if (value.size() > max_value_bytes) {
      r.outcome = net::Outcome::kRejected;
      r.reply.reason = "value too large";
      co_return r;
    }
    if (lose_requests > 0) {
      --lose_requests;
      co_return r;  // kUnavailable
    }
    auto it = data_.find(key);
    const bool matches = expected ? (it != data_.end() && it->second == *expected) : it == data_.end();
    if (matches) {
      data_[key] = value;
      r.reply.status = kv::Status::kOk;
    } else {
      r.reply.status = kv::Status::kCasMismatch;
      if (it != data_.end()) r.reply.value = it->second;
    }
    if (lose_answers > 0) {
      --lose_answers;
      co_return net::CallResult{};  // applied, but the answer never came
    }
    r.outcome = net::Outcome::kOk;
    co_return r;
  }

  asio::awaitable<net::CallResult> get(const std::string& key) {
    co_await yield();
    net::CallResult r;
    r.outcome = net::Outcome::kOk;
    auto it = data_.find(key);
    if (it == data_.end()) {
      r.reply.status = kv::Status::kNotFound;
    } else {
      r.reply.value = it->second;
    }
    co_return r;
  }

 private:
  static asio::awaitable<void> yield() {
    auto executor = co_await asio::this_coro::executor;
    co_await asio::post(executor, asio::use_awaitable);
  }

  std::map<std::string, std::string>& data_;
};

template <class Body>
void run(asio::io_context& io, Body body) {
  actors::spawn(io.get_executor(), "chat-room-test", std::move(body));
  io.restart();
  io.run();
}

chat::ChatMessage message(const std::string& nick, int n) {
  return chat::ChatMessage{nick, fmt::format("{} says {}", nick, n), fmt::format("{}-{}", nick, n)};
}

// The room as a reader sees it: slots from 0 until the first empty one.
std::vector<chat::ChatMessage> read_room(asio::io_context& io, FakeKv& kv, const std::string& room) {
  std::vector<chat::ChatMessage> seen;
  run(io, [&]() -> asio::awaitable<void> {
    for (std::uint64_t slot = 0;; ++slot) {
      const chat::Fetched f = co_await chat::fetch(kv, room, slot);
      if (f.status != chat::FetchStatus::kMessage) co_return;
      seen.push_back(f.message);
    }
  });
  return seen;
}

net::CallResult answer(kv::Status status, std::optional<std::string> value = std::nullopt) {
  net::CallResult r;
  r.outcome = net::Outcome::kOk;
  r.reply.status = status;
  r.reply.value = std::move(value);
  return r;
}

}  // namespace

TEST_CASE("chat messages take consecutive slots and read back in order", "[chat]") {
  asio::io_context io;
  std::map<std::string, std::string> data;
  FakeKv kv(data);
  std::vector<chat::PostResult> results;
  run(io, [&]() -> asio::awaitable<void> {
    for (int i = 0; i < 3; ++i) {
      chat::Outgoing out{message("alice", i), static_cast<std::uint64_t>(i)};
      results.push_back(co_await chat::post(kv, "lobby", out));
    }
  });
  REQUIRE(results.size() == 3);
  for (std::uint64_t i = 0; i < 3; ++i) {
    CHECK(results[i].status == chat::PostStatus::kPosted);
    CHECK(results[i].slot == i);
  }
  CHECK(data.count("chat/lobby/0") == 1);
  CHECK(read_room(io, kv, "lobby") == std::vector{message("alice", 0), message("alice", 1), message("alice", 2)});
  CHECK(read_room(io, kv, "other").empty());
}

TEST_CASE("chat senders racing for slots all land once, without holes, each in its own order", "[chat]") {
  asio::io_context io;
  std::map<std::string, std::string> data;
  FakeKv alice_kv(data), bob_kv(data);
  constexpr int kEach = 6;
  // Like kvchat, each sender starts a message just above the last slot it claimed.
  auto sender = [&](FakeKv& kv, const std::string& nick) -> asio::awaitable<void> {
    std::uint64_t first_free = 0;
    for (int i = 0; i < kEach; ++i) {
      chat::Outgoing out{message(nick, i), first_free};
      const chat::PostResult r = co_await chat::post(kv, "lobby", out);
      REQUIRE(r.status == chat::PostStatus::kPosted);
      first_free = r.slot + 1;
    }
  };
  actors::spawn(io.get_executor(), "alice", [&]() -> asio::awaitable<void> { co_await sender(alice_kv, "alice"); });
  actors::spawn(io.get_executor(), "bob", [&]() -> asio::awaitable<void> { co_await sender(bob_kv, "bob"); });
  io.run();

  const auto room = read_room(io, alice_kv, "lobby");
  REQUIRE(room.size() == 2 * kEach);
  CHECK(data.size() == 2 * kEach);  // nothing beyond the first empty slot either
  std::map<std::string, int> next;
  for (const auto& m : room) {
    CHECK(m == message(m.nick, next[m.nick]));
    ++next[m.nick];
  }
  CHECK(next["alice"] == kEach);
  CHECK(next["bob"] == kEach);
  CHECK(alice_kv.cas_calls + bob_kv.cas_calls > 2 * kEach);  // they did collide
}

TEST_CASE("a chat message whose answer was lost is stored once, even after others posted above it", "[chat]") {
  asio::io_context io;
  std::map<std::string, std::string> data;
  FakeKv alice_kv(data), bob_kv(data);
  alice_kv.lose_answers = 1;
  chat::Outgoing alice{message("alice", 0), 0};
  chat::PostResult first, bob_result, retry;
  run(io, [&]() -> asio::awaitable<void> {
    first = co_await chat::post(alice_kv, "lobby", alice);
    // Bob (or alice's own reader) has seen slot 0 taken and posts above it.
    chat::Outgoing bob{message("bob", 0), 1};
    bob_result = co_await chat::post(bob_kv, "lobby", bob);
    retry = co_await chat::post(alice_kv, "lobby", alice);
  });
  CHECK(first.status == chat::PostStatus::kUnavailable);
  CHECK(bob_result.status == chat::PostStatus::kPosted);
  CHECK(bob_result.slot == 1);
  CHECK(retry.status == chat::PostStatus::kPosted);
  CHECK(retry.slot == 0);
  CHECK(read_room(io, alice_kv, "lobby") == std::vector{message("alice", 0), message("bob", 0)});
}

TEST_CASE("a chat message whose request was lost lands on retry, above a slot taken meanwhile", "[chat]") {
  asio::io_context io;
  std::map<std::string, std::string> data;
  FakeKv alice_kv(data), bob_kv(data);
  alice_kv.lose_requests = 1;
  chat::Outgoing alice{message("alice", 0), 0};
  chat::PostResult first, retry;
  run(io, [&]() -> asio::awaitable<void> {
    first = co_await chat::post(alice_kv, "lobby", alice);
    chat::Outgoing bob{message("bob", 0), 0};
    co_await chat::post(bob_kv, "lobby", bob);
    retry = co_await chat::post(alice_kv, "lobby", alice);
  });
  CHECK(first.status == chat::PostStatus::kUnavailable);
  CHECK(retry.status == chat::PostStatus::kPosted);
  CHECK(retry.slot == 1);
  CHECK(read_room(io, alice_kv, "lobby") == std::vector{message("bob", 0), message("alice", 0)});
}

TEST_CASE("a chat message the cluster refuses is reported, not retried", "[chat]") {
  asio::io_context io;
  std::map<std::string, std::string> data;
  FakeKv kv(data);
  kv.max_value_bytes = 10;
  chat::Outgoing out{message("alice", 0), 0};
  chat::PostResult result;
  run(io, [&]() -> asio::awaitable<void> { result = co_await chat::post(kv, "lobby", out); });
  CHECK(result.status == chat::PostStatus::kRejected);
  CHECK(result.reason == "value too large");
  CHECK(kv.cas_calls == 1);
  CHECK(data.empty());
}

TEST_CASE("a chat claim moves on only past another message", "[chat]") {
  const std::string mine = chat::encode_message(message("alice", 0));
  const std::string theirs = chat::encode_message(message("bob", 0));
  CHECK(chat::claim_step(answer(kv::Status::kOk), "alice-0") == chat::ClaimStep::kClaimed);
  CHECK(chat::claim_step(answer(kv::Status::kCasMismatch, mine), "alice-0") == chat::ClaimStep::kClaimed);
  CHECK(chat::claim_step(answer(kv::Status::kCasMismatch, theirs), "alice-0") == chat::ClaimStep::kTaken);
  CHECK(chat::claim_step(answer(kv::Status::kCasMismatch, "written by kvctl"), "alice-0") == chat::ClaimStep::kTaken);
  CHECK(chat::claim_step(answer(kv::Status::kCasMismatch), "alice-0") == chat::ClaimStep::kUncertain);
  CHECK(chat::claim_step(net::CallResult{}, "alice-0") == chat::ClaimStep::kUncertain);
  net::CallResult rejected;
  rejected.outcome = net::Outcome::kRejected;
  CHECK(chat::claim_step(rejected, "alice-0") == chat::ClaimStep::kRejected);
}

TEST_CASE("chat messages encode, decode and print safely", "[chat]") {
  const chat::ChatMessage m{"alice", "héllo \"world\"", "abc-1"};
  CHECK(chat::decode_message(chat::encode_message(m)) == m);
  CHECK(chat::decode_message("plain value") == chat::ChatMessage{"?", "plain value", ""});
  CHECK(chat::decode_message("{\"nick\": 3}") == chat::ChatMessage{"?", "{\"nick\": 3}", ""});
  // Invalid UTF-8 from a terminal is replaced, not refused.
  CHECK(chat::decode_message(chat::encode_message({"bob", "caf\xe9", "x"})).text == "caf\xef\xbf\xbd");

  CHECK(chat::format_line(3, m) == "[3] alice: héllo \"world\"");
  CHECK(chat::format_line(0, {"eve", "a\x1b[2Jb\nc\rd\x7f", ""}) == "[0] eve: a?[2Jb?c?d?");
  CHECK(chat::format_line(0, {"eve", "csi \xc2\x9b" "31m", ""}) == "[0] eve: csi ?31m");
  CHECK(chat::slot_key("lobby", 12) == "chat/lobby/12");
}

TEST_CASE("chat room names and nicknames are checked", "[chat]") {
  CHECK_FALSE(chat::invalid_room("lobby"));
  CHECK(chat::invalid_room(""));
  CHECK(chat::invalid_room("a/b"));
  CHECK(chat::invalid_room("a\nb"));
  CHECK(chat::invalid_room(std::string(129, 'r')));
  CHECK_FALSE(chat::invalid_nick("alice"));
  CHECK(chat::invalid_nick(""));
  CHECK(chat::invalid_nick("a:b"));
  CHECK(chat::invalid_nick("a\tb"));
  CHECK(chat::invalid_nick(std::string(33, 'n')));
}
