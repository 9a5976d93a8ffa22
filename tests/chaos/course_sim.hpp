#pragma once
// The course simulator's role, played over loopback UDP against real kvstore processes in course mode: it launches
// the replicas, routes every datagram by `dst` (dropping and partitioning replica-to-replica traffic as the config
// says), plays the simulated clients, injects the events, and scores the run exactly as
// tests/chaos/README.md describes — plus what the course tool never checked: a linearizability
// verdict over the whole history, and the failover time (from a kill to the next acknowledged write).

#include "course_config.hpp"
#include "linearizability.hpp"
#include "timeline.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace coraft::chaos {

// What the course simulator's single thread spends, during which it relays nothing (tests/chaos/README.md, "How the
// simulator relays"): every pass of its loop, every datagram it takes in, and every copy it forwards.
struct RelayCosts {
  std::chrono::microseconds pass{20};
  std::chrono::microseconds datagram{20};
  std::chrono::microseconds forward{40};
};

struct RunOptions {
  std::string replica_path;    // the kvstore binary
  std::uint64_t seed = 1;
  std::optional<double> lifetime;  // overrides the config's (CI runs shortened lifetimes)
  std::string log_dir;         // replicas' stderr goes to <log_dir>/<config>-<id>.log when set
  std::vector<std::string> replica_args;  // extra arguments for every kvstore
  RelayCosts relay;
  std::string datagram_log;  // when set, one line per datagram relayed or request sent: time, src, dst, type, MID
  // When set, every replica traces its hops (kvstore --trace-hops) to <trace_dir>/<config>-<id>.<launch>.txt; with
  // the datagram log (whose first line gives its clock's origin on the same steady clock), a request's time can be
  // taken apart from the relay's send to the relay's routing of the answer (tests/bench/trace-course.sh).
  std::string trace_dir;
  bool record_timeline = false;  // fill RunReport::timeline (roles inferred from the replicas' own messages)
  // Called with a line of progress at least every kProgressInterval while a run lasts (a run takes tens of seconds).
  std::function<void(const std::string&)> progress;
};
inline constexpr std::chrono::seconds kProgressInterval{3};

struct MetricResult {
  std::string name;
  double value = 0;
  std::string tier;  // bonus, full, partial, none; "-" when the config sets no tiers for it
};

struct RunReport {
  std::string config;
  bool passed = false;
  std::vector<std::string> problems;  // failed correctness checks
  int total_msgs = 0;
  int broadcasts = 0;  // replica datagrams addressed to FFFF (each counted in total_msgs once per receiver)
  int fail_answers = 0;
  int unanswered = 0;
  int failures = 0;  // fail answers + unanswered requests
  int duplicates = 0;
  int incorrect = 0;
  double median_latency = 0;
  int requests_sent = 0;
  int operations = 0;
  int gets = 0;
  int puts = 0;
  std::vector<MetricResult> metrics;
  test::Verdict linearizable = test::Verdict::kUnknown;
  std::string linearizability_note;
  std::optional<double> failover_seconds;  // the longest, over every kill
  bool packet_storm = false;
  std::shared_ptr<test::Timeline> timeline;
};

RunReport run_course(const CourseConfig& config, const RunOptions& options);

// The lowest tier a metric value reaches, given the config's [bonus, full, partial].
std::string tier_of(double value, const std::optional<Tiers>& tiers);

}  // namespace coraft::chaos
