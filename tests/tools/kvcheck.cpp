// kvcheck: checks histories recorded by real clients (kvbench --history) for linearizability.
//   kvcheck read --cluster cluster.json --output final.jsonl HISTORY...
//       reads every key the histories touch, once, and records those reads as a history of their own. Run it after
//       the faults have healed and the load has stopped.
//   kvcheck history [--budget 60] HISTORY...
//       merges the histories and runs the linearizability checker (tests/sim/linearizability.hpp) over them.
//       Exit 0: linearizable; 1: a violation (explained); 2: undecided (budget) or unreadable input.
//
// Why final reads rather than a separate "no acknowledged write lost" rule: a read invoked after every write has
// completed or been given up on must return the last write in some linearization of the history. If an acknowledged
// write was lost, the value read is one no linearization can leave last, and the checker reports the violation on
// that key, with the operations involved. A separate rule ("the last acknowledged write, or a later ambiguous one")
// would restate the same thing less precisely: it needs an order between concurrent writes that only the checker
// knows, and it would trust the final read, which the checker does not.

#include "actors/log.hpp"
#include "actors/spawn.hpp"
#include "history_io.hpp"
#include "linearizability.hpp"
#include "net/client.hpp"
#include "net/cluster_config.hpp"
#include "version/version.hpp"

#include <CLI/CLI.hpp>
#include <asio/io_context.hpp>
#include <fmt/format.h>

#include <chrono>
#include <fstream>
#include <map>
#include <random>
#include <set>

using namespace coraft;

namespace {

constexpr int kExitViolation = 1;
constexpr int kExitUndecided = 2;

struct Loaded {
  test::History history;
  std::size_t files = 0;
};

Loaded load_all(const std::vector<std::string>& paths) {
  Loaded loaded;
  for (const auto& path : paths) {
    test::History h = test::load_history(path);
    loaded.history.insert(loaded.history.end(), std::make_move_iterator(h.begin()), std::make_move_iterator(h.end()));
    ++loaded.files;
  }
  return loaded;
}

int read_keys(const std::string& cluster_path, const std::string& output_path, const std::vector<std::string>& inputs,
              double timeout_s) {
  std::set<std::string> keys;
  for (const auto& op : load_all(inputs).history) keys.insert(op.key);

  asio::io_context io(1);
  const auto replicas = net::resolve(io, net::load_cluster_config(cluster_path));
  net::ClientSettings settings;
  settings.deadline = std::chrono::milliseconds(static_cast<std::int64_t>(timeout_s * 1000));
  const std::uint64_t seed = std::random_device{}() ^
                             static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  net::Client client(io, replicas, actors::Rng(seed), settings);

  std::ofstream out(output_path, std::ios::trunc);
  if (!out) throw test::HistoryFormatError(fmt::format("cannot write {}", output_path));
  std::size_t unanswered = 0, absent = 0;
  actors::spawn(io.get_executor(), "final-reads", [&]() -> asio::awaitable<void> {
    for (const std::string& key : keys) {
      test::Operation op;
      op.client = client.session();
      op.kind = test::OpKind::kGet;
      op.key = key;
      op.invoked_us = test::history_now_us();
      auto r = co_await client.get(key);
      if (r.outcome == net::Outcome::kOk) {
        op.completed = true;
        op.completed_us = test::history_now_us();
        op.status = r.reply.status;
        op.read = r.reply.value;
        absent += !op.read.has_value();
      } else {
        ++unanswered;
      }
      out << test::operation_to_json(op).dump() << '\n';
    }
  });
  io.run();
  out.close();
  if (!out) throw test::HistoryFormatError(fmt::format("writing {} failed", output_path));
  fmt::print("kvcheck: read {} keys ({} absent, {} unanswered) into {}\n", keys.size(), absent, unanswered,
             output_path);
  return unanswered == 0 ? 0 : kExitUndecided;
}

int check(const std::vector<std::string>& inputs, double budget_s) {
  const Loaded loaded = load_all(inputs);
  const test::History& h = loaded.history;
  std::size_t gets = 0, writes = 0, acknowledged_writes = 0, unknown_writes = 0, unknown_gets = 0;
  std::set<std::uint64_t> clients;
  std::set<std::string> keys;
  std::set<std::pair<std::string_view, std::string_view>> written;
  std::size_t repeated_values = 0;
  for (const auto& op : h) {
    clients.insert(op.client);
    keys.insert(op.key);
    if (op.kind == test::OpKind::kPut || op.kind == test::OpKind::kCas) {
      repeated_values += !written.emplace(op.key, op.value).second;
    }
    if (op.kind == test::OpKind::kGet) {
      ++gets;
      unknown_gets += !op.completed;
    } else {
      ++writes;
      (op.completed ? acknowledged_writes : unknown_writes)++;
    }
  }
  fmt::print("kvcheck: {} operations from {} files: {} clients, {} keys; {} writes ({} acknowledged, {} unknown), "
             "{} reads ({} unanswered)\n",
             h.size(), loaded.files, clients.size(), keys.size(), writes, acknowledged_writes, unknown_writes, gets,
             unknown_gets);
  if (repeated_values > 0) {
    // Not wrong, but weaker: a read of a value written twice cannot tell which write it saw.
    fmt::print("kvcheck: warning: {} writes repeat a value already written to their key (two kvbench runs with the "
               "same --seed?); the check is weaker for them\n", repeated_values);
  }
  const auto started = std::chrono::steady_clock::now();
  const auto budget = std::chrono::milliseconds(static_cast<std::int64_t>(budget_s * 1000));
  const test::LinearizabilityResult r = test::check_linearizability(h, budget);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  fmt::print("kvcheck: {} ({} keys, {} operations checked in {:.2f} s)\n", test::verdict_name(r.verdict), r.keys,
             r.operations, seconds);
  if (!r.explanation.empty()) fmt::print("{}\n", r.explanation);
  switch (r.verdict) {
    case test::Verdict::kLinearizable: return 0;
    case test::Verdict::kViolation: return kExitViolation;
    case test::Verdict::kUnknown: return kExitUndecided;
  }
  return kExitUndecided;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"kvcheck: linearizability of histories recorded against a real coraft cluster (kvbench --history)"};
  app.require_subcommand(1);

