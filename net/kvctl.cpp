// kvctl: talk to a coraft cluster from the command line.
//   kvctl --cluster cluster.json put KEY VALUE | get KEY | del KEY | cas KEY EXPECTED NEW | status [--json]
//                                | metrics [ID...]
//                                | get --prefix P | del --prefix P | watch KEY | watch --prefix P [--count N]
//   get --prefix and watch use the HTTP API ("http" addresses in the cluster file); everything else uses UDP.
//   kvctl keygen PATH     writes a new secret for key_file or client_token_file (mode 0600)
// Exit codes: 0 done; 1 the key is missing, or a cas found another value; 2 the cluster could not answer;
// 3 the cluster refused the request (too large, no valid client token...); CLI11's codes for bad arguments.
// keygen: 0 written; 2 not (the file exists, or cannot be created).

#include "actors/log.hpp"
#include "actors/spawn.hpp"
#include "net/client.hpp"
#include "net/cluster_config.hpp"
#include "net/codec.hpp"
#include "net/http_client.hpp"
#include "net/secret_file.hpp"
#include "version/version.hpp"

#include <CLI/CLI.hpp>
#include <asio/co_spawn.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/io_context.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <iostream>
#include <random>

using namespace coraft;

namespace {

constexpr int kExitMissing = 1;
constexpr int kExitUnavailable = 2;
constexpr int kExitRejected = 3;

int report_failure(const net::CallResult& r) {
  if (r.outcome == net::Outcome::kRejected) {
    const bool unauthorized = r.reply.reason == net::kUnauthorizedReason;
    fmt::print(stderr, "kvctl: refused: {}{}\n", r.reply.reason,
               unauthorized ? " (the cluster wants a client token: client_token_file in the cluster file, readable "
                              "by this user, holding the cluster's token)"
                            : "");
    return kExitRejected;
  }
  fmt::print(stderr, "kvctl: the cluster did not answer in time ({} attempts); a write may or may not have been "
                     "applied\n", r.attempts);
  return kExitUnavailable;
}

std::string contact(std::int64_t ms) { return ms < 0 ? "never" : fmt::format("{} ms ago", ms); }

// An HTTP answer that is not what was asked: the exit code, and why on stderr.
int report_http_failure(const net::ConsulKvClient::Answer& answer) {
  if (answer.status == 0) {
    fmt::print(stderr, "kvctl: no replica answered over HTTP: {}\n", answer.error);
    return kExitUnavailable;
  }
  std::string why = answer.body;
  while (!why.empty() && why.back() == '\n') why.pop_back();
  fmt::print(stderr, "kvctl: {} ({})\n", why, answer.status);
  return answer.status >= 500 ? kExitUnavailable : kExitRejected;
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
    if (count > 0 && changes >= count) co_return 0;
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"kvctl: a command-line client for a coraft cluster"};
  app.require_subcommand(1);
  std::string cluster_path;
  double timeout_s = 10;
  app.add_option("--cluster", cluster_path, "The cluster file (as given to kvstore --config); every command but "
                                            "keygen needs it");
  app.add_option("--timeout", timeout_s, "Give up after this many seconds")->check(CLI::PositiveNumber);

