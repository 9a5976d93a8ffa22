#include "actors/metrics.hpp"

#include "version/version.hpp"

#include <fmt/format.h>

namespace coraft::actors {

void append_sample(std::string& out, std::string_view name, std::string_view labels, double value) {
  if (labels.empty()) fmt::format_to(std::back_inserter(out), "{} {}\n", name, value);
  else fmt::format_to(std::back_inserter(out), "{}{{{}}} {}\n", name, labels, value);
}

void append_header(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
  fmt::format_to(std::back_inserter(out), "# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
}

namespace {

template <std::size_t N>
void append_histogram(std::string& out, std::string_view name, std::string_view help, std::string_view id_label,
                      const Histogram<N>& h) {
  append_header(out, name, "histogram", help);
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < N; ++i) {
    cumulative += h.counts[i];
    fmt::format_to(std::back_inserter(out), "{}_bucket{{{},le=\"{}\"}} {}\n", name, id_label, h.bounds[i], cumulative);
  }
  cumulative += h.counts[N];
  fmt::format_to(std::back_inserter(out), "{}_bucket{{{},le=\"+Inf\"}} {}\n", name, id_label, cumulative);
  fmt::format_to(std::back_inserter(out), "{}_sum{{{}}} {}\n{}_count{{{}}} {}\n", name, id_label, h.sum, name,
                 id_label, h.count);
}

void gauge(std::string& out, std::string_view name, std::string_view help, std::string_view labels, double value) {
  append_header(out, name, "gauge", help);
  append_sample(out, name, labels, value);
}

struct Counter {
  const char* name;
  const char* help;
  std::uint64_t value;
};

template <std::size_t N>
void append_counters(std::string& out, std::string_view labels, const Counter (&counters)[N]) {
  for (const Counter& c : counters) {
    append_header(out, c.name, "counter", c.help);
    append_sample(out, c.name, labels, static_cast<double>(c.value));
  }
}

}  // namespace

std::string replica_label(raft::NodeId id) { return fmt::format("replica=\"{}\"", id.str()); }

std::string render_prometheus(const ReplicaStatus& s, const std::vector<std::string>& reports) {
  std::string out;
  out.reserve(8192);
  const std::string id = replica_label(s.id);
  gauge(out, "coraft_build_info", "Always 1; the labels say which coraft build this replica runs",
        fmt::format("{},version=\"{}\",commit=\"{}\"", id, version(), commit()), 1);
  append_header(out, "coraft_role", "gauge", "1 for the role this replica is in");
  for (auto role : {raft::Role::kFollower, raft::Role::kPreCandidate, raft::Role::kCandidate, raft::Role::kLeader}) {
    append_sample(out, "coraft_role", fmt::format("{},role=\"{}\"", id, raft::role_name(role)), s.role == role);
  }
  gauge(out, "coraft_term", "Current Raft term", id, static_cast<double>(s.term));
  gauge(out, "coraft_commit_index", "Highest log index known committed", id, static_cast<double>(s.commit_index));
  gauge(out, "coraft_applied_index", "Highest log index applied to the store", id, static_cast<double>(s.applied_index));
  gauge(out, "coraft_last_log_index", "Last index in the log", id, static_cast<double>(s.last_log_index));
  gauge(out, "coraft_snapshot_index", "Index the latest snapshot covers (the log starts after it)", id,
        static_cast<double>(s.snapshot_index));
  gauge(out, "coraft_log_entries", "Entries held in the log (after the snapshot)", id,
        static_cast<double>(s.last_log_index - std::min(s.snapshot_index, s.last_log_index)));
  gauge(out, "coraft_keys", "Keys in the store", id, static_cast<double>(s.keys));
  gauge(out, "coraft_leader_contact_age_seconds", "Seconds since the leader was last heard from (-1: never)", id,
        s.last_leader_contact_ms < 0 ? -1.0 : s.last_leader_contact_ms / 1000.0);
  if (!s.followers.empty()) {
    append_header(out, "coraft_follower_match_index", "gauge", "Leader: highest index known replicated on each follower");
    for (const auto& f : s.followers) {
      append_sample(out, "coraft_follower_match_index", fmt::format("{},follower=\"{}\"", id, f.id.str()),
                    static_cast<double>(f.match_index));
    }
    append_header(out, "coraft_follower_lag_entries", "gauge", "Leader: entries each follower is behind the leader's log");
    for (const auto& f : s.followers) {
      append_sample(out, "coraft_follower_lag_entries", fmt::format("{},follower=\"{}\"", id, f.id.str()),
                    static_cast<double>(s.last_log_index - std::min(f.match_index, s.last_log_index)));
    }
  }
  for (const std::string& report : reports) out += report;
  return out;
}

void NodeMetrics::render(std::string& out, std::string_view id) const {
  const Counter counters[] = {
      {"coraft_elections_started_total", "Election timeouts that started a vote", elections_started},
      {"coraft_leader_changes_total", "Changes of the leader this replica follows", leader_changes},
      {"coraft_terms_led_total", "Times this replica became leader", terms_led},
      {"coraft_snapshots_taken_total", "Snapshots of the store taken here", snapshots_taken},
      {"coraft_snapshots_installed_total", "Snapshots received from a leader", snapshots_installed},
      {"coraft_peer_messages_rejected_total",
       "Peer messages dropped because no correct replica sends them (forged, or a faulty peer)", peer_messages_rejected},
      {"coraft_retransmissions_total", "AppendEntries and vote requests sent again, unanswered after their timeout",
       retransmissions},
      {"coraft_proposals_total", "Client commands proposed to the log", proposals},
      {"coraft_reads_total", "Linearizable reads served", reads},
  };
  append_counters(out, id, counters);
  append_histogram(out, "coraft_proposal_batch_size", "Commands per batch the gateway proposed", id,
                   proposal_batch_size);
}

void StorageMetrics::render(std::string& out, std::string_view id) const {
  const Counter counters[] = {
      {"coraft_storage_writes_total", "Log writes (one per batch of queued changes: group commit)", storage_writes},
  };
  append_counters(out, id, counters);
  append_histogram(out, "coraft_entries_per_write", "Log entries per write", id, entries_per_write);
  append_histogram(out, "coraft_storage_write_seconds", "Time to write (and fsync, when on) one burst", id,
                   write_seconds);
}

void GatewayMetrics::render(std::string& out, std::string_view id) const {
  const Counter counters[] = {
      {"coraft_gateway_held_no_leader_total", "Client requests held because no leader was known", held_no_leader},
      {"coraft_gateway_held_came_back_total",
       "Client requests held because the client came straight back from the leader this replica named", held_came_back},
      {"coraft_gateway_hold_timeouts_total", "Held requests still without a leader at hold_timeout", hold_timeouts},
      {"coraft_gateway_holds_ended_by_round_total",
       "Held requests redirected because an election round on this replica ended without a leader", holds_ended_by_round},
      {"coraft_gateway_sent_on_at_once_total",
       "Requests redirected on arrival because an election round on this replica had already ended without a leader",
       sent_on_at_once},
      {"coraft_gateway_sent_on_later_total",
       "Requests held because their client had just been sent on from here with no leader named, then sent on again",
       sent_on_later},
      {"coraft_gateway_answered_at_commit_total", "Puts answered as soon as they committed, before they were applied",
       answered_at_commit},
  };
  append_counters(out, id, counters);
  append_histogram(out, "coraft_gateway_hold_seconds", "How long a held request waited for news of a leader", id,
                   hold_seconds);
}

void ApiMetrics::render(std::string& out, std::string_view id) const {
  const Counter counters[] = {
      {"coraft_api_calls_total", "HTTP API calls received (from clients, and forwarded by other replicas)", api_calls},
      {"coraft_api_calls_forwarded_total", "HTTP API calls sent on to the leader", api_calls_forwarded},
      {"coraft_api_retries_total",
       "HTTP API calls tried again (no leader known, a full mailbox, a forward without an answer)", api_retries},
      {"coraft_api_failures_total", "HTTP API calls answered with an error", api_failures},
  };
  append_counters(out, id, counters);
  gauge(out, "coraft_api_calls_open", "HTTP API calls not answered yet (blocking queries among them)", id,
        static_cast<double>(api_calls_open));
}

}  // namespace coraft::actors
