// Real processes, real disks: three kvstore replicas in cluster mode (fsync always, small snapshot threshold) under a
// write load from several concurrent clients, while replicas are SIGKILLed and restarted: the leader, a follower
// long enough for the leader to compact past it (so it comes back through InstallSnapshot), and all three at once.
// Afterwards every key must read as its last acknowledged write (or a later write whose answer was lost), and the
// replicas must converge. Writers overwrite a small set of keys, so the store stays small and the log is compacted
// often (a replica snapshots at most once per as many entries as there are keys).
//
// Kills are paced by acknowledged writes, not by wall-clock sleeps, so the schedule is the same on a slow machine.

#include "actors/spawn.hpp"
#include "net/client.hpp"
#include "net/exit_codes.hpp"
#include "process.hpp"
#include "process_helpers.hpp"

#include <asio/io_context.hpp>
#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <set>

using namespace coraft;
using namespace std::chrono_literals;

namespace {

// Three replicas on free loopback ports, each with its data and logs under one temporary folder.
struct Cluster {
  Cluster(const std::string& name, int snapshot_entries)
      : dir(testing::fresh_test_dir(name)),
        config_path(testing::write_test_cluster(dir, fmt::format(R"(, "snapshot_entries": {})", snapshot_entries))) {}

  std::filesystem::path dir;
  std::string config_path;
  std::map<raft::NodeId, std::unique_ptr<chaos::ChildProcess>> replicas;
  std::map<raft::NodeId, int> starts;

  void start(raft::NodeId id) {
    const int n = ++starts[id];
    replicas[id] = std::make_unique<chaos::ChildProcess>(
        std::vector<std::string>{CORAFT_KVSTORE_PATH, "--config", config_path, "--id", id.str(), "--data-dir",
                                 (dir / id.str()).string(), "--log-level", "info", "--fsync", "always"},
        (dir / fmt::format("{}.{}.log", id.str(), n)).string());
  }
  void kill(raft::NodeId id) { replicas.at(id)->kill_and_wait(SIGKILL); }

  // Waits (up to 10 s) until every replica answers a status request. Returns what is wrong otherwise, with the logs of
  // the replicas that did not answer: one that could not start would leave a two-member cluster that cannot survive
  // the first kill, and the writers would wait out their deadlines for an hour instead of the test failing at once.
  std::string not_serving(asio::io_context& io, net::Client& observer, const std::vector<raft::NodeId>& ids) {
    std::set<raft::NodeId> answered;
    testing::run(io, [&]() -> asio::awaitable<void> {
      const auto give_up = std::chrono::steady_clock::now() + 10s;
      while (answered.size() < ids.size() && std::chrono::steady_clock::now() < give_up) {
        for (auto id : ids) {
          if (!answered.count(id) && co_await observer.status(id, 200ms)) answered.insert(id);
        }
      }
    });
    io.restart();  // for the caller's io.run()
    std::string problem;
    for (auto id : ids) {
      if (answered.count(id)) continue;
      const auto log = dir / fmt::format("{}.{}.log", id.str(), starts.at(id));
      problem += fmt::format("{} does not answer ({}); its log ends:\n{}", id.str(),
                             replicas.at(id)->running() ? "running" : "exited", testing::last_lines(log.string(), 5));
    }
    return problem;
  }
};

}  // namespace

