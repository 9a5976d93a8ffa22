// Behaviour of whole clusters under simulated time: every replica runs the real actors; the network and disks are
// simulated; invariants are checked after every step. Each test prints the seed that reproduces a failure.

#include "campaign.hpp"
#include "seed.hpp"
#include "sim_cluster.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdlib>

using namespace coraft;
using namespace coraft::test;
using namespace std::chrono_literals;
using actors::Micros;

namespace {

void require_safe(const SimCluster& cluster) {
  for (const auto& v : cluster.invariants().violations()) UNSCOPED_INFO("invariant: " << v);
  REQUIRE(cluster.invariants().violations().empty());
}

bool has_leader(SimCluster& c) { return c.leader().has_value(); }

}  // namespace

TEST_CASE("a fresh cluster elects exactly one leader", "[sim][election][5.2]") {
  const auto seed = test_seed(11);
  INFO("reproduce with CORAFT_SEED=" << seed);
  for (int replicas : {3, 5, 7}) {
    SimCluster c({.replicas = replicas, .seed = seed});
    REQUIRE(c.run_until([&] { return has_leader(c); }, us(5000ms)));
    c.run_for(us(2000ms));
    const int leader = *c.leader();
    // Stable: the same leader, and every follower knows it.
    for (int i = 0; i < replicas; ++i) {
      CHECK(c.replica(i)->core().leader() == c.id(leader));
      CHECK(c.replica(i)->core().term() == c.replica(leader)->core().term());
    }
    require_safe(c);
  }
}

namespace {

// Ends a test's fault phase: heal the network, restart everything, stop the faults; then every client operation must
// complete and a leader must stand within a bounded simulated time (the liveness phase).
void converge(SimCluster& c, Micros limit = Micros(std::chrono::seconds(30))) {
  c.network().heal();
  c.network().set_faults(NetworkFaults{});
  for (int i = 0; i < c.size(); ++i) {
    if (!c.up(i)) c.restart(i);
    if (c.paused(i)) c.resume(i);
  }
  c.stop_clients();
  const bool done = c.run_until([&] { return c.all_clients_idle() && c.leader().has_value(); }, limit);
  for (const auto& op : c.outstanding_ops()) UNSCOPED_INFO("still outstanding: " << op);
  REQUIRE(done);
}

int any_follower(SimCluster& c, int not_this) {
  for (int i = 0; i < c.size(); ++i)
    if (i != not_this && c.up(i)) return i;
  return -1;
}

std::vector<int> all_but(SimCluster& c, std::vector<int> excluded) {
  std::vector<int> out;
  for (int i = 0; i < c.size(); ++i)
    if (std::find(excluded.begin(), excluded.end(), i) == excluded.end()) out.push_back(i);
  return out;
}

}  // namespace

TEST_CASE("a new leader is elected after the leader is lost", "[sim][election][5.2]") {
  const auto seed = test_seed(21);
  INFO("reproduce with CORAFT_SEED=" << seed);
  SimCluster c({.replicas = 5, .seed = seed});
  c.start_clients(ClientOptions{});
  REQUIRE(c.run_until([&] { return has_leader(c); }, us(5000ms)));
  c.run_for(us(1000ms));
  for (int round = 0; round < 3; ++round) {
    const int old_leader = *c.leader();
    const raft::Term old_term = c.replica(old_leader)->core().term();
    c.crash(old_leader);
    REQUIRE(c.run_until([&] { return has_leader(c) && *c.leader() != old_leader; }, us(5000ms)));
    CHECK(c.replica(*c.leader())->core().term() > old_term);
    // ...and it serves clients.
    const auto before = c.completed_ops();
    REQUIRE(c.run_until([&] { return c.completed_ops() >= before + 10; }, us(5000ms)));
    c.restart(old_leader);
    c.run_for(us(1000ms));
  }
  converge(c);
  require_safe(c);
}

