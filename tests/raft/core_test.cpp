// RaftCore's rules, one at a time, on scripted clusters (no actors, no time).

#include "pure_cluster.hpp"
#include "raft/crc32.hpp"
#include "raft/quorum.hpp"

#include <catch2/catch.hpp>

#include <set>

using namespace coraft;
using namespace coraft::raft;
using coraft::test::effects_of;
using coraft::test::PureCluster;

namespace {

EntryPtr entry(Term term, Index index, std::string data = "x") {
  return std::make_shared<Entry>(Entry{term, index, EntryKind::kCommand, std::move(data)});
}

PeerMessage append(NodeId from, NodeId to, Term term, Index prev, Term prev_term, std::vector<EntryPtr> entries,
                   Index commit) {
  return PeerMessage{from, to, AppendEntries{term, prev, prev_term, std::move(entries), commit, 0}};
}

std::optional<AppendEntriesReply> reply_to_leader(const std::vector<Effect>& effects) {
  for (const auto& s : effects_of<Send>(effects))
    if (auto* r = std::get_if<AppendEntriesReply>(&s.message.payload)) return *r;
  return std::nullopt;
}

// Restarted replicas hold their votes until their own timer fires once (see RaftCore): let it fire.
void release_votes(PureCluster& c, int i) {
  c.step(i, ElectionTimeout{});
  c.queue().clear();
}

// A follower (replica 1 of 3) whose log holds `entries`, in term `term`.
PureCluster follower_with(std::vector<EntryPtr> entries, Term term) {
  PureCluster c(3);
  Persist p{std::nullopt, HardState{term, kNoNode}, std::nullopt, std::move(entries)};
  c.storage(1).persist(p);
  c.restart(1);
  release_votes(c, 1);
  return c;
}

}  // namespace

TEST_CASE("quorum arithmetic", "[raft][quorum]") {
  CHECK(quorum_size(1) == 1);
  CHECK(quorum_size(3) == 2);
  CHECK(quorum_size(4) == 3);
  CHECK(quorum_size(5) == 3);
  CHECK(quorum_value(std::vector<Index>{5, 1, 3}) == 3);
  CHECK(quorum_value(std::vector<Index>{9, 9, 1, 1, 2}) == 2);
  CHECK(quorum_value(std::vector<Index>{7, 7, 7, 0}) == 7);
}

TEST_CASE("follower rejects an AppendEntries of a stale term and tells its term", "[raft][5.1]") {
  auto c = follower_with({}, 5);
  auto out = c.step(1, Receive{append(c.id(0), c.id(1), 4, 0, 0, {entry(4, 1)}, 0)});
  auto reply = reply_to_leader(out);
  REQUIRE(reply);
  CHECK_FALSE(reply->success);
  CHECK(reply->term == 5);
  CHECK(c.at(1).log().last_index() == 0);
}

TEST_CASE("a vote is persisted before it is granted, and granted once per term", "[raft][5.2]") {
  PureCluster c(3);
  auto out = c.step(1, Receive{PeerMessage{c.id(0), c.id(1), RequestVote{1, 0, 0, false}}});
  REQUIRE(out.size() >= 2);
  // The Persist of term and vote comes before the reply that depends on it.
  std::size_t persist_at = out.size(), reply_at = out.size();
  for (std::size_t i = 0; i < out.size(); ++i) {
    if (std::holds_alternative<Persist>(out[i]) && persist_at == out.size()) persist_at = i;
    if (std::holds_alternative<Send>(out[i])) reply_at = i;
  }
  REQUIRE(persist_at < reply_at);
  CHECK(std::get<Persist>(out[persist_at]).hard_state == HardState{1, c.id(0)});
  CHECK(std::get<RequestVoteReply>(std::get<Send>(out[reply_at]).message.payload).granted);

  auto second = c.step(1, Receive{PeerMessage{c.id(2), c.id(1), RequestVote{1, 5, 1, false}}});
  auto votes = effects_of<Send>(second);
  REQUIRE(votes.size() == 1);
  CHECK_FALSE(std::get<RequestVoteReply>(votes[0].message.payload).granted);
  // ...and the vote survives a restart.
  c.restart(1);
  CHECK(c.at(1).voted_for() == c.id(0));
}

TEST_CASE("a candidate whose log is behind gets no vote", "[raft][5.4.1]") {
  auto c = follower_with({entry(1, 1), entry(2, 2)}, 2);
  // Longer log but older last term: not up to date.
  auto out = c.step(1, Receive{PeerMessage{c.id(0), c.id(1), RequestVote{3, 5, 1, false}}});
  auto sends = effects_of<Send>(out);
  REQUIRE(sends.size() == 1);
  CHECK_FALSE(std::get<RequestVoteReply>(sends[0].message.payload).granted);
  // Same last term, shorter log: not up to date either.
  auto out2 = c.step(1, Receive{PeerMessage{c.id(2), c.id(1), RequestVote{3, 1, 2, false}}});
  CHECK_FALSE(std::get<RequestVoteReply>(effects_of<Send>(out2).at(0).message.payload).granted);
}

TEST_CASE("PreVote changes no term and wins only with a majority", "[raft][9.6]") {
  PureCluster c(3);
  c.step(0, ElectionTimeout{});
  CHECK(c.at(0).role() == Role::kPreCandidate);
  CHECK(c.at(0).term() == 0);  // a pre-candidate does not bump its term
  c.deliver_all();
  CHECK(c.at(0).role() == Role::kLeader);
  CHECK(c.at(0).term() == 1);
  CHECK(c.at(1).term() == 1);
}

TEST_CASE("a replica that hears from a current leader ignores vote requests", "[raft][4.2.3]") {
  PureCluster c(3);
  c.elect(0);
  REQUIRE(c.at(0).role() == Role::kLeader);
  REQUIRE(c.at(1).leader() == c.id(0));
  // Replica 2 was cut off, timed out and campaigns (without PreVote it would have bumped its term).
  auto out = c.step(1, Receive{PeerMessage{c.id(2), c.id(1), RequestVote{7, 100, 7, false}}});
  CHECK(out.empty());  // no term change, no vote, no reply
  CHECK(c.at(1).term() == 1);
  auto pre = c.step(1, Receive{PeerMessage{c.id(2), c.id(1), RequestVote{2, 100, 7, true}}});
  CHECK(pre.empty());
  // Once its own timer fires, the follower has not heard from the leader for a timeout and may vote.
  c.step(1, ElectionTimeout{});
  c.queue().clear();
  auto later = c.step(1, Receive{PeerMessage{c.id(2), c.id(1), RequestVote{7, 100, 7, false}}});
  CHECK(std::get<RequestVoteReply>(effects_of<Send>(later).at(0).message.payload).granted);
}

TEST_CASE("a follower considers votes once the minimum election timeout has passed since its leader's last message",
          "[raft][4.2.3]") {
  // Without this, a follower ignored them until its own randomized timer fired, so after a leader died the first
  // voter to time out could not be elected before a majority of the others had timed out as well.
  PureCluster c(3, [](RaftConfig& config) { config.vote_quiet_us = 1'000'000; });
  c.now_us = 5'000'000;
  c.elect(0);
  REQUIRE(c.at(1).leader() == c.id(0));
  auto pre_vote = [&] { return c.step(1, Receive{PeerMessage{c.id(2), c.id(1), RequestVote{2, 100, 7, true}}}); };
  c.now_us += 999'999;
  CHECK(pre_vote().empty());  // within the timeout: ignored
  c.now_us += 1;
  auto answered = effects_of<Send>(pre_vote());
  REQUIRE(answered.size() == 1);  // its own timer has not fired, and it still names the leader
  CHECK(std::get<RequestVoteReply>(answered.at(0).message.payload).granted);
  CHECK(c.at(1).leader() == c.id(0));
  CHECK(c.at(1).term() == 1);
  // A message from the leader starts the timeout again.
  c.queue().clear();
  c.step(0, HeartbeatDue{c.id(1)});
  c.deliver_all();
  REQUIRE(c.at(1).leader() == c.id(0));
  c.now_us += 500'000;
  CHECK(pre_vote().empty());
  c.now_us += 500'000;
  auto vote = effects_of<Send>(c.step(1, Receive{PeerMessage{c.id(2), c.id(1), RequestVote{2, 100, 7, false}}}));
  REQUIRE(vote.size() == 1);
  CHECK(std::get<RequestVoteReply>(vote.at(0).message.payload).granted);
  CHECK(c.at(1).term() == 2);
}