  std::string key, value, expected;
  bool expect_absent = false, json_output = false, prefix = false;
  std::uint64_t watch_count = 0;
  auto* put = app.add_subcommand("put", "Store VALUE under KEY");
  put->add_option("key", key)->required();
  put->add_option("value", value)->required();
  auto* get = app.add_subcommand("get", "Print the value of KEY (exit 1 if there is none); with --prefix, every key "
                                        "under KEY as KEY:VALUE lines (over HTTP)");
  get->add_option("key", key)->required();
  get->add_flag("--prefix", prefix, "KEY is a prefix: print every key that starts with it (\"\" for all)");
  auto* del = app.add_subcommand("del", "Delete KEY (exit 1 if there was none); with --prefix, every key under KEY");
  del->add_option("key", key)->required();
  del->add_flag("--prefix", prefix, "KEY is a prefix: delete every key that starts with it, and print how many");
  auto* watch_cmd = app.add_subcommand("watch", "Print KEY's value, then each change as it happens, as "
                                                "\"[index] put KEY VALUE\" or \"[index] del KEY\" (over HTTP)");
  watch_cmd->add_option("key", key)->required();
  watch_cmd->add_flag("--prefix", prefix, "KEY is a prefix: watch every key that starts with it");
  watch_cmd->add_option("--count", watch_count, "Stop after this many changes (default: never)");
  auto* cas = app.add_subcommand("cas", "Set KEY to NEW only if it holds EXPECTED (exit 1 otherwise)");
  cas->add_option("key", key)->required();
  auto* expected_opt = cas->add_option("expected", expected, "The value KEY must hold (omit with --absent)");
  auto* new_opt = cas->add_option("new", value, "The value to store");
  cas->add_flag("--absent", expect_absent, "Instead of EXPECTED: KEY must not exist");
  auto* status = app.add_subcommand("status", "Show every replica's role, term, commit and applied index");
  status->add_flag("--json", json_output, "One JSON object per replica, as an array");
  std::vector<std::string> metrics_ids;
  auto* metrics = app.add_subcommand("metrics", "Print replicas' counters in Prometheus text format (all, or the IDs given)");
  metrics->add_option("ids", metrics_ids, "Replica ids (default: every replica)");
  std::string keygen_path;
  auto* keygen = app.add_subcommand("keygen", "Write a new random secret to PATH (mode 0600; refuses to replace a "
                                              "file), for cluster.json's key_file or client_token_file");
  keygen->add_option("path", keygen_path)->required();
  app.set_version_flag("--version", version_line("kvctl"));
  CLI11_PARSE(app, argc, argv);
  if (keygen->parsed()) {
    try {
      net::create_secret_file(keygen_path);
    } catch (const std::exception& e) {
      fmt::print(stderr, "kvctl: {}\n", e.what());
      return kExitUnavailable;
    }
    fmt::print("wrote a new {}-bit secret to {} (mode 0600). Copy it to every replica (and, for client_token_file, to "
               "every client) and keep it private.\n",
               net::kNewSecretBytes * 8, keygen_path);
    return 0;
  }
  if (cluster_path.empty()) {
    fmt::print(stderr, "kvctl: --cluster FILE is required (see --help)\n");
    return static_cast<int>(CLI::ExitCodes::RequiredError);
  }
  if (cas->parsed()) {
    // With --absent the positional arguments are KEY NEW.
    const std::size_t given = expected_opt->count() + new_opt->count();
    if (expect_absent && given == 1) {
      value = expected;
    } else if (expect_absent || given != 2) {
      fmt::print(stderr, "kvctl: cas takes KEY EXPECTED NEW, or --absent KEY NEW\n");
      return static_cast<int>(CLI::ExitCodes::ArgumentMismatch);
    }
  }

  actors::configure_logging(std::nullopt);
  asio::io_context io(1);
  std::map<raft::NodeId, asio::ip::udp::endpoint> replicas;
  net::ClientSettings settings;
  std::unique_ptr<net::ConsulKvClient> http;  // get --prefix and watch
  try {
    const net::ClusterConfig config = net::load_cluster_config(cluster_path);
    replicas = net::resolve(io, config);
    settings.token = net::client_token(config);
    if ((get->parsed() && prefix) || watch_cmd->parsed()) {
      http = std::make_unique<net::ConsulKvClient>(io, net::http_addresses(config), settings.token);
      http->timeout = std::chrono::milliseconds(static_cast<std::int64_t>(timeout_s * 1000));
    }
  } catch (const std::exception& e) {
    fmt::print(stderr, "kvctl: {}\n", e.what());
    return kExitUnavailable;
  }
  settings.deadline = std::chrono::milliseconds(static_cast<std::int64_t>(timeout_s * 1000));
  const std::uint64_t seed = std::random_device{}() ^
                             static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  net::Client client(io, replicas, actors::Rng(seed), settings);

