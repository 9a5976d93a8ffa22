#include "net/cluster_config.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>
#include <vector>

namespace coraft::net {
namespace {

using nlohmann::json;

// An hour: every timing is at most this (replicas add timings to their clock in microseconds).
constexpr std::uint64_t kMaxMs = 3'600'000;

std::uint64_t positive_ms(const json& j, const char* key) {
  const json& v = j.at(key);
  if (!v.is_number_unsigned() || v.get<std::uint64_t>() == 0 || v.get<std::uint64_t>() > kMaxMs) {
    throw ConfigError(fmt::format("\"{}\" must be a whole number of milliseconds between 1 and {}", key, kMaxMs));
  }
  return v.get<std::uint64_t>();
}

// "line 3, column 14: not valid JSON: syntax error while parsing object - unexpected '}'; expected string literal".
// The position is where the parser stopped, which for a missing comma or quote is just after the mistake.
std::string syntax_error(const std::string& text, const json::parse_error& e) {
  const std::size_t at = std::min<std::size_t>(e.byte > 0 ? e.byte - 1 : 0, text.size());
  std::size_t line = 1, column = 1;
  for (std::size_t i = 0; i < at; ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  // nlohmann's text: "[json.exception.parse_error.101] parse error at line 3, column 14: <what>"; keep <what>.
  std::string what = e.what();
  const auto column_at = what.find("column ");
  const auto colon = what.find(": ", column_at == std::string::npos ? 0 : column_at);
  if (colon != std::string::npos) what = what.substr(colon + 2);
  // The two slips that make most of these: a comma left out between members, or one left after the last.
  std::string hint;
  if (what.find("unexpected string literal; expected '}'") != std::string::npos) hint = " (a comma missing before it?)";
  if (what.find("unexpected '}'; expected string literal") != std::string::npos) hint = " (a comma after the last member?)";
  return fmt::format("line {}, column {}: not valid JSON: {}{}", line, column, what, hint);
}

}  // namespace

HostPort parse_host_port(const std::string& text) {
  const auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size()) {
    throw ConfigError(fmt::format("address \"{}\" is not host:port", text));
  }
  HostPort hp;
  hp.host = text.substr(0, colon);
  if (hp.host.size() > 2 && hp.host.front() == '[' && hp.host.back() == ']') hp.host = hp.host.substr(1, hp.host.size() - 2);
  unsigned port = 0;
  const char* begin = text.data() + colon + 1;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(begin, end, port);
  if (ec != std::errc{} || ptr != end || port == 0 || port > 65535) {
    throw ConfigError(fmt::format("address \"{}\": port must be 1-65535", text));
  }
  hp.port = static_cast<std::uint16_t>(port);
  return hp;
}

ClusterConfig parse_cluster_config(const std::string& text) {
  // Duplicate keys are legal JSON, and nlohmann keeps only the last one, but a duplicate key here is a mistake (two
  // replicas given one id, a setting given twice): spot them while parsing, at every level.
  struct Level {
    std::set<std::string> keys;
    bool replicas = false;  // the top level's "replicas" object, whose keys are replica ids
  };
  std::vector<Level> levels;
  std::optional<std::string> pending_key;  // the key whose value is being parsed
  std::string duplicate;
  json::parser_callback_t watch = [&](int /*depth*/, json::parse_event_t event, json& parsed) {
    switch (event) {
      case json::parse_event_t::key: {
        std::string key = parsed.get<std::string>();
        if (!levels.empty() && !levels.back().keys.insert(key).second && duplicate.empty()) {
          duplicate = levels.back().replicas ? fmt::format("replica id {} appears more than once", key)
                                             : fmt::format("key \"{}\" appears more than once", key);
        }
        pending_key = std::move(key);
        break;
      }
      case json::parse_event_t::object_start:
        levels.push_back({{}, levels.size() == 1 && pending_key == "replicas"});
        pending_key.reset();
        break;
      case json::parse_event_t::object_end:
        if (!levels.empty()) levels.pop_back();
        break;
      default:
        pending_key.reset();
        break;
    }
    return true;
  };
  json j;
  try {
    j = json::parse(text, watch);
  } catch (const json::parse_error& e) {
    throw ConfigError(syntax_error(text, e));
  }
  if (!j.is_object()) throw ConfigError("the top level must be an object");
  if (!duplicate.empty()) throw ConfigError(duplicate);

  static const std::set<std::string> known = {"replicas",         "election_timeout_ms", "heartbeat_ms",
                                              "request_timeout_ms", "hold_timeout_ms",    "lease_reads",
                                              "max_key_bytes",    "max_value_bytes",     "snapshot_entries",
                                              "key_file",         "client_token_file",   "defer_spare_followers"};
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (!known.count(it.key())) throw ConfigError(fmt::format("unknown key \"{}\"", it.key()));
  }

