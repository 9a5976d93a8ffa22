// kvchaos: real kvstore processes in course mode under the course simulator's faults, scored as the course scores
// them, plus a linearizability verdict and failover times.
//   kvchaos CONFIG.json [--replica PATH] [--seed N] [--json]
//   kvchaos --all DIR   one table for every config in DIR; exit 1 if any check fails
//   --timeline FILE     also draw the run as an HTML timeline
// A run takes tens of seconds: a progress line goes to stderr every few seconds. Exit codes: net/exit_codes.hpp
// (--help lists them). tests/chaos/README.md describes the course simulator it plays and the configs.

#include "course_sim.hpp"
#include "version/version.hpp"
#include "net/command_line.hpp"

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <unistd.h>

using namespace coraft;
using namespace coraft::chaos;

namespace {

std::string default_replica_path() {
  std::error_code error;
  const auto self = std::filesystem::read_symlink("/proc/self/exe", error);
  if (error) return "kvstore";
  return (self.parent_path() / "kvstore").string();
}

int tier_rank(const std::string& tier) {
  if (tier == "bonus") return 3;
  if (tier == "full") return 2;
  if (tier == "partial") return 1;
  if (tier == "-") return 3;
  return 0;
}

nlohmann::json to_json(const RunReport& r) {
  nlohmann::json j = {{"config", r.config},
                      {"passed", r.passed},
                      {"problems", r.problems},
                      {"total_msgs", r.total_msgs},
                      {"broadcasts", r.broadcasts},
                      {"failures", r.failures},
                      {"fail_answers", r.fail_answers},
                      {"unanswered", r.unanswered},
                      {"duplicates", r.duplicates},
                      {"incorrect", r.incorrect},
                      {"median_latency", r.median_latency},
                      {"requests_sent", r.requests_sent},
                      {"operations", r.operations},
                      {"linearizable", std::string(test::verdict_name(r.linearizable))},
                      {"packet_storm", r.packet_storm}};
  j["failover_seconds"] = r.failover_seconds ? nlohmann::json(*r.failover_seconds) : nlohmann::json(nullptr);
  for (const auto& m : r.metrics) j["tiers"][m.name] = m.tier;
  return j;
}

void print_report(const RunReport& r) {
  fmt::print("{}: {}\n", r.config, r.passed ? "PASS" : "FAIL");
  for (const auto& m : r.metrics) {
    fmt::print("  {:<15} {:>10} {}\n", m.name, m.name == "median_latency" ? fmt::format("{:.5f}", m.value) : fmt::format("{:.0f}", m.value), m.tier);
  }
  fmt::print("  operations {} ({} gets, {} puts), requests {}, fail answers {}, unanswered {}, incorrect {}\n",
             r.operations, r.gets, r.puts, r.requests_sent, r.fail_answers, r.unanswered, r.incorrect);
  fmt::print("  linearizable: {}{}\n", test::verdict_name(r.linearizable),
             r.linearizability_note.empty() ? "" : " (" + r.linearizability_note + ")");
  if (r.failover_seconds) fmt::print("  failover: {:.3f} s\n", *r.failover_seconds);
  for (const auto& p : r.problems) fmt::print("  problem: {}\n", p);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"kvchaos: runs kvstore replicas under the course simulator's configs over loopback UDP.\n"
               "  kvchaos CONFIG.json | --all DIR   [--timeline FILE] [--seed N] [--lifetime S] [--json]\n"
               "  (the course configs: tests/chaos/configs)"};
  app.option_defaults()->always_capture_default();
  std::string config_path, all_dir, require_tier = "none";
  RunOptions options;
  options.replica_path = default_replica_path();
  bool json_output = false;
  double lifetime = 0;
  app.add_option("config", config_path, "A course config (JSON)");
  app.add_option("--all", all_dir, "Run every *.json config in this folder and print one table");
  app.add_option("--replica", options.replica_path, "The replica binary (default: kvstore next to kvchaos)");
  app.add_option("--seed", options.seed, "Seed for drops, partitions, clients and victims");
  app.add_option("--lifetime", lifetime, "Override every config's lifetime (seconds; 0: the config's; CI uses short runs)")
      ->check(CLI::PositiveNumber);
  app.add_option("--logs", options.log_dir, "Keep each replica's stderr in this folder");
  app.add_option("--require-tier", require_tier, "Also fail unless every metric reaches this tier")
      ->check(CLI::IsMember({"none", "partial", "full", "bonus"}));
  std::int64_t pass_cost = options.relay.pass.count(), datagram_cost = options.relay.datagram.count(),
               forward_cost = options.relay.forward.count();
  app.add_option("--pass-cost", pass_cost, "Microseconds the relay spends on each pass of its loop")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--datagram-cost", datagram_cost, "Microseconds the relay spends taking in each datagram")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--forward-cost", forward_cost, "Microseconds the relay spends forwarding each copy of a datagram")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--datagram-log", options.datagram_log,
                 "Write one line per datagram relayed and request sent (time, src, dst, type, MID) to this file");
  app.add_option("--replica-arg", options.replica_args, "An extra argument for every replica (repeatable)");
  app.add_option("--trace-hops", options.trace_dir,
                 "Have every replica trace its hops (kvstore --trace-hops) into <config>-<id>.<launch>.txt files in "
                 "this folder (tests/bench/trace-course.sh takes a request's time apart with them)");
  app.add_flag("--json", json_output, "Print JSON instead of text");
  std::string timeline_path;
  app.add_option("--timeline", timeline_path,
                 "Write an HTML timeline of the run (roles, faults, commit index, latencies) to this file; with "
                 "--all, a folder that gets one <config>.html per config");
  app.set_version_flag("--version", version_line("kvchaos"));
  app.footer(exit_code::help_footer({
      {exit_code::kDone, "every config passed every correctness check (and --require-tier)"},
      {exit_code::kNo, "a check failed (the report says which)"},
      {exit_code::kUsage, "a bad command line"},
      {exit_code::kDataError, "a config is malformed"},
      {exit_code::kNoInput, "a config, the folder of --all, or the replica binary is missing"},
      {exit_code::kCannotCreate, "the --timeline file or the --trace-hops folder cannot be written"},
  }));
  if (auto code = exit_code::parse_command_line(app, argc, argv)) return *code;
  options.relay = RelayCosts{std::chrono::microseconds(pass_cost), std::chrono::microseconds(datagram_cost),
                             std::chrono::microseconds(forward_cost)};
  if (lifetime > 0) options.lifetime = lifetime;
  if (config_path.empty() == all_dir.empty()) {
    fmt::print(stderr, "kvchaos: give one CONFIG.json or --all DIR (see --help)\n");
    return exit_code::kUsage;
  }
  if (access(options.replica_path.c_str(), X_OK) != 0) {
    fmt::print(stderr, "kvchaos: replica binary {} is not executable (use --replica)\n", options.replica_path);
    return exit_code::kNoInput;
  }
  options.progress = [](const std::string& line) { fmt::print(stderr, "kvchaos: {}\n", line); };
  if (!options.log_dir.empty()) std::filesystem::create_directories(options.log_dir);
  if (!options.trace_dir.empty()) {
    std::error_code error;
    std::filesystem::create_directories(options.trace_dir, error);
    if (error) {
      fmt::print(stderr, "kvchaos: cannot create the --trace-hops folder {}: {}\n", options.trace_dir, error.message());
      return exit_code::kCannotCreate;
    }
  }
  options.record_timeline = !timeline_path.empty();
  if (options.record_timeline && !all_dir.empty()) std::filesystem::create_directories(timeline_path);

  std::vector<std::string> paths;
  if (!all_dir.empty()) {
    std::error_code error;
    for (const auto& entry : std::filesystem::directory_iterator(all_dir, error))
      if (entry.path().extension() == ".json") paths.push_back(entry.path().string());
    if (error || paths.empty()) {
      fmt::print(stderr, "kvchaos: no *.json configs in {}\n", all_dir);
      return exit_code::kNoInput;
    }
    std::sort(paths.begin(), paths.end());
  } else {
    paths.push_back(config_path);
  }

  std::vector<RunReport> reports;
  bool all_good = true, timelines_written = true;
  const int needed = tier_rank(require_tier);
  for (const auto& path : paths) {
    if (!std::ifstream(path)) {
      fmt::print(stderr, "kvchaos: {}: cannot read the file (the course configs are in tests/chaos/configs)\n", path);
      return exit_code::kNoInput;
    }
    CourseConfig config;
    try {
      config = load_course_config(path);
    } catch (const std::exception& e) {
      fmt::print(stderr, "kvchaos: {}\n", e.what());
      return exit_code::kDataError;
    }
    RunReport report = run_course(config, options);
    for (const auto& m : report.metrics) {
      if (tier_rank(m.tier) < needed) {
        report.problems.push_back(fmt::format("{} reached tier '{}', below '{}'", m.name, m.tier, require_tier));
        report.passed = false;
      }
    }
    all_good = all_good && report.passed;
    if (report.timeline) {
      const std::string file = all_dir.empty() ? timeline_path : timeline_path + "/" + report.config + ".html";
      std::error_code ignored;
      const auto parent = std::filesystem::path(file).parent_path();
      if (!parent.empty()) std::filesystem::create_directories(parent, ignored);
      std::ofstream out(file);
      out << report.timeline->html();
      if (!out) {
        fmt::print(stderr, "kvchaos: cannot write {}\n", file);
        timelines_written = false;
      } else {
        const auto f = report.timeline->facts();
        fmt::print(stderr, "timeline: {} ({} role spans, {} leader spans, {} events, {} bands, {} operations drawn, {} "
                           "without answer)\n", file, f.role_spans, f.leader_spans, f.events, f.bands, f.operations,
                   f.failed_operations);
      }
    }
    if (!all_dir.empty() && !json_output) {
      fmt::print(stderr, "{}: {}\n", report.config, report.passed ? "pass" : "FAIL");
    } else if (!json_output) {
      print_report(report);
    }
    reports.push_back(std::move(report));
  }

  if (json_output) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& r : reports) out.push_back(to_json(r));
    fmt::print("{}\n", (all_dir.empty() ? out[0] : out).dump(2));
  } else if (!all_dir.empty()) {
    fmt::print("{:<16} {:<4} {:>6} {:>5} {:>4} {:>9}  {:<7} {:<7} {:<7} {:<7}  {:<12} {:>8}\n", "config", "pass", "msgs",
               "fails", "dups", "median_s", "t:msgs", "t:fail", "t:dup", "t:lat", "linearizable", "failover");
    for (const auto& r : reports) {
      fmt::print("{:<16} {:<4} {:>6} {:>5} {:>4} {:>9.5f}  {:<7} {:<7} {:<7} {:<7}  {:<12} {:>8}\n", r.config,
                 r.passed ? "yes" : "NO", r.total_msgs, r.failures, r.duplicates, r.median_latency, r.metrics[0].tier,
                 r.metrics[1].tier, r.metrics[2].tier, r.metrics[3].tier, test::verdict_name(r.linearizable),
                 r.failover_seconds ? fmt::format("{:.3f}s", *r.failover_seconds) : "-");
    }
    for (const auto& r : reports)
      for (const auto& p : r.problems) fmt::print("{}: {}\n", r.config, p);
  }
  if (!all_good) return exit_code::kNo;
  return timelines_written ? exit_code::kDone : exit_code::kCannotCreate;
}
