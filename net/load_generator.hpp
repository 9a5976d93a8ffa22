#pragma once
// kvbench's load: closed-loop clients against a coraft cluster (over UDP or its HTTP API) or an etcd cluster, a
// progress line a second, and a report of throughput and latency percentiles after the warm-up (or one JSON object).
// With a history file, every operation is recorded for kvcheck (net/history_io.hpp).

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace coraft::net {

struct LoadSettings {
  int clients = 64;
  double duration_s = 10;
  std::uint64_t ops = 0;  // 0: run for the duration
  double warmup_s = 1;
  double read_ratio = 0;
  std::uint64_t keys = 100000;
  std::size_t key_size = 16;
  std::size_t value_size = 32;
  bool fill = false;  // put every key once, in order, then stop
  double rate = 0;  // operations per second over all clients; 0: as fast as they go
};

struct LoadCommandLine {
  LoadSettings load;
  std::string cluster_path, etcd_urls;  // exactly one
  bool json_output = false, quiet = false;
  std::uint64_t seed = 0;  // 0: from the OS
  bool over_http = false, http_to_leader = false;
  bool socket_per_client = false;  // coraft over UDP: a socket per client instead of one for all (ClientSocket)
  double timeout_s = 10;
  std::string history_path;
  // Processes (the system's replicas or members) whose CPU time over the measured window is reported, per 1,000
  // operations: the cost of an operation on the servers, which throughput alone hides.
  std::vector<int> cpu_pids;
};

// Runs the load; returns the process's exit status (net/exit_codes.hpp).
int run_load(LoadCommandLine command_line);

}  // namespace coraft::net
