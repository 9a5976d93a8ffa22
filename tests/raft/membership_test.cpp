// Membership changes in the Raft core (raft/core.cpp, raft/membership.hpp): learners, joint consensus, removal of the
// leader, leadership transfer and the pitfalls the Raft dissertation (chapter 4) and raft-dev list, each shown
// handled. Pure: no sockets, no clocks, no threads.
#include "pure_cluster.hpp"
#include "raft/membership.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <functional>

using namespace coraft;
using namespace coraft::raft;
using coraft::test::effects_of;
using coraft::test::PureCluster;

namespace {

ChangeMembership change(std::uint64_t request_id, MembershipChange::Kind kind, NodeId id, NodeId replaced = {}) {
  return ChangeMembership{request_id, MembershipChange{kind, id, "127.0.0.1:" + std::to_string(7000 + id.value), replaced}};
}
ChangeMembership add_learner(std::uint64_t request_id, NodeId id) {
  return change(request_id, MembershipChange::Kind::kAddLearner, id);
}

// The answer replica i gave to request `request_id`, if any.
std::optional<ChangeOutcome> outcome(PureCluster& c, int i, std::uint64_t request_id) {
  for (const auto& o : effects_of<ChangeOutcome>(c.effects(i)))
    if (o.request_id == request_id) return o;
  return std::nullopt;
}

// Cuts replica i off: nothing to it, nothing from it.
auto cut_off(PureCluster& c, int i) {
  return [&c, i](const PeerMessage& m) { return m.to != c.id(i) && m.from != c.id(i); };
}

bool sent_votes(const std::deque<PeerMessage>& queue, NodeId from) {
  return std::any_of(queue.begin(), queue.end(), [&](const PeerMessage& m) {
    return m.from == from && std::holds_alternative<RequestVote>(m.payload);
  });
}

void commit_some(PureCluster& c, int leader, int how_many) {
  for (int k = 0; k < how_many; ++k) c.step(leader, Propose{static_cast<std::uint64_t>(1000 + k), {"cmd"}});
}

// Leader 0 adds a new replica as a learner (request 1), which is then cut off while ten entries commit: behind by more
// than a promotion lag of 2. Returns its index.
int learner_left_behind(PureCluster& c) {
  c.elect(0);
  const int learner = c.add_joining();
  c.step(0, add_learner(1, c.id(learner)));
  c.deliver_all();
  REQUIRE(outcome(c, 0, 1));
  commit_some(c, 0, 10);
  c.deliver_all(cut_off(c, learner));
  return learner;
}

// Heartbeats from leader 0 to `peer`, each round delivered with `filter`, for `rounds` rounds or until request
// `request_id` is answered.
void heartbeat_rounds(PureCluster& c, int peer, int rounds, std::uint64_t request_id,
                      const std::function<bool(const PeerMessage&)>& filter = {}) {
  for (int round = 0; round < rounds && !outcome(c, 0, request_id); ++round) {
    c.step(0, HeartbeatDue{c.id(peer)});
    c.deliver_all(filter);
  }
}

}  // namespace

TEST_CASE("a learner receives the log but never counts in a quorum nor campaigns", "[raft][membership][learner]") {
  PureCluster c(3);
  c.elect(0);
  commit_some(c, 0, 3);
  c.deliver_all();
  const int learner = c.add_joining();
  c.step(0, add_learner(1, c.id(learner)));
  c.deliver_all();
  REQUIRE(outcome(c, 0, 1));
  CHECK(outcome(c, 0, 1)->done);
  REQUIRE(c.at(0).membership().contains(c.id(learner)));
  CHECK_FALSE(c.at(0).membership().is_voter(c.id(learner)));
  CHECK(c.at(learner).log().last_index() == c.at(0).log().last_index());
  CHECK(c.at(learner).membership() == c.at(0).membership());

  // Its election timer fires again and again: it asks nobody for a vote.
  c.queue().clear();
  for (int k = 0; k < 3; ++k) c.step(learner, ElectionTimeout{});
  CHECK_FALSE(sent_votes(c.queue(), c.id(learner)));
  CHECK(c.at(learner).role() == Role::kFollower);

  // Both other voters silent: the leader's and the learner's acknowledgements are two of four replicas, but only one
  // of three voters. Nothing commits.
  const Index before = c.at(0).commit_index();
  c.step(0, Propose{9, {"more"}});
  c.deliver_all([&](const PeerMessage& m) { return m.to != c.id(1) && m.to != c.id(2); });
  CHECK(c.at(learner).log().last_index() == c.at(0).log().last_index());
  CHECK(c.at(0).commit_index() == before);
  c.step(0, HeartbeatDue{c.id(1)});
  c.deliver_all();
  CHECK(c.at(0).commit_index() == c.at(0).log().last_index());
}

