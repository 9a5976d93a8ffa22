// kvsim: a campaign of randomized fault schedules, each a whole coraft cluster simulated deterministically from one
// seed. Prints one summary line; a failing seed prints the command that reproduces it. Exit codes:
// net/exit_codes.hpp (--help lists them).

#include "campaign.hpp"
#include "version/version.hpp"
#include "net/command_line.hpp"

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <thread>

using namespace coraft::test;

int main(int argc, char** argv) {
  CLI::App app{"kvsim: deterministic whole-cluster simulation of coraft under randomized faults.\n"
               "  kvsim [--seeds N] [--seed S] [--replicas R] [--timeline FILE]"};
  app.option_defaults()->always_capture_default();
  std::uint64_t seeds = 100;
  std::uint64_t first_seed = 1;
  bool seed_given = false;
  CampaignOptions options;
  bool verbose = false;
  std::string timeline_path;
  app.add_option("--seeds", seeds, "How many seeds (fault schedules) to run")->check(CLI::PositiveNumber);
  app.add_option_function<std::uint64_t>(
         "--seed", [&](std::uint64_t s) { first_seed = s; seed_given = true; },
         "First seed (with --seeds 1: exactly this seed)");
  app.add_option("--replicas", options.replicas, "Cluster size (0: 3, 5 or 7, chosen by each seed)")
      ->check(CLI::Range(1, 15));
  app.add_option("--max-drop", options.max_drop, "Highest drop rate a schedule may use")->check(CLI::Range(0.0, 0.9));
  app.add_option("--fault-seconds", options.safety_seconds, "Simulated seconds of faults per seed")
      ->check(CLI::PositiveNumber);
  app.add_option("--clock-skew-ppm", options.clock_skew_ppm,
                 "Each replica's clock runs up to this many ppm fast or slow (default: chosen per seed, within the "
                 "10 % the read lease assumes; beyond it, stale lease reads are expected and must be caught)")
      ->check(CLI::Range(0, 500000));
  double seed_time_limit = 120;
  app.add_option("--seed-time-limit", seed_time_limit,
                 "Real seconds one seed may take before it counts as a hang (it fails, and kvsim stops)")
      ->check(CLI::PositiveNumber);
  bool stop_at_failure = false;
  bool no_membership = false;
  app.add_flag("--no-membership-changes", no_membership,
               "Keep every seed's membership fixed (by default half the seeds add, promote, remove and replace "
               "replicas and transfer leadership)");
  app.add_flag("--stop-at-first-failure", stop_at_failure, "Stop after the first failing seed (mutation testing)");
  app.add_flag("-v,--verbose", verbose, "Print a line per seed");
  app.add_option("--timeline", timeline_path,
                 "Write an HTML timeline (roles, faults, commit index, latencies): of the seed with --seeds 1, "
                 "else of the first failing seed (re-run to record it)");
  app.set_version_flag("--version", coraft::version_line("kvsim"));
  app.footer(coraft::exit_code::help_footer({
      {coraft::exit_code::kDone, "every seed kept every invariant and its history is linearizable"},
      {coraft::exit_code::kNo, "a seed failed (its schedule and the command that reproduces it are printed)"},
      {coraft::exit_code::kUsage, "a bad command line"},
      {coraft::exit_code::kCannotCreate, "the --timeline file cannot be written"},
      {coraft::exit_code::kUndecided, "the linearizability checker ran out of time on a seed (not a pass)"},
  }));
  if (auto code = coraft::exit_code::parse_command_line(app, argc, argv)) return *code;
  options.membership_changes = !no_membership;
  if (!seed_given && seeds == 1) first_seed = 1;

  const auto started = std::chrono::steady_clock::now();
  auto write_timeline = [&](const SeedResult& r) {
    std::error_code ignored;
    const auto parent = std::filesystem::path(timeline_path).parent_path();
    if (!parent.empty()) std::filesystem::create_directories(parent, ignored);
    std::ofstream out(timeline_path);
    out << r.timeline->html();
    if (!out) {
      fmt::print(stderr, "kvsim: cannot write {}\n", timeline_path);
      return false;
    }
    const auto f = r.timeline->facts();
    fmt::print("timeline: {} (seed {}: {} role spans, {} leader spans, {} events, {} bands, {} operations drawn, "
               "{} without answer)\n", timeline_path, r.seed, f.role_spans, f.leader_spans, f.events, f.bands,
               f.operations, f.failed_operations);
    return true;
  };
  options.record_timeline = !timeline_path.empty() && seeds == 1;
  std::optional<std::uint64_t> first_failed;
  bool timeline_ok = true;
  double simulated = 0;
  std::uint64_t committed = 0, operations = 0, faults = 0, violations = 0, failed = 0, linearizable = 0, unknown = 0;
  std::uint64_t power_cuts = 0, unsynced_lost = 0, membership_changes = 0, messages = 0;
  std::vector<std::int64_t> latencies_us;
  // A seed normally takes milliseconds; one that runs for minutes is stuck in a loop that simulated time cannot end
  // (a livelock in the code under test). A watchdog reports it as that seed's failure.
  std::atomic<std::uint64_t> running_seed{0};
  std::atomic<std::int64_t> seed_started_ms{0};
  const auto wall_ms = [] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
  };
  std::thread watchdog([&] {
    for (;;) {
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
      const std::uint64_t seed = running_seed.load();
      if (seed == 0) continue;
      if (seed == UINT64_MAX) return;
      if (wall_ms() - seed_started_ms.load() > static_cast<std::int64_t>(seed_time_limit * 1000)) {
        fmt::print(stderr, "seed {} FAILED:\n  hang: still running after {:.0f} s of real time\n", seed, seed_time_limit);
        fmt::print(stderr, "reproduce with: kvsim --seeds 1 --seed {}{}\n", seed,
                   options.replicas ? fmt::format(" --replicas {}", options.replicas) : "");
        std::fflush(stderr);
        std::_Exit(1);
      }
    }
  });
  std::uint64_t ran = 0;
  for (std::uint64_t seed = first_seed; seed < first_seed + seeds; ++seed) {
    ++ran;
    seed_started_ms = wall_ms();
    running_seed = seed;
    const SeedResult r = run_seed(seed, options);
    simulated += r.simulated_seconds;
    committed += r.committed;
    operations += r.operations;
    faults += r.faults;
    power_cuts += r.power_cuts;
    unsynced_lost += r.unsynced_writes_lost;
    membership_changes += r.membership_changes;
    messages += r.messages;
    latencies_us.insert(latencies_us.end(), r.latencies_us.begin(), r.latencies_us.end());
    violations += r.violations.size();
    linearizable += r.linearizable == Verdict::kLinearizable;
    unknown += r.linearizable == Verdict::kUnknown;
    if (verbose) {
      fmt::print("seed {}: {} replicas, {:.1f} s, {} committed, {} ops, {} faults, {} violations, {}\n", seed,
                 r.replicas, r.simulated_seconds, r.committed, r.operations, r.faults, r.violations.size(),
                 verdict_name(r.linearizable));
    }
    if (r.timeline) timeline_ok = write_timeline(r);
    if (!r.violations.empty()) {
      if (!first_failed) first_failed = seed;
      ++failed;
      fmt::print(stderr, "seed {} FAILED:\n", seed);
      for (const auto& line : r.schedule) fmt::print(stderr, "  {}\n", line);
      for (const auto& v : r.violations) fmt::print(stderr, "  {}\n", v);
      fmt::print(stderr, "reproduce with: kvsim --seeds 1 --seed {}{}\n", seed,
                 options.replicas ? fmt::format(" --replicas {}", options.replicas) : "");
      if (stop_at_failure) break;
    }
  }
  running_seed = UINT64_MAX;
  watchdog.join();
  seeds = ran;
  const double real = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  fmt::print("kvsim: seeds {}..{} ({}), simulated {:.0f} s in {:.1f} s real ({:.0f}x), committed {}, operations {}, "
             "faults {}, power cuts {}, unsynced writes lost {}, membership changes {}, invariant violations {}, "
             "linearizable {}/{} (unknown {}), failed seeds {}\n",
             first_seed, first_seed + seeds - 1, seeds, simulated, real, real > 0 ? simulated / real : 0.0, committed,
             operations, faults, power_cuts, unsynced_lost, membership_changes, violations, linearizable, seeds,
             unknown, failed);
  // Simulated time, so the same for every run of these seeds: a change to loss recovery or batching is judged here
  // by its effect on every seed, not by one noisy real run.
  if (!latencies_us.empty()) {
    std::sort(latencies_us.begin(), latencies_us.end());
    const auto at = [&](double q) {
      return latencies_us[std::min(latencies_us.size() - 1, static_cast<std::size_t>(q * latencies_us.size()))] / 1e3;
    };
    fmt::print("kvsim: client operation latency (simulated) p50 {:.2f} ms, p90 {:.2f} ms, p99 {:.2f} ms; replica "
               "messages {} ({:.1f} per committed entry)\n",
               at(0.50), at(0.90), at(0.99), messages, committed ? static_cast<double>(messages) / committed : 0.0);
  }
  if (!timeline_path.empty() && seeds > 1) {
    if (first_failed) {
      CampaignOptions again = options;
      again.record_timeline = true;
      timeline_ok = write_timeline(run_seed(*first_failed, again));
    } else {
      fmt::print("timeline: no seed failed, so none written (use --seeds 1 --seed N for one seed's)\n");
    }
  }
  if (failed > 0) return coraft::exit_code::kNo;
  if (!timeline_ok) return coraft::exit_code::kCannotCreate;
  // An unknown verdict (the checker's budget ran out) is not a pass.
  return unknown == 0 ? coraft::exit_code::kDone : coraft::exit_code::kUndecided;
}
