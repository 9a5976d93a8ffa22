#include "course_config.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

namespace coraft::chaos {
namespace {

using nlohmann::json;

double number(const json& j, const char* key, double fallback) {
  auto it = j.find(key);
  if (it == j.end()) return fallback;
  if (!it->is_number()) throw CourseConfigError(fmt::format("\"{}\" must be a number", key));
  return it->get<double>();
}

std::optional<Tiers> tiers(const json& benchmarks, const char* key) {
  auto it = benchmarks.find(key);
  if (it == benchmarks.end()) return std::nullopt;
  if (!it->is_array() || it->size() != 3 || !(*it)[0].is_number() || !(*it)[1].is_number() || !(*it)[2].is_number()) {
    throw CourseConfigError(fmt::format("benchmark \"{}\" must be [bonus, full, partial]", key));
  }
  return Tiers{(*it)[0].get<double>(), (*it)[1].get<double>(), (*it)[2].get<double>()};
}

}  // namespace

CourseConfig parse_course_config(const std::string& text, const std::string& name) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) throw CourseConfigError("not a JSON object");
  CourseConfig c;
  c.name = name;
  c.lifetime = number(j, "lifetime", c.lifetime);
  c.replicas = static_cast<int>(number(j, "replicas", c.replicas));
  c.requests = static_cast<int>(number(j, "requests", c.requests));
  c.mix = number(j, "mix", c.mix);
  c.drops = number(j, "drops", c.drops);
  c.start_wait = number(j, "start_wait", c.start_wait);
  c.end_wait = number(j, "end_wait", c.end_wait);
  c.max_packets = static_cast<int>(number(j, "max_packets", c.max_packets));
  c.unanswered_get_fraction = number(j, "maximum_get_generation_fail_fraction", c.unanswered_get_fraction);
  c.unanswered_put_fraction = number(j, "maximum_put_generation_fail_fraction", c.unanswered_put_fraction);
  if (c.replicas < 1 || c.replicas > 64) throw CourseConfigError("\"replicas\" must be 1-64");
  if (c.requests < 0 || c.lifetime <= 0) throw CourseConfigError("\"requests\" and \"lifetime\" must be positive");
  if (c.mix < 0 || c.mix > 1 || c.drops < 0 || c.drops > 1) throw CourseConfigError("\"mix\" and \"drops\" are fractions");
  static const std::set<std::string> known_events = {"kill_leader", "kill_non_leader", "part_easy",      "part_hard",
                                                     "part_end",    "restart",         "pause_leader",   "pause_non_leader",
                                                     "resume",      "part_oneway"};
  if (auto events = j.find("events"); events != j.end()) {
    if (!events->is_array()) throw CourseConfigError("\"events\" must be an array");
    for (const json& e : *events) {
      if (!e.is_object() || !e.contains("type") || !e["type"].is_string() || !e.contains("time") || !e["time"].is_number()) {
        throw CourseConfigError("every event needs a string \"type\" and a number \"time\"");
      }
      CourseEvent event{e["type"].get<std::string>(), e["time"].get<double>()};
      if (!known_events.count(event.type)) throw CourseConfigError(fmt::format("unknown event type \"{}\"", event.type));
      c.events.push_back(event);
    }
  }
  if (auto tests = j.find("tests"); tests != j.end() && tests->is_object()) {
    if (auto b = tests->find("benchmarks"); b != tests->end() && b->is_object()) {
      c.total_msgs = tiers(*b, "total_msgs");
      c.failures = tiers(*b, "failures");
      c.duplicates = tiers(*b, "duplicates");
      c.median_latency = tiers(*b, "median_latency");
    }
  }
  return c;
}

CourseConfig load_course_config(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw CourseConfigError(fmt::format("{}: cannot read the file", path));
  std::stringstream text;
  text << in.rdbuf();
  try {
    return parse_course_config(text.str(), std::filesystem::path(path).stem().string());
  } catch (const CourseConfigError& e) {
    throw CourseConfigError(fmt::format("{}: {}", path, e.what()));
  }
}

}  // namespace coraft::chaos