TEST_CASE("a learner is promoted only once it has caught up, and a promotion that waits too long fails",
          "[raft][membership][learner]") {
  PureCluster c(3, [](RaftConfig& config) { config.promotion_lag = 2; });
  // Cut off, the learner falls behind by more than the lag; asked to promote it, the leader waits.
  const int learner = learner_left_behind(c);
  c.step(0, change(2, MembershipChange::Kind::kPromote, c.id(learner)));
  heartbeat_rounds(c, 1, 3, 2, cut_off(c, learner));
  CHECK_FALSE(c.at(0).membership().is_voter(c.id(learner)));
  CHECK_FALSE(c.at(0).membership().joint());
  CHECK_FALSE(outcome(c, 0, 2));

  // Back in touch, it catches up and is promoted: a joint configuration, then the new voters alone.
  heartbeat_rounds(c, learner, 5, 2);
  REQUIRE(outcome(c, 0, 2));
  CHECK(outcome(c, 0, 2)->done);
  CHECK(c.at(0).membership().is_voter(c.id(learner)));
  CHECK_FALSE(c.at(0).membership().joint());
  CHECK(c.at(0).membership().voters().size() == 4);

  // A second learner that never catches up: the promotion is given up after promotion_timeout_us.
  const int slow = c.add_joining();
  c.step(0, add_learner(3, c.id(slow)));
  c.deliver_all();
  REQUIRE(outcome(c, 0, 3));
  commit_some(c, 0, 10);
  c.deliver_all(cut_off(c, slow));
  c.step(0, change(4, MembershipChange::Kind::kPromote, c.id(slow)));
  c.now_us += c.at(0).config().promotion_timeout_us + 1;
  c.step(0, HeartbeatDue{c.id(1)});
  c.deliver_all(cut_off(c, slow));
  REQUIRE(outcome(c, 0, 4));
  CHECK_FALSE(outcome(c, 0, 4)->done);
  CHECK(outcome(c, 0, 4)->reason.find("did not catch up") != std::string::npos);
  CHECK_FALSE(c.at(0).membership().is_voter(c.id(slow)));
}

TEST_CASE("one membership change at a time: a second one waits for the first to commit", "[raft][membership]") {
  PureCluster c(3);
  c.elect(0);
  const int a = c.add_joining(), b = c.add_joining();
  c.step(0, add_learner(1, c.id(a)));
  c.step(0, add_learner(2, c.id(b)));  // the first is not committed yet
  REQUIRE(outcome(c, 0, 2));
  CHECK_FALSE(outcome(c, 0, 2)->done);
  CHECK(outcome(c, 0, 2)->reason.find("another membership change") != std::string::npos);
  c.deliver_all();
  REQUIRE(outcome(c, 0, 1));
  CHECK(outcome(c, 0, 1)->done);
  c.step(0, add_learner(3, c.id(b)));
  c.deliver_all();
  REQUIRE(outcome(c, 0, 3));
  CHECK(outcome(c, 0, 3)->done);
  CHECK(c.at(0).membership().members().size() == 5);
}

