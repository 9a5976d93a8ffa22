// kvctl: talk to a coraft cluster from the command line.
//   kvctl --cluster cluster.json put KEY VALUE | get KEY | del KEY | cas KEY EXPECTED NEW | status [--json]
//                                | metrics [ID...]
//   kvctl keygen PATH     writes a new secret for key_file or client_token_file (mode 0600)
// Exit codes: 0 done; 1 the key is missing, or a cas found another value; 2 the cluster could not answer;
// 3 the cluster refused the request (too large, no valid client token...); CLI11's codes for bad arguments.
// keygen: 0 written; 2 not (the file exists, or cannot be created).

#include "actors/log.hpp"
#include "actors/spawn.hpp"
#include "net/client.hpp"
#include "net/cluster_config.hpp"
#include "net/codec.hpp"
#include "net/secret_file.hpp"
#include "version/version.hpp"

#include <CLI/CLI.hpp>
#include <asio/co_spawn.hpp>
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
  bool expect_absent = false, json_output = false;
  auto* put = app.add_subcommand("put", "Store VALUE under KEY");
  put->add_option("key", key)->required();
  put->add_option("value", value)->required();
  auto* get = app.add_subcommand("get", "Print the value of KEY (exit 1 if there is none)");
  get->add_option("key", key)->required();
  auto* del = app.add_subcommand("del", "Delete KEY (exit 1 if there was none)");
  del->add_option("key", key)->required();
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
  try {
    const net::ClusterConfig config = net::load_cluster_config(cluster_path);
    replicas = net::resolve(io, config);
    settings.token = net::client_token(config);
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