TEST_CASE("nothing commits without a quorum, and everything does once it is back", "[sim][commit][5.3]") {
  const auto seed = test_seed(31);
  INFO("reproduce with CORAFT_SEED=" << seed);
  SimCluster c({.replicas = 5, .seed = seed});
  REQUIRE(c.run_until([&] { return has_leader(c); }, us(5000ms)));
  const int leader = *c.leader();
  // Three of five down: only the leader and one follower remain.
  int crashed = 0;
  for (int i = 0; i < 5 && crashed < 3; ++i) {
    if (i == leader || i == any_follower(c, leader)) continue;
    c.crash(i);
    ++crashed;
  }
  const raft::Index commit_before = c.replica(leader)->core().commit_index();
  c.start_clients(ClientOptions{.clients = 2, .read_fraction = 0});
  c.run_for(us(3000ms));
  CHECK(c.completed_ops() == 0);
  for (int i = 0; i < 5; ++i)
    if (c.up(i)) CHECK(c.replica(i)->core().commit_index() <= commit_before);
  converge(c);
  CHECK(c.completed_ops() >= 2);
  require_safe(c);
}

TEST_CASE("a partitioned old leader rejoins, steps down and loses its uncommitted entries", "[sim][partition][5.3]") {
  const auto seed = test_seed(41);
  INFO("reproduce with CORAFT_SEED=" << seed);
  SimCluster c({.replicas = 5, .seed = seed});
  REQUIRE(c.run_until([&] { return has_leader(c); }, us(5000ms)));
  const int old_leader = *c.leader();
  c.network().partition({old_leader}, all_but(c, {old_leader}));
  // A client that only knows the old leader writes to it: the entry is appended there but cannot commit.
  actors::ClientRequest request{.client = raft::NodeId{0x2000}, .mid = "lost-1", .kind = actors::RequestKind::kPut,
                                .key = "k", .value = "from-old-leader"};
  c.send_request(old_leader, request);
  c.run_for(us(100ms));
  const raft::Index uncommitted = c.replica(old_leader)->core().log().last_index();
  REQUIRE(c.replica(old_leader)->core().commit_index() < uncommitted);
  // The majority elects a new leader and commits writes of its own.
  REQUIRE(c.run_until([&] { auto l = c.leader(); return l && *l != old_leader; }, us(5000ms)));
  c.start_clients(ClientOptions{.clients = 2, .read_fraction = 0});
  REQUIRE(c.run_until([&] { return c.completed_ops() >= 5; }, us(5000ms)));
  c.network().heal();
  const int new_leader = *c.leader();
  REQUIRE(c.run_until(
      [&] {
        const auto& old_core = c.replica(old_leader)->core();
        return old_core.role() == raft::Role::kFollower &&
               old_core.log().last_index() >= c.replica(new_leader)->core().commit_index() &&
               old_core.commit_index() >= uncommitted;
      },
      us(5000ms)));
  // Its entry at `uncommitted` was replaced by the new leader's.
  const auto& old_log = c.replica(old_leader)->core().log();
  const auto& new_log = c.replica(*c.leader())->core().log();
  CHECK(old_log.term_at(uncommitted) == new_log.term_at(uncommitted));
  CHECK(old_log.at(uncommitted)->data.find("from-old-leader") == std::string::npos);
  // The write the old leader took was never acknowledged as done.
  for (const auto& reply : c.replies_to(raft::NodeId{0x2000})) CHECK(reply.kind != actors::ReplyKind::kOk);
  converge(c);
  require_safe(c);
}

TEST_CASE("a follower far behind catches up", "[sim][replication][5.3]") {
  const auto seed = test_seed(51);
  INFO("reproduce with CORAFT_SEED=" << seed);
  SimCluster c({.replicas = 3, .seed = seed});
  REQUIRE(c.run_until([&] { return has_leader(c); }, us(5000ms)));
  const int laggard = any_follower(c, *c.leader());
  c.crash(laggard);
  c.start_clients(ClientOptions{.clients = 8, .read_fraction = 0, .think_time = Micros(1000)});
  REQUIRE(c.run_until([&] { return c.completed_ops() >= 2000; }, us(120000ms)));
  c.stop_clients();
  REQUIRE(c.run_until([&] { return c.all_clients_idle(); }, us(5000ms)));
  c.restart(laggard);
  const int leader = *c.leader();
  const raft::Index target = c.replica(leader)->core().log().last_index();
  REQUIRE(target > 2000);
  REQUIRE(c.run_until([&] { return c.replica(laggard)->applied_index() >= target; }, us(5000ms)));
  CHECK(c.replica(laggard)->store().digest() == c.replica(leader)->store().digest());
  require_safe(c);
}