  std::vector<std::string> inputs;
  double budget_s = 60;
  auto* history = app.add_subcommand("history", "Check the merged HISTORY files for linearizability "
                                                "(exit 0 linearizable, 1 violation, 2 undecided or bad input)");
  history->add_option("files", inputs, "History files (JSON lines)")->required()->check(CLI::ExistingFile);
  history->add_option("--budget", budget_s, "Give up (undecided) after this many seconds of search")
      ->check(CLI::PositiveNumber);

  std::string cluster_path, output_path;
  double timeout_s = 10;
  auto* read = app.add_subcommand("read", "Read every key the HISTORY files touch, recording the reads as a history "
                                          "(exit 2 if a read went unanswered)");
  read->add_option("--cluster", cluster_path, "The cluster file")->required()->check(CLI::ExistingFile);
  read->add_option("--output", output_path, "Where to write the reads (JSON lines)")->required();
  read->add_option("--timeout", timeout_s, "Give up on a read after this many seconds")->check(CLI::PositiveNumber);
  read->add_option("files", inputs, "History files whose keys to read")->required()->check(CLI::ExistingFile);
  app.set_version_flag("--version", version_line("kvcheck"));
  CLI11_PARSE(app, argc, argv);

  actors::configure_logging(std::nullopt);
  try {
    if (history->parsed()) return check(inputs, budget_s);
    return read_keys(cluster_path, output_path, inputs, timeout_s);
  } catch (const std::exception& e) {
    fmt::print(stderr, "kvcheck: {}\n", e.what());
    return kExitUndecided;
  }
}