TEST_CASE("a change its leader could not finish is worth asking again, and the next leader completes it",
          "[raft][membership][retry]") {
  // kvctl asks again after the answers change_may_succeed_later accepts; the others are final.
  PureCluster c(3);
  c.elect(0);
  const int joining = c.add_joining();
  c.step(0, add_learner(1, c.id(joining)));
  c.step(0, add_learner(2, c.id(joining)));
  REQUIRE(outcome(c, 0, 2));
  CHECK(change_may_succeed_later(outcome(c, 0, 2)->reason));  // another change is in progress

  // Its append reaches nobody; CheckQuorum deposes the leader before the change commits.
  c.queue().clear();
  c.step(0, ElectionTimeout{});
  c.step(0, ElectionTimeout{});
  REQUIRE(c.at(0).role() == Role::kFollower);
  REQUIRE(outcome(c, 0, 1));
  CHECK_FALSE(outcome(c, 0, 1)->done);
  CHECK(change_may_succeed_later(outcome(c, 0, 1)->reason));
  CHECK_FALSE(c.at(1).membership().contains(c.id(joining)));

  // Asked again, the next leader does it (once an entry of its term commits), and a third asking is answered done.
  c.step(2, ElectionTimeout{});  // it too has stopped hearing from 0, so it grants 1 a (pre-)vote
  c.queue().clear();
  c.elect(1);
  REQUIRE(c.at(1).role() == Role::kLeader);
  c.step(1, HeartbeatDue{c.id(0)});
  c.deliver_all();
  c.step(1, add_learner(3, c.id(joining)));
  c.deliver_all();
  REQUIRE(outcome(c, 1, 3));
  CHECK(outcome(c, 1, 3)->done);
  CHECK(c.at(1).membership().contains(c.id(joining)));
  c.step(1, add_learner(4, c.id(joining)));
  REQUIRE(outcome(c, 1, 4));
  CHECK(outcome(c, 1, 4)->done);

  // "No" stays no: the same id at another address, or a learner that is not a member.
  c.step(1, ChangeMembership{5, MembershipChange{MembershipChange::Kind::kAddLearner, c.id(joining), "127.0.0.1:1", {}}});
  REQUIRE(outcome(c, 1, 5));
  CHECK_FALSE(outcome(c, 1, 5)->done);
  CHECK_FALSE(change_may_succeed_later(outcome(c, 1, 5)->reason));
  c.step(1, change(6, MembershipChange::Kind::kPromote, NodeId{77}));
  REQUIRE(outcome(c, 1, 6));
  CHECK_FALSE(change_may_succeed_later(outcome(c, 1, 6)->reason));
}

TEST_CASE("a new leader proposes no membership change before an entry of its own term has committed",
          "[raft][membership][raft-dev-2015]") {
  // The single-server bug reported on raft-dev in 2015: a leader that changes the configuration before committing an
  // entry of its term can, with an uncommitted change of an earlier leader, let two leaders be elected in one term.
  PureCluster c(3, [](RaftConfig& config) { config.check_quorum = false; });
  c.elect(0);
  commit_some(c, 0, 2);
  c.deliver_all();
  // Replica 1 takes over; its first entry reaches nobody.
  c.step(1, ElectionTimeout{});
  c.deliver_all([](const PeerMessage& m) { return !std::holds_alternative<AppendEntries>(m.payload); });
  REQUIRE(c.at(1).role() == Role::kLeader);
  REQUIRE(c.at(1).log().term_at(c.at(1).commit_index()) != c.at(1).term());
  const int joining = c.add_joining();
  c.step(1, add_learner(1, c.id(joining)));
  REQUIRE(outcome(c, 1, 1));
  CHECK_FALSE(outcome(c, 1, 1)->done);
  CHECK(outcome(c, 1, 1)->reason.find("has not committed an entry of its term") != std::string::npos);
  const Index last = c.at(1).log().last_index();
  CHECK(c.at(1).membership_index() < last);  // no configuration entry was appended
  // Once its entry commits, the same request goes through.
  c.step(1, HeartbeatDue{c.id(0)});
  c.deliver_all();
  c.step(1, add_learner(2, c.id(joining)));
  c.deliver_all();
  REQUIRE(outcome(c, 1, 2));
  CHECK(outcome(c, 1, 2)->done);
}

