#pragma once
// cluster.json: the members of a cluster and optional tuning.
//   {"replicas": {"0000": "127.0.0.1:7000", "0001": "127.0.0.1:7001", "0002": "127.0.0.1:7002"},
//    "election_timeout_ms": [300, 600], "heartbeat_ms": 100, "request_timeout_ms": 3000, "hold_timeout_ms": 1000,
//    "lease_reads": true, "max_key_bytes": 1024, "max_value_bytes": 16384, "snapshot_entries": 100000,
//    "key_file": "cluster.key", "client_token_file": "client.token"}
// A replica may also serve the HTTP API (Consul's KV API): its entry is then {"udp": "host:port", "http": "host:port"}.
// Everything is validated on load; any problem is an error that says what and where (duplicate ids or keys
// included). Secret files are named here but read only by those who need them (net/secret_file.hpp): replicas read
// key_file, clients read client_token_file. Pure: no sockets.

#include "actors/replica_options.hpp"
#include "raft/types.hpp"

#include <map>
#include <stdexcept>
#include <string>

namespace coraft::net {

struct HostPort {
  std::string host;
  std::uint16_t port = 0;
  bool operator==(const HostPort&) const = default;
};

struct ClusterConfig {
  std::map<raft::NodeId, HostPort> replicas;  // UDP: peers and clients
  std::map<raft::NodeId, HostPort> http;      // the HTTP API, for the replicas that give one
  actors::ReplicaOptions tuning;  // self and peers unset: filled in for one replica by options_for()
  // Peer authentication (net/peer_auth.hpp); empty: replica-to-replica datagrams are not authenticated.
  std::string key_file;
  // Empty: clients need no token. Otherwise every client request must carry the token this file holds.
  std::string client_token_file;
  // load_cluster_config() resolves both against the cluster file's directory; parse_cluster_config() leaves them.

  actors::ReplicaOptions options_for(raft::NodeId self) const;
};

class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};
// The cluster file itself does not exist or cannot be read (as opposed to saying something wrong).
class ConfigFileMissing : public ConfigError {
 public:
  using ConfigError::ConfigError;
};

// Where `make run` (examples/cluster.sh) writes its cluster file, relative to the repository's top folder, where the
// README's commands run: the file a client uses when it is given none.
inline constexpr const char* kLocalClusterFile = "data/local-cluster/cluster.json";

// Syntax errors name the line and column.
ClusterConfig parse_cluster_config(const std::string& text);
// Throws ConfigFileMissing or ConfigError, naming the file.
ClusterConfig load_cluster_config(const std::string& path);
HostPort parse_host_port(const std::string& text);            // "host:port"; throws ConfigError

}  // namespace coraft::net