TEST_CASE("a rejoining replica does not depose a healthy leader (PreVote)", "[sim][prevote][9.6]") {
  const auto seed = test_seed(61);
  INFO("reproduce with CORAFT_SEED=" << seed);
  SimCluster c({.replicas = 5, .seed = seed});
  REQUIRE(c.run_until([&] { return has_leader(c); }, us(5000ms)));
  const int leader = *c.leader();
  const raft::Term term = c.replica(leader)->core().term();
  const int loner = any_follower(c, leader);
  c.network().partition({loner}, all_but(c, {loner}));
  c.run_for(us(10000ms));  // the loner's election timer fires again and again
  CHECK(c.replica(loner)->core().term() == term);  // PreVote: no term inflation in isolation
  c.network().heal();
  c.run_for(us(3000ms));
  CHECK(*c.leader() == leader);
  CHECK(c.replica(leader)->core().term() == term);
  CHECK(c.replica(loner)->core().leader() == c.id(leader));
  require_safe(c);
}

TEST_CASE("a leader cut off in the minority steps down (CheckQuorum)", "[sim][checkquorum]") {
  const auto seed = test_seed(71);
  INFO("reproduce with CORAFT_SEED=" << seed);
  SimCluster c({.replicas = 5, .seed = seed});
  REQUIRE(c.run_until([&] { return has_leader(c); }, us(5000ms)));
  const int leader = *c.leader();
  const int buddy = any_follower(c, leader);
  c.network().partition({leader, buddy}, all_but(c, {leader, buddy}));
  // Within two election timeouts it notices it has not heard from a majority.
  REQUIRE(c.run_until([&] { return c.replica(leader)->core().role() != raft::Role::kLeader; },
                      us(2 * c.options().timing.election_timeout_max)));
  REQUIRE(c.run_until([&] { auto l = c.leader(); return l && *l != leader && *l != buddy; }, us(5000ms)));
  require_safe(c);
}

TEST_CASE("one-way partitions, pauses and duplicates keep the cluster safe and live", "[sim][faults]") {
  const auto seed = test_seed(81);
  INFO("reproduce with CORAFT_SEED=" << seed);
  SimCluster c({.replicas = 5, .seed = seed,
                .faults = NetworkFaults{.drop = 0.05, .duplicate = 0.1, .max_delay = Micros(20000)}});
  c.start_clients(ClientOptions{});
  REQUIRE(c.run_until([&] { return has_leader(c); }, us(5000ms)));
  const int leader = *c.leader();
  // The leader can send but not hear back: it must step down; the others elect someone.
  for (int i : all_but(c, {leader})) c.network().block(i, leader);
  REQUIRE(c.run_until([&] { auto l = c.leader(); return l && *l != leader; }, us(5000ms)));
  c.network().heal();
  // A paused leader (a long GC pause, SIGSTOP) comes back to a cluster that moved on.
  const int second = *c.leader();
  c.pause(second);
  REQUIRE(c.run_until([&] { auto l = c.leader(); return l && *l != second; }, us(5000ms)));
  c.resume(second);
  c.run_for(us(2000ms));
  converge(c);
  require_safe(c);
}

TEST_CASE("leaders that crash mid-replication again and again lose nothing committed (Figure 8)",
          "[sim][5.4.2][figure8]") {
  const auto seed = test_seed(91);
  INFO("reproduce with CORAFT_SEED=" << seed);
  SimCluster c({.replicas = 5, .seed = seed, .faults = NetworkFaults{.drop = 0.1, .max_delay = Micros(5000)}});
  actors::Rng rng(seed);
  c.start_clients(ClientOptions{.clients = 4, .keys = 3, .think_time = Micros(2000)});
  for (int round = 0; round < 60; ++round) {
    c.run_for(Micros(static_cast<std::int64_t>(rng.between(1000, 400000))));
    if (auto leader = c.leader(); leader && rng.chance(0.5)) {
      c.crash(*leader);  // whatever it appended but had not yet replicated everywhere is now in doubt
    }
    int up = 0;
    for (int i = 0; i < c.size(); ++i) up += c.up(i);
    if (up < 3) {
      for (int i = 0; i < c.size(); ++i) {
        if (!c.up(i) && rng.chance(0.7)) c.restart(i);
      }
    }
    if (!c.invariants().violations().empty()) break;
  }
  converge(c, Micros(std::chrono::seconds(60)));
  require_safe(c);
  CHECK(c.invariants().committed() > 50);
}