TEST_CASE("a leader that removes itself leads until the change commits without counting itself, then hands over",
          "[raft][membership][remove-leader]") {
  PureCluster c(3);
  c.elect(0);
  commit_some(c, 0, 2);
  c.deliver_all();
  const Term term = c.at(0).term();
  c.step(0, change(1, MembershipChange::Kind::kRemove, c.id(0)));
  REQUIRE(c.at(0).membership().joint());

  // With replica 2 silent, old voters {0,1,2} have a majority (0 and 1) but new voters {1,2} do not: the leader's own
  // acknowledgement does not count for them, so the change cannot commit, and the leader goes on leading meanwhile.
  for (int round = 0; round < 3; ++round) {
    c.step(0, HeartbeatDue{c.id(1)});
    c.deliver_all(cut_off(c, 2));
  }
  CHECK(c.at(0).role() == Role::kLeader);
  CHECK(c.at(0).commit_index() < c.at(0).membership_index());
  CHECK_FALSE(outcome(c, 0, 1));
  c.step(0, Propose{77, {"still served"}});
  CHECK(effects_of<ProposalAccepted>(c.effects(0)).size() >= 1);

  // Replica 2 back: the change commits (joint, then {1,2}); the leader steps down and tells the most up-to-date
  // voter to take over at once: a new leader without any election timer firing.
  c.step(0, HeartbeatDue{c.id(2)});
  c.deliver_all();
  REQUIRE(outcome(c, 0, 1));
  CHECK(outcome(c, 0, 1)->done);
  CHECK(c.at(0).role() != Role::kLeader);
  CHECK(effects_of<Retired>(c.effects(0)).size() == 1);
  const bool one_leads = c.at(1).role() == Role::kLeader || c.at(2).role() == Role::kLeader;
  CHECK(one_leads);
  const int next = c.at(1).role() == Role::kLeader ? 1 : 2;
  CHECK(c.at(next).term() == term + 1);
  CHECK_FALSE(c.at(next).membership().contains(c.id(0)));
  CHECK(c.at(next).membership().voters() == std::vector<NodeId>{c.id(1), c.id(2)});
}

TEST_CASE("a removed replica, or one never added, cannot disrupt the cluster with higher terms",
          "[raft][membership][disruption]") {
  // No PreVote, so a replica that times out really raises its term and asks for votes with it.
  PureCluster c(3, [](RaftConfig& config) { config.pre_vote = false; });
  c.elect(0);
  // Replica 2 is cut off while it is removed: it never learns, and believes it is still a voter.
  c.step(0, change(1, MembershipChange::Kind::kRemove, c.id(2)));
  for (int round = 0; round < 3; ++round) {
    c.step(0, HeartbeatDue{c.id(1)});
    c.deliver_all(cut_off(c, 2));
  }
  REQUIRE(outcome(c, 0, 1));
  REQUIRE(outcome(c, 0, 1)->done);
  REQUIRE(c.at(2).membership().is_voter(c.id(2)));
  const Term term = c.at(0).term();
  for (int k = 0; k < 5; ++k) {
    c.step(2, ElectionTimeout{});
    c.deliver_all();
  }
  CHECK(c.at(2).term() > term);
  CHECK(c.at(0).term() == term);
  CHECK(c.at(1).term() == term);
  CHECK(c.at(0).role() == Role::kLeader);

  // A replica that was never a member: its vote requests and appends of a higher term change nothing.
  const NodeId stranger{42};
  for (int k = 0; k < 2; ++k) {
    c.step(1, Receive{PeerMessage{stranger, c.id(1), RequestVote{term + 10, 1000, term + 10, false, false}}});
    c.step(0, Receive{PeerMessage{stranger, c.id(0), RequestVote{term + 10, 1000, term + 10, false, false}}});
  }
  CHECK(c.at(0).term() == term);
  CHECK(c.at(1).term() == term);
  CHECK(c.at(0).role() == Role::kLeader);
  // And a replica waiting to be added (--join) never campaigns.
  const int joining = c.add_joining();
  c.queue().clear();
  c.step(joining, ElectionTimeout{});
  CHECK_FALSE(sent_votes(c.queue(), c.id(joining)));
}