  int exit_code = 0;
  auto run = [&]() -> asio::awaitable<void> {
    if (watch_cmd->parsed()) {
      const kv::KeyRange watched{key, prefix};  // named: GCC 12 destroys a temporary in co_await twice
      exit_code = co_await watch(*http, watched, watch_count);
      co_return;
    }
    if (get->parsed() && prefix) {
      const kv::KeyRange under{key, true};
      auto answer = co_await http->read(under);
      if (answer.status == 404) {
        fmt::print(stderr, "kvctl: no key starts with \"{}\"\n", key);
        exit_code = kExitMissing;
      } else if (answer.status != 200) {
        exit_code = report_http_failure(answer);
      } else {
        for (const auto& entry : answer.entries) fmt::print("{}:{}\n", entry.key, entry.value);
      }
      co_return;
    }
    if (del->parsed() && prefix) {
      const net::CallResult r = co_await client.del_prefix(key);
      if (r.outcome != net::Outcome::kOk) {
        exit_code = report_failure(r);
      } else {
        fmt::print("deleted {}\n", r.reply.value.value_or("0"));
      }
      co_return;
    }
    if (metrics->parsed()) {
      int answered = 0;
      for (const auto& [id, endpoint] : replicas) {
        if (!metrics_ids.empty() && std::find(metrics_ids.begin(), metrics_ids.end(), id.str()) == metrics_ids.end()) {
          continue;
        }
        auto s = co_await client.status(id, std::chrono::milliseconds(500));
        if (!s) {
          fmt::print("# replica {} unreachable\n", id.str());
          continue;
        }
        ++answered;
        fmt::print("{}", s->metrics);
      }
      if (answered == 0) exit_code = kExitUnavailable;
      co_return;
    }
    if (status->parsed()) {
      nlohmann::json all = nlohmann::json::array();
      if (!json_output) {
        fmt::print("{:<6} {:<14} {:>6} {:<6} {:>9} {:>9} {:>9} {:>9} {:>8}  {}\n", "ID", "ROLE", "TERM", "LEADER",
                   "COMMIT", "APPLIED", "LAST LOG", "SNAPSHOT", "KEYS", "LEADER CONTACT / FOLLOWER LAG");
      }
      int reachable = 0;
      for (const auto& [id, endpoint] : replicas) {
        auto s = co_await client.status(id, std::chrono::milliseconds(500));
        if (json_output) {
          nlohmann::json j = {{"id", id.str()}, {"address", fmt::format("{}:{}", endpoint.address().to_string(), endpoint.port())}};
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
          fmt::print("{:<6} {:<14} {:>6} {:<6} {:>9} {:>9} {:>9} {:>9} {:>8}  {}\n", id.str(), raft::role_name(s->role),
                     s->term, s->leader.valid() ? s->leader.str() : "-", s->commit_index, s->applied_index,
                     s->last_log_index, s->snapshot_index, s->keys, last);
        } else {
          fmt::print("{:<6} {}\n", id.str(), "unreachable");
        }
        reachable += s.has_value();
      }
      if (json_output) fmt::print("{}\n", all.dump(2));
      if (reachable == 0) exit_code = kExitUnavailable;
      co_return;
    }
    net::CallResult r;
    if (put->parsed()) r = co_await client.put(key, value);
    else if (get->parsed()) r = co_await client.get(key);
    else if (del->parsed()) r = co_await client.del(key);
    else {
      const std::optional<std::string> must_hold = expect_absent ? std::nullopt : std::optional<std::string>(expected);
      r = co_await client.cas(key, must_hold, value);
    }
    if (r.outcome != net::Outcome::kOk) {
      exit_code = report_failure(r);
      co_return;
    }
    switch (r.reply.status) {
      case kv::Status::kOk:
        if (get->parsed()) fmt::print("{}\n", r.reply.value.value_or(""));
        else fmt::print("OK\n");
        break;
      case kv::Status::kNotFound:
        fmt::print(stderr, "kvctl: no such key: {}\n", key);
        exit_code = kExitMissing;
        break;
      case kv::Status::kCasMismatch:
        if (r.reply.value) fmt::print(stderr, "kvctl: cas failed: {} holds \"{}\"\n", key, *r.reply.value);
        else fmt::print(stderr, "kvctl: cas failed: {} does not exist\n", key);
        exit_code = kExitMissing;
        break;
      case kv::Status::kStaleSession:
        fmt::print(stderr, "kvctl: refused: stale session\n");
        exit_code = kExitRejected;
        break;
    }
  };
  actors::spawn(io.get_executor(), "kvctl", run);
  io.run();
  return exit_code;
}