TEST_CASE("an unreliable network with churn keeps every invariant and stays live", "[sim][churn]") {
  // A handful of seeded fault schedules from the kvsim campaign, as a named test.
  const auto first = test_seed(1000);
  for (std::uint64_t seed = first; seed < first + 8; ++seed) {
    INFO("reproduce with: kvsim --seeds 1 --seed " << seed);
    const SeedResult result = run_seed(seed, CampaignOptions{.max_drop = 0.3});
    for (const auto& v : result.violations) UNSCOPED_INFO(v);
    CHECK(result.violations.empty());
    CHECK(result.linearizable == Verdict::kLinearizable);
    CHECK(result.operations > 0);
  }
}

TEST_CASE("a follower behind the compacted log catches up through InstallSnapshot", "[sim][snapshot][7]") {
  const auto seed = test_seed(111);
  INFO("reproduce with CORAFT_SEED=" << seed);
  SimCluster c({.replicas = 3, .seed = seed, .faults = NetworkFaults{.drop = 0.1}, .snapshot_every = 50});
  REQUIRE(c.run_until([&] { return has_leader(c); }, us(5000ms)));
  const int laggard = any_follower(c, *c.leader());
  c.crash(laggard);
  c.start_clients(ClientOptions{.clients = 4, .keys = 20, .read_fraction = 0.1, .think_time = Micros(1000)});
  REQUIRE(c.run_until([&] { return c.completed_ops() >= 600; }, us(60000ms)));
  const int leader = *c.leader();
  REQUIRE(c.replica(leader)->core().log().base_index() > 0);  // the leader has compacted
  c.restart(laggard);
  // The laggard's log ends before the leader's starts: only a snapshot can bring it up to date.
  REQUIRE(c.replica(laggard)->core().log().last_index() < c.replica(leader)->core().log().base_index());
  converge(c);
  const int final_leader = *c.leader();
  REQUIRE(c.run_until(
      [&] { return c.replica(laggard)->applied_index() == c.replica(final_leader)->applied_index(); }, us(5000ms)));
  CHECK(c.replica(laggard)->store().digest() == c.replica(final_leader)->store().digest());
  CHECK(c.replica(laggard)->core().log().base_index() > 0);
  require_safe(c);
}

TEST_CASE("a replica restarted from its snapshot and log has everything it had", "[sim][snapshot][restart]") {
  const auto seed = test_seed(112);
  INFO("reproduce with CORAFT_SEED=" << seed);
  SimCluster c({.replicas = 3, .seed = seed, .snapshot_every = 30});
  c.start_clients(ClientOptions{.clients = 3, .keys = 10, .think_time = Micros(2000)});
  REQUIRE(c.run_until([&] { return c.completed_ops() >= 300; }, us(60000ms)));
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < c.size(); ++i) {
      c.crash(i);
      c.restart(i);
      c.run_for(us(700ms));
    }
  }
  converge(c);
  // Compacted on disk too: restarted, each replica reads back a snapshot and a short log after it.
  for (int i = 0; i < c.size(); ++i) {
    c.crash(i);
    c.restart(i);
    const auto& log = c.replica(i)->core().log();
    CHECK(log.base_index() > 0);
    CHECK(log.last_index() - log.base_index() < 200);
  }
  require_safe(c);
}

namespace {

void require_linearizable(const SimCluster& c) {
  const auto result = check_linearizability(c.history(), std::chrono::seconds(20));
  INFO(result.explanation);
  REQUIRE(result.verdict == Verdict::kLinearizable);
}

// Runs until some replica's disk is in the middle of a write; returns it (or -1).
int wait_for_busy_disk(SimCluster& c, Micros limit) {
  int busy = -1;
  c.run_until([&] {
    for (int i = 0; i < c.size(); ++i)
      if (c.disk_busy(i)) busy = i;
    return busy >= 0;
  }, limit);
  return busy;
}

}  // namespace