TEST_CASE("a snapshot may turn a voter into a learner, or remove it", "[raft][membership][snapshot]") {
  PureCluster c(3);
  c.elect(0);
  commit_some(c, 0, 3);
  c.deliver_all();
  const Term term = c.at(0).term();
  auto install = [&](const Membership& membership, Index index) {
    const Snapshot snapshot = make_snapshot(index, term, "state");
    return c.step(2, Receive{PeerMessage{c.id(0), c.id(2),
                                         InstallSnapshot{term, index, term, 0, snapshot.data->size(), snapshot.checksum,
                                                         *snapshot.data, true, membership.encode()}}});
  };
  const Membership all = Membership::of_voters({Member{c.id(0)}, Member{c.id(1)}, Member{c.id(2)}});
  const Membership voters = all.entering_joint({c.id(0), c.id(1)}).leaving_joint();  // 2 removed
  REQUIRE(voters.was_removed(c.id(2)));

  // A learner now: it keeps following, but never campaigns.
  const Membership demoted =
      Membership::of_voters({Member{c.id(0)}, Member{c.id(1)}}).with_learner(Member{c.id(2), "", false, 0});
  install(demoted, c.at(0).log().last_index() + 5);
  CHECK(c.at(2).membership() == demoted);
  c.queue().clear();
  for (int k = 0; k < 3; ++k) c.step(2, ElectionTimeout{});
  CHECK_FALSE(sent_votes(c.queue(), c.id(2)));
  CHECK(effects_of<Retired>(c.effects(2)).empty());

  // Not a member at all: it knows it is out for good.
  const auto out = install(voters, c.at(0).log().last_index() + 10);
  CHECK(c.at(2).membership() == voters);
  CHECK(effects_of<Retired>(c.effects(2)).size() == 1);
  c.queue().clear();
  c.step(2, ElectionTimeout{});
  CHECK_FALSE(sent_votes(c.queue(), c.id(2)));
}

TEST_CASE("ids are never reused, and a wiped replica cannot rejoin under its old identity",
          "[raft][membership][identity]") {
  PureCluster c(3);
  for (int i = 0; i < 3; ++i) {
    c.set_incarnation(i, 100 + static_cast<std::uint64_t>(i));
    c.restart(i);
  }
  c.elect(0);
  commit_some(c, 0, 2);
  for (int round = 0; round < 4; ++round) {
    c.step(0, HeartbeatDue{c.id(1)});
    c.step(0, HeartbeatDue{c.id(2)});
    c.deliver_all();
  }
  // The leader pinned every member to the data directory it spoke from.
  for (int i = 0; i < 3; ++i) {
    REQUIRE(c.at(0).membership().find(c.id(i)) != nullptr);
    CHECK(c.at(0).membership().find(c.id(i))->incarnation == 100 + static_cast<std::uint64_t>(i));
  }

  // Replica 2's directory is wiped; it starts again as if it were still a member.
  const Term term = c.at(0).term();
  c.wipe(2, 999);
  c.step(0, HeartbeatDue{c.id(2)});
  c.deliver_all();
  for (int k = 0; k < 3; ++k) {
    c.step(2, ElectionTimeout{});
    c.deliver_all();
  }
  const auto retired = effects_of<Retired>(c.effects(2));
  REQUIRE_FALSE(retired.empty());
  CHECK(retired[0].reason.find("cannot rejoin under that id") != std::string::npos);
  CHECK(retired[0].reason.find("--join") != std::string::npos);
  CHECK(c.at(0).term() == term);
  CHECK(c.at(0).role() == Role::kLeader);
  CHECK(c.at(2).log().last_index() == 0);  // it was given nothing

  // Removed, its id is never used again; under a new id it rejoins.
  c.step(0, change(1, MembershipChange::Kind::kRemove, c.id(2)));
  c.deliver_all();
  REQUIRE(outcome(c, 0, 1));
  REQUIRE(outcome(c, 0, 1)->done);
  c.step(0, add_learner(2, c.id(2)));
  REQUIRE(outcome(c, 0, 2));
  CHECK_FALSE(outcome(c, 0, 2)->done);
  CHECK(outcome(c, 0, 2)->reason.find("ids are never reused") != std::string::npos);
  const int fresh = c.add_joining(1234);
  c.step(0, add_learner(3, c.id(fresh)));
  c.deliver_all();
  REQUIRE(outcome(c, 0, 3));
  CHECK(outcome(c, 0, 3)->done);
  CHECK(c.at(fresh).log().last_index() == c.at(0).log().last_index());
}

