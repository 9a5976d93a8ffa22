#pragma once
// What a leader knows about one follower's log (Raft Figure 2 nextIndex/matchIndex), with flow control as in etcd's
// Progress: one probe at a time until the follower's position is known, then pipelined batches up to a window
// bounded in messages and bytes.

#include "raft/types.hpp"

#include <cstdint>
#include <deque>
#include <limits>

namespace coraft::raft {

struct ReplicationLimits {
  std::size_t max_append_entries = 512;        // entries in one AppendEntries
  std::size_t max_append_bytes = 32 * 1024;    // payload bytes in one AppendEntries (a datagram holds 60 KB)
  std::size_t max_inflight_appends = 64;       // unacknowledged AppendEntries per follower
  std::size_t max_inflight_bytes = 4u << 20;   // unacknowledged payload bytes per follower
};

class Progress {
 public:
  enum class Mode : std::uint8_t {
    kProbe,      // position unknown: at most one AppendEntries outstanding, resent on each heartbeat
    kReplicate,  // position known: batches pipelined up to the window
    kSnapshot,   // it needs entries we compacted away: a snapshot is on its way instead
  };

  explicit Progress(Index next_index) : next_(next_index) {}

  Mode mode() const { return mode_; }
  Index match() const { return match_; }
  Index next() const { return next_; }
  bool probe_outstanding() const { return probe_outstanding_; }
  std::size_t inflight_appends() const { return inflight_.size(); }

  // May another AppendEntries carrying entries go out now?
  bool can_send_entries(const ReplicationLimits& limits) const;
  // Records an AppendEntries that went out with entries up to `last_index` (nothing new if it carried none).
  void on_sent(Index last_index, std::size_t bytes);

  // A success reply said the follower matches up to `match_index`. Returns true if match moved forward.
  // Stale or duplicated replies (match_index <= match) change nothing: match and next never move backwards.
  bool on_success(Index match_index);
  // A rejection of the AppendEntries whose prev_log_index was `rejected_prev`; `hint_next` is where the leader's
  // fast-backtracking rule says to retry. Returns false for a stale rejection, which changes nothing.
  bool on_reject(Index rejected_prev, Index hint_next);
  // The follower stopped answering: stop pipelining, fall back to probing from just after what it has confirmed.
  void become_probe();
  // Is an AppendEntries with entries, or a probe, waiting for the follower's answer?
  bool awaiting_answer() const {
    return (mode_ == Mode::kReplicate && !inflight_.empty()) || (mode_ == Mode::kProbe && probe_outstanding_);
  }
  // A probe is about to go from `from` (at or below next): a rejection of it is then the answer to this probe.
  void probe_from(Index from) {
    if (mode_ == Mode::kProbe && from > match_ && from < next_) next_ = from;
  }
  // No answer came in time: what went unanswered may be sent again, as one probe from just after what the follower
  // confirmed (the answer says where it stands, and pipelining resumes from there).
  void resend_unanswered() {
    if (mode_ == Mode::kReplicate) become_probe();
    else if (mode_ == Mode::kProbe) probe_outstanding_ = false;
  }
  // It needs entries before the log's start: send the snapshot that ends at `snapshot_index`.
  void become_snapshot(Index snapshot_index);
  // It installed a snapshot ending at `index`: continue with entries after it.
  void on_snapshot_installed(Index index);
  Index snapshot_index() const { return snapshot_index_; }

 private:
  struct Inflight {
    Index last_index;
    std::size_t bytes;
  };

  Mode mode_ = Mode::kProbe;
  // Invariant: match_ < next_. match_ only grows; next_ only drops on a fresh rejection, a fall back to probing, or a
  // probe that starts lower.
  Index match_ = 0;
  Index next_;
  bool probe_outstanding_ = false;
  std::deque<Inflight> inflight_;
  std::size_t inflight_bytes_ = 0;
  Index snapshot_index_ = 0;
};

}  // namespace coraft::raft