  ClusterConfig config;
  auto replicas = j.find("replicas");
  if (replicas == j.end() || !replicas->is_object() || replicas->empty()) {
    throw ConfigError("\"replicas\" must be a non-empty object of id -> \"host:port\"");
  }
  std::set<std::pair<std::string, std::uint16_t>> addresses, http_addresses;
  for (auto it = replicas->begin(); it != replicas->end(); ++it) {
    auto id = raft::NodeId::parse(it.key());
    if (!id || !id->valid()) {
      throw ConfigError(fmt::format("replica id \"{}\" must be 4 hex digits other than FFFF", it.key()));
    }
    // "host:port" (UDP), or {"udp": "host:port", "http": "host:port"} for a replica that also serves the HTTP API.
    const json* udp = &*it;
    if (it->is_object()) {
      for (auto field = it->begin(); field != it->end(); ++field) {
        if (field.key() != "udp" && field.key() != "http") {
          throw ConfigError(fmt::format("replica {}: unknown key \"{}\" (expected \"udp\" and \"http\")", it.key(),
                                        field.key()));
        }
        if (!field->is_string()) {
          throw ConfigError(fmt::format("replica {}: \"{}\" must be a \"host:port\" string", it.key(), field.key()));
        }
      }
      if (!it->contains("udp")) throw ConfigError(fmt::format("replica {}: \"udp\" is missing", it.key()));
      udp = &it->at("udp");
      if (it->contains("http")) {
        HostPort http = parse_host_port(it->at("http").get<std::string>());
        if (!http_addresses.insert({http.host, http.port}).second) {
          throw ConfigError(fmt::format("replica {}: HTTP address {}:{} is used twice", it.key(), http.host, http.port));
        }
        config.http.emplace(*id, std::move(http));
      }
    } else if (!it->is_string()) {
      throw ConfigError(fmt::format("replica {}: address must be a \"host:port\" string, or {{\"udp\": \"host:port\", "
                                    "\"http\": \"host:port\"}}",
                                    it.key()));
    }
    HostPort hp = parse_host_port(udp->get<std::string>());
    if (!addresses.insert({hp.host, hp.port}).second) {
      throw ConfigError(fmt::format("replica {}: address {}:{} is used twice", it.key(), hp.host, hp.port));
    }
    config.replicas.emplace(*id, std::move(hp));
  }

  auto file_name = [&](const char* key, std::string& out) {
    auto it = j.find(key);
    if (it == j.end()) return;
    if (!it->is_string() || it->get<std::string>().empty()) {
      throw ConfigError(fmt::format("\"{}\" must be the path of a file (relative to the cluster file's directory)", key));
    }
    out = it->get<std::string>();
  };
  file_name("key_file", config.key_file);
  file_name("client_token_file", config.client_token_file);

