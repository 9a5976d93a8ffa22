#include "campaign.hpp"

#include "sim_cluster.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace coraft::test {
namespace {

using actors::Micros;

Micros seconds(double s) { return Micros(static_cast<std::int64_t>(s * 1e6)); }

// Asks the leader for one membership change or a leadership transfer, as an operator would with kvctl; says what.
// Voters are never fewer than three, so the faults still have a majority to spare.
std::optional<std::string> change_membership(SimCluster& c, actors::Rng& rng) {
  const auto leader = c.leader();
  if (!leader) return std::nullopt;
  const raft::Membership& membership = c.replica(*leader)->core().membership();
  const raft::NodeId leader_id = c.id(*leader);
  std::vector<raft::NodeId> voters = membership.voters(), learners;
  for (const auto& m : membership.members())
    if (!m.voter) learners.push_back(m.id);
  std::vector<int> spares;
  for (int i = 0; i < c.size(); ++i)
    if (!c.joined(i)) spares.push_back(i);
  auto pick = [&](const std::vector<raft::NodeId>& from) { return from[rng.between(0, from.size() - 1)]; };
  auto named = [&](raft::NodeId id) { return id.str() + (id == leader_id ? " (the leader)" : ""); };
  using actors::RequestKind;
  switch (rng.between(0, 4)) {
    case 0: {
      if (spares.empty()) return std::nullopt;
      const int slot = spares[rng.between(0, spares.size() - 1)];
      c.join(slot);
      c.change_membership(RequestKind::kAddLearner, c.id(slot));
      return fmt::format("membership: {} starts and is added as a learner", c.id(slot).str());
    }
    case 1: {
      if (learners.empty()) return std::nullopt;
      const raft::NodeId id = pick(learners);
      c.change_membership(RequestKind::kPromote, id);
      return fmt::format("membership: promote {}", id.str());
    }
    case 2: {
      if (voters.size() <= 3 && learners.empty()) return std::nullopt;
      const raft::NodeId id = voters.size() > 3 ? (rng.chance(0.4) ? leader_id : pick(voters)) : pick(learners);
      c.change_membership(RequestKind::kRemoveMember, id);
      return fmt::format("membership: remove {}", named(id));
    }
    case 3: {
      if (learners.empty()) return std::nullopt;
      const raft::NodeId in = pick(learners), out = rng.chance(0.4) ? leader_id : pick(voters);
      c.change_membership(RequestKind::kReplaceMember, in, out);
      return fmt::format("membership: {} replaces {}", in.str(), named(out));
    }
    default: {
      const raft::NodeId to = rng.chance(0.3) ? raft::NodeId{} : pick(voters);
      c.change_membership(RequestKind::kTransferLeader, to);
      return fmt::format("membership: transfer leadership to {}", to.valid() ? to.str() : "the most up-to-date voter");
    }
  }
}

}  // namespace