TEST_CASE("power cuts while disks write never lose what a replica acknowledged", "[sim][durability][5.3]") {
  // Disks slower than the heartbeat keep a follower's write in flight while the leader's next heartbeat arrives, and
  // its reply must not claim the entries still on their way to the disk. Cut the power of whichever replica is
  // writing, over and over: a restarted replica must still hold everything it told its peers, and no acknowledged
  // client write may be lost.
  const auto seed = test_seed(131);
  INFO("reproduce with CORAFT_SEED=" << seed);
  SimCluster c({.replicas = 3, .seed = seed, .disk_latency_min = Micros(80000), .disk_latency_max = Micros(250000)});
  c.start_clients(ClientOptions{.clients = 2, .keys = 4, .read_fraction = 0.3, .think_time = Micros(50000)});
  REQUIRE(c.run_until([&] { return c.completed_ops() >= 20; }, us(30000ms)));
  int cuts = 0;
  for (int round = 0; round < 25; ++round) {
    c.run_for(us(150ms));
    const int busy = wait_for_busy_disk(c, us(500ms));
    if (busy < 0) continue;
    c.power_cut(busy);
    ++cuts;
    c.run_for(us(20ms));
    c.restart(busy);
    require_safe(c);
  }
  CHECK(cuts > 10);
  CHECK(c.unsynced_writes_lost() > 0);
  converge(c);
  require_safe(c);
  require_linearizable(c);
}

TEST_CASE("a power cut of every replica with snapshots in flight loses no acknowledged write",
          "[sim][durability][snapshot]") {
  const auto seed = test_seed(132);
  INFO("reproduce with CORAFT_SEED=" << seed);
  SimCluster c({.replicas = 5,
                .seed = seed,
                .snapshot_every = 20,
                .disk_latency_min = Micros(500),
                .disk_latency_max = Micros(8000)});
  c.start_clients(ClientOptions{.clients = 5, .keys = 6, .read_fraction = 0.3, .think_time = Micros(1000)});
  REQUIRE(c.run_until([&] { return c.completed_ops() >= 100; }, us(20000ms)));
  for (int round = 0; round < 8; ++round) {
    wait_for_busy_disk(c, us(200ms));
    c.power_cut_all();
    c.run_for(us(50ms));
    for (int i = 0; i < c.size(); ++i) c.restart(i);
    REQUIRE(c.run_until([&] { return c.leader().has_value(); }, us(10000ms)));
    c.run_for(us(500ms));
    require_safe(c);
  }
  CHECK(c.power_cuts() == 8);
  converge(c);
  require_safe(c);
  require_linearizable(c);
}

TEST_CASE("a follower far behind a membership change learns the configuration from the snapshot it is sent",
          "[sim][membership][snapshot]") {
  // kvsim seed 5505: the leader's snapshot chunks carried no configuration, so a follower that had missed a voter's
  // replacement took the one its own old log knew, elected itself with the removed replica's vote, and lost committed
  // entries.
  const auto seed = test_seed(5505);
  INFO("reproduce with CORAFT_SEED=" << seed);
  SimCluster c({.replicas = 3, .seed = seed, .snapshot_every = 5, .spares = 1});
  REQUIRE(c.run_until([&] { return has_leader(c); }, us(5000ms)));
  c.start_clients(ClientOptions{.clients = 2, .read_fraction = 0.2});
  const int leader = *c.leader();
  const int behind = any_follower(c, leader);
  const int replaced = 3 - leader - behind;  // the third of 0, 1, 2
  c.pause(behind);
  c.join(3);
  // As kvctl does: ask again until the cluster says done (a request may meet a change still committing).
  auto change = [&](actors::RequestKind kind, raft::NodeId id, raft::NodeId other = {}) {
    const auto done_before = c.membership_changes();
    for (int attempt = 0; attempt < 20; ++attempt) {
      c.change_membership(kind, id, other);
      if (c.run_until([&] { return c.membership_changes() > done_before; }, us(1000ms))) return true;
    }
    return false;
  };
  REQUIRE(change(actors::RequestKind::kAddLearner, c.id(3)));
  REQUIRE(change(actors::RequestKind::kReplaceMember, c.id(3), c.id(replaced)));
  c.run_for(us(1000ms));  // more entries, more snapshots: the paused follower now needs one
  const raft::Membership now = c.replica(*c.leader())->core().membership();
  REQUIRE(now.voters() == std::vector<raft::NodeId>{c.id(std::min(leader, behind)), c.id(std::max(leader, behind)), c.id(3)});
  c.resume(behind);
  REQUIRE(c.run_until([&] { return c.replica(behind)->core().membership() == now; }, us(10000ms)));
  CHECK(c.replica(behind)->core().log().base_index() > 0);
  converge(c);
  require_safe(c);
}