TEST_CASE("a leader commits an entry of an earlier term only with one of its own (Figure 8)", "[raft][5.4.2]") {
  // Replica 0 has an entry of term 2 that nobody else has; it becomes leader in term 4.
  PureCluster c(5);
  Persist old{std::nullopt, HardState{3, kNoNode}, std::nullopt, {entry(2, 1, "old")}};
  c.storage(0).persist(old);
  c.restart(0);
  for (int i = 1; i < 5; ++i) {
    c.storage(i).persist(Persist{std::nullopt, HardState{3, kNoNode}, std::nullopt, {}});
    c.restart(i);
    release_votes(c, i);
  }
  c.step(0, ElectionTimeout{});
  c.deliver_all([&](const PeerMessage& m) {
    // Let the election through, but no AppendEntries: the leader cannot replicate yet.
    return !std::holds_alternative<AppendEntries>(m.payload);
  });
  REQUIRE(c.at(0).role() == Role::kLeader);
  const Term leader_term = c.at(0).term();
  REQUIRE(c.at(0).log().last_index() == 2);  // the old entry and the new leader's no-op
  REQUIRE(c.at(0).log().term_at(2) == leader_term);

  // Followers 1 and 2 acknowledge index 1 only: a majority (0, 1, 2) holds the term-2 entry, but it is not of the
  // leader's term, so counting replicas must not commit it.
  for (int f = 1; f <= 2; ++f) {
    c.step(0, Receive{PeerMessage{c.id(f), c.id(0), AppendEntriesReply{leader_term, true, 1, 0, 0, 0, 0}}});
  }
  CHECK(c.at(0).commit_index() == 0);
  // Once a majority holds the no-op of the current term, both commit together.
  for (int f = 1; f <= 2; ++f) {
    c.step(0, Receive{PeerMessage{c.id(f), c.id(0), AppendEntriesReply{leader_term, true, 2, 0, 0, 0, 0}}});
  }
  CHECK(c.at(0).commit_index() == 2);
}

TEST_CASE("a duplicated old AppendEntries never truncates what followed it", "[raft][5.3]") {
  auto c = follower_with({}, 1);
  c.step(1, Receive{append(c.id(0), c.id(1), 1, 0, 0, {entry(1, 1), entry(1, 2), entry(1, 3)}, 0)});
  REQUIRE(c.at(1).log().last_index() == 3);
  // The first, shorter message arrives late: it matches, so nothing is cut.
  auto out = c.step(1, Receive{append(c.id(0), c.id(1), 1, 0, 0, {entry(1, 1)}, 0)});
  CHECK(c.at(1).log().last_index() == 3);
  auto reply = reply_to_leader(out);
  REQUIRE(reply);
  CHECK(reply->success);
  CHECK(reply->match_index == 1);
}

TEST_CASE("a follower never truncates at or below its commit index", "[raft][5.3]") {
  auto c = follower_with({}, 2);
  c.step(1, Receive{append(c.id(0), c.id(1), 2, 0, 0, {entry(1, 1), entry(2, 2), entry(2, 3)}, 3)});
  REQUIRE(c.at(1).commit_index() == 3);
  // A message reaching into the committed prefix is compared only after it: entries up to 3 are skipped.
  auto out = c.step(1, Receive{append(c.id(0), c.id(1), 2, 1, 1, {entry(2, 2), entry(2, 3), entry(2, 4)}, 3)});
  CHECK(c.at(1).log().last_index() == 4);
  CHECK(reply_to_leader(out)->match_index == 4);
}

TEST_CASE("a conflicting suffix is replaced, and the reply hints where the conflict starts", "[raft][5.3]") {
  auto c = follower_with({entry(1, 1), entry(2, 2), entry(2, 3), entry(2, 4)}, 3);
  // Leader of term 3 probes at 4 with term 3: mismatch. The hint names term 2 and its first index, 2.
  auto out = c.step(1, Receive{append(c.id(0), c.id(1), 3, 4, 3, {}, 1)});
  auto reply = reply_to_leader(out);
  REQUIRE(reply);
  CHECK_FALSE(reply->success);
  CHECK(reply->rejected_prev == 4);
  CHECK(reply->conflict_term == 2);
  CHECK(reply->conflict_index == 2);
  // Beyond the end: the hint is the follower's last index + 1.
  auto beyond = reply_to_leader(c.step(1, Receive{append(c.id(0), c.id(1), 3, 9, 3, {}, 1)}));
  CHECK(beyond->conflict_term == 0);
  CHECK(beyond->conflict_index == 5);
  // The leader's entries from 2 on replace the follower's term-2 suffix.
  auto fix = c.step(1, Receive{append(c.id(0), c.id(1), 3, 1, 1, {entry(3, 2), entry(3, 3)}, 1)});
  CHECK(reply_to_leader(fix)->success);
  CHECK(c.at(1).log().last_index() == 3);
  CHECK(c.at(1).log().term_at(2) == 3);
  auto persists = effects_of<Persist>(fix);
  REQUIRE(persists.size() == 1);
  CHECK(persists[0].truncate_from == Index{2});
}

TEST_CASE("the leader skips a whole conflicting term when backtracking", "[raft][5.3]") {
  PureCluster c(3);
  c.elect(0);
  REQUIRE(c.at(0).role() == Role::kLeader);
  for (int i = 0; i < 5; ++i) c.step(0, Propose{1, {"cmd"}});
  c.deliver_all();
  const Index last = c.at(0).log().last_index();
  REQUIRE(c.at(0).progress(c.id(1))->match() == last);
  // A rejection claiming the follower holds term 99 (which the leader never had) from index 3: go back to 3.
  c.step(0, Receive{PeerMessage{c.id(1), c.id(0), AppendEntriesReply{c.at(0).term(), false, 0, last + 5, 3, 99, 0}}});
  CHECK(c.at(0).progress(c.id(1))->match() == last);  // stale: at or below match, ignored
  CHECK(c.at(0).progress(c.id(1))->next() == last + 1);
}

TEST_CASE("stale and duplicated replies never move match or next wrongly", "[raft][progress]") {
  Progress p(5);
  // Probe answered: match 4, now replicating.
  REQUIRE(p.on_success(4));
  CHECK(p.mode() == Progress::Mode::kReplicate);
  p.on_sent(10, 100);
  p.on_sent(20, 100);
  CHECK(p.next() == 21);
  CHECK(p.on_success(15));
  CHECK_FALSE(p.on_success(12));  // reordered older reply
  CHECK(p.match() == 15);
  CHECK(p.next() == 21);
  CHECK_FALSE(p.on_reject(10, 3));  // a rejection from below match is stale
  CHECK(p.next() == 21);
  CHECK(p.on_reject(20, 17));  // fresh: back to probing at the hint, never below match + 1
  CHECK(p.mode() == Progress::Mode::kProbe);
  CHECK(p.next() == 17);
  CHECK_FALSE(p.on_reject(20, 16));  // the same rejection again: not the answer to the current probe
  CHECK(p.next() == 17);
  CHECK(p.on_reject(16, 2));
  CHECK(p.next() == 16);  // clamped to match + 1
}

TEST_CASE("the in-flight window bounds pipelining in messages", "[raft][progress]") {
  ReplicationLimits limits;
  limits.max_inflight_appends = 2;
  Progress p(1);
  REQUIRE(p.on_success(0) == false);
  p.on_sent(1, 10);  // probe
  CHECK_FALSE(p.can_send_entries(limits));
  REQUIRE(p.on_success(1));
  CHECK(p.can_send_entries(limits));
  p.on_sent(2, 10);
  p.on_sent(3, 10);
  CHECK_FALSE(p.can_send_entries(limits));
  p.on_success(2);
  CHECK(p.can_send_entries(limits));
}