TEST_CASE("acknowledged writes survive SIGKILL of the leader, of a lagging follower, and of every replica",
          "[net][process][durability]") {
  Cluster cluster("crash", 150);
  const std::vector<raft::NodeId> ids{raft::NodeId{0}, raft::NodeId{1}, raft::NodeId{2}};
  for (auto id : ids) cluster.start(id);

  asio::io_context io;
  auto endpoints = net::resolve(io, net::load_cluster_config(cluster.config_path));
  net::ClientSettings settings;
  settings.deadline = 15s;  // a whole-cluster restart must be over well within this

  constexpr int kWriters = 8;
  constexpr int kWritesPerWriter = 250;
  constexpr int kKeysPerWriter = 20;
  std::vector<std::unique_ptr<net::Client>> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.push_back(std::make_unique<net::Client>(io, endpoints, actors::Rng(100 + w), settings));
  }
  net::Client observer(io, endpoints, actors::Rng(7), settings);
  const std::string not_serving = cluster.not_serving(io, observer, ids);
  INFO(not_serving);
  REQUIRE(not_serving.empty());

  // Per key, in write order: (write number, acknowledged?). Each key has one writer, so writes to it never overlap.
  std::map<std::string, std::vector<std::pair<int, bool>>> writes;
  int acks = 0, ambiguous = 0, rejected = 0;
  int writers_done = 0;
  bool schedule_failed = false;  // the writers stop: the test has failed, and waiting out their deadlines helps nobody
  std::vector<std::string> events;

  // The fault schedule, in acknowledged writes.
  auto find_leader = [&]() -> asio::awaitable<std::optional<raft::NodeId>> {
    for (int round = 0; round < 50; ++round) {
      for (auto id : ids) {
        if (!cluster.replicas.at(id)->running()) continue;
        auto status = co_await observer.status(id, 200ms);
        if (status && status->role == raft::Role::kLeader) co_return id;
      }
    }
    co_return std::nullopt;
  };
  auto wait_for_acks = [&](int target) -> asio::awaitable<void> {
    asio::steady_timer tick(io);
    while (acks < target && writers_done < kWriters) {
      tick.expires_after(5ms);  // polls a counter; the schedule itself is paced by acknowledgements
      co_await tick.async_wait(asio::use_awaitable);
    }
  };

  for (int w = 0; w < kWriters; ++w) {
    actors::spawn(io.get_executor(), fmt::format("writer-{}", w), [&, w]() -> asio::awaitable<void> {
      for (int i = 0; i < kWritesPerWriter && !schedule_failed; ++i) {
        const std::string key = fmt::format("w{}-k{}", w, i % kKeysPerWriter);
        const std::string value = std::to_string(i);
        auto result = co_await writers[w]->put(key, value);
        writes[key].emplace_back(i, result.outcome == net::Outcome::kOk);
        if (result.outcome == net::Outcome::kOk) {
          ++acks;
        } else if (result.outcome == net::Outcome::kUnavailable) {
          ++ambiguous;  // may or may not have been applied
        } else {
          ++rejected;
        }
      }
      ++writers_done;
    });
  }

  actors::spawn(io.get_executor(), "fault-schedule", [&]() -> asio::awaitable<void> {
    co_await wait_for_acks(200);
    auto leader = co_await find_leader();
    if (!leader) {
      events.push_back("no leader found");
      schedule_failed = true;
      co_return;
    }
    events.push_back(fmt::format("kill leader {} at {} acks", leader->str(), acks));
    cluster.kill(*leader);
    co_await wait_for_acks(acks + 150);
    events.push_back(fmt::format("restart {} at {} acks", leader->str(), acks));
    cluster.start(*leader);

    // A follower stays down while the leader compacts well past it: it must come back through InstallSnapshot.
    co_await wait_for_acks(acks + 100);
    leader = co_await find_leader();
    if (!leader) {
      events.push_back("no leader found");
      schedule_failed = true;
      co_return;
    }
    const raft::NodeId follower = *leader == ids[0] ? ids[1] : ids[0];
    events.push_back(fmt::format("kill follower {} at {} acks", follower.str(), acks));
    cluster.kill(follower);
    co_await wait_for_acks(acks + 600);
    events.push_back(fmt::format("restart {} at {} acks", follower.str(), acks));
    cluster.start(follower);

    // Everyone at once: only what reached the disks survives, and that must be every acknowledged write.
    co_await wait_for_acks(acks + 200);
    events.push_back(fmt::format("kill all at {} acks", acks));
    for (auto id : ids) cluster.kill(id);
    for (auto id : ids) cluster.start(id);
    events.push_back("restarted all");
  });

  io.run();
  io.restart();
  std::string schedule;
  for (const auto& e : events) schedule += e + "; ";
  INFO(schedule);
  INFO(fmt::format("acks {}, ambiguous {}, rejected {}", acks, ambiguous, rejected));
  REQUIRE(writers_done == kWriters);
  REQUIRE(!schedule_failed);
  REQUIRE(cluster.starts.at(ids[0]) + cluster.starts.at(ids[1]) + cluster.starts.at(ids[2]) == 3 + 1 + 1 + 3);
  CHECK(rejected == 0);
  // The load kept going through every fault: nearly everything was acknowledged.
  CHECK(acks >= kWriters * kWritesPerWriter * 9 / 10);

  // Every key reads as its last acknowledged write, or as a later write whose answer was lost (which may or may not
  // have been applied); never as anything older.
  int missing = 0, wrong = 0, unanswered = 0;
  std::vector<std::string> wrong_keys;
  actors::spawn(io.get_executor(), "verify", [&]() -> asio::awaitable<void> {
    for (const auto& [key, history] : writes) {
      auto last_ack = std::find_if(history.rbegin(), history.rend(), [](const auto& w) { return w.second; });
      std::set<std::string> allowed;
      for (auto it = history.rbegin(); it != last_ack; ++it) allowed.insert(std::to_string(it->first));
      if (last_ack != history.rend()) allowed.insert(std::to_string(last_ack->first));
      auto result = co_await observer.get(key);
      if (result.outcome != net::Outcome::kOk) ++unanswered;
      else if (!result.reply.value) missing += last_ack != history.rend();
      else if (!allowed.count(*result.reply.value)) {
        ++wrong;
        wrong_keys.push_back(key + "=" + *result.reply.value);
      }
    }
  });
  io.run();
  io.restart();
  INFO(fmt::format("wrong: {}", fmt::join(wrong_keys, ", ")));
  CHECK(unanswered == 0);
  CHECK(missing == 0);
  CHECK(wrong == 0);
  CHECK(writes.size() == kWriters * kKeysPerWriter);

  // Convergence: every replica applies the same prefix and holds the same number of keys. Polled with a deadline.
  bool converged = false;
  std::string last_seen;
  actors::spawn(io.get_executor(), "converge", [&]() -> asio::awaitable<void> {
    const auto deadline = std::chrono::steady_clock::now() + 15s;
    asio::steady_timer tick(io);
    while (!converged && std::chrono::steady_clock::now() < deadline) {
      std::vector<actors::ReplicaStatus> statuses;
      for (auto id : ids) {
        auto status = co_await observer.status(id, 300ms);
        if (status) statuses.push_back(*status);
      }
      last_seen.clear();
      for (const auto& s : statuses) {
        last_seen += fmt::format("{}: applied {} keys {}; ", s.id.str(), s.applied_index, s.keys);
      }
      converged = statuses.size() == ids.size() && statuses[0].applied_index > 0;
      for (const auto& s : statuses) {
        converged = converged && s.applied_index == statuses[0].applied_index && s.keys == statuses[0].keys;
      }
      if (!converged) {
        tick.expires_after(50ms);
        co_await tick.async_wait(asio::use_awaitable);
      }
    }
  });
  io.run();
  INFO(last_seen);
  CHECK(converged);
  // The lagging follower needed a snapshot: its log shows it installed one.
  bool installed = false;
  for (const auto& entry : std::filesystem::directory_iterator(cluster.dir)) {
    if (entry.path().extension() != ".log") continue;
    std::ifstream log(entry.path());
    std::string line;
    while (std::getline(log, line)) installed = installed || line.find("installing the leader's snapshot") != std::string::npos;
  }
  CHECK(installed);

  for (auto& [id, process] : cluster.replicas) process->kill_and_wait(SIGTERM);
  const bool passed = unanswered == 0 && missing == 0 && wrong == 0 && converged && installed;
  if (passed) std::filesystem::remove_all(cluster.dir);
  else WARN("replica logs kept in " << cluster.dir.string());
}

