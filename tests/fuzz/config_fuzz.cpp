// Fuzz target: the cluster configuration loader (net/cluster_config), fed the file's bytes through
// parse_cluster_config (what load_cluster_config does after reading the file). The whole input is the file.
// Properties: anything wrong is a ConfigError (no other exception, no crash); what loads is valid (ids, ports,
// timings) and, written back as JSON, loads again to the same configuration.

#include "fuzz_target.hpp"

#include "net/cluster_config.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <limits>
#include <string>

using namespace coraft;

namespace {

// A host as it must be written for parse_host_port to give it back: brackets when it has a colon or brackets
// around it already (parse_host_port takes one pair off).
std::string address_text(const net::HostPort& hp) {
  const bool bracket = hp.host.find(':') != std::string::npos ||
                       (hp.host.size() >= 2 && hp.host.front() == '[' && hp.host.back() == ']');
  return (bracket ? "[" + hp.host + "]" : hp.host) + ":" + std::to_string(hp.port);
}

std::string write_back(const net::ClusterConfig& config) {
  nlohmann::json j;
  for (const auto& [id, hp] : config.replicas) j["replicas"][id.str()] = address_text(hp);
  const actors::ReplicaOptions& t = config.tuning;
  j["election_timeout_ms"] = {t.timing.election_timeout_min.count(), t.timing.election_timeout_max.count()};
  j["heartbeat_ms"] = t.timing.heartbeat_interval.count();
  j["request_timeout_ms"] = t.timing.request_timeout.count();
  j["hold_timeout_ms"] = t.timing.hold_timeout.count();
  j["lease_reads"] = t.lease_reads;
  j["defer_spare_followers"] = t.defer_spare_followers;
  j["max_key_bytes"] = t.max_key_bytes;
  j["max_value_bytes"] = t.max_value_bytes;
  j["snapshot_entries"] = t.snapshot_every_entries;
  return j.dump();
}

bool same(const net::ClusterConfig& a, const net::ClusterConfig& b) {
  const actors::Timing &x = a.tuning.timing, &y = b.tuning.timing;
  return a.replicas == b.replicas && x.election_timeout_min == y.election_timeout_min &&
         x.election_timeout_max == y.election_timeout_max && x.heartbeat_interval == y.heartbeat_interval &&
         x.request_timeout == y.request_timeout && x.hold_timeout == y.hold_timeout &&
         a.tuning.lease_reads == b.tuning.lease_reads &&
         a.tuning.defer_spare_followers == b.tuning.defer_spare_followers && a.tuning.max_key_bytes == b.tuning.max_key_bytes &&
         a.tuning.max_value_bytes == b.tuning.max_value_bytes &&
         a.tuning.snapshot_every_entries == b.tuning.snapshot_every_entries;
}

}  // namespace

CORAFT_FUZZ_TARGET(config) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  net::ClusterConfig config;
  try {
    config = net::parse_cluster_config(text);
  } catch (const net::ConfigError&) {
    return 0;  // refused, with a reason: fine
  }
  FUZZ_CHECK(!config.replicas.empty());
  for (const auto& [id, hp] : config.replicas) {
    FUZZ_CHECK(id.valid());
    FUZZ_CHECK(hp.port != 0);
    const actors::ReplicaOptions options = config.options_for(id);
    FUZZ_CHECK(options.self == id);
    FUZZ_CHECK(options.peers.size() + 1 == config.replicas.size());
  }
  const actors::Timing& t = config.tuning.timing;
  FUZZ_CHECK(t.election_timeout_min.count() >= 10);
  FUZZ_CHECK(t.election_timeout_min <= t.election_timeout_max);
  FUZZ_CHECK(t.heartbeat_interval.count() > 0 && t.heartbeat_interval * 2 <= t.election_timeout_min);
  FUZZ_CHECK(t.request_timeout.count() > 0 && t.hold_timeout.count() > 0);
  // A replica adds these to its clock's time in microseconds (election timer, gateway deadlines, leases): each must
  // convert, with room to spare for the clock.
  for (const actors::Millis ms : {t.election_timeout_min, t.election_timeout_max, t.heartbeat_interval,
                                  t.request_timeout, t.hold_timeout}) {
    FUZZ_CHECK(ms.count() <= std::numeric_limits<std::int64_t>::max() / 2000);
  }
  (void)config.tuning.read_lease_us();
  FUZZ_CHECK(config.tuning.max_key_bytes > 0);
  FUZZ_CHECK(config.tuning.max_value_bytes > 0 && config.tuning.max_value_bytes <= 32 * 1024);

  net::ClusterConfig again;
  const std::string written = write_back(config);
  try {
    again = net::parse_cluster_config(written);
  } catch (const net::ConfigError& e) {
    violated((std::string("a loaded configuration does not load again: ") + e.what() + " in " + written).c_str(),
             __FILE__, __LINE__);
  }
  FUZZ_CHECK(same(config, again));
  return 0;
}