TEST_CASE("under 30 % drops five replicas replace a lost leader in about an election timeout", "[sim][election][loss]") {
  // Without resending lost vote requests an election round succeeds only when enough requests and answers survive
  // both the PreVote and the vote (about one round in four here), and each failed round costs an election timeout.
  const auto first_seed = test_seed(31);
  INFO("reproduce with CORAFT_SEED=" << first_seed);
  std::vector<double> seconds;
  for (std::uint64_t seed = first_seed; seed < first_seed + 24; ++seed) {
    SimCluster c({.replicas = 5, .seed = seed, .faults = NetworkFaults{.drop = 0.3}});
    REQUIRE(c.run_until([&] { return has_leader(c); }, us(20000ms)));
    c.run_for(us(500ms));
    const int old_leader = *c.leader();
    c.crash(old_leader);
    const auto crashed = c.world().now();
    REQUIRE(c.run_until([&] { return has_leader(c) && *c.leader() != old_leader; }, us(30000ms)));
    seconds.push_back(std::chrono::duration<double>(c.world().now() - crashed).count());
    require_safe(c);
  }
  std::sort(seconds.begin(), seconds.end());
  const double median = seconds[seconds.size() / 2];
  const double worst = seconds.back();
  UNSCOPED_INFO("time without a leader: median " << median << " s, worst " << worst << " s (election timeout 0.3-0.6 s)");
  CHECK(median < 0.9);
  CHECK(worst < 3.0);
}

TEST_CASE("a follower's acknowledgement leaves before it applies what the same append committed",
          "[sim][replication][latency]") {
  // The leader waits for the acknowledgement, not for the follower's state machine: a follower hands newly committed
  // entries to its applier (on the same thread) only once the ack for the write that came with them has gone.
  const auto seed = test_seed(23);
  INFO("reproduce with CORAFT_SEED=" << seed);
  SimCluster c({.replicas = 3, .seed = seed});
  REQUIRE(c.run_until([&] { return has_leader(c); }, us(5000ms)));
  std::uint64_t acks = 0, ahead_of_applier = 0;
  c.network().set_send_observer([&](int from, int, const raft::PeerMessage& message) {
    const auto* reply = std::get_if<raft::AppendEntriesReply>(&message.payload);
    actors::Replica* follower = c.replica(from);
    if (!reply || !reply->success || !follower) return;
    ++acks;
    if (follower->applied_index() < follower->core().commit_index()) ++ahead_of_applier;
  });
  c.start_clients(ClientOptions{.clients = 4, .read_fraction = 0, .think_time = Micros(0)});
  c.run_for(us(2000ms));
  c.network().set_send_observer({});
  require_safe(c);
  INFO(acks << " acknowledgements, " << ahead_of_applier << " sent before the follower applied its commit index");
  REQUIRE(acks > 100);
  // Writes arrive back to back, so most appends carry new entries and a new commit index (about half of the acks
  // here; none when the applier goes first).
  CHECK(ahead_of_applier * 4 > acks);
}

TEST_CASE("a leader answers a put once it commits, before applying it", "[sim][replication][latency]") {
  // A plain put's answer is `ok` whatever the store holds, so the gateway sends it when the node reports the commit
  // and the applier (on the same thread) applies the batch afterwards. Reads still wait for the applied index.
  const auto seed = test_seed(29);
  INFO("reproduce with CORAFT_SEED=" << seed);
  SimCluster c({.replicas = 3, .seed = seed});
  REQUIRE(c.run_until([&] { return has_leader(c); }, us(5000ms)));
  std::uint64_t oks = 0, before_applied = 0;
  c.set_reply_observer([&](int from, const actors::ClientReply& reply) {
    actors::Replica* leader = c.replica(from);
    if (reply.kind != actors::ReplyKind::kOk || !leader || leader->core().role() != raft::Role::kLeader) return;
    ++oks;
    if (leader->applied_index() < leader->core().commit_index()) ++before_applied;
  });
  c.start_clients(ClientOptions{.clients = 4, .read_fraction = 0, .cas_fraction = 0, .delete_fraction = 0,
                                .think_time = Micros(0)});
  c.run_for(us(2000ms));
  c.set_reply_observer({});
  c.stop_clients();
  REQUIRE(c.run_until([&] { return c.all_clients_idle(); }, us(5000ms)));
  require_safe(c);
  INFO(oks << " puts answered, " << before_applied << " before the leader applied its commit index");
  REQUIRE(oks > 100);
  CHECK(before_applied * 2 > oks);  // nearly all of them; none when the answer waits for the applier
  CHECK(c.replica(*c.leader())->gateway().metrics().answered_at_commit > 0);
}
