#pragma once
// What a replica counts about itself, for operators: `kvctl metrics` and the Prometheus endpoint show it as
// Prometheus text (render_prometheus).

#include "actors/client_protocol.hpp"

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

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

// Each actor owns the counters of what it does, and renders them when asked (ReportMetrics): a status or metrics
// request gathers every actor's text by message (the gateway collects them; see actors/gateway.hpp). Touched only on
// the replica's thread, so plain integers suffice.

struct NodeMetrics {  // the raft node's
  std::uint64_t elections_started = 0;  // election timeouts that started a (pre-)vote
  std::uint64_t leader_changes = 0;     // times this replica saw a different leader (or none) than before
  std::uint64_t terms_led = 0;          // times this replica became leader
  std::uint64_t snapshots_taken = 0;
  std::uint64_t snapshots_installed = 0;  // received from a leader
  std::uint64_t peer_messages_rejected = 0;  // well-formed peer messages no correct replica sends (forged or faulty)
  std::uint64_t retransmissions = 0;  // AppendEntries and vote requests sent again after their timeout
  // Client work reaching the node.
  std::uint64_t proposals = 0;        // commands proposed to the log (leader)
  std::uint64_t proposal_batches = 0;  // ProposeCommands messages from the gateway
  std::uint64_t reads = 0;            // linearizable reads (ReadIndex or lease)
  Histogram<11> proposal_batch_size{{1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024}};
  void render(std::string& out, std::string_view labels) const;
};

struct StorageMetrics {  // the storage actor's: one write per burst (group commit), its time including the fsync
  std::uint64_t storage_writes = 0;
  Histogram<11> entries_per_write{{1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024}};
  Histogram<12> write_seconds{{0.00005, 0.0001, 0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5}};
  void render(std::string& out, std::string_view labels) const;
};

struct GatewayMetrics {  // the gateway's: client requests it held back while it knew no leader to send them to
  std::uint64_t held_no_leader = 0;  // held while no leader was known (an election under way)
  std::uint64_t held_came_back = 0;  // held because the client came straight back from the leader we named
  std::uint64_t hold_timeouts = 0;   // still no leader at hold_timeout: redirected with none named
  std::uint64_t holds_ended_by_round = 0;  // redirected with none named when an election round here found no leader
  std::uint64_t sent_on_at_once = 0;  // redirected with none named on arrival: a round here already found no leader
  std::uint64_t sent_on_later = 0;  // held because the client was sent on a moment ago, then sent on again
  std::uint64_t answered_at_commit = 0;  // puts answered once committed, before they were applied
  Histogram<10> hold_seconds{{0.001, 0.005, 0.01, 0.05, 0.1, 0.2, 0.5, 1, 2, 5}};  // from held to released
  void render(std::string& out, std::string_view labels) const;
};

struct ApiMetrics {  // the KV API actor's (the HTTP API's calls)
  std::uint64_t api_calls = 0;            // calls received: from clients, and forwarded by other replicas
  std::uint64_t api_calls_forwarded = 0;  // sent on to the leader
  std::uint64_t api_retries = 0;          // tried again: no leader known, a full mailbox, a forward without an answer
  std::uint64_t api_failures = 0;         // answered with an error (no leader, timed out, overloaded, too large...)
  std::uint64_t api_calls_open = 0;       // not answered yet, blocking queries among them
  void render(std::string& out, std::string_view labels) const;
};

// `replica="0001"`: the labels every sample of a replica carries.
std::string replica_label(raft::NodeId id);

// The replica's Prometheus text (version 0.0.4): its build, the gauges of its status, then every actor's and edge's
// own text (`reports`, as gathered) in the order given.
std::string render_prometheus(const ReplicaStatus& status, const std::vector<std::string>& reports);

// Appends one sample line: name{labels} value.
void append_sample(std::string& out, std::string_view name, std::string_view labels, double value);
// Appends "# HELP" and "# TYPE" lines.
void append_header(std::string& out, std::string_view name, std::string_view type, std::string_view help);

}  // namespace coraft::actors