  actors::ReplicaOptions& t = config.tuning;
  try {
    if (j.contains("election_timeout_ms")) {
      const json& e = j.at("election_timeout_ms");
      if (!e.is_array() || e.size() != 2 || !e[0].is_number_unsigned() || !e[1].is_number_unsigned() ||
          e[0].get<std::uint64_t>() > kMaxMs || e[1].get<std::uint64_t>() > kMaxMs) {
        throw ConfigError(fmt::format("\"election_timeout_ms\" must be [min, max], in milliseconds up to {}", kMaxMs));
      }
      t.timing.election_timeout_min = actors::Millis(e[0].get<std::int64_t>());
      t.timing.election_timeout_max = actors::Millis(e[1].get<std::int64_t>());
      if (t.timing.election_timeout_min.count() < 10 || t.timing.election_timeout_max < t.timing.election_timeout_min) {
        throw ConfigError("\"election_timeout_ms\": need 10 <= min <= max");
      }
    }
    if (j.contains("heartbeat_ms")) t.timing.heartbeat_interval = actors::Millis(positive_ms(j, "heartbeat_ms"));
    if (j.contains("request_timeout_ms")) t.timing.request_timeout = actors::Millis(positive_ms(j, "request_timeout_ms"));
    if (j.contains("hold_timeout_ms")) t.timing.hold_timeout = actors::Millis(positive_ms(j, "hold_timeout_ms"));
    if (j.contains("lease_reads")) {
      if (!j.at("lease_reads").is_boolean()) throw ConfigError("\"lease_reads\" must be true or false");
      t.lease_reads = j.at("lease_reads").get<bool>();
    }
    if (j.contains("defer_spare_followers")) {
      if (!j.at("defer_spare_followers").is_boolean()) {
        throw ConfigError("\"defer_spare_followers\" must be true or false");
      }
      t.defer_spare_followers = j.at("defer_spare_followers").get<bool>();
    }
    if (j.contains("max_key_bytes")) t.max_key_bytes = positive_ms(j, "max_key_bytes");
    if (j.contains("max_value_bytes")) {
      t.max_value_bytes = positive_ms(j, "max_value_bytes");
      if (t.max_value_bytes > 32 * 1024) throw ConfigError("\"max_value_bytes\" can be at most 32768 (one datagram)");
    }
    if (j.contains("snapshot_entries")) {
      const json& v = j.at("snapshot_entries");
      if (!v.is_number_unsigned()) throw ConfigError("\"snapshot_entries\" must be a whole number (0: never)");
      t.snapshot_every_entries = v.get<std::uint64_t>();
    }
  } catch (const json::exception& e) {
    throw ConfigError(e.what());
  }
  if (t.timing.heartbeat_interval * 2 > t.timing.election_timeout_min) {
    throw ConfigError("heartbeat_ms must be at most half the minimum election timeout");
  }
  return config;
}

ClusterConfig load_cluster_config(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw ConfigFileMissing(fmt::format("{}: cannot read the file: {}", path, std::strerror(errno)));
  std::stringstream text;
  text << in.rdbuf();
  try {
    ClusterConfig config = parse_cluster_config(text.str());
    // Secret files named relative to the cluster file, so one directory holds a cluster's files wherever it is run.
    const std::filesystem::path dir = std::filesystem::path(path).parent_path();
    for (std::string* file : {&config.key_file, &config.client_token_file}) {
      if (!file->empty() && std::filesystem::path(*file).is_relative()) *file = (dir / *file).string();
    }
    return config;
  } catch (const ConfigError& e) {
    throw ConfigError(fmt::format("{}: {}", path, e.what()));
  }
}

actors::ReplicaOptions ClusterConfig::options_for(raft::NodeId self) const {
  actors::ReplicaOptions options = tuning;
  options.self = self;
  options.peers.clear();
  std::vector<raft::Member> members;
  for (const auto& [id, address] : replicas) {
    if (id != self) options.peers.push_back(id);
    members.push_back(raft::Member{id, fmt::format("{}:{}", address.host, address.port), true, 0});
  }
  // What a new cluster starts from; once the first leader has recorded it in the log, the log says who the members
  // are and this file is only an address book.
  options.initial_membership = raft::Membership::of_voters(members);
  return options;
}

}  // namespace coraft::net