TEST_CASE("joint consensus replaces a voter atomically and survives losing a replica meanwhile",
          "[raft][membership][joint]") {
  PureCluster c(3);
  c.elect(0);
  const int learner = c.add_joining();
  c.step(0, add_learner(1, c.id(learner)));
  c.deliver_all();
  REQUIRE(outcome(c, 0, 1));
  // Replica 1 is lost for the whole change; {0,2} of the old voters and {0,learner} of the new ones suffice.
  c.step(0, change(2, MembershipChange::Kind::kReplace, c.id(learner), c.id(2)));
  REQUIRE(c.at(0).membership().joint());
  CHECK(c.at(0).membership().outgoing_voters() == std::vector<NodeId>{c.id(0), c.id(1), c.id(2)});
  CHECK(c.at(0).membership().voters() == std::vector<NodeId>{c.id(0), c.id(1), c.id(learner)});
  for (int round = 0; round < 3 && !outcome(c, 0, 2); ++round) {
    c.step(0, HeartbeatDue{c.id(2)});
    c.step(0, HeartbeatDue{c.id(learner)});
    c.deliver_all(cut_off(c, 1));
  }
  REQUIRE(outcome(c, 0, 2));
  CHECK(outcome(c, 0, 2)->done);
  CHECK_FALSE(c.at(0).membership().joint());
  CHECK(c.at(0).membership().voters() == std::vector<NodeId>{c.id(0), c.id(1), c.id(learner)});
  CHECK(c.at(0).membership().was_removed(c.id(2)));
  CHECK(c.at(learner).membership() == c.at(0).membership());
}

TEST_CASE("the configuration survives restarts, from the log and from a snapshot", "[raft][membership][restart]") {
  PureCluster c(3);
  c.elect(0);
  const int learner = c.add_joining();
  c.step(0, add_learner(1, c.id(learner)));
  c.deliver_all();
  c.step(0, change(2, MembershipChange::Kind::kPromote, c.id(learner)));
  for (int round = 0; round < 3 && !outcome(c, 0, 2); ++round) {
    c.step(0, HeartbeatDue{c.id(learner)});
    c.deliver_all();
  }
  REQUIRE(outcome(c, 0, 2));
  const Membership four = c.at(0).membership();
  REQUIRE(four.voters().size() == 4);
  c.restart(1);
  CHECK(c.at(1).membership() == four);
  // From a snapshot: replica 1's log is compacted past every configuration entry.
  c.step(0, HeartbeatDue{c.id(1)});
  c.deliver_all();
  c.step(1, CompactLog{make_snapshot(c.at(1).commit_index(), *c.at(1).log().term_at(c.at(1).commit_index()), "state")});
  REQUIRE(c.at(1).log().base_index() >= c.at(1).membership_index());
  c.restart(1);
  CHECK(c.at(1).membership() == four);
  // Every replica restarts: an election needs three votes of four now.
  for (int i = 0; i < 4; ++i) c.restart(i);
  for (int i = 1; i < 4; ++i) c.step(i, ElectionTimeout{});  // they stop holding their votes after a restart
  c.queue().clear();
  c.elect(0);
  CHECK(c.at(0).role() == Role::kLeader);
  c.restart(0);
  c.step(1, ElectionTimeout{});
  c.step(2, ElectionTimeout{});
  c.queue().clear();
  c.step(1, ElectionTimeout{});
  c.deliver_all([&](const PeerMessage& m) { return m.to == c.id(1) || m.to == c.id(2) || m.from == c.id(2); });
  CHECK(c.at(1).role() != Role::kLeader);  // 1 and 2 are two votes of four: no majority
}

