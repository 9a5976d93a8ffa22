#include "net/kvctl_commands.hpp"

#include "actors/logger.hpp"
#include "actors/spawn.hpp"
#include "net/backup_client.hpp"
#include "net/client.hpp"
#include "net/cluster_config.hpp"
#include "net/codec.hpp"
#include "net/http_client.hpp"
#include "net/secret_file.hpp"
#include "version/version.hpp"
#include "net/exit_codes.hpp"
#include "raft/core.hpp"

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <iostream>
#include <random>


namespace coraft::net {
namespace {


// How long `status`, `leader` and `metrics` wait for each replica. Refusals (nothing listening) come back at once.
constexpr std::chrono::milliseconds kStatusTimeout(500);

// Says why an operation got no definite answer, worded for what it was: a read that timed out changed nothing; a
// write that timed out may or may not have been applied.
int report_failure(const net::CallResult& r, const net::Client& client, std::string_view operation,
                   const std::string& key, bool write, double timeout_s) {
  if (r.outcome == net::Outcome::kRejected) {
    const bool unauthorized = r.reply.reason == net::kUnauthorizedReason;
    fmt::print(stderr, "kvctl: refused: {}{}\n", r.reply.reason,
               unauthorized ? " (the cluster wants a client token: client_token_file in the cluster file, readable "
                              "by this user, holding the cluster's token)"
                            : "");
    return exit_code::kRefused;
  }
  if (r.nothing_listens) {
    fmt::print(stderr, "kvctl: {} {}: no replica is running: nothing listens at {} (`make run` starts a local "
                       "cluster)\n", operation, key, client.addresses(r.tried));
    return exit_code::kNoAnswer;
  }
  fmt::print(stderr, "kvctl: {} {}: no answer within {} s from {} ({} attempts); {}. Is a majority of the replicas "
                     "running? `kvctl status` shows which answer\n",
             operation, key, timeout_s, client.addresses(r.tried), r.attempts,
             write ? fmt::format("the write may or may not have been applied (`kvctl get {}` tells)", key)
                   : "nothing was changed");
  return exit_code::kNoAnswer;
}

std::string contact(std::int64_t ms) { return ms < 0 ? "never" : fmt::format("{} ms ago", ms); }

// The leader's view of the cluster (its status names every member and how far each has come), else any replica's.
asio::awaitable<std::optional<actors::ReplicaStatus>> cluster_view(net::Client& client) {
  std::optional<actors::ReplicaStatus> any;
  for (int round = 0; round < 2; ++round) {  // a second round reaches members the first one named
    const auto known = client.replicas();
    for (const auto& [id, endpoint] : known) {
      auto s = co_await client.status(id, kStatusTimeout);
      if (!s) continue;
      if (s->role == raft::Role::kLeader) co_return s;
      if (!any || s->membership_index > any->membership_index) any = s;
      if (s->leader.valid() && !known.count(s->leader)) break;  // learned of a leader we did not know: ask it
    }
  }
  co_return any;
}

std::string member_role(const actors::ReplicaStatus& view, const raft::Member& m) {
  const auto& leaving = view.outgoing_voters;
  if (m.voter) return "voter";
  return std::find(leaving.begin(), leaving.end(), m.id) != leaving.end() ? "voter (leaving)" : "learner";
}

// member list / add / promote / remove, and transfer-leader.
asio::awaitable<int> membership_command(net::Client& client, std::string_view what, const std::string& id,
                                        const std::string& address, bool learner_only, bool json_output,
                                        double timeout_s) {
  if (what == "list") {
    auto view = co_await cluster_view(client);
    if (!view) {
      fmt::print(stderr, "kvctl: no replica answered (`kvctl status` shows which run)\n");
      co_return exit_code::kNoAnswer;
    }
    nlohmann::json all = nlohmann::json::array();
    if (!json_output) fmt::print("{:<6} {:<22} {:<16} {}\n", "ID", "ADDRESS", "ROLE", "LAG");
    for (const raft::Member& m : view->members) {
      std::optional<raft::Index> lag;
      if (m.id == view->id) lag = 0;
      for (const auto& f : view->followers)
        if (f.id == m.id) lag = view->last_log_index - std::min(f.match_index, view->last_log_index);
      const std::string role = member_role(*view, m) + (m.id == view->leader ? ", leader" : "");
      if (json_output) {
        nlohmann::json j = {{"id", m.id.str()}, {"address", m.address}, {"role", member_role(*view, m)},
                            {"leader", m.id == view->leader}};
        if (lag && view->role == raft::Role::kLeader) j["lag"] = *lag;
        all.push_back(j);
      } else {
        fmt::print("{:<6} {:<22} {:<16} {}\n", m.id.str(), m.address.empty() ? "-" : m.address, role,
                   lag && view->role == raft::Role::kLeader ? std::to_string(*lag) : "-");
      }
    }
    if (json_output) fmt::print("{}\n", all.dump(2));
    co_return exit_code::kDone;
  }
  // Refusals that say "not now" (raft::change_may_succeed_later) are asked again, of whoever leads, until the
  // timeout; the others are final.
  const auto give_up_at =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(static_cast<std::int64_t>(timeout_s * 1000));
  auto ask = [&](actors::RequestKind kind, const std::string& value) -> asio::awaitable<std::optional<int>> {
    const std::string target = id;
    for (;;) {
      auto r = co_await client.change(kind, target, value);
      if (r.outcome == net::Outcome::kOk) co_return std::nullopt;
      if (r.outcome == net::Outcome::kRejected) {
        if (raft::change_may_succeed_later(r.reply.reason) && std::chrono::steady_clock::now() < give_up_at) {
          asio::steady_timer pause(co_await asio::this_coro::executor, std::chrono::milliseconds(50));
          co_await pause.async_wait(asio::use_awaitable);
          continue;
        }
        fmt::print(stderr, "kvctl: {}: {}\n", what, r.reply.reason);
        co_return exit_code::kRefused;
      }
      co_return report_failure(r, client, std::string(what), id, true, timeout_s);
    }
  };
  if (what == "add") {
    if (auto failed = co_await ask(actors::RequestKind::kAddLearner, address)) co_return *failed;
    fmt::print("{} added as a learner\n", id);
    if (learner_only) co_return exit_code::kDone;
    if (auto failed = co_await ask(actors::RequestKind::kPromote, "")) co_return *failed;
    fmt::print("{} caught up and is a voter\n", id);
    co_return exit_code::kDone;
  }
  if (what == "promote") {
    if (auto failed = co_await ask(actors::RequestKind::kPromote, "")) co_return *failed;
    fmt::print("{} caught up and is a voter\n", id);
    co_return exit_code::kDone;
  }
  if (what == "replace") {  // `address` carries the voter that leaves
    if (auto failed = co_await ask(actors::RequestKind::kReplaceMember, address)) co_return *failed;
    fmt::print("{} caught up and replaced {}\n", id, address);
    co_return exit_code::kDone;
  }
  if (what == "remove") {
    // A leader that removes itself keeps leading until the change commits, then hands over (raft/core.cpp).
    if (auto failed = co_await ask(actors::RequestKind::kRemoveMember, "")) co_return *failed;
    fmt::print("{} removed\n", id);
    co_return exit_code::kDone;
  }
  // transfer-leader: the old leader says done once it sees the new one lead; confirm from the new leader itself.
  if (auto failed = co_await ask(actors::RequestKind::kTransferLeader, "")) co_return *failed;
  // Polled every 5 ms for up to a second (an election timeout or two).
  for (int round = 0; round < 200; ++round) {
    auto view = co_await cluster_view(client);
    if (view && view->role == raft::Role::kLeader && (id.empty() || view->id.str() == id)) {
      fmt::print("{} leads (term {})\n", view->id.str(), view->term);
      co_return exit_code::kDone;
    }
    asio::steady_timer pause(co_await asio::this_coro::executor, std::chrono::milliseconds(5));
    co_await pause.async_wait(asio::use_awaitable);
  }
  fmt::print(stderr, "kvctl: transfer-leader: handed over, but no replica confirmed it leads\n");
  co_return exit_code::kNoAnswer;
}

// Why a replica gave no status: nothing listens at its address, or it stayed silent.
std::string silence(const net::Client& client, raft::NodeId id) {
  return client.refusing(id) ? fmt::format("not running (nothing listens at {})", client.address(id))
                             : fmt::format("no answer within {} ms", kStatusTimeout.count());
}

// An HTTP answer that is not what was asked: the exit code, and why on stderr.
int report_http_failure(const net::ConsulKvClient::Answer& answer) {
  if (answer.status == 0) {
    fmt::print(stderr, "kvctl: no replica answered over HTTP: {}\n", answer.error);
    return exit_code::kNoAnswer;
  }
  std::string why = answer.body;
  while (!why.empty() && why.back() == '\n') why.pop_back();
  fmt::print(stderr, "kvctl: {} ({})\n", why, answer.status);
  return answer.status >= 500 ? exit_code::kNoAnswer : exit_code::kRefused;
}

// Follows a key or a prefix with blocking queries and prints each change as "[index] put KEY VALUE" or
// "[index] del KEY": first what is there, then every change as it is applied. Stops after `count` changes (0: never).
// A replica that does not answer is retried after a pause: a watch outlives elections.
asio::awaitable<int> watch(net::ConsulKvClient& http, const kv::KeyRange& range, std::uint64_t count) {
  std::map<std::string, kv::KeyValue> seen;
  std::uint64_t index = 0, changes = 0;
  bool first = true;
  asio::steady_timer pause(co_await asio::this_coro::executor);
  for (;;) {
    auto answer = co_await http.read(range, index, std::chrono::minutes(5));
    if (answer.status != 200 && answer.status != 404) {
      if (answer.status == 403 || answer.status == 400 || answer.status == 413) co_return report_http_failure(answer);
      fmt::print(stderr, "kvctl: watch: {}; trying again\n",
                 answer.status == 0 ? answer.error : fmt::format("HTTP {}", answer.status));
      pause.expires_after(std::chrono::seconds(1));
      co_await pause.async_wait(asio::use_awaitable);
      continue;
    }
    // Consul's rule: an index that goes back (another replica, a restore) starts the watch afresh.
    if (answer.index < index) index = 0;
    std::map<std::string, kv::KeyValue> now;
    for (auto& entry : answer.entries) now.emplace(entry.key, std::move(entry));
    std::uint64_t printed = 0;
    for (const auto& [key, entry] : now) {
      auto before = seen.find(key);
      if (before != seen.end() && before->second.modify_index == entry.modify_index) continue;
      fmt::print("[{}] put {} {}\n", entry.modify_index, key, entry.value);
      ++printed;
    }
    for (const auto& [key, entry] : seen) {
      if (now.count(key)) continue;
      fmt::print("[{}] del {}\n", answer.index, key);
      ++printed;
    }
    std::fflush(stdout);
    if (!first) changes += printed;
    first = false;
    seen = std::move(now);
    index = std::max<std::uint64_t>(answer.index, 1);
    if (count > 0 && changes >= count) co_return exit_code::kDone;
  }
}

}  // namespace

int run_kvctl(KvctlCommandLine c) {
  if (c.chosen.keygen) {
    try {
      net::create_secret_file(c.keygen_path);
    } catch (const std::exception& e) {
      fmt::print(stderr, "kvctl: {}\n", e.what());
      return exit_code::kCannotCreate;
    }
    fmt::print("wrote a new {}-bit secret to {} (mode 0600). Copy it to every replica (and, for client_token_file, to "
               "every client) and keep it private.\n",
               net::kNewSecretBytes * 8, c.keygen_path);
    return exit_code::kDone;
  }
  if (c.chosen.cas) {
    // With --absent the positional arguments are KEY NEW.
    const std::size_t given = c.cas_values_given;
    if (c.expect_absent && given == 1) {
      c.value = c.expected;
    } else if (c.expect_absent || given != 2) {
      fmt::print(stderr, "kvctl: cas takes KEY EXPECTED NEW, or --absent KEY NEW\n");
      return exit_code::kUsage;
    }
  }

  actors::configure_logging(std::nullopt);
  asio::io_context io(1);
  net::ClusterAccess cluster;
  try {
    cluster = net::open_cluster(io, c.cluster_path);
  } catch (const net::ConfigError& e) {
    fmt::print(stderr, "kvctl: {}\n", e.what());
    return net::exit_code_for(e);
  }
  const auto& replicas = cluster.replicas;
  std::vector<raft::NodeId> wanted;  // metrics: the replicas asked about, in the order given
  for (const auto& text : c.metrics_ids) {
    const auto id = raft::NodeId::parse(text);
    if (!id || !id->valid()) {
      fmt::print(stderr, "kvctl: \"{}\" is not a replica id (4 hex digits, as in the cluster file)\n", text);
      return exit_code::kUsage;
    }
    if (!replicas.count(*id)) {
      std::vector<std::string> known;
      for (const auto& [known_id, endpoint] : replicas) known.push_back(known_id.str());
      fmt::print(stderr, "kvctl: there is no replica {} in {} (its replicas: {})\n", id->str(), c.cluster_path,
                 fmt::join(known, ", "));
      return exit_code::kUsage;
    }
    wanted.push_back(*id);
  }
  net::ClientSettings settings;
  settings.token = cluster.token;
  settings.give_up_when_refused_for = net::kInteractiveRefusalGrace;
  settings.deadline = std::chrono::milliseconds(static_cast<std::int64_t>(c.timeout_s * 1000));
  const std::uint64_t seed = std::random_device{}() ^
                             static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  net::Client client(io, replicas, actors::Rng(seed), settings);
  std::unique_ptr<net::ConsulKvClient> http;  // get --prefix and watch
  if ((c.chosen.get && c.prefix) || c.chosen.watch_cmd) {
    try {
      http = std::make_unique<net::ConsulKvClient>(io, net::http_addresses(cluster.config), cluster.token);
    } catch (const net::ConfigError& e) {
      fmt::print(stderr, "kvctl: {}\n", e.what());
      return exit_code::kConfig;
    }
    http->timeout = settings.deadline;
  }

  int code = exit_code::kDone;
  auto run = [&]() -> asio::awaitable<void> {
    if (c.chosen.watch_cmd) {
      const kv::KeyRange watched{c.key, c.prefix};  // named: GCC 12 destroys a temporary in co_await twice
      code = co_await watch(*http, watched, c.watch_count);
      co_return;
    }
    if (c.chosen.get && c.prefix) {
      const kv::KeyRange under{c.key, true};
      auto answer = co_await http->read(under);
      if (answer.status == 404) {
        fmt::print(stderr, "kvctl: no key starts with \"{}\"\n", c.key);
        code = exit_code::kNo;
      } else if (answer.status != 200) {
        code = report_http_failure(answer);
      } else {
        for (const auto& entry : answer.entries) fmt::print("{}:{}\n", entry.key, entry.value);
      }
      co_return;
    }
    if (c.chosen.backup) {
      const auto started = std::chrono::steady_clock::now();
      const net::SavedBackup saved = co_await net::save_backup(client, c.backup_path);
      if (!saved.ok) {
        fmt::print(stderr, "kvctl: backup failed: {}\n", saved.error);
        code = saved.exit_code;
        co_return;
      }
      fmt::print("backup of the committed state at index {} (term {}), taken by {}: {} bytes, crc32c {:08x}, "
                 "written to {} in {:.1f} s\n",
                 saved.index, saved.term, saved.taken_by.str(), saved.bytes, saved.crc, c.backup_path,
                 std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
      co_return;
    }
    if (c.chosen.del && c.prefix) {
      const net::CallResult r = co_await client.del_prefix(c.key);
      if (r.outcome != net::Outcome::kOk) {
        code = report_failure(r, client, "del --prefix", c.key, true, c.timeout_s);
      } else {
        fmt::print("deleted {}\n", r.reply.value.value_or("0"));
      }
      co_return;
    }
    if (c.chosen.metrics) {
      if (wanted.empty())
        for (const auto& [id, endpoint] : replicas) wanted.push_back(id);
      int answered = 0;
      for (raft::NodeId id : wanted) {
        auto s = co_await client.status(id, kStatusTimeout);
        if (!s) {
          fmt::print("# replica {}: {}\n", id.str(), silence(client, id));
          continue;
        }
        ++answered;
        fmt::print("{}", s->metrics);
      }
      // Asked about some: each must answer. Asked about all: a partial picture is still a picture.
      if (answered == 0 || (!c.metrics_ids.empty() && answered < static_cast<int>(wanted.size()))) {
        code = exit_code::kNoAnswer;
      }
      co_return;
    }
    if (c.chosen.member || c.chosen.transfer) {
      code = co_await membership_command(client, c.chosen.member_list ? "list"
                                                 : c.chosen.member_add ? "add"
                                                 : c.chosen.member_promote ? "promote"
                                                 : c.chosen.member_remove ? "remove"
                                                 : c.chosen.member_replace ? "replace"
                                                                           : "transfer",
                                         c.member_id, c.chosen.member_replace ? c.replaced_id : c.member_address,
                                         c.learner_only, c.json_output, c.timeout_s);
      co_return;
    }
    if (c.chosen.leader) {
      // Every replica the client knows of, including members it learns of from the answers (added since the
      // cluster file was written).
      std::optional<std::pair<raft::Term, raft::NodeId>> newest;
      std::set<raft::NodeId> asked;
      for (bool more = true; more;) {
        more = false;
        const auto known = client.replicas();
        for (const auto& [id, endpoint] : known) {
          if (!asked.insert(id).second) continue;
          more = true;
          auto s = co_await client.status(id, kStatusTimeout);
          if (s && s->role == raft::Role::kLeader && (!newest || s->term > newest->first)) newest = {s->term, id};
        }
      }
      if (newest) {
        fmt::print("{}\n", newest->second.str());
      } else {
        fmt::print(stderr, "kvctl: no replica leads right now (an election may be under way, or too few replicas "
                           "are running: `kvctl status` shows them)\n");
        code = exit_code::kNoAnswer;
      }
      co_return;
    }
    if (c.chosen.status) {
      // The configuration names members the cluster file may not list (added since): they are shown too.
      const auto view = co_await cluster_view(client);
      auto config_role = [&](raft::NodeId id) -> std::string {
        if (!view) return "unknown";
        for (const auto& m : view->members)
          if (m.id == id) return member_role(*view, m) == "voter (leaving)" ? "leaving" : member_role(*view, m);
        return "not member";
      };
      nlohmann::json all = nlohmann::json::array();
      if (!c.json_output) {
        fmt::print("{:<6} {:<11} {:<14} {:>6} {:<6} {:>9} {:>9} {:>9} {:>9} {:>8}  {}\n", "ID", "MEMBER", "ROLE",
                   "TERM", "LEADER", "COMMIT", "APPLIED", "LAST LOG", "SNAPSHOT", "KEYS",
                   "LEADER CONTACT / FOLLOWER LAG");
      }
      int reachable = 0;
      const auto known = client.replicas();
      for (const auto& [id, endpoint] : known) {
        auto s = co_await client.status(id, kStatusTimeout);
        if (c.json_output) {
          nlohmann::json j = {{"id", id.str()},
                              {"address", fmt::format("{}:{}", endpoint.address().to_string(), endpoint.port())},
                              {"member", config_role(id)}};
          if (s) {
            j["reachable"] = true;
            j["role"] = std::string(raft::role_name(s->role));
            j["term"] = s->term;
            j["leader"] = s->leader.str();
            j["commit_index"] = s->commit_index;
            j["applied_index"] = s->applied_index;
            j["last_log_index"] = s->last_log_index;
            j["keys"] = s->keys;
            j["snapshot_index"] = s->snapshot_index;
            j["last_leader_contact_ms"] = s->last_leader_contact_ms;
            nlohmann::json followers = nlohmann::json::object();
            for (const auto& f : s->followers) {
              followers[f.id.str()] = {{"match_index", f.match_index},
                                       {"lag", s->last_log_index - std::min(f.match_index, s->last_log_index)}};
            }
            j["followers"] = followers;
          } else {
            j["reachable"] = false;
            j["running"] = !client.refusing(id);  // false: nothing listens at its address
          }
          all.push_back(j);
        } else if (s) {
          std::string last = contact(s->last_leader_contact_ms);
          if (!s->followers.empty()) {
            last.clear();
            for (const auto& f : s->followers) {
              last += fmt::format("{}{}: {}", last.empty() ? "" : ", ", f.id.str(),
                                  s->last_log_index - std::min(f.match_index, s->last_log_index));
            }
          }
          fmt::print("{:<6} {:<11} {:<14} {:>6} {:<6} {:>9} {:>9} {:>9} {:>9} {:>8}  {}\n", id.str(), config_role(id),
                     raft::role_name(s->role), s->term, s->leader.valid() ? s->leader.str() : "-", s->commit_index,
                     s->applied_index, s->last_log_index, s->snapshot_index, s->keys, last);
        } else {
          fmt::print("{:<6} {:<11} {}\n", id.str(), config_role(id), silence(client, id));
        }
        reachable += s.has_value();
      }
      if (c.json_output) fmt::print("{}\n", all.dump(2));
      if (reachable == 0) code = exit_code::kNoAnswer;
      co_return;
    }
    net::CallResult r;
    if (c.chosen.put) r = co_await client.put(c.key, c.value);
    else if (c.chosen.get) r = co_await client.get(c.key);
    else if (c.chosen.del) r = co_await client.del(c.key);
    else {
      const std::optional<std::string> must_hold = c.expect_absent ? std::nullopt : std::optional<std::string>(c.expected);
      r = co_await client.cas(c.key, must_hold, c.value);
    }
    if (r.outcome != net::Outcome::kOk) {
      code = report_failure(r, client, c.chosen.put ? "put" : c.chosen.get ? "get" : c.chosen.del ? "del" : "cas",
                                 c.key, !c.chosen.get, c.timeout_s);
      co_return;
    }
    switch (r.reply.status) {
      case kv::Status::kOk:
        if (c.chosen.get) fmt::print("{}\n", r.reply.value.value_or(""));
        else fmt::print("OK\n");
        break;
      case kv::Status::kNotFound:
        fmt::print(stderr, "kvctl: no such key: {}\n", c.key);
        code = exit_code::kNo;
        break;
      case kv::Status::kCasMismatch:
        if (r.reply.value) fmt::print(stderr, "kvctl: cas failed: {} holds \"{}\"\n", c.key, *r.reply.value);
        else fmt::print(stderr, "kvctl: cas failed: {} does not exist\n", c.key);
        code = exit_code::kNo;
        break;
      case kv::Status::kStaleSession:
        fmt::print(stderr, "kvctl: refused: stale session\n");
        code = exit_code::kRefused;
        break;
    }
  };
  actors::spawn(io.get_executor(), "kvctl", run);
  io.run();
  return code;
}

}  // namespace coraft::net
