#include "raft/progress.hpp"

#include <algorithm>

namespace coraft::raft {

bool Progress::can_send_entries(const ReplicationLimits& limits) const {
  if (mode_ == Mode::kSnapshot) return false;
  if (mode_ == Mode::kProbe) return !probe_outstanding_;
  return inflight_.size() < limits.max_inflight_appends && inflight_bytes_ < limits.max_inflight_bytes;
}

void Progress::on_sent(Index last_index, std::size_t bytes) {
  if (mode_ == Mode::kProbe) {
    probe_outstanding_ = true;
    return;
  }
  if (last_index < next_) return;  // a heartbeat: nothing new in flight
  inflight_.push_back({last_index, bytes});
  inflight_bytes_ += bytes;
  next_ = last_index + 1;
}

bool Progress::on_success(Index match_index) {
  if (match_index <= match_) {
    // Stale or duplicated. In probe mode it still proves the follower is reachable, so the probe may go again.
    if (mode_ == Mode::kProbe) probe_outstanding_ = false;
    return false;
  }
  match_ = match_index;
  next_ = std::max(next_, match_ + 1);
  while (!inflight_.empty() && inflight_.front().last_index <= match_) {
    inflight_bytes_ -= inflight_.front().bytes;
    inflight_.pop_front();
  }
  if (mode_ == Mode::kProbe || (mode_ == Mode::kSnapshot && match_ >= snapshot_index_)) {
    mode_ = Mode::kReplicate;
    probe_outstanding_ = false;
    next_ = match_ + 1;
  }
  return true;
}

bool Progress::on_reject(Index rejected_prev, Index hint_next) {
  if (mode_ == Mode::kSnapshot) return false;  // the snapshot settles where it stands
  if (mode_ == Mode::kReplicate) {
    // A rejection of something at or below what the follower already confirmed is from an older exchange (a
    // pipelined append that overtook a lost one, say): the follower still holds everything up to match_.
    if (rejected_prev <= match_) return false;
  } else if (rejected_prev + 1 != next_) {
    return false;  // not the answer to the current probe
  }
  mode_ = Mode::kProbe;
  probe_outstanding_ = false;
  inflight_.clear();
  inflight_bytes_ = 0;
  // Move back, never below what is confirmed (match_ never decreases: a follower that acknowledged an entry keeps it
  // durably), and always strictly below the rejected position.
  next_ = std::clamp(hint_next, match_ + 1, std::max(match_ + 1, rejected_prev));
  return true;
}

void Progress::become_probe() {
  mode_ = Mode::kProbe;
  probe_outstanding_ = false;
  inflight_.clear();
  inflight_bytes_ = 0;
  next_ = match_ + 1;
}

}  // namespace coraft::raft

namespace coraft::raft {

void Progress::become_snapshot(Index snapshot_index) {
  mode_ = Mode::kSnapshot;
  snapshot_index_ = snapshot_index;
  probe_outstanding_ = false;
  inflight_.clear();
  inflight_bytes_ = 0;
}

void Progress::on_snapshot_installed(Index index) {
  if (mode_ != Mode::kSnapshot && index <= match_) return;
  match_ = std::max(match_, index);
  next_ = match_ + 1;
  mode_ = Mode::kProbe;
  probe_outstanding_ = false;
}

}  // namespace coraft::raft