SeedResult run_seed(std::uint64_t seed, const CampaignOptions& options) {
  actors::Rng rng(seed ^ 0xC0FFEEull);
  SeedResult result;
  result.seed = seed;
  result.replicas = options.replicas > 0 ? options.replicas : static_cast<int>(3 + 2 * rng.between(0, 2));

  NetworkFaults faults;
  faults.drop = rng.unit() * options.max_drop;
  faults.duplicate = rng.unit() * 0.1;
  faults.min_delay = Micros(static_cast<std::int64_t>(rng.between(50, 500)));
  faults.max_delay = faults.min_delay + Micros(static_cast<std::int64_t>(rng.between(100, 20000)));
  if (rng.chance(0.5)) {  // a few datagrams held up for seconds: they arrive after elections, from terms long gone
    faults.straggler = rng.unit() * 0.1;
    faults.straggler_delay = Micros(static_cast<std::int64_t>(rng.between(300000, 5000000)));
  }

  // Half the schedules compact their logs often, so that lagging and restarted replicas need InstallSnapshot.
  const std::uint64_t snapshot_every = rng.chance(0.5) ? rng.between(5, 100) : 0;
  // A disk as fast as a good SSD, an ordinary one, or a slow one (each write and its sync).
  static constexpr std::int64_t kDiskProfiles[][2] = {{10, 100}, {50, 2000}, {500, 20000}};
  const auto& disk = kDiskProfiles[rng.between(0, 2)];
  // Some schedules send entries one or two at a time with little in flight: a leader's entries then reach followers
  // in many small steps, which is where commit rules (Figure 8) and acknowledgements are tested hardest.
  raft::ReplicationLimits limits;
  if (rng.chance(0.4)) {
    static constexpr std::size_t kBatches[] = {1, 1, 2, 8};
    static constexpr std::size_t kWindows[] = {1, 2, 8};
    limits.max_append_entries = kBatches[rng.between(0, 3)];
    limits.max_inflight_appends = kWindows[rng.between(0, 2)];
  }
  // Replicas' clocks run at slightly different rates: within the bound the read lease assumes (ARCHITECTURE.md,
  // "Reads": 10 % between any two), unless the campaign is told to go beyond it.
  const std::int64_t skew_ppm =
      options.clock_skew_ppm >= 0 ? options.clock_skew_ppm : (rng.chance(0.5) ? static_cast<std::int64_t>(rng.between(0, 45000)) : 0);
  // Half the schedules change the membership as they go: replicas join (up to two spare slots), learners are
  // promoted, voters removed or replaced (the leader among them), leadership transferred. Drawn from a generator of
  // its own, so the schedules without membership changes stay as they were.
  actors::Rng membership_rng(seed * 0x2545F4914F6CDD1Dull ^ 0x6D656D62657273ull);
  const bool membership_faults = options.membership_changes && membership_rng.chance(0.5);
  // Half the schedules replicate as course mode does (one AppendEntries for every follower, RaftConfig::
  // uniform_appends), half of those with quiet acknowledgements as well (RaftConfig::quiet_acks); drawn from a
  // generator of their own too.
  actors::Rng course_rng(seed * 0x9E3779B97F4A7C15ull ^ 0x756E69666F726Dull);
  const bool uniform_appends = course_rng.chance(0.5);
  const bool quiet_acks = uniform_appends && course_rng.chance(0.5);
  // The others replicate as cluster mode does, three in four of them deferring spare followers (its default).
  const bool defer_spare_followers = !uniform_appends && course_rng.chance(0.75);
  SimCluster c({.replicas = result.replicas,
                .seed = seed,
                .faults = faults,
                .snapshot_every = snapshot_every,
                .disk_latency_min = Micros(disk[0]),
                .disk_latency_max = Micros(disk[1]),
                .limits = limits,
                .clock_skew_ppm = skew_ppm,
                .spares = membership_faults ? static_cast<int>(membership_rng.between(1, 2)) : 0,
                .uniform_appends = uniform_appends,
                .quiet_acks = quiet_acks,
                .defer_spare_followers = defer_spare_followers});
  auto now_seconds = [&] { return c.world().now().time_since_epoch().count() / 1e6; };
  std::shared_ptr<Timeline> timeline;
  if (options.record_timeline) {
    std::vector<std::string> names;
    for (int i = 0; i < c.size(); ++i) names.push_back(c.id(i).str());
    timeline = std::make_shared<Timeline>(fmt::format("kvsim seed {}", seed), names);
    c.set_step_observer([&c, &now_seconds, t = timeline.get()] {
      const double at = now_seconds();
      for (int i = 0; i < c.size(); ++i) {
        const auto* r = c.replica(i);
        if (!r) {
          t->set_state(at, i, LaneState::kDown, t->term(i));
          continue;
        }
        const auto& core = r->core();
        const LaneState state = c.paused(i)                              ? LaneState::kPaused
                                : core.role() == raft::Role::kLeader    ? LaneState::kLeader
                                : core.role() == raft::Role::kCandidate ? LaneState::kCandidate
                                                                        : LaneState::kFollower;
        t->set_state(at, i, state, core.term());
        t->commit(at, i, core.commit_index());
      }
    });
  }
  // Each schedule line is also a mark on the timeline; partitions are bands until the next heal or partition.
  auto note = [&](std::string what) {
    result.schedule.push_back(fmt::format("{:9.3f}s {}", now_seconds(), what));
    if (!timeline) return;
    const std::string kind = what.substr(0, what.find(' '));
    if (kind == "partition" || kind == "isolate" || kind == "heal" || kind == "faults") timeline->close_all_bands(now_seconds());
    if (kind == "partition" || kind == "isolate") timeline->open_band(now_seconds(), "partition", what);
    if (what.find("stops hearing") != std::string::npos) timeline->open_band(now_seconds(), what, what);
    if (kind != "drop" && result.schedule.size() > 1) timeline->event(now_seconds(), kind, what);
  };
  note(fmt::format("{} replicas, drop {:.2f}, duplicate {:.2f}, delay {}-{} us, stragglers {:.3f} up to {} ms, "
                   "snapshot every {}, disk {}-{} us, {} entries per append, {} in flight, clock skew up to {} ppm{}{}",
                   result.replicas, faults.drop, faults.duplicate, faults.min_delay.count(), faults.max_delay.count(),
                   faults.straggler, faults.straggler_delay.count() / 1000, snapshot_every, disk[0], disk[1],
                   limits.max_append_entries, limits.max_inflight_appends, skew_ppm,
                   uniform_appends ? ", uniform appends" : "", quiet_acks ? ", quiet acks" : ""));

  ClientOptions clients;
  clients.clients = static_cast<int>(rng.between(2, 5));
  clients.keys = static_cast<int>(rng.between(1, 6));
  clients.read_fraction = rng.unit() * 0.5;
  clients.think_time = Micros(static_cast<std::int64_t>(rng.between(1000, 50000)));
  c.start_clients(clients);
  if (rng.chance(0.4)) {  // and some clients as the course simulator has them: no sessions, new MID on every retry
    ClientOptions course = clients;
    course.sessions = false;
    course.clients = static_cast<int>(rng.between(1, 3));
    // It never repeats an unanswered request, so it waits long enough for a replica that knows the outcome to answer:
    // every operation it gives up stays open to the end of the history, and open writes are what make checking
    // linearizability expensive.
    course.attempt_timeout = Micros(4000000);
    c.start_clients(course);
    note(fmt::format("{} clients with sessions, {} without", clients.clients, course.clients));
  }

  // Safety phase: a fault every 0.2 - 2 s.
  const auto end_of_faults = c.world().now() + seconds(options.safety_seconds);
  while (c.world().now() < end_of_faults) {
    c.run_for(Micros(static_cast<std::int64_t>(rng.between(200000, 2000000))));
    if (!c.invariants().violations().empty()) break;
    const int victim = static_cast<int>(rng.between(0, static_cast<std::uint64_t>(c.size() - 1)));
    const auto leader = c.leader();
    ++result.faults;
    switch (rng.between(0, 17)) {
      case 0:
      case 1: {  // crash the leader or anyone; never more than a minority down at once keeps it interesting
        const int target = leader && rng.chance(0.5) ? *leader : victim;
        int down = 0;
        for (int i = 0; i < c.size(); ++i) down += !c.up(i);
        if (down < (c.size() - 1) / 2 || rng.chance(0.2)) {
          // The process dies, or the whole machine loses power (and what its disk had not synced). Power is most
          // often cut while the disk is writing: the moment that tells whether anything got ahead of the disk.
          if (rng.chance(0.5)) {
            c.crash(target);
            note(fmt::format("crash {}", c.id(target).str()));
          } else {
            int busy = -1;
            if (rng.chance(0.7)) {
              c.run_until([&] {
                for (int i = 0; i < c.size(); ++i)
                  if (c.disk_busy(i)) busy = i;
                return busy >= 0;
              }, Micros(50000));
            }
            const int cut = busy >= 0 ? busy : target;
            c.power_cut(cut);
            note(fmt::format("power cut {}{}", c.id(cut).str(), busy >= 0 ? " while its disk writes" : ""));
          }
        }
        break;
      }
      case 9: {  // every machine loses power at once, writes and snapshots in flight; all come back soon after
        if (rng.chance(0.7)) {
          c.run_until([&] {
            for (int i = 0; i < c.size(); ++i)
              if (c.disk_busy(i)) return true;
            return false;
          }, Micros(50000));
        }
        c.power_cut_all();
        const auto dark = Micros(static_cast<std::int64_t>(rng.between(1000, 500000)));
        note(fmt::format("power cut of every replica for {} ms", dark.count() / 1000));
        c.run_for(dark);
        for (int i = 0; i < c.size(); ++i) c.restart(i);
        break;
      }
      case 2:
        for (int i = 0; i < c.size(); ++i) {
          if (!c.up(i)) {
            c.restart(i);
            note(fmt::format("restart {}", c.id(i).str()));
            break;
          }
        }
        break;
      case 3: {  // symmetric partition into two random sides
        std::vector<int> a, b;
        for (int i = 0; i < c.size(); ++i) (rng.chance(0.5) ? a : b).push_back(i);
        c.network().heal();
        c.network().partition(a, b);
        note(fmt::format("partition {} | {}", fmt::join(a, ","), fmt::join(b, ",")));
        break;
      }
      case 4: {  // one-way: someone stops hearing from a few others
        const int deaf = victim;
        std::vector<int> from;
        for (int i = 0; i < c.size(); ++i)
          if (i != deaf && rng.chance(0.5)) {
            c.network().block(i, deaf);
            from.push_back(i);
          }
        note(fmt::format("{} stops hearing {}", c.id(deaf).str(), fmt::join(from, ",")));
        break;
      }
      case 5:
        if (leader && rng.chance(0.6)) {
          // Cut the leader (and maybe one more) off from the majority: the deposed side still hears clients.
          std::vector<int> minority{*leader}, majority;
          for (int i = 0; i < c.size(); ++i) {
            if (i == *leader) continue;
            if (minority.size() < static_cast<std::size_t>((c.size() - 1) / 2) && rng.chance(0.3)) minority.push_back(i);
            else majority.push_back(i);
          }
          c.network().heal();
          c.network().partition(minority, majority);
          note(fmt::format("isolate leader: {} | {}", fmt::join(minority, ","), fmt::join(majority, ",")));
        } else {
          c.network().heal();
          note("heal");
        }
        break;
      case 6:
        if (c.paused(victim)) {
          c.resume(victim);
          note(fmt::format("resume {}", c.id(victim).str()));
        } else {
          c.pause(victim);
          note(fmt::format("pause {}", c.id(victim).str()));
        }
        break;
      case 7: {
        auto f = c.network().faults();
        f.drop = rng.unit() * options.max_drop;
        c.network().set_faults(f);
        note(fmt::format("drop rate {:.2f}", f.drop));
        break;
      }
      case 10:
        if (leader) {  // exactly the leader cut off, while its clients keep reading from it
          std::vector<int> rest;
          for (int i = 0; i < c.size(); ++i)
            if (i != *leader) rest.push_back(i);
          c.network().heal();
          c.network().partition({*leader}, rest);
          c.read_burst(static_cast<int>(rng.between(5, 30)));
          note(fmt::format("isolate exactly the leader {}, then a burst of reads", c.id(*leader).str()));
        }
        break;
      case 11:
        if (leader) {  // one-way around the leader: it goes unheard, or it stops hearing its followers
          const bool unheard = rng.chance(0.5);
          c.network().heal();
          for (int i = 0; i < c.size(); ++i) {
            if (i == *leader) continue;
            if (unheard) c.network().block(*leader, i);
            else c.network().block(i, *leader);
          }
          c.read_burst(static_cast<int>(rng.between(5, 30)));
          note(fmt::format("leader {} {} its followers, then a burst of reads", c.id(*leader).str(),
                           unheard ? "cannot reach" : "cannot hear"));
        }
        break;
      case 12:
        if (leader && !c.paused(*leader)) {  // the leader stalls longer than an election timeout, then wakes up
          const auto stall = Micros(static_cast<std::int64_t>(rng.between(400000, 3000000)));
          c.pause(*leader);
          note(fmt::format("pause the leader {} for {} ms", c.id(*leader).str(), stall.count() / 1000));
          c.run_for(stall);
          c.resume(*leader);
          c.read_burst(static_cast<int>(rng.between(5, 30)));
        }
        break;
      case 13:
        c.read_burst(static_cast<int>(rng.between(5, 30)));
        note("a burst of reads");
        break;
      case 14: {  // leaders fall one after another, each soon after it took over: entries of many terms, each on a few
        const int rounds = static_cast<int>(rng.between(3, 8));
        note(fmt::format("leader churn: {} leaders brought down soon after they take over", rounds));
        c.network().heal();
        for (int round = 0; round < rounds; ++round) {
          if (!c.run_until([&] { return c.leader().has_value(); }, Micros(2000000))) break;
          c.run_for(Micros(static_cast<std::int64_t>(rng.between(500, 40000))));  // it appends, replicates a little
          const auto fallen = c.leader();
          if (!fallen) continue;
          const auto dark = Micros(static_cast<std::int64_t>(rng.between(5000, 300000)));
          if (rng.chance(0.5)) {
            std::vector<int> rest;
            for (int i = 0; i < c.size(); ++i)
              if (i != *fallen) rest.push_back(i);
            c.network().partition({*fallen}, rest);
            c.run_for(dark);
            c.network().heal();
          } else {
            if (rng.chance(0.5)) c.crash(*fallen);
            else c.power_cut(*fallen);
            c.run_for(dark);
            c.restart(*fallen);
          }
        }
        break;
      }
      case 15:
        if (leader && c.size() >= 3) {
          // A follower stops hearing the leader while clients only read (so it misses no entry and stays as up to
          // date as anyone); a little later the leader is cut off from everyone. The follower's election timer
          // started early, so it campaigns inside the old leader's read lease: only the others' refusal to vote
          // while they still follow a leader keeps it from winning then. Clients go on reading from the old leader,
          // while, one by one, some turn to the follower and write there.
          int deaf = static_cast<int>(rng.between(0, static_cast<std::uint64_t>(c.size() - 2)));
          if (deaf >= *leader) ++deaf;
          c.network().heal();
          c.read_burst(static_cast<int>(rng.between(100, 400)));
          c.network().block(*leader, deaf);
          const auto gap = Micros(static_cast<std::int64_t>(rng.between(20000, 600000)));
          c.run_for(gap);
          std::vector<int> rest;
          for (int i = 0; i < c.size(); ++i)
            if (i != *leader) rest.push_back(i);
          c.network().partition({*leader}, rest);
          note(fmt::format("{} stops hearing leader {} while clients read; {} ms later the leader is cut off; clients "
                           "turn to {} one by one and write",
                           c.id(deaf).str(), c.id(*leader).str(), gap.count() / 1000, c.id(deaf).str()));
          for (int wave = 0; wave < 10; ++wave) {
            c.run_for(Micros(static_cast<std::int64_t>(rng.between(10000, 80000))));
            c.point_clients_at(deaf, 0.2);
          }
        }
        break;
      case 16: {  // leaders brought down at the worst moments: holding entries no one else has, or just as their
                  // commit index moves (what they have just committed is then on a bare majority)
        // Each fallen leader stays down while the next one takes over, and comes back when that one falls: the
        // logs of the three then hold entries of different terms at the same indexes (Raft Figure 8).
        const int rounds = static_cast<int>(rng.between(6, 12));
        note(fmt::format("precarious leaders: {} brought down the moment they hold entries alone or commit", rounds));
        const int pattern = static_cast<int>(rng.between(2, 3));  // every pattern-th falls as it commits
        c.network().heal();
        std::optional<int> fallen;
        for (int round = 0; round < rounds; ++round) {
          if (!c.run_until([&] { return c.leader().has_value(); }, Micros(2000000))) break;
          const int held = *c.leader();
          const raft::Term term = c.replica(held)->core().term();
          // Which moment: it holds entries no one else has; it has just committed; or its own disk is still
          // writing entries a follower already holds (a power cut then shortens the leader's log below what that
          // follower acknowledged to it).
          enum { kAlone, kCommitted, kAheadOfDisk } moment =
              round % pattern == pattern - 1 ? kCommitted : rng.chance(0.5) ? kAlone : kAheadOfDisk;
          const raft::Index commit = c.replica(held)->core().commit_index();
          c.run_until([&] {
            const auto* r = c.replica(held);
            if (!r || r->core().term() != term || r->core().role() != raft::Role::kLeader) return true;
            if (moment == kCommitted) return r->core().commit_index() > commit;
            const raft::Index last = r->core().log().last_index();
            bool someone_has_it = false;
            for (int i = 0; i < c.size(); ++i)
              if (i != held && c.replica(i) && c.replica(i)->core().log().last_index() >= last) someone_has_it = true;
            return moment == kAlone ? !someone_has_it : someone_has_it && c.disk_busy(held);
          }, Micros(300000));
          if (!c.up(held)) continue;
          if (moment != kAheadOfDisk && rng.chance(0.5)) c.crash(held);
          else c.power_cut(held);
          c.run_for(Micros(static_cast<std::int64_t>(rng.between(1000, 50000))));
          if (fallen) c.restart(*fallen);
          fallen = held;
        }
        if (fallen) c.restart(*fallen);
        break;
      }
      case 17: {  // the leader falls, and a voter of the election that follows loses power while its disk writes
        // (its vote, or the term it moved to): whatever it said in that term must still hold when it is back.
        if (!leader || c.size() < 3) {
          --result.faults;
          break;
        }
        c.crash(*leader);
        int voter = -1;
        c.run_until([&] {
          // A follower writing while there is no leader is writing the vote it just granted (or a term it learned).
          for (int i = 0; i < c.size(); ++i)
            if (i != *leader && c.up(i) && c.disk_busy(i) && !c.leader() &&
                c.replica(i)->core().role() == raft::Role::kFollower) {
              voter = i;
            }
          return voter >= 0;
        }, Micros(3000000));
        if (voter >= 0) {
          c.power_cut(voter);
          c.run_for(Micros(static_cast<std::int64_t>(rng.between(1000, 30000))));
          c.restart(voter);
        }
        c.restart(*leader);
        note(voter >= 0 ? fmt::format("leader {} crashed; voter {} lost power while its disk wrote, back soon after",
                                      c.id(*leader).str(), c.id(voter).str())
                        : fmt::format("leader {} crashed (no voter was writing when checked)", c.id(*leader).str()));
        break;
      }
      default:
        --result.faults;  // a quiet interval
        break;
    }
    if (membership_faults && membership_rng.chance(0.7)) {
      if (auto what = change_membership(c, membership_rng)) note(*what);
    }
  }

  // Liveness phase.
  if (c.invariants().violations().empty()) {
    note("faults stop: heal, restart and resume everyone");
    c.network().heal();
    c.network().set_faults(NetworkFaults{.min_delay = faults.min_delay, .max_delay = faults.max_delay});  // no stragglers
    for (int i = 0; i < c.size(); ++i) {
      if (!c.up(i)) c.restart(i);
      if (c.paused(i)) c.resume(i);
    }
    c.stop_clients();
    const bool live = c.run_until([&] { return c.all_clients_idle() && c.leader().has_value(); },
                                  seconds(options.liveness_seconds));
    if (!live) {
      result.violations.push_back(fmt::format("liveness: no convergence within {} s after the faults stopped",
                                              options.liveness_seconds));
      for (const auto& op : c.outstanding_ops()) result.violations.push_back("  still outstanding: " + op);
      if (!c.leader()) result.violations.push_back("  no leader");
    }
  }
  for (const auto& v : c.invariants().violations()) result.violations.push_back("safety: " + v);
  for (const auto& v : c.double_answers()) result.violations.push_back("gateway: " + v);
  const auto history = c.history();
  const auto lin = check_linearizability(history, std::chrono::seconds(10));
  result.linearizable = lin.verdict;
  if (lin.verdict == Verdict::kViolation) result.violations.push_back("linearizability: " + lin.explanation);
  result.simulated_seconds = c.world().now().time_since_epoch().count() / 1e6;
  result.committed = c.invariants().committed();
  result.operations = c.completed_ops();
  result.power_cuts = c.power_cuts();
  result.unsynced_writes_lost = c.unsynced_writes_lost();
  result.membership_changes = c.membership_changes();
  result.messages = c.network().stats().sent;
  for (const auto& op : history)
    if (op.completed) result.latencies_us.push_back(op.completed_us - op.invoked_us);
  if (timeline) {
    c.set_step_observer({});
    for (const auto& op : history) {
      const std::optional<double> completed =
          op.completed ? std::optional<double>(op.completed_us / 1e6) : std::nullopt;
      static constexpr const char* kKinds[] = {"get", "put", "delete", "cas"};
      timeline->operation(op.invoked_us / 1e6, completed, kKinds[static_cast<int>(op.kind)], op.completed);
    }
    timeline->note(result.schedule.front().substr(11));
    timeline->note(fmt::format("{} operations, {} committed entries, linearizability: {}, violations: {}",
                               result.operations, result.committed, verdict_name(result.linearizable),
                               result.violations.size()));
    timeline->note(fmt::format("reproduce: kvsim --seeds 1 --seed {} --replicas {} --timeline FILE", seed,
                               result.replicas));
    timeline->finish(now_seconds());
    result.timeline = timeline;
  }
  return result;
}

}  // namespace coraft::test
