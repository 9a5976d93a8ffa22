// The durability gate, effect by effect: no Send leaves before every write issued before it is durable; a leader's
// own AppendEntries never wait; nothing moves earlier; Sends keep their order.

#include "actors/durability_gate.hpp"

#include <catch2/catch.hpp>

using namespace coraft;
using namespace coraft::raft;
using actors::DurabilityGate;

namespace {

const NodeId kSelf{1}, kPeer{2};

EntryPtr entry(Term term, Index index) { return std::make_shared<Entry>(Entry{term, index, EntryKind::kCommand, "x"}); }

Effect append_reply(Index match) {
  return Send{PeerMessage{kSelf, kPeer, AppendEntriesReply{.term = 3, .success = true, .match_index = match}}};
}

Index match_of(const Send& send) { return std::get<AppendEntriesReply>(send.message.payload).match_index; }

Effect entries(Index first, Index last) {
  Persist p;
  for (Index i = first; i <= last; ++i) p.entries.push_back(entry(3, i));
  return p;
}

std::size_t sends_in(const std::vector<Effect>& effects) {
  std::size_t n = 0;
  for (const auto& e : effects) n += std::holds_alternative<Send>(e);
  return n;
}

}  // namespace

TEST_CASE("a reply waits for the write made in its own burst", "[actors][durability][5.3]") {
  DurabilityGate gate;
  auto plan = gate.plan({entries(1, 3), append_reply(3)});
  REQUIRE(plan.write);
  CHECK(plan.write_seq == 1);
  CHECK(plan.write->entries.size() == 3);
  CHECK(sends_in(plan.now) == 0);
  CHECK(gate.held() == 1);
  const auto released = gate.durable(1);
  REQUIRE(released.size() == 1);
  CHECK(match_of(released[0]) == 3);
}

TEST_CASE("a reply in a later burst waits for an earlier write still under way", "[actors][durability][5.3]") {
  // The review's finding: a burst without a write of its own (a heartbeat's reply) went out at once while the write
  // holding the entries it claims was still queued behind a snapshot file.
  DurabilityGate gate;
  auto first = gate.plan({entries(1, 5), append_reply(5)});
  REQUIRE(first.write);
  auto heartbeat = gate.plan({append_reply(5)});
  CHECK_FALSE(heartbeat.write);
  CHECK(sends_in(heartbeat.now) == 0);
  CHECK(gate.held() == 2);
  CHECK(gate.durable(1).size() == 2);
  // Once nothing is outstanding, a reply goes at once.
  CHECK(sends_in(gate.plan({append_reply(5)}).now) == 1);
}

TEST_CASE("sends wait for the newest write issued before them and leave in the order made", "[actors][durability]") {
  DurabilityGate gate;
  gate.plan({entries(1, 1), append_reply(1)});        // write 1
  gate.plan({entries(2, 2), append_reply(2)});        // write 2
  gate.plan({append_reply(2)});                        // waits for 2
  auto after_first = gate.durable(1);
  REQUIRE(after_first.size() == 1);
  CHECK(match_of(after_first[0]) == 1);
  CHECK(gate.durable(1).empty());  // a repeated notice changes nothing
  auto after_second = gate.durable(2);
  REQUIRE(after_second.size() == 2);
  CHECK(match_of(after_second[0]) == 2);
  CHECK(gate.held() == 0);
}

TEST_CASE("a notice that skips writes releases everything up to it", "[actors][durability]") {
  DurabilityGate gate;
  gate.plan({entries(1, 1), append_reply(1)});
  gate.plan({entries(2, 2), append_reply(2)});
  CHECK(gate.durable(2).size() == 2);  // notices are level-triggered: a lost one is covered by the next
  CHECK(gate.durable(1).empty());
}

TEST_CASE("a leader's AppendEntries and other effects never wait for its own write", "[actors][durability][10.2.1]") {
  DurabilityGate gate;
  gate.plan({entries(1, 1)});
  AppendEntries ae{.term = 3, .prev_log_index = 0, .prev_log_term = 0, .entries = {entry(3, 2)}};
  auto plan = gate.plan({entries(2, 2), Transmit{kPeer, ae, 0}, CommitAdvanced{1},
                         ProposalAccepted{7, 2, 3}});
  REQUIRE(plan.now.size() == 3);
  CHECK(std::holds_alternative<Transmit>(plan.now[0]));
  CHECK(std::holds_alternative<CommitAdvanced>(plan.now[1]));
  CHECK(std::holds_alternative<ProposalAccepted>(plan.now[2]));
}

TEST_CASE("a burst's changes merge into one write, truncations included", "[actors][durability][wal]") {
  DurabilityGate gate;
  Persist vote;
  vote.hard_state = HardState{4, kPeer};
  Persist cut;
  cut.truncate_from = 2;
  cut.entries = {entry(4, 2)};
  auto plan = gate.plan({entries(1, 3), vote, cut});
  REQUIRE(plan.write);
  CHECK(gate.issued() == 1);
  CHECK(plan.write->hard_state == HardState{4, kPeer});
  CHECK(plan.write->truncate_from == Index{2});
  REQUIRE(plan.write->entries.size() == 2);
  CHECK(plan.write->entries[1]->term == 4);
}

TEST_CASE("a send made before the burst's write, with nothing outstanding, goes at once", "[actors][durability]") {
  DurabilityGate gate;
  auto plan = gate.plan({append_reply(0), entries(1, 1), append_reply(1)});
  CHECK(sends_in(plan.now) == 1);
  CHECK(gate.held() == 1);
}