TEST_CASE("a leader that hears from no majority for an election timeout steps down (CheckQuorum)", "[raft][checkquorum]") {
  PureCluster c(3);
  c.elect(0);
  REQUIRE(c.at(0).role() == Role::kLeader);
  c.step(0, ElectionTimeout{});  // followers answered during this period: stays
  CHECK(c.at(0).role() == Role::kLeader);
  c.queue().clear();
  c.step(0, ElectionTimeout{});  // nobody answered since
  CHECK(c.at(0).role() == Role::kFollower);
  CHECK(c.at(0).leader() == kNoNode);
}

TEST_CASE("a leader that has heard from no majority lately holds new writes: proposed once it hears again, rejected "
          "if it steps down first",
          "[raft][checkquorum]") {
  // A write appended on a minority side may be committed by the next leader without its client ever hearing: held
  // instead, it never enters the log there and is answered where it can be.
  PureCluster c(3, [](RaftConfig& config) { config.quorum_contact_us = 100000; });
  c.elect(0);
  REQUIRE(c.at(0).role() == Role::kLeader);
  c.now_us = 50000;  // the votes came 50 ms ago
  CHECK(effects_of<ProposalAccepted>(c.step(0, Propose{1, {"a"}})).size() == 1);
  c.deliver_all();
  const Index before = c.at(0).log().last_index();
  c.now_us = 300000;  // every answer is older than 100 ms
  auto held = c.step(0, Propose{2, {"b"}});
  CHECK(effects_of<ProposalAccepted>(held).empty());
  CHECK(effects_of<ProposalRejected>(held).empty());
  CHECK(c.at(0).log().last_index() == before);
  CHECK(effects_of<Transmit>(held).size() == 2);  // it asks both followers at once, not at the next heartbeat
  CHECK(effects_of<Transmit>(c.step(0, Propose{4, {"d"}})).empty());  // and not again within a round-trip timeout
  // One follower answers: with the leader, a majority. The held writes go into the log then, in order.
  c.deliver_all([&](const raft::PeerMessage& m) { return m.to == c.id(1) || m.from == c.id(1); });
  std::vector<ProposalAccepted> accepted = effects_of<ProposalAccepted>(c.effects(0));
  REQUIRE(accepted.size() >= 2);
  CHECK(accepted[accepted.size() - 2].proposal_id == 2);
  CHECK(accepted.back().proposal_id == 4);
  CHECK(c.at(0).log().last_index() == before + 2);
  // Cut off again: the next write waits, and is turned away when CheckQuorum deposes the leader.
  c.queue().clear();
  c.now_us = 600000;
  c.step(0, Propose{3, {"c"}});
  c.step(0, ElectionTimeout{});
  c.step(0, ElectionTimeout{});
  REQUIRE(c.at(0).role() == Role::kFollower);
  std::vector<ProposalRejected> rejected = effects_of<ProposalRejected>(c.effects(0));
  REQUIRE(rejected.size() == 1);
  CHECK(rejected[0].proposal_id == 3);
  CHECK(c.at(0).log().last_index() == before + 2);
}

