// kvcheck: checks histories recorded by real clients (kvbench --history) for linearizability.
//   kvcheck read --cluster cluster.json --output final.jsonl HISTORY...
//       reads every key the histories touch, once, and records those reads as a history of their own. Run it after
//       the faults have healed and the load has stopped.
//   kvcheck history [--budget 60] HISTORY...
//       merges the histories and runs the linearizability checker (tests/sim/linearizability.hpp) over them.
// Exit codes (net/exit_codes.hpp): history: 0 linearizable, 1 a violation (explained), 75 undecided within the budget;
// read: 0 every key read, 2 a read went unanswered; both: 64 usage, 65 a malformed history, 66 a missing file,
// 73 the output cannot be written, 78 an invalid cluster file.
//
// Why final reads rather than a separate "no acknowledged write lost" rule: a read invoked after every write has
// completed or been given up on must return the last write in some linearization of the history. If an acknowledged
// write was lost, the value read is one no linearization can leave last, and the checker reports the violation on
// that key, with the operations involved. A separate rule ("the last acknowledged write, or a later ambiguous one")
// would restate the same thing less precisely: it needs an order between concurrent writes that only the checker
// knows, and it would trust the final read, which the checker does not.

#include "actors/logger.hpp"
#include "actors/spawn.hpp"
#include "history.hpp"
#include "linearizability.hpp"
#include "net/client.hpp"
#include "net/cluster_config.hpp"
#include "version/version.hpp"
#include "net/command_line.hpp"

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

// A file named on the command line that cannot be read, as opposed to one that says something malformed.
class MissingInput : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};
class CannotWrite : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct Loaded {
  test::History history;
  std::size_t files = 0;
};

Loaded load_all(const std::vector<std::string>& paths) {
  Loaded loaded;
  for (const auto& path : paths) {
    if (!std::ifstream(path)) throw MissingInput(fmt::format("{}: cannot read the file", path));
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
  const net::ClusterAccess cluster = net::open_cluster(io, cluster_path);
  const auto& replicas = cluster.replicas;
  net::ClientSettings settings;
  settings.token = cluster.token;
  settings.deadline = std::chrono::milliseconds(static_cast<std::int64_t>(timeout_s * 1000));
  const std::uint64_t seed = std::random_device{}() ^
                             static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  net::Client client(io, replicas, actors::Rng(seed), settings);

  std::ofstream out(output_path, std::ios::trunc);
  if (!out) throw CannotWrite(fmt::format("cannot write {}", output_path));
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
  if (!out) throw CannotWrite(fmt::format("writing {} failed", output_path));
  fmt::print("kvcheck: read {} keys ({} absent, {} unanswered) into {}\n", keys.size(), absent, unanswered,
             output_path);
  return unanswered == 0 ? exit_code::kDone : exit_code::kNoAnswer;
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
    case test::Verdict::kLinearizable: return exit_code::kDone;
    case test::Verdict::kViolation: return exit_code::kNo;
    case test::Verdict::kUnknown: return exit_code::kUndecided;
  }
  return exit_code::kUndecided;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"kvcheck: linearizability of histories recorded against a real coraft cluster (kvbench --history).\n"
               "  kvcheck history [--budget S] HISTORY...\n"
               "  kvcheck read --cluster FILE --output FILE [--timeout S] HISTORY..."};
  app.option_defaults()->always_capture_default();
  app.require_subcommand(1);

  std::vector<std::string> inputs;
  double budget_s = 60;
  auto* history = app.add_subcommand("history", "[--budget S] HISTORY...: check the merged HISTORY files for "
                                                "linearizability");
  history->add_option("files", inputs, "History files (JSON lines)")->required();
  history->add_option("--budget", budget_s, "Give up (undecided) after this many seconds of search")
      ->check(CLI::PositiveNumber);

  std::string cluster_path, output_path;
  double timeout_s = 10;
  auto* read = app.add_subcommand("read", "--cluster FILE --output FILE HISTORY...: read every key the HISTORY files "
                                          "touch, recording the reads as a history");
  read->add_option("--cluster", cluster_path, "The cluster file")->required();
  read->add_option("--output", output_path, "Where to write the reads (JSON lines)")->required();
  read->add_option("--timeout", timeout_s, "Give up on a read after this many seconds")->check(CLI::PositiveNumber);
  app.set_version_flag("--version", version_line("kvcheck"));
  read->add_option("files", inputs, "History files whose keys to read")->required();
  app.footer(exit_code::help_footer({
      {exit_code::kDone, "history: linearizable; read: every key read"},
      {exit_code::kNo, "history: a violation (explained, with the operations involved)"},
      {exit_code::kNoAnswer, "read: a read went unanswered"},
      {exit_code::kUsage, "a bad command line"},
      {exit_code::kDataError, "a history file is malformed"},
      {exit_code::kNoInput, "a history or cluster file does not exist or cannot be read"},
      {exit_code::kCannotCreate, "read: the --output file cannot be written"},
      {exit_code::kUndecided, "history: undecided within --budget (try a larger one)"},
      {exit_code::kConfig, "read: the cluster file, or the client token file it names, is invalid"},
  }));
  if (auto code = exit_code::parse_command_line(app, argc, argv)) return *code;

  actors::configure_logging(std::nullopt);
  auto fail = [](const std::exception& e, int code) {
    fmt::print(stderr, "kvcheck: {}\n", e.what());
    return code;
  };
  try {
    if (history->parsed()) return check(inputs, budget_s);
    return read_keys(cluster_path, output_path, inputs, timeout_s);
  } catch (const MissingInput& e) {
    return fail(e, exit_code::kNoInput);
  } catch (const test::HistoryFormatError& e) {
    return fail(e, exit_code::kDataError);
  } catch (const CannotWrite& e) {
    return fail(e, exit_code::kCannotCreate);
  } catch (const net::ConfigError& e) {
    return fail(e, net::exit_code_for(e));
  } catch (const std::exception& e) {
    return fail(e, exit_code::kInternal);
  }
}
