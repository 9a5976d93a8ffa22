// gather_course_burst: what the course-mode bridge sends as one burst, and in which order.

#include "net/udp_bridge.hpp"

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <catch2/catch.hpp>

#include <functional>
#include <string>
#include <vector>

using namespace coraft;

namespace {

actors::BridgeInbox append_for(std::uint16_t follower) {
  return actors::SendPeer{raft::PeerMessage{raft::NodeId{1}, raft::NodeId{follower}, raft::AppendEntries{}}};
}

actors::BridgeInbox ack_for(std::uint16_t leader) {
  return actors::SendPeer{raft::PeerMessage{raft::NodeId{2}, raft::NodeId{leader}, raft::AppendEntriesReply{}}};
}

actors::BridgeInbox reply_to(std::string mid) {
  actors::ClientReply reply;
  reply.mid = std::move(mid);
  return actors::SendClientReply{std::move(reply)};
}

// "A<follower>" (an append), "K<leader>" (an acknowledgement) or "R<mid>", in burst order.
std::vector<std::string> names(const std::vector<actors::BridgeInbox>& burst) {
  std::vector<std::string> out;
  for (const auto& m : burst) {
    if (const auto* peer = std::get_if<actors::SendPeer>(&m)) {
      const bool append = std::holds_alternative<raft::AppendEntries>(peer->message.payload);
      out.push_back((append ? "A" : "K") + std::to_string(peer->message.to.value));
    }
    if (const auto* reply = std::get_if<actors::SendClientReply>(&m)) out.push_back("R" + reply->reply.mid);
  }
  return out;
}

// Runs `steps` one turn of the event loop apart (each posts the next), as a chain of actor hops does.
void post_chain(asio::io_context& io, std::vector<std::function<void()>> steps, std::size_t at = 0) {
  if (at == steps.size()) return;
  asio::post(io, [&io, steps = std::move(steps), at]() mutable {
    steps[at]();
    post_chain(io, std::move(steps), at + 1);
  });
}

}  // namespace

TEST_CASE("a course burst with an append takes what the next turns bring, stops at a turn that brings nothing, "
          "answers first",
          "[net][course]") {
  asio::io_context io;
  actors::BridgeMailbox outbox(io.get_executor(), 64, "outbox");
  std::vector<actors::BridgeInbox> burst{append_for(2)};  // the message that woke the send loop
  REQUIRE(outbox.try_send(append_for(3)));               // already queued behind it
  // Queued before the gathering starts, so each step runs just before the gatherer's next look: a heartbeat's late
  // copy, a read's answer the turn after, a turn with nothing, then a message that belongs to the next burst.
  post_chain(io, {[&] { REQUIRE(outbox.try_send(append_for(4))); },
                  [&] { REQUIRE(outbox.try_send(reply_to("get-1"))); },
                  [] {},
                  [&] { REQUIRE(outbox.try_send(append_for(5))); }});
  bool done = false;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        co_await net::gather_course_burst(outbox, burst);
        done = true;
      },
      asio::detached);
  io.run();
  REQUIRE(done);
  CHECK(names(burst) == std::vector<std::string>{"Rget-1", "A2", "A3", "A4"});
  auto next = outbox.try_receive();
  REQUIRE(next);
  CHECK(names({*next}) == std::vector<std::string>{"A5"});
}

TEST_CASE("a course burst waits past empty turns for the missing copies of its append, within a bound",
          "[net][course]") {
  // A heartbeat's copies leave the node together but reach the bridge through one replicator each: some only after
  // the event loop's own queue has had a turn. Sent as they came, they took four datagrams (four relay passes)
  // where one FFFF datagram takes one.
  for (const bool all_come : {true, false}) {
    INFO((all_come ? "every copy comes" : "one copy never comes"));
    asio::io_context io;
    actors::BridgeMailbox outbox(io.get_executor(), 64, "outbox");
    std::vector<actors::BridgeInbox> burst{append_for(2)};
    std::vector<std::function<void()>> steps(3, [] {});
    steps.push_back([&] { REQUIRE(outbox.try_send(append_for(3))); });
    steps.push_back([] {});
    if (all_come) steps.push_back([&] { REQUIRE(outbox.try_send(append_for(4))); });
    for (int i = 0; i < 12; ++i) steps.push_back([] {});
    steps.push_back([&] { REQUIRE(outbox.try_send(reply_to("next"))); });
    post_chain(io, std::move(steps));
    asio::co_spawn(io, net::gather_course_burst(outbox, burst, 3), asio::detached);
    io.run();
    if (all_come) {
      CHECK(names(burst) == std::vector<std::string>{"A2", "A3", "A4"});
    } else {
      CHECK(names(burst) == std::vector<std::string>{"A2", "A3"});  // gave up: what it has goes
    }
    auto next = outbox.try_receive();
    REQUIRE(next);
    CHECK(names({*next}) == std::vector<std::string>{"Rnext"});
  }
}