namespace {

// Five replicas; the leader (0) and replica 1 end up cut off from 2, 3 and 4 while a write waits.
PureCluster minority_leader_with_a_held_write() {
  PureCluster c(5, [](RaftConfig& config) {
    config.quorum_contact_us = 400'000;
    config.retransmit = {.min_us = 1'000, .initial_us = 5'000, .max_us = 200'000};
  });
  c.elect(0);
  REQUIRE(c.at(0).role() == Role::kLeader);
  c.now_us = 50'000;
  c.step(0, Propose{1, {"a"}});
  c.deliver_all();
  c.now_us = 600'000;  // nobody heard from for 550 ms
  c.effects(0).clear();
  c.step(0, Propose{2, {"b"}});  // held, and every silent voter is asked
  REQUIRE(effects_of<ProposalAccepted>(c.effects(0)).empty());
  return c;
}

bool within_minority(PureCluster& c, const raft::PeerMessage& m) {
  return (m.from == c.id(0) || m.from == c.id(1)) && (m.to == c.id(0) || m.to == c.id(1));
}

}  // namespace

TEST_CASE("a leader whose probes a majority leaves unanswered steps down at once, and its waiting write is turned "
          "away",
          "[raft][checkquorum]") {
  PureCluster c = minority_leader_with_a_held_write();
  const std::int64_t held_at = c.now_us;
  int rounds = 0;
  while (c.at(0).role() == Role::kLeader && rounds < 20) {
    c.deliver_all([&](const raft::PeerMessage& m) { return within_minority(c, m); });
    const auto due = c.at(0).next_retransmit_us();
    REQUIRE(due);
    c.now_us = std::max(c.now_us, *due);
    c.step(0, RetransmitDue{});
    ++rounds;
  }
  REQUIRE(c.at(0).role() == Role::kFollower);  // no election timeout passed: CheckQuorum never looked
  // Five probes each, 1, 2, 3 and 4 timeouts (the 1 ms floor) apart, and 5 for the last one's answer.
  CHECK(c.now_us - held_at == 15'000);
  const std::vector<ProposalRejected> rejected = effects_of<ProposalRejected>(c.effects(0));
  REQUIRE(rejected.size() == 1);
  CHECK(rejected[0].proposal_id == 2);
  // The role change is announced before the write is turned away (the gateway would otherwise propose it again).
  const auto& effects = c.effects(0);
  const auto stepped = std::find_if(effects.begin(), effects.end(), [](const raft::Effect& e) {
    const auto* role = std::get_if<RoleChanged>(&e);
    return role && role->role == Role::kFollower;
  });
  const auto turned_away = std::find_if(effects.begin(), effects.end(), [](const raft::Effect& e) {
    return std::holds_alternative<ProposalRejected>(e);
  });
  CHECK(stepped < turned_away);
  std::size_t probes_to_2 = 0;
  for (const auto& t : effects_of<Transmit>(c.effects(0))) probes_to_2 += t.to == c.id(2);
  CHECK(probes_to_2 == 5);
}

TEST_CASE("voters already counted as cut off do not wake the leader again while others are still being probed",
          "[raft][checkquorum]") {
  PureCluster c(5, [](RaftConfig& config) {
    config.quorum_contact_us = 400'000;
    config.retransmit = {.min_us = 1'000, .initial_us = 5'000, .max_us = 200'000};
  });
  c.elect(0);
  REQUIRE(c.at(0).role() == Role::kLeader);
  // Only 3 and 4 answer this round: their timeout is measured (the 1 ms floor), 1's and 2's is the initial 5 ms.
  c.now_us = 1'000;  // (a send stamped 0 is no measurement)
  c.step(0, Propose{1, {"a"}});
  c.deliver_all([&](const raft::PeerMessage& m) {
    return m.from == c.id(0) || m.from == c.id(3) || m.from == c.id(4);
  });
  c.now_us = 600'000;
  c.step(0, Propose{2, {"b"}});
  const std::int64_t held_at = c.now_us;
  int rounds = 0;
  while (c.at(0).role() == Role::kLeader && rounds < 50) {
    c.queue().clear();  // nobody gets anything
    const auto due = c.at(0).next_retransmit_us();
    REQUIRE(due);
    REQUIRE(*due > c.now_us);  // never a deadline already dealt with: the node would spin on it
    c.now_us = *due;
    c.step(0, RetransmitDue{});
    ++rounds;
  }
  CHECK(c.at(0).role() == Role::kFollower);
  // 3 and 4 count as cut off 15 ms in; 1 and 2 after probes 5, 10, 15 and 20 ms apart and 25 ms for the last.
  CHECK(c.now_us - held_at == 75'000);
  CHECK(rounds == 9);  // 1, 3, 5, 6, 10, 15 (both pairs), 30, 50 and 75 ms
}

TEST_CASE("a leader whose probes are answered late, but answered, keeps leading and commits the waiting write",
          "[raft][checkquorum]") {
  PureCluster c = minority_leader_with_a_held_write();
  for (int round = 0; round < 3; ++round) {  // three rounds of probes lost (a lossy network, not a partition)
    c.deliver_all([&](const raft::PeerMessage& m) { return within_minority(c, m); });
    c.now_us = *c.at(0).next_retransmit_us();
    c.step(0, RetransmitDue{});
  }
  REQUIRE(c.at(0).role() == Role::kLeader);
  c.deliver_all();  // the fourth round gets through
  CHECK(c.at(0).role() == Role::kLeader);
  const std::vector<ProposalAccepted> accepted = effects_of<ProposalAccepted>(c.effects(0));
  REQUIRE(accepted.size() == 1);
  CHECK(accepted[0].proposal_id == 2);
  CHECK(c.at(0).commit_index() == c.at(0).log().last_index());
}

TEST_CASE("reads wait for a majority to confirm leadership after they arrive", "[raft][6.4]") {
  PureCluster c(3);
  c.elect(0);
  REQUIRE(c.at(0).commit_index() == 1);
  c.now_us = 1000;
  auto out = c.step(0, ReadIndex{7});
  CHECK(effects_of<ReadReady>(out).empty());  // acknowledgements so far were sent before the read arrived
  auto transmits = effects_of<Transmit>(out);
  CHECK(transmits.size() == 2);  // one heartbeat round for the waiting read
  // One follower answering the round is a majority with the leader.
  raft::PeerMessage heartbeat = c.queue().front();
  c.queue().clear();
  auto reply_out = c.step(heartbeat.to.value, Receive{heartbeat});
  REQUIRE(c.queue().size() == 1);
  auto answer = c.step(0, Receive{c.queue().front()});
  auto ready = effects_of<ReadReady>(answer);
  REQUIRE(ready.size() == 1);
  CHECK(ready[0].read_id == 7);
  CHECK(ready[0].read_index == 1);
}

TEST_CASE("a read confirmed by a round acknowledged long ago waits for a new round", "[raft][6.4]") {
  // The leader stood still (a paused process) between sending the round and reading its answers: meanwhile another
  // replica may have led and committed writes, which a read served now would not show.
  PureCluster c(3, [](RaftConfig& config) { config.read_fresh_us = 100000; });
  c.elect(0);
  c.now_us = 1000;
  c.step(0, ReadIndex{7});
  raft::PeerMessage heartbeat = c.queue().front();
  c.queue().clear();
  c.step(heartbeat.to.value, Receive{heartbeat});
  REQUIRE(c.queue().size() == 1);
  const raft::PeerMessage late_answer = c.queue().front();
  c.queue().clear();
  c.now_us = 10'000'000;
  auto out = c.step(0, Receive{late_answer});
  CHECK(effects_of<ReadReady>(out).empty());
  CHECK(effects_of<Transmit>(out).size() == 2);  // a new round
  // Its answer, soon after, serves the read.
  heartbeat = c.queue().front();
  c.queue().clear();
  c.step(heartbeat.to.value, Receive{heartbeat});
  REQUIRE(c.queue().size() == 1);
  c.now_us += 1000;
  auto ready = effects_of<ReadReady>(c.step(0, Receive{c.queue().front()}));
  REQUIRE(ready.size() == 1);
  CHECK(ready[0].read_id == 7);
}

TEST_CASE("with a lease, a recently confirmed leader serves reads at once; a deposed one never", "[raft][6.4]") {
  PureCluster c(3, [](RaftConfig& config) { config.read_lease_us = 100000; });
  c.elect(0);
  c.now_us = 50000;
  CHECK(effects_of<ReadReady>(c.step(0, ReadIndex{1})).size() == 1);
  c.now_us = 500000;  // lease long gone: needs a round
  CHECK(effects_of<ReadReady>(c.step(0, ReadIndex{2})).empty());
  c.queue().clear();
  c.step(0, ElectionTimeout{});
  c.step(0, ElectionTimeout{});  // CheckQuorum: deposed
  REQUIRE(c.at(0).role() == Role::kFollower);
  CHECK(effects_of<ReadRejected>(c.effects(0)).size() == 1);
  CHECK(effects_of<ReadRejected>(c.step(0, ReadIndex{3})).size() == 1);
}

TEST_CASE("after a restart a replica holds its vote until its own timer fires", "[raft][lease]") {
  PureCluster c(3);
  c.elect(0);
  c.restart(1);
  auto out = c.step(1, Receive{PeerMessage{c.id(2), c.id(1), RequestVote{5, 10, 5, false}}});
  CHECK(out.empty());
  c.step(1, ElectionTimeout{});
  c.queue().clear();
  auto later = c.step(1, Receive{PeerMessage{c.id(2), c.id(1), RequestVote{5, 10, 5, false}}});
  CHECK(std::get<RequestVoteReply>(effects_of<Send>(later).at(0).message.payload).granted);
}

TEST_CASE("a single replica elects itself and commits alone", "[raft]") {
  PureCluster c(1);
  c.step(0, ElectionTimeout{});
  CHECK(c.at(0).role() == Role::kLeader);
  c.step(0, Propose{1, {"a", "b"}});
  CHECK(c.at(0).commit_index() == 3);
}

TEST_CASE("a follower installs a snapshot chunk by chunk and keeps a matching suffix (Figure 13)", "[raft][7]") {
  auto c = follower_with({entry(1, 1), entry(1, 2), entry(2, 3), entry(2, 4), entry(2, 5)}, 2);
  auto chunk = [&](std::uint64_t offset, std::string data, bool done) {
    return c.step(1, Receive{PeerMessage{c.id(0), c.id(1),
                                         InstallSnapshot{3, 4, 2, offset, 6, crc32c("abcdef"), std::move(data), done}}});
  };
  auto reply_of = [](const std::vector<Effect>& out) {
    return std::get<InstallSnapshotReply>(effects_of<Send>(out).at(0).message.payload);
  };
  CHECK(reply_of(chunk(3, "def", true)).next_offset == 0);  // nothing yet: start over
  CHECK(reply_of(chunk(0, "abc", false)).next_offset == 3);
  CHECK(reply_of(chunk(0, "abc", false)).next_offset == 3);  // a duplicate changes nothing
  auto done = chunk(3, "def", true);
  CHECK(reply_of(done).done);
  auto restore = effects_of<RestoreSnapshot>(done);
  REQUIRE(restore.size() == 1);
  CHECK(*restore[0].snapshot.data == "abcdef");
  CHECK(c.at(1).commit_index() == 4);
  CHECK(c.at(1).log().base_index() == 4);
  CHECK(c.at(1).log().last_index() == 5);  // entry 5 followed a matching entry 4: kept
  // The snapshot is persisted before the reply that says it is installed.
  bool persisted_first = false;
  for (const auto& e : done) {
    if (auto* p = std::get_if<Persist>(&e); p && p->snapshot) persisted_first = true;
    if (std::holds_alternative<Send>(e)) break;
  }
  CHECK(persisted_first);
}

TEST_CASE("a snapshot that contradicts the follower's log replaces all of it (Figure 13)", "[raft][7]") {
  auto c = follower_with({entry(1, 1), entry(1, 2), entry(1, 3), entry(1, 4), entry(1, 5)}, 1);
  auto out = c.step(1, Receive{PeerMessage{c.id(0), c.id(1), InstallSnapshot{3, 4, 3, 0, 1, crc32c("x"), "x", true}}});
  CHECK(std::get<InstallSnapshotReply>(effects_of<Send>(out).at(0).message.payload).done);
  CHECK(c.at(1).log().base_index() == 4);
  CHECK(c.at(1).log().last_index() == 4);  // the conflicting entry 5 went too
  auto persists = effects_of<Persist>(out);
  REQUIRE_FALSE(persists.empty());
  CHECK(persists[0].truncate_from == Index{5});
}

TEST_CASE("a leader sends a snapshot to a follower that needs compacted entries", "[raft][7]") {
  PureCluster c(3);
  c.elect(0);
  for (int i = 0; i < 5; ++i) c.step(0, Propose{1, {"cmd"}});
  c.deliver_all([&](const PeerMessage& m) { return m.to != c.id(2) && m.from != c.id(2); });
  REQUIRE(c.at(0).commit_index() == 6);
  c.step(0, CompactLog{make_snapshot(6, 1, "state")});
  CHECK(c.at(0).log().base_index() == 6);
  // The heartbeat tells the leader where follower 2 stands: before the log's start.
  c.effects(0).clear();
  c.step(0, HeartbeatDue{c.id(2)});
  c.deliver_all();
  CHECK(effects_of<SendSnapshot>(c.effects(0)).size() == 1);
  CHECK(c.at(0).progress(c.id(2))->mode() == Progress::Mode::kSnapshot);
  auto done = c.step(0, Receive{PeerMessage{c.id(2), c.id(0), InstallSnapshotReply{1, 6, 5, true}}});
  CHECK(c.at(0).progress(c.id(2))->match() == 6);
  CHECK(effects_of<SnapshotAck>(done).at(0).done);
}

TEST_CASE("a rejection sent after a follower confirmed entries never takes them back", "[raft][progress][5.3]") {
  // The follower acknowledged the whole log; then a pipelined append of the same term is rejected with a hint below
  // what it confirmed (an answer overtaken by others, or a faulty hint). A follower that acknowledged entries keeps
  // them durably: match must not go back, nor must the leader forget it for a "wiped" follower.
  PureCluster c(3);
  c.elect(0);
  for (int i = 0; i < 3; ++i) c.step(0, Propose{static_cast<std::uint64_t>(i), {"cmd"}});
  c.deliver_all();
  const Index last = c.at(0).log().last_index();
  REQUIRE(c.at(0).progress(c.id(1))->match() == last);
  c.now_us = 5'000'000;
  c.step(0, Receive{PeerMessage{c.id(1), c.id(0),
                                AppendEntriesReply{c.at(0).term(), false, 0, last, 1, 0, c.now_us}}});
  CHECK(c.at(0).progress(c.id(1))->match() == last);
  CHECK(c.at(0).commit_index() == last);
}

TEST_CASE("a leader drops AppendEntries and InstallSnapshot claiming its own term, and stays leader", "[raft][5.2]") {
  // No correct replica sends these (one leader per term): a forged datagram must not take the leader down.
  PureCluster c(3);
  c.elect(0);
  const Term term = c.at(0).term();
  std::vector<Effect> out;
  REQUIRE_NOTHROW(out = c.step(0, Receive{PeerMessage{c.id(1), c.id(0), AppendEntries{.term = term, .prev_log_index = 0}}}));
  CHECK(effects_of<MessageRejected>(out).size() == 1);
  CHECK(effects_of<Send>(out).empty());
  REQUIRE_NOTHROW(out = c.step(0, Receive{PeerMessage{c.id(2), c.id(0),
                                                      InstallSnapshot{term, 50, term, 0, 1, crc32c("x"), "x", true}}}));
  CHECK(effects_of<MessageRejected>(out).size() == 1);
  CHECK(c.at(0).role() == Role::kLeader);
  CHECK(c.at(0).term() == term);
  CHECK(c.at(0).log().base_index() == 0);
}

TEST_CASE("snapshot chunks from two leaders are never assembled into one snapshot", "[raft][7]") {
  // Two leaders serialize the same state (index 4, term 2) differently: the checksum tells them apart, so a follower
  // that got the first half from one and resumes with the other starts over instead of mixing bytes.
  auto c = follower_with({entry(1, 1), entry(1, 2), entry(2, 3), entry(2, 4)}, 2);
  const std::string a = "AAAAAA", b = "BBBBBB";
  auto chunk = [&](int from, Term term, const std::string& whole, std::uint64_t offset, bool done) {
    return c.step(1, Receive{PeerMessage{c.id(from), c.id(1),
                                         InstallSnapshot{term, 4, 2, offset, whole.size(), crc32c(whole),
                                                         whole.substr(offset, 3), done}}});
  };
  auto reply_of = [](const std::vector<Effect>& out) {
    return std::get<InstallSnapshotReply>(effects_of<Send>(out).at(0).message.payload);
  };
  CHECK(reply_of(chunk(0, 3, a, 0, false)).next_offset == 3);
  // A new leader (term 4) resumes at offset 3 with its own bytes: refused, start over.
  auto resumed = chunk(2, 4, b, 3, true);
  CHECK(reply_of(resumed).next_offset == 0);
  CHECK(effects_of<RestoreSnapshot>(resumed).empty());
  CHECK(reply_of(chunk(2, 4, b, 0, false)).next_offset == 3);
  auto done = chunk(2, 4, b, 3, true);
  REQUIRE(effects_of<RestoreSnapshot>(done).size() == 1);
  CHECK(*effects_of<RestoreSnapshot>(done)[0].snapshot.data == b);
}

TEST_CASE("a snapshot whose bytes do not match its checksum is not installed", "[raft][7]") {
  auto c = follower_with({entry(1, 1), entry(1, 2)}, 2);
  auto out = c.step(1, Receive{PeerMessage{c.id(0), c.id(1), InstallSnapshot{3, 4, 2, 0, 3, crc32c("abc"), "abd", true}}});
  CHECK(effects_of<RestoreSnapshot>(out).empty());
  CHECK(effects_of<MessageRejected>(out).size() == 1);
  CHECK(std::get<InstallSnapshotReply>(effects_of<Send>(out).at(0).message.payload).next_offset == 0);
  CHECK(c.at(1).log().base_index() == 0);
}

TEST_CASE("the retransmission timeout follows the measured round trip, with a floor, a ceiling and back-off",
          "[raft][retransmit]") {
  RetransmitLimits limits{.min_us = 1'000, .initial_us = 10'000, .max_us = 200'000};
  RoundTrip rtt;
  CHECK(rtt.timeout_us(limits, 0) == 10'000);  // nothing measured yet
  CHECK(rtt.timeout_us(limits, 2) == 40'000);
  rtt.sample(400);
  CHECK(rtt.timeout_us(limits, 0) == 1'200);  // the first sample: 400 + 4 x 200
  for (int i = 0; i < 50; ++i) rtt.sample(400);  // steady: the variation decays, the floor holds
  CHECK(rtt.smoothed_us() == 400);
  CHECK(rtt.timeout_us(limits, 0) == 1'000);
  rtt.sample(20'000);  // a spike widens the timeout at once
  CHECK(rtt.timeout_us(limits, 0) > 10'000);
  CHECK(rtt.timeout_us(limits, 10) == 200'000);  // back-off stops at the ceiling
}

TEST_CASE("a lost AppendEntries is sent again after the round-trip timeout, long before a heartbeat",
          "[raft][retransmit]") {
  PureCluster c(3, [](RaftConfig& config) { config.retransmit = {.min_us = 1'000, .initial_us = 5'000, .max_us = 200'000}; });
  c.elect(0);
  REQUIRE(c.at(0).role() == Role::kLeader);
  // Round trips of 300 us teach the leader what to expect.
  for (int i = 0; i < 10; ++i) {
    c.step(0, Propose{static_cast<std::uint64_t>(i), {"warm-up"}});
    c.now_us += 300;
    c.deliver_all();
  }
  const Index committed = c.at(0).commit_index();
  REQUIRE(!c.at(0).next_retransmit_us());  // everything answered: nothing to resend, no wake-up
  c.step(0, Propose{100, {"lost once"}});
  c.queue().clear();  // both copies lost
  const auto due = c.at(0).next_retransmit_us();
  REQUIRE(due);
  CHECK(*due - c.now_us <= 2'000);  // about the floor: the round trips were short and steady
  c.now_us = *due - 1;
  c.step(0, RetransmitDue{});
  CHECK(c.queue().empty());  // not yet
  c.now_us = *due;
  c.step(0, RetransmitDue{});
  CHECK(c.queue().size() == 2);
  CHECK(c.at(0).retransmissions() == 2);
  c.deliver_all();
  CHECK(c.at(0).commit_index() == committed + 1);
  CHECK(!c.at(0).next_retransmit_us());
}

TEST_CASE("the time a follower's transport held an acknowledgement is not taken as round trip", "[raft][retransmit]") {
  // Course mode holds a heartbeat's acknowledgement back a moment (net/udp_bridge.cpp) and says how long: a timeout
  // grown by it would wait that much longer for every lost append.
  PureCluster c(3, [](RaftConfig& config) {
    config.retransmit = {.min_us = 1'000, .initial_us = 5'000, .max_us = 200'000};
  });
  c.elect(0);
  REQUIRE(c.at(0).role() == Role::kLeader);
  for (int i = 0; i < 10; ++i) {  // round trips of 300 us, each answer held 5 ms on the way
    c.step(0, Propose{static_cast<std::uint64_t>(i), {"warm-up"}});
    bool advanced = false;
    while (!c.queue().empty()) {
      PeerMessage m = c.queue().front();
      c.queue().pop_front();
      if (auto* ack = std::get_if<AppendEntriesReply>(&m.payload)) {
        ack->held_us = 5'000;
        if (!std::exchange(advanced, true)) c.now_us += 5'300;
      }
      c.step(c.index_of(m.to), Receive{m});
    }
  }
  c.step(0, Propose{100, {"lost once"}});
  c.queue().clear();
  const auto due = c.at(0).next_retransmit_us();
  REQUIRE(due);
  CHECK(*due - c.now_us <= 2'000);  // about the floor, as with 300 us round trips answered at once (over 5 ms if not)
}

TEST_CASE("a lost acknowledgement does not stall the appends behind it", "[raft][retransmit]") {
  PureCluster c(2);  // one follower: every commit needs its ack
  c.elect(0);
  REQUIRE(c.at(0).role() == Role::kLeader);
  c.step(0, Propose{1, {"a"}});
  c.deliver_all([](const PeerMessage& m) { return !std::holds_alternative<AppendEntriesReply>(m.payload); });
  const Index before = c.at(0).commit_index();
  c.step(0, Propose{2, {"b"}});  // the next append's ack covers both
  c.deliver_all();
  CHECK(c.at(0).commit_index() == before + 2);
  CHECK(c.at(0).retransmissions() == 0);
}

TEST_CASE("retransmissions back off while the followers stay silent, and stop once they answer", "[raft][retransmit]") {
  PureCluster c(3, [](RaftConfig& config) { config.retransmit = {.min_us = 1'000, .initial_us = 4'000, .max_us = 50'000}; });
  c.elect(0);
  c.step(0, Propose{1, {"x"}});
  std::vector<std::int64_t> gaps;
  std::int64_t last = c.now_us;
  for (int i = 0; i < 8; ++i) {
    c.queue().clear();  // every copy lost
    const auto due = c.at(0).next_retransmit_us();
    REQUIRE(due);
    gaps.push_back(*due - last);
    last = c.now_us = *due;
    c.step(0, RetransmitDue{});
    CHECK(c.queue().size() == 2);
  }
  // No round trip was measured (the clock stood at 0): the initial timeout, doubled per silent retry up to the
  // ceiling.
  CHECK(gaps == std::vector<std::int64_t>{4'000, 8'000, 16'000, 32'000, 50'000, 50'000, 50'000, 50'000});
  c.deliver_all();  // the last copies arrive: committed, and nothing more is resent
  CHECK(c.at(0).commit_index() == c.at(0).log().last_index());
  CHECK(!c.at(0).next_retransmit_us());
}

TEST_CASE("new entries for a follower heard from lately start from the base timeout, not the last back-off",
          "[raft][retransmit]") {
  // Uniform appends (course mode): a follower that is being probed still gets the next entry with the others.
  PureCluster c(3, [](RaftConfig& config) {
    config.retransmit = {.min_us = 1'000, .initial_us = 5'000, .max_us = 200'000};
    config.uniform_appends = true;
  });
  c.elect(0);
  REQUIRE(c.at(0).role() == Role::kLeader);
  for (int i = 0; i < 10; ++i) {  // round trips of 300 us: the timeout is the 1 ms floor
    c.step(0, Propose{static_cast<std::uint64_t>(i), {"warm-up"}});
    c.now_us += 300;
    c.deliver_all();
  }
  c.step(0, Propose{100, {"x"}});
  for (int i = 0; i < 2; ++i) {  // the copies and both resends lost: the next resend of "x" would wait 4 ms
    c.queue().clear();
    c.now_us = *c.at(0).next_retransmit_us();
    c.step(0, RetransmitDue{});
  }
  c.queue().clear();
  REQUIRE(*c.at(0).next_retransmit_us() - c.now_us == 4'000);
  // The followers answered 3 ms ago: a random loss, not a dead follower. The next entry's copies, lost too, are
  // resent after the base timeout; with them goes "x", which they carry again.
  c.now_us += 100;
  c.step(0, Propose{101, {"y"}});
  REQUIRE(c.queue().size() == 2);
  c.queue().clear();
  const auto due = c.at(0).next_retransmit_us();
  REQUIRE(due);
  CHECK(*due - c.now_us == 1'000);
  c.now_us = *due;
  c.step(0, RetransmitDue{});
  c.deliver_all();
  CHECK(c.at(0).commit_index() == c.at(0).log().last_index());
}

TEST_CASE("an entry a majority holds is not resent to the follower that missed it", "[raft][retransmit]") {
  // Its commit does not need the copy: the follower catches up with the next append or heartbeat.
  PureCluster c(3);
  c.elect(0);
  c.step(0, Propose{1, {"x"}});
  c.deliver_all([&](const PeerMessage& m) { return m.to != c.id(2); });
  REQUIRE(c.at(0).commit_index() == c.at(0).log().last_index());
  c.now_us += 1'000'000;
  c.step(0, RetransmitDue{});
  CHECK(c.queue().empty());
  CHECK(c.at(0).retransmissions() == 0);
  CHECK(!c.at(0).next_retransmit_us());
  c.step(0, Propose{2, {"y"}});  // the next append reveals the gap, and the leader fills it at once
  c.deliver_all();
  CHECK(c.at(2).log().last_index() == c.at(0).log().last_index());
}

TEST_CASE("a candidate asks again the voters whose answers were lost, within its election", "[raft][retransmit]") {
  PureCluster c(5, [](RaftConfig& config) { config.retransmit = {.min_us = 1'000, .initial_us = 5'000, .max_us = 100'000}; });
  c.step(0, ElectionTimeout{});  // pre-vote round
  REQUIRE(c.at(0).role() == Role::kPreCandidate);
  c.queue().clear();  // every request lost
  auto due = c.at(0).next_retransmit_us();
  REQUIRE(due);
  CHECK(*due == c.now_us + 5'000);
  c.now_us = *due;
  c.step(0, RetransmitDue{});
  CHECK(c.queue().size() == 4);
  c.deliver_all();  // the pre-vote and then the vote succeed, without a second election timeout
  CHECK(c.at(0).role() == Role::kLeader);
  CHECK(!c.at(1).next_retransmit_us());  // followers resend nothing
}

TEST_CASE("a candidate cut off from everyone stops asking after four retries", "[raft][retransmit]") {
  PureCluster c(3, [](RaftConfig& config) { config.retransmit = {.min_us = 1'000, .initial_us = 5'000, .max_us = 100'000}; });
  c.step(0, ElectionTimeout{});
  REQUIRE(c.at(0).role() == Role::kPreCandidate);
  int sent = 0;
  for (int i = 0; i < 8; ++i) {
    sent += static_cast<int>(c.queue().size());
    c.queue().clear();
    const auto due = c.at(0).next_retransmit_us();
    if (!due) break;
    c.now_us = *due;
    c.step(0, RetransmitDue{});
  }
  CHECK(sent == 2 * 5);  // the first request and four more, to each of the two voters
  CHECK(!c.at(0).next_retransmit_us());
  c.step(0, ElectionTimeout{});  // the next campaign asks afresh
  CHECK(c.queue().size() == 2);
  CHECK(c.at(0).next_retransmit_us());
}

TEST_CASE("one follower's heartbeat brings the others' forward, so the copies leave together, but not a silent one's",
          "[raft][heartbeat]") {
  PureCluster c(5, [](RaftConfig& config) { config.heartbeat_interval_us = 100'000; });
  c.elect(0);
  REQUIRE(c.at(0).role() == Role::kLeader);
  c.now_us = 60'000;  // every follower's last append went 60 ms ago: more than half an interval
  c.step(0, HeartbeatDue{c.id(1)});
  std::set<NodeId> reached;
  for (const PeerMessage& m : c.queue()) {
    const auto* append = std::get_if<AppendEntries>(&m.payload);
    REQUIRE(append);
    CHECK(append->sent_at_us == 60'000);  // identical copies: the bridge may send one datagram for all
    reached.insert(m.to);
  }
  CHECK(reached == std::set<NodeId>{c.id(1), c.id(2), c.id(3), c.id(4)});
  // The others' timers run out a moment later (their notices crossed the heartbeat): nothing is sent twice.
  const std::size_t sent = c.queue().size();
  c.now_us += 10;
  for (int i = 2; i < 5; ++i) c.step(0, HeartbeatDue{c.id(i)});
  CHECK(c.queue().size() == sent);
  // Follower 4 stays silent. At the next round its heartbeat is not brought forward: its own timer runs out, and
  // that is where a silent follower gets backed off.
  c.deliver_all([&](const PeerMessage& m) { return m.to != c.id(4) && m.from != c.id(4); });
  c.now_us = 160'000;
  c.step(0, HeartbeatDue{c.id(1)});
  reached.clear();
  for (const PeerMessage& m : c.queue()) reached.insert(m.to);
  CHECK(reached == std::set<NodeId>{c.id(1), c.id(2), c.id(3)});
  c.deliver_all([&](const PeerMessage& m) { return m.to != c.id(4) && m.from != c.id(4); });
  // Follower 4's own timer: it alone gets a heartbeat; the others' appends went 10 ms ago, less than half an
  // interval, and wait for their own timers.
  c.now_us = 170'000;
  c.step(0, HeartbeatDue{c.id(4)});
  reached.clear();
  for (const PeerMessage& m : c.queue()) reached.insert(m.to);
  CHECK(reached == std::set<NodeId>{c.id(4)});
}

TEST_CASE("with uniform appends every follower gets one AppendEntries, from the lowest position not confirmed, so a "
          "follower that missed an entry catches up with the next one",
          "[raft][uniform]") {
  PureCluster c(5, [](RaftConfig& config) { config.uniform_appends = true; });
  c.elect(0);
  c.step(0, Propose{1, {"a"}});
  c.deliver_all();
  const Index a = c.at(0).log().last_index();
  c.step(0, Propose{2, {"b"}});
  c.deliver_all([&](const PeerMessage& m) { return m.to != c.id(2); });  // follower 2 misses b
  REQUIRE(c.at(2).log().last_index() == a);
  REQUIRE(c.at(0).progress(c.id(2))->match() == a);

  const auto transmits = effects_of<Transmit>(c.step(0, Propose{3, {"c"}}));
  std::set<NodeId> reached;
  for (const Transmit& t : transmits) {
    reached.insert(t.to);
    CHECK(t.message.prev_log_index == a);  // from b, which follower 2 has not confirmed, for everyone
    CHECK(t.message.entries.size() == 2);
    CHECK(t.message.entries == transmits.front().message.entries);  // the same entries: one datagram may carry all
    CHECK(t.message.sent_at_us == transmits.front().message.sent_at_us);
  }
  CHECK(reached == std::set<NodeId>{c.id(1), c.id(2), c.id(3), c.id(4)});
  // Follower 2 takes b and c from that one message: no rejection, no second round.
  c.deliver_all([&](const PeerMessage& m) {
    const auto* reply = std::get_if<AppendEntriesReply>(&m.payload);
    CHECK((reply == nullptr || reply->success));
    return true;
  });
  CHECK(c.at(2).log().last_index() == c.at(0).log().last_index());
  CHECK(c.at(0).commit_index() == c.at(0).log().last_index());
}

TEST_CASE("with uniform appends a lone silent follower gets the same copy, learning nothing from it; two silent "
          "ones get none, and a silent follower's heartbeat probe carries no entries",
          "[raft][uniform][heartbeat]") {
  PureCluster c(5, [](RaftConfig& config) {
    config.uniform_appends = true;
    config.heartbeat_interval_us = 100'000;
  });
  c.elect(0);
  std::set<NodeId> cut;
  auto reachable = [&](const PeerMessage& m) { return !cut.count(m.to) && !cut.count(m.from); };
  // Cut off, a follower misses an entry, then two heartbeats: silent through the first, it is backed off at the
  // second, which only asks where it stands.
  auto silence = [&](int i, std::uint64_t proposal) {
    cut.insert(c.id(i));
    c.step(0, Propose{proposal, {"x"}});
    c.deliver_all(reachable);
    c.now_us += 100'000;
    c.step(0, HeartbeatDue{c.id(i)});
    c.deliver_all(reachable);
    c.now_us += 100'000;
    std::vector<Transmit> probes;  // (the others' heartbeats come forward with it)
    for (const Transmit& t : effects_of<Transmit>(c.step(0, HeartbeatDue{c.id(i)})))
      if (t.to == c.id(i)) probes.push_back(t);
    REQUIRE(probes.size() == 1);
    CHECK(probes[0].message.entries.empty());  // the entry it lacks stays home until it answers
    CHECK(probes[0].message.prev_log_index == c.at(0).progress(c.id(i))->match());
    c.deliver_all(reachable);
  };
  silence(4, 1);
  const Index next_of_4 = c.at(0).progress(c.id(4))->next();

  auto transmits = effects_of<Transmit>(c.step(0, Propose{2, {"y"}}));
  std::set<NodeId> reached;
  for (const Transmit& t : transmits) {
    reached.insert(t.to);
    CHECK(t.message.entries == transmits.front().message.entries);
    CHECK(t.message.prev_log_index == transmits.front().message.prev_log_index);
  }
  CHECK(reached == std::set<NodeId>{c.id(1), c.id(2), c.id(3), c.id(4)});
  CHECK(c.at(0).progress(c.id(4))->next() == next_of_4);  // its copy moves nothing the leader knows of it
  c.deliver_all(reachable);
  CHECK(c.at(0).commit_index() == c.at(0).log().last_index());

  // A second silent follower: a shared datagram would now cost two messages more than it saves. Each answering
  // follower gets its own, the silent ones nothing.
  silence(3, 3);
  transmits = effects_of<Transmit>(c.step(0, Propose{4, {"z"}}));
  reached.clear();
  for (const Transmit& t : transmits) reached.insert(t.to);
  CHECK(reached == std::set<NodeId>{c.id(1), c.id(2)});
  c.deliver_all(reachable);
  CHECK(c.at(0).commit_index() == c.at(0).log().last_index());

  // Back in touch: each answers a probe, catches up, and the appends are uniform again.
  cut.clear();
  for (int round = 0; round < 3; ++round) {
    c.now_us += 400'000;
    for (int i = 1; i < 5; ++i) c.step(0, HeartbeatDue{c.id(i)});
    c.deliver_all();
  }
  for (int i = 1; i < 5; ++i) CHECK(c.at(i).log().last_index() == c.at(0).log().last_index());
  transmits = effects_of<Transmit>(c.step(0, Propose{5, {"w"}}));
  REQUIRE(transmits.size() == 4);
  for (const Transmit& t : transmits) CHECK(t.message.entries.size() == 1);
}

void quiet_acks(RaftConfig& config) {
  config.uniform_appends = true;
  config.quiet_acks = true;
  config.heartbeat_interval_us = 100'000;
}

TEST_CASE("with quiet acks a shared append is answered by as many followers as a majority needs; a follower not heard "
          "from for two heartbeat intervals answers again",
          "[raft][uniform][quiet]") {
  PureCluster c(5, quiet_acks);
  c.elect(0);
  auto round = [&](std::uint64_t proposal, std::vector<NodeId> expected_quiet) {
    const auto transmits = effects_of<Transmit>(c.step(0, Propose{proposal, {"x"}}));
    REQUIRE(transmits.size() == 4);
    for (const Transmit& t : transmits) CHECK(t.message.quiet == expected_quiet);
    std::set<NodeId> answered;
    c.deliver_all([&](const PeerMessage& m) {
      if (std::holds_alternative<AppendEntriesReply>(m.payload)) answered.insert(m.from);
      return true;
    });
    CHECK(c.at(0).commit_index() == c.at(0).log().last_index());
    for (int i = 1; i < 5; ++i) CHECK(c.at(i).log().last_index() == c.at(0).log().last_index());
    CHECK_FALSE(c.at(0).next_retransmit_us());  // committed: nothing is resent to the quiet ones
    return answered;
  };
  c.now_us += 10'000;
  CHECK(round(1, {c.id(3), c.id(4)}) == std::set<NodeId>{c.id(1), c.id(2)});
  c.now_us += 50'000;
  CHECK(round(2, {c.id(3), c.id(4)}) == std::set<NodeId>{c.id(1), c.id(2)});
  c.now_us += 145'000;  // 3 and 4 last answered at the election, 205 ms ago
  CHECK(round(3, {}) == std::set<NodeId>{c.id(1), c.id(2), c.id(3), c.id(4)});
  c.now_us += 10'000;
  CHECK(round(4, {c.id(3), c.id(4)}) == std::set<NodeId>{c.id(1), c.id(2)});
  // The quiet ones' positions were learned from their answer to round 3 only; the next shared append starts there.
  CHECK(c.at(0).progress(c.id(3))->match() < c.at(0).log().last_index());
}

TEST_CASE("with quiet acks, when a named follower's answer does not come the retransmission asks the quiet ones, and "
          "everyone answers for a while after the loss",
          "[raft][uniform][quiet]") {
  PureCluster c(5, quiet_acks);
  c.elect(0);
  c.now_us += 10'000;
  const auto transmits = effects_of<Transmit>(c.step(0, Propose{1, {"a"}}));
  REQUIRE(transmits.size() == 4);
  CHECK(transmits[0].message.quiet == std::vector<NodeId>{c.id(3), c.id(4)});
  auto without_2 = [&](const PeerMessage& m) { return m.to != c.id(2) && m.from != c.id(2); };
  c.deliver_all(without_2);  // follower 2 is gone: only follower 1 answered
  const Index last = c.at(0).log().last_index();
  REQUIRE(c.at(0).commit_index() < last);
  for (int rounds = 0; rounds < 5 && c.at(0).commit_index() < last; ++rounds) {
    const auto due = c.at(0).next_retransmit_us();
    REQUIRE(due);
    c.now_us = std::max(c.now_us, *due);
    c.step(0, RetransmitDue{});
    c.deliver_all(without_2);
  }
  CHECK(c.at(0).commit_index() == last);
  CHECK(c.at(0).progress(c.id(3))->match() == last);
  // After a loss nobody is quiet: another loss must not wait for a retransmission.
  c.now_us += 1'000;
  for (const Transmit& t : effects_of<Transmit>(c.step(0, Propose{2, {"b"}}))) CHECK(t.message.quiet.empty());
}

void defer_spares(RaftConfig& config) {
  config.defer_spare_followers = true;
  config.heartbeat_interval_us = 100'000;
}

// The followers that a step sent entries to.
std::set<NodeId> carrying_entries(const std::vector<Effect>& effects) {
  std::set<NodeId> to;
  for (const Transmit& t : effects_of<Transmit>(effects))
    if (!t.message.entries.empty()) to.insert(t.to);
  return to;
}

TEST_CASE("with spare followers deferred, a new entry goes at once only to the followers a commit needs; the others "
          "get it with their heartbeat",
          "[raft][spare]") {
  PureCluster c(5, defer_spares);
  c.elect(0);
  c.now_us += 10'000;
  CHECK(carrying_entries(c.step(0, Propose{1, {"x"}})) == std::set<NodeId>{c.id(1), c.id(2)});
  c.deliver_all();
  const Index last = c.at(0).log().last_index();
  CHECK(c.at(0).commit_index() == last);  // the leader, 1 and 2: a majority of five
  CHECK(c.at(3).log().last_index() < last);
  CHECK(c.at(4).log().last_index() < last);
  // Their answers bring no more entries to the spare ones either.
  c.now_us += 1'000;
  CHECK(carrying_entries(c.step(0, Propose{2, {"y"}})) == std::set<NodeId>{c.id(1), c.id(2)});
  c.deliver_all();
  c.now_us += 100'000;
  CHECK(carrying_entries(c.step(0, HeartbeatDue{c.id(3)})) == std::set<NodeId>{c.id(3), c.id(4)});
  c.deliver_all();
  for (int i = 1; i < 5; ++i) CHECK(c.at(i).log().last_index() == c.at(0).log().last_index());
  CHECK(c.at(0).progress(c.id(4))->match() == c.at(0).log().last_index());
}

TEST_CASE("with spare followers deferred, a spare follower's heartbeat brings all it lacks, not one batch",
          "[raft][spare]") {
  PureCluster c(3, [](RaftConfig& config) {
    defer_spares(config);
    config.limits.max_append_entries = 2;
  });
  c.elect(0);
  for (std::uint64_t p = 1; p <= 5; ++p) {
    c.now_us += 1'000;
    CHECK(carrying_entries(c.step(0, Propose{p, {"x"}})) == std::set<NodeId>{c.id(1)});
    c.deliver_all();
  }
  const Index last = c.at(0).log().last_index();
  REQUIRE(c.at(2).log().last_index() + 4 < last);
  c.now_us += 100'000;
  std::size_t carried = 0;
  for (const Transmit& t : effects_of<Transmit>(c.step(0, HeartbeatDue{c.id(2)}))) {
    if (t.to == c.id(2)) carried += t.message.entries.size();
  }
  CHECK(carried >= 5);
  c.deliver_all();
  CHECK(c.at(2).log().last_index() == last);
}

TEST_CASE("with spare followers deferred, a needed follower that does not answer costs one retransmission timeout: "
          "then the spare ones get what they lack and the entry commits",
          "[raft][spare]") {
  PureCluster c(3, defer_spares);
  c.elect(0);
  c.now_us += 10'000;
  CHECK(carrying_entries(c.step(0, Propose{1, {"a"}})) == std::set<NodeId>{c.id(1)});
  auto without_1 = [&](const PeerMessage& m) { return m.to != c.id(1) && m.from != c.id(1); };
  c.deliver_all(without_1);
  const Index last = c.at(0).log().last_index();
  REQUIRE(c.at(0).commit_index() < last);
  const auto due = c.at(0).next_retransmit_us();
  REQUIRE(due);
  CHECK(*due - c.now_us < 100'000);  // well before the spare follower's heartbeat
  c.now_us = *due;
  CHECK(carrying_entries(c.step(0, RetransmitDue{})).count(c.id(2)) == 1);
  c.deliver_all(without_1);
  CHECK(c.at(0).commit_index() == last);
  // Once the silent follower's heartbeat finds it silent, it is no longer waited for: entries go to 2 at once.
  c.now_us += 100'000;
  c.step(0, HeartbeatDue{c.id(1)});
  c.deliver_all(without_1);
  c.now_us += 1'000;
  CHECK(carrying_entries(c.step(0, Propose{2, {"b"}})).count(c.id(2)) == 1);
  c.deliver_all(without_1);
  CHECK(c.at(0).commit_index() == c.at(0).log().last_index());
}

TEST_CASE("a follower named quiet sends no success reply, but still rejects an append it cannot take",
          "[raft][uniform][quiet]") {
  PureCluster c(3);
  c.elect(0);
  const Term term = c.at(0).term();
  const Index last = c.at(1).log().last_index();
  auto replies_to = [&](Index prev) {
    AppendEntries append{.term = term, .prev_log_index = prev, .prev_log_term = *c.at(0).log().term_at(last),
                         .entries = {}, .leader_commit = 0, .sent_at_us = 1, .quiet = {c.id(1)}};
    append.entries.push_back(std::make_shared<Entry>(Entry{term, prev + 1, EntryKind::kCommand, "x"}));
    std::vector<AppendEntriesReply> replies;
    for (const Send& s : effects_of<Send>(c.step(1, Receive{PeerMessage{c.id(0), c.id(1), append}})))
      if (auto* r = std::get_if<AppendEntriesReply>(&s.message.payload)) replies.push_back(*r);
    return replies;
  };
  CHECK(replies_to(last).empty());
  CHECK(c.at(1).log().last_index() == last + 1);  // taken all the same
  const auto rejected = replies_to(last + 5);
  REQUIRE(rejected.size() == 1);
  CHECK_FALSE(rejected[0].success);
}