TEST_CASE("leadership transfer: to a named voter or the most up-to-date one, proposals held meanwhile",
          "[raft][membership][transfer]") {
  PureCluster c(3);
  c.elect(0);
  commit_some(c, 0, 2);
  c.deliver_all();
  const Term term = c.at(0).term();

  SECTION("to a named voter") {
    c.step(0, TransferLeadership{5, c.id(2)});
    c.step(0, Propose{42, {"held"}});
    CHECK(effects_of<ProposalAccepted>(c.effects(0)).size() == 2);  // only the two from before
    c.deliver_all();
    CHECK(c.at(2).role() == Role::kLeader);
    CHECK(c.at(2).term() == term + 1);
    CHECK(c.at(0).role() == Role::kFollower);
    REQUIRE(outcome(c, 0, 5));
    CHECK(outcome(c, 0, 5)->done);
    // The held proposal is handed to the new leader's address, not lost.
    const auto rejected = effects_of<ProposalRejected>(c.effects(0));
    REQUIRE(rejected.size() == 1);
    CHECK(rejected[0].proposal_id == 42);
    CHECK(rejected[0].leader == c.id(2));
  }
  SECTION("to the most up-to-date voter") {
    commit_some(c, 0, 3);
    c.deliver_all(cut_off(c, 1));  // 1 falls behind
    c.step(0, TransferLeadership{6, NodeId{}});
    c.deliver_all(cut_off(c, 1));
    CHECK(c.at(2).role() == Role::kLeader);
    REQUIRE(outcome(c, 0, 6));
    CHECK(outcome(c, 0, 6)->done);
  }
  SECTION("abandoned after a timeout: the leader leads on and proposes what it held") {
    c.step(0, TransferLeadership{7, c.id(2)});
    c.step(0, Propose{43, {"held"}});
    c.deliver_all(cut_off(c, 2));
    CHECK_FALSE(outcome(c, 0, 7));
    c.now_us += c.at(0).config().transfer_timeout_us + 1;
    c.step(0, HeartbeatDue{c.id(1)});
    c.deliver_all(cut_off(c, 2));
    REQUIRE(outcome(c, 0, 7));
    CHECK_FALSE(outcome(c, 0, 7)->done);
    CHECK(c.at(0).role() == Role::kLeader);
    const auto accepted = effects_of<ProposalAccepted>(c.effects(0));
    CHECK(std::any_of(accepted.begin(), accepted.end(), [](const auto& a) { return a.proposal_id == 43; }));
    CHECK(c.at(0).commit_index() == c.at(0).log().last_index());
  }
  SECTION("refused while a handover is under way, and to a learner") {
    c.step(0, TransferLeadership{8, c.id(2)});
    c.step(0, TransferLeadership{9, c.id(1)});
    REQUIRE(outcome(c, 0, 9));
    CHECK_FALSE(outcome(c, 0, 9)->done);
    c.deliver_all();
    const int learner = c.add_joining();
    c.step(2, add_learner(10, c.id(learner)));
    c.deliver_all();
    c.step(2, TransferLeadership{11, c.id(learner)});
    REQUIRE(outcome(c, 2, 11));
    CHECK_FALSE(outcome(c, 2, 11)->done);
    CHECK(outcome(c, 2, 11)->reason.find("not a voter") != std::string::npos);
  }
}

TEST_CASE("a replacement waits for the learner to catch up, then swaps it in for the voter in one joint change",
          "[raft][membership][joint]") {
  PureCluster c(3, [](RaftConfig& config) { config.promotion_lag = 2; });
  const int learner = learner_left_behind(c);
  c.step(0, change(2, MembershipChange::Kind::kReplace, c.id(learner), c.id(2)));
  heartbeat_rounds(c, 1, 3, 2, cut_off(c, learner));
  // Behind by more than the lag: nothing changed yet, and the cluster still has three voters.
  CHECK_FALSE(c.at(0).membership().joint());
  CHECK(c.at(0).membership().voters() == std::vector<NodeId>{c.id(0), c.id(1), c.id(2)});
  CHECK_FALSE(outcome(c, 0, 2));
  heartbeat_rounds(c, learner, 5, 2);
  REQUIRE(outcome(c, 0, 2));
  CHECK(outcome(c, 0, 2)->done);
  CHECK(c.at(0).membership().voters() == std::vector<NodeId>{c.id(0), c.id(1), c.id(learner)});
  CHECK(c.at(0).membership().was_removed(c.id(2)));
  // Asked again (its answer lost), the same replacement answers done.
  c.step(0, change(3, MembershipChange::Kind::kReplace, c.id(learner), c.id(2)));
  REQUIRE(outcome(c, 0, 3));
  CHECK(outcome(c, 0, 3)->done);
}