TEST_CASE("a course burst keeps the order of what it does not move: answers among themselves, appends among themselves",
          "[net][course]") {
  asio::io_context io;
  actors::BridgeMailbox outbox(io.get_executor(), 64, "outbox");
  std::vector<actors::BridgeInbox> burst{reply_to("a")};
  for (auto m : {append_for(2), reply_to("b"), actors::BridgeInbox{actors::AnnounceLeader{raft::NodeId{1}}},
                 append_for(3), reply_to("c")}) {
    REQUIRE(outbox.try_send(m));
  }
  asio::co_spawn(io, net::gather_course_burst(outbox, burst), asio::detached);
  io.run();
  REQUIRE(burst.size() == 6);
  CHECK(names(burst) == std::vector<std::string>{"Ra", "Rb", "Rc", "A2", "A3"});
  CHECK(std::holds_alternative<actors::AnnounceLeader>(burst[4]));  // stays between the appends it came between
}

TEST_CASE("a course burst without an append goes at once: a follower's acknowledgement waits for nothing",
          "[net][course]") {
  asio::io_context io;
  actors::BridgeMailbox outbox(io.get_executor(), 64, "outbox");
  std::vector<actors::BridgeInbox> burst{ack_for(1)};
  REQUIRE(outbox.try_send(reply_to("x")));
  // The first step runs before the gatherer's first look (see above), the second where a turn's wait would take it.
  post_chain(io, {[] {}, [&] { REQUIRE(outbox.try_send(reply_to("later"))); }});
  asio::co_spawn(io, net::gather_course_burst(outbox, burst), asio::detached);
  io.run();
  CHECK(names(burst) == std::vector<std::string>{"Rx", "K1"});
  auto next = outbox.try_receive();
  REQUIRE(next);
  CHECK(names({*next}) == std::vector<std::string>{"Rlater"});
}

TEST_CASE("a course follower holds back an acknowledgement that repeats its last one, and only that",
          "[net][course]") {
  using net::CourseHold;
  const auto ack = [](raft::Term term, raft::Index match, bool success = true, bool heartbeat = true) {
    return actors::SendPeer{raft::PeerMessage{
        raft::NodeId{2}, raft::NodeId{1},
        raft::AppendEntriesReply{
            .term = term, .success = success, .match_index = match, .answers_heartbeat = heartbeat}}};
  };
  const auto one = [](actors::BridgeInbox m) {
    std::vector<actors::BridgeInbox> burst;
    burst.push_back(std::move(m));
    return burst;
  };
  // A heartbeat's answer: the same term and match as the last acknowledgement sent.
  CHECK(net::course_hold(one(ack(3, 10)), false, 3, 10) == CourseHold::kHoldThis);
  CHECK(net::course_hold(one(ack(3, 10)), true, 3, 10) == CourseHold::kHoldThis);
  // Anything that says more goes at once: entries taken, a new term, a rejection, an answer to a client.
  CHECK(net::course_hold(one(ack(3, 11)), false, 3, 10) == CourseHold::kSend);
  CHECK(net::course_hold(one(ack(4, 10)), false, 3, 10) == CourseHold::kSend);
  CHECK(net::course_hold(one(ack(3, 10, false)), false, 3, 10) == CourseHold::kSend);
  // An append's answer that repeats the last one (its first was lost and the leader resent): a commit may wait on it.
  CHECK(net::course_hold(one(ack(3, 10, true, false)), false, 3, 10) == CourseHold::kSend);
  CHECK(net::course_hold(one(reply_to("m")), false, 3, 10) == CourseHold::kSend);
  std::vector<actors::BridgeInbox> two = one(ack(3, 10));
  two.push_back(reply_to("m"));
  CHECK(net::course_hold(two, false, 3, 10) == CourseHold::kSend);
  // With one held: a later acknowledgement makes it say nothing more; other traffic goes first, then the held one.
  CHECK(net::course_hold(one(ack(3, 11)), true, 3, 10) == CourseHold::kSendDropHeld);
  CHECK(net::course_hold(one(reply_to("m")), true, 3, 10) == CourseHold::kSendThenHeld);
  CHECK(net::course_hold(one(ack(3, 9, false)), true, 3, 10) == CourseHold::kSendThenHeld);
}
