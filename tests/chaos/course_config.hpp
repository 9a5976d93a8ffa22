#pragma once
// A course-simulator config (the JSON files in tests/chaos/configs; tests/chaos/README.md), plus our extra events. Pure C++.

#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace coraft::chaos {

struct CourseEvent {
  // Course events: kill_leader, kill_non_leader, part_easy, part_hard, part_end.
  // Ours: restart (the replica killed longest ago comes back), pause_leader / pause_non_leader (SIGSTOP),
  // resume (SIGCONT to every paused replica), part_oneway (the leader stops hearing the others).
  std::string type;
  double time = 0;  // seconds after start_wait
};

struct Tiers {
  double bonus = 0, full = 0, partial = 0;  // a value must be strictly below a tier to reach it
};

struct CourseConfig {
  std::string name;
  double lifetime = 30;
  int replicas = 5;
  int requests = 500;
  double mix = 0.5;  // read fraction
  double drops = 0;
  double start_wait = 5;
  double end_wait = 2;
  int max_packets = 20000;
  double unanswered_get_fraction = 0.5;  // maximum_get_generation_fail_fraction
  double unanswered_put_fraction = 0.5;
  std::vector<CourseEvent> events;
  std::optional<Tiers> total_msgs, failures, duplicates, median_latency;
};

class CourseConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

CourseConfig parse_course_config(const std::string& text, const std::string& name);
CourseConfig load_course_config(const std::string& path);

}  // namespace coraft::chaos
