#pragma once
// What a replica counts about itself, for operators: `kvctl metrics` and the Prometheus endpoint show it as
// Prometheus text (render_prometheus). One ReplicaMetrics per replica, owned by the Replica and touched only on the
// replica's thread (the storage actor records its disk timings when a job's answer is back there), so plain integers suffice.

#include "actors/client_protocol.hpp"

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace coraft::actors {

// A Prometheus-style cumulative histogram with fixed bucket bounds.
template <std::size_t N>
struct Histogram {
  std::array<double, N> bounds;  // upper bounds, increasing; +Inf is implicit
  std::array<std::uint64_t, N + 1> counts{};
  std::uint64_t count = 0;
  double sum = 0;

  void observe(double value) {
    std::size_t i = 0;
    while (i < N && value > bounds[i]) ++i;
    ++counts[i];
    ++count;
    sum += value;
  }
};

struct ReplicaMetrics {
  // Raft.
  std::uint64_t elections_started = 0;  // election timeouts that started a (pre-)vote
  std::uint64_t leader_changes = 0;     // times this replica saw a different leader (or none) than before
  std::uint64_t terms_led = 0;          // times this replica became leader
  std::uint64_t snapshots_taken = 0;
  std::uint64_t snapshots_installed = 0;  // received from a leader
  std::uint64_t peer_messages_rejected = 0;  // well-formed peer messages no correct replica sends (forged or faulty)
  // Client work reaching the node.
  std::uint64_t proposals = 0;        // commands proposed to the log (leader)
  std::uint64_t proposal_batches = 0;  // ProposeCommands messages from the gateway
  std::uint64_t reads = 0;            // linearizable reads (ReadIndex or lease)
  Histogram<11> proposal_batch_size{{1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024}};
  // Storage: one write per burst (group commit); the latency includes the fsync when fsync is on.
  std::uint64_t storage_writes = 0;
  Histogram<11> entries_per_write{{1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024}};
  Histogram<12> write_seconds{{0.00005, 0.0001, 0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5}};

  // The HTTP API's calls (actors/kv_api.hpp).
  std::uint64_t api_calls = 0;            // calls received: from clients, and forwarded by other replicas
  std::uint64_t api_calls_forwarded = 0;  // sent on to the leader
  std::uint64_t api_retries = 0;          // tried again: no leader known, a full mailbox, a forward without an answer
  std::uint64_t api_failures = 0;         // answered with an error (no leader, timed out, overloaded, too large...)
  std::uint64_t api_calls_open = 0;       // not answered yet, blocking queries among them

  // The UDP bridge adds its datagram counters here, the HTTP edge its connection counters (net/ owns those); called
  // while rendering.
  std::function<void(std::string& out)> render_network;
  std::function<void(std::string& out)> render_http;
};

// The replica's status and counters in the Prometheus text exposition format (version 0.0.4).
std::string render_prometheus(const ReplicaStatus& status, const ReplicaMetrics& metrics);

// Appends one sample line: name{labels} value.
void append_sample(std::string& out, std::string_view name, std::string_view labels, double value);
// Appends "# HELP" and "# TYPE" lines.
void append_header(std::string& out, std::string_view name, std::string_view type, std::string_view help);

}  // namespace coraft::actors