TEST_CASE("a replica whose disk fills up stops instead of acknowledging, and the others go on",
          "[net][process][durability]") {
  Cluster cluster("full", 0);
  const std::vector<raft::NodeId> ids{raft::NodeId{0}, raft::NodeId{1}, raft::NodeId{2}};
  const raft::NodeId full{2};
  cluster.start(ids[0]);
  cluster.start(ids[1]);
  // A file-size limit stands in for a full disk: every write past it fails (EFBIG), as ENOSPC would.
  cluster.replicas[full] = std::make_unique<chaos::ChildProcess>(
      std::vector<std::string>{"/usr/bin/prlimit", "--fsize=150000", "--", CORAFT_KVSTORE_PATH, "--config", cluster.config_path,
                               "--id", full.str(), "--data-dir", (cluster.dir / full.str()).string(), "--log-level",
                               "info"},
      (cluster.dir / "0002.full.log").string());

  asio::io_context io;
  auto endpoints = net::resolve(io, net::load_cluster_config(cluster.config_path));
  net::ClientSettings settings;
  settings.deadline = 15s;
  net::Client writer(io, endpoints, actors::Rng(1), settings);
  std::map<std::string, std::string> acknowledged;
  int ambiguous = 0;
  actors::spawn(io.get_executor(), "writer", [&]() -> asio::awaitable<void> {
    const std::string padding(100, 'x');
    for (int i = 0; i < 2500; ++i) {
      const std::string key = fmt::format("k{}", i);
      const std::string value = fmt::format("{}-{}", i, padding);
      auto result = co_await writer.put(key, value);
      if (result.outcome == net::Outcome::kOk) acknowledged[key] = value;
      else ++ambiguous;
    }
  });
  io.run();
  io.restart();
  INFO(fmt::format("acknowledged {}, ambiguous {}", acknowledged.size(), ambiguous));
  CHECK(acknowledged.size() >= 2400);

  // The replica with the full disk stopped on its own, with the storage exit status and the reason in its log.
  auto& victim = *cluster.replicas.at(full);
  // By now it has long passed its limit: it must have stopped, or stop within seconds.
  REQUIRE(testing::wait_until([&] { return !victim.running(); }, 10s));
  CHECK(victim.exited_by_itself());
  CHECK(WIFEXITED(victim.exit_status()));
  CHECK(WEXITSTATUS(victim.exit_status()) == exit_code::kStorage);
  std::ifstream log(cluster.dir / "0002.full.log");
  const std::string log_text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
  CHECK(log_text.find("cannot persist") != std::string::npos);

  // Given room again it comes back (its torn tail cut) and catches up; nothing acknowledged was lost anywhere.
  cluster.start(full);
  net::Client reader(io, endpoints, actors::Rng(2), settings);
  int missing = 0;
  bool converged = false;
  actors::spawn(io.get_executor(), "verify", [&]() -> asio::awaitable<void> {
    for (const auto& [key, value] : acknowledged) {
      auto result = co_await reader.get(key);
      if (result.outcome != net::Outcome::kOk || result.reply.value != value) ++missing;
    }
    asio::steady_timer tick(io);
    const auto deadline = std::chrono::steady_clock::now() + 15s;
    while (!converged && std::chrono::steady_clock::now() < deadline) {
      auto a = co_await reader.status(ids[0], 300ms);
      auto b = co_await reader.status(full, 300ms);
      converged = a && b && a->applied_index > 0 && a->applied_index == b->applied_index && a->keys == b->keys;
      if (!converged) {
        tick.expires_after(50ms);
        co_await tick.async_wait(asio::use_awaitable);
      }
    }
  });
  io.run();
  CHECK(missing == 0);
  CHECK(converged);
  for (auto& [id, process] : cluster.replicas) process->kill_and_wait(SIGTERM);
  if (missing == 0 && converged) std::filesystem::remove_all(cluster.dir);
}
