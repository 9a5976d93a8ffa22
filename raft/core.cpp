#include "raft/core.hpp"

#include "raft/overloaded.hpp"
#include "raft/quorum.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>
#include <utility>

namespace coraft::raft {

RaftCore::RaftCore(RaftConfig config, RecoveredState recovered)
    : config_(std::move(config)),
      term_(recovered.hard_state.term),
      voted_for_(recovered.hard_state.voted_for),
      log_(std::move(recovered.entries), recovered.snapshot ? recovered.snapshot->index : 0,
           recovered.snapshot ? recovered.snapshot->term : 0),
      commit_(log_.base_index()) {
  for (NodeId peer : config_.peers) {
    if (peer == config_.self) throw std::invalid_argument("a replica cannot be its own peer");
    peers_.push_back(PeerState{peer});
  }
  durable_index_ = log_.last_index();
  votes_held_after_restart_ = config_.check_quorum && term_ > 0;
  announced_ = RoleChanged{role_, term_, leader_};
}

const Progress* RaftCore::progress(NodeId peer) const {
  if (role_ != Role::kLeader) return nullptr;
  for (const auto& p : peers_)
    if (p.id == peer) return &p.progress;
  return nullptr;
}

RaftCore::PeerState* RaftCore::find_peer(NodeId id) {
  for (auto& p : peers_)
    if (p.id == id) return &p;
  return nullptr;
}

RaftCore::PeerState& RaftCore::peer_state(NodeId id) {
  PeerState* peer = find_peer(id);
  if (!peer) throw std::logic_error("not a peer: " + id.str());
  return *peer;
}

std::vector<Effect> RaftCore::step(const Input& input, std::int64_t now_us) {
  now_us_ = now_us;
  std::visit(Overloaded{
                 [&](const Receive& in) { on_message(in.message); },
                 [&](const ElectionTimeout&) { on_election_timeout(); },
                 [&](const Propose& in) { on_propose(in); },
                 [&](const ReadIndex& in) { on_read_index(in); },
                 [&](const HeartbeatDue& in) { on_heartbeat_due(in.peer); },
                 [&](const Persisted& in) { on_persisted(in); },
                 [&](const CompactLog& in) { on_compact(in); },
             },
             input);
  flush_persist();
  return std::exchange(effects_, {});
}

// ---------------------------------------------------------------------------------------------------------------
// Messages

void RaftCore::on_message(const PeerMessage& message) {
  if (message.to != config_.self || !find_peer(message.from)) return;  // not for us, or not a member
  const Term message_term = term_of(message.payload);
  const bool is_vote_request = std::holds_alternative<RequestVote>(message.payload);

  if (message_term > term_) {
    if (is_vote_request && (in_leader_lease() || votes_held_after_restart_)) {
      // Thesis §4.2.3: a replica that has heard from a current leader within the election timeout ignores vote
      // requests, so a partitioned replica coming back cannot depose a healthy leader. Also covers the restart rule.
      return;
    }
    const auto* vote_request = std::get_if<RequestVote>(&message.payload);
    const auto* vote_reply = std::get_if<RequestVoteReply>(&message.payload);
    const bool pre_vote_request = vote_request && vote_request->pre_vote;
    const bool granted_pre_vote = vote_reply && vote_reply->pre_vote && vote_reply->granted;
    // A PreVote request names a term the candidate has not entered yet, and a granted PreVote is answered in that
    // future term: neither moves our term (thesis §9.6).
    if (!pre_vote_request && !granted_pre_vote) {
      const bool from_leader = std::holds_alternative<AppendEntries>(message.payload);
      become_follower(message_term, from_leader ? message.from : kNoNode);
    }
  } else if (message_term < term_) {
    // Raft §5.1: stale term. Tell a stale leader or candidate our term so it steps down; drop stale replies.
    std::visit(Overloaded{
                   [&](const AppendEntries& m) {
                     send(message.from, AppendEntriesReply{.term = term_, .success = false,
                                                           .rejected_prev = m.prev_log_index,
                                                           .sent_at_us = m.sent_at_us});
                   },
                   [&](const RequestVote& m) {
                     send(message.from, RequestVoteReply{.term = term_, .granted = false, .pre_vote = m.pre_vote});
                   },
                   [&](const InstallSnapshot& m) {
                     send(message.from, InstallSnapshotReply{.term = term_, .last_included_index = m.last_included_index});
                   },
                   [](const auto&) {},
               },
               message.payload);
    return;
  }

  std::visit(Overloaded{
                 [&](const RequestVote& m) { on_request_vote(message.from, m); },
                 [&](const RequestVoteReply& m) { on_vote_reply(message.from, m); },
                 [&](const AppendEntries& m) { on_append(message.from, m); },
                 [&](const AppendEntriesReply& m) { on_append_reply(message.from, m); },
                 [&](const InstallSnapshot& m) { on_install_snapshot(message.from, m); },
                 [&](const InstallSnapshotReply& m) { on_install_snapshot_reply(message.from, m); },
             },
             message.payload);
}

void RaftCore::on_request_vote(NodeId from, const RequestVote& request) {
  bool can_vote;
  if (request.pre_vote) {
    // Would we vote for this candidate if it campaigned in request.term?
    can_vote = request.term > term_ || (request.term == term_ && (voted_for_ == from || voted_for_ == kNoNode) &&
                                        leader_ == kNoNode);
  } else {
    // One vote per term (§5.2); and not while we follow a leader of this term.
    can_vote = voted_for_ == from || (voted_for_ == kNoNode && leader_ == kNoNode);
  }
  // Election restriction (§5.4.1): only a candidate whose log is at least as up-to-date as ours.
  const bool granted = can_vote && log_.is_up_to_date(request.last_log_index, request.last_log_term);
  if (granted && !request.pre_vote) {
    set_hard_state(term_, from);
    emit(ResetElectionTimer{});  // §5.2: granting a vote counts as hearing from a would-be leader
  }
  // Persist (flushed by send) precedes the reply.
  send(from, RequestVoteReply{.term = request.pre_vote && granted ? request.term : term_, .granted = granted,
                              .pre_vote = request.pre_vote});
}

void RaftCore::on_vote_reply(NodeId from, const RequestVoteReply& reply) {
  const bool counting = (role_ == Role::kPreCandidate && reply.pre_vote) || (role_ == Role::kCandidate && !reply.pre_vote);
  if (!counting) return;
  // A granted PreVote comes back in the term we would campaign in; anything else in our own term.
  const Term expected = reply.pre_vote ? term_ + 1 : term_;
  if (reply.granted && reply.term != expected) return;
  PeerState& peer = peer_state(from);
  if (peer.vote_answered) return;  // duplicate
  peer.vote_answered = true;
  peer.vote_granted = reply.granted;
  tally_votes();
}

void RaftCore::tally_votes() {
  std::size_t granted = 1, rejected = 0;  // we vote for ourselves
  for (const auto& p : peers_) {
    if (!p.vote_answered) continue;
    if (p.vote_granted) ++granted;
    else ++rejected;
  }
  const std::size_t needed = quorum_size(peers_.size() + 1);
  if (granted >= needed) {
    if (role_ == Role::kPreCandidate) become_candidate();
    else become_leader();
  } else if (rejected >= needed) {
    become_follower(term_, kNoNode);
  }
}

void RaftCore::on_append(NodeId from, const AppendEntries& request) {
  if (role_ == Role::kLeader) {
    // A second leader in our term would break Election Safety: no correct replica sends this. Forged, or a faulty
    // peer: drop it, never act on it.
    reject(from, "AppendEntries in the term this replica leads");
    return;
  }
  // Entries must be consecutive after prev_log_index, with terms that never decrease and never exceed the leader's.
  Term previous_term = request.prev_log_term;
  for (std::size_t i = 0; i < request.entries.size(); ++i) {
    const Entry& entry = *request.entries[i];
    if (entry.index != request.prev_log_index + 1 + i || entry.term < previous_term || entry.term > request.term) {
      return;  // malformed: drop it, the leader will retry
    }
    previous_term = entry.term;
  }
  if (role_ != Role::kFollower || leader_ != from) become_follower(term_, from);
  votes_held_after_restart_ = false;
  emit(ResetElectionTimer{});

  Index prev = request.prev_log_index;
  Term prev_term = request.prev_log_term;
  std::size_t skip = 0;
  AppendEntriesReply reply{.term = term_, .sent_at_us = request.sent_at_us};
  // Everything up to our commit index is known to match the leader (Leader Completeness), so an old or duplicated
  // request reaching into it must not be compared, let alone truncate: start after the commit index.
  if (prev < commit_) {
    if (prev + request.entries.size() <= commit_) {
      reply.success = true;
      reply.match_index = commit_;
      send(from, reply);
      return;
    }
    skip = static_cast<std::size_t>(commit_ - prev);
    prev = commit_;
    prev_term = *log_.term_at(prev);
  }

  if (prev > log_.last_index()) {
    reply.rejected_prev = request.prev_log_index;
    reply.conflict_index = log_.last_index() + 1;
    send(from, reply);
    return;
  }
  const std::optional<Term> our_prev_term = log_.term_at(prev);
  if (!our_prev_term || *our_prev_term != prev_term) {
    reply.rejected_prev = request.prev_log_index;
    if (our_prev_term) {
      reply.conflict_term = *our_prev_term;
      reply.conflict_index = log_.first_index_of_term_at(prev, commit_ + 1);
    } else {
      reply.conflict_index = log_.last_index() + 1;
    }
    send(from, reply);
    return;
  }

  // Figure 2, AppendEntries rules 3-4: skip entries we already hold; at the first conflict, truncate and append.
  for (std::size_t i = skip; i < request.entries.size(); ++i) {
    const EntryPtr& entry = request.entries[i];
    const Index index = entry->index;
    const std::optional<Term> have = log_.term_at(index);
    if (have && *have == entry->term) continue;
    if (have) truncate_local(index);
    for (std::size_t j = i; j < request.entries.size(); ++j) append_local(request.entries[j]);
    break;
  }

  const Index match = request.prev_log_index + request.entries.size();
  const Index last_new = std::max(match, commit_);
  if (request.leader_commit > commit_) advance_commit(std::min(request.leader_commit, last_new));
  reply.success = true;
  reply.match_index = last_new;
  send(from, reply);
}

void RaftCore::on_append_reply(NodeId from, const AppendEntriesReply& reply) {
  if (role_ != Role::kLeader) return;
  PeerState& peer = peer_state(from);
  peer.recent_active = true;
  peer.answered_since_heartbeat = true;
  peer.backoff_shift = 0;
  // The echoed send time only grows: a reordered older reply proves less, never more.
  peer.acked_sent_at_us = std::max(peer.acked_sent_at_us, reply.sent_at_us);

  Progress& progress = peer.progress;
  if (reply.success) {
    if (reply.match_index > log_.last_index()) return;  // cannot match what we never had: malformed
    if (progress.on_success(reply.match_index)) maybe_commit();
  } else {
    // Fast backtracking (§5.3, optimisation in the paper's last paragraph): skip a whole conflicting term at once.
    Index hint = reply.conflict_index;
    if (reply.conflict_term != 0) {
      if (auto last = log_.last_index_of_term(reply.conflict_term, reply.rejected_prev)) hint = *last + 1;
    }
    progress.on_reject(reply.rejected_prev, hint);
  }
  send_append(peer, false);
  maybe_complete_reads();
}

// ---------------------------------------------------------------------------------------------------------------
// Timers and local requests

void RaftCore::on_election_timeout() {
  votes_held_after_restart_ = false;
  if (role_ == Role::kLeader) {
    if (!config_.check_quorum) return;
    // CheckQuorum: step down unless a majority (counting ourselves) was heard from during the last timeout.
    std::size_t active = 1;
    for (auto& p : peers_) {
      if (p.recent_active) ++active;
      p.recent_active = false;
    }
    if (active < quorum_size(peers_.size() + 1)) become_follower(term_, kNoNode);
    return;
  }
  if (config_.pre_vote) become_pre_candidate();
  else become_candidate();
}

void RaftCore::on_propose(const Propose& propose) {
  if (role_ != Role::kLeader) {
    emit(ProposalRejected{propose.proposal_id, leader_});
    return;
  }
  const Index first = log_.last_index() + 1;
  for (const std::string& command : propose.commands) {
    append_local(std::make_shared<Entry>(Entry{term_, log_.last_index() + 1, EntryKind::kCommand, command}));
  }
  emit(ProposalAccepted{propose.proposal_id, first, term_});
  broadcast_append();
  if (peers_.empty()) maybe_commit();
}

void RaftCore::on_read_index(const ReadIndex& read) {
  if (role_ != Role::kLeader) {
    emit(ReadRejected{read.read_id, leader_});
    return;
  }
  pending_reads_.push_back(PendingRead{read.read_id, now_us_});
  maybe_complete_reads();
}

void RaftCore::on_heartbeat_due(NodeId peer_id) {
  if (role_ != Role::kLeader) return;
  PeerState* peer = find_peer(peer_id);
  if (!peer) return;
  if (!peer->answered_since_heartbeat) {
    // Silent for a whole heartbeat interval: stop pipelining into the void and back off.
    peer->backoff_shift = std::min(peer->backoff_shift + 1, config_.max_backoff_shift);
    if (peer->progress.mode() == Progress::Mode::kReplicate) peer->progress.become_probe();
  }
  peer->answered_since_heartbeat = false;
  send_append(*peer, true);
}

void RaftCore::on_persisted(const Persisted& persisted) {
  if (log_.term_at(persisted.index) != persisted.term) return;  // truncated since: that write no longer counts
  durable_index_ = std::max(durable_index_, persisted.index);
  if (role_ == Role::kLeader) maybe_commit();
}

// ---------------------------------------------------------------------------------------------------------------
// Role changes

void RaftCore::become_follower(Term term, NodeId leader) {
  const bool was_leader = role_ == Role::kLeader;
  if (term > term_) set_hard_state(term, kNoNode);
  role_ = Role::kFollower;
  leader_ = leader;
  if (was_leader) reject_reads();
  note_role();
}

void RaftCore::become_pre_candidate() {
  role_ = Role::kPreCandidate;
  leader_ = kNoNode;
  note_role();
  campaign(true);
}

void RaftCore::become_candidate() {
  role_ = Role::kCandidate;
  leader_ = kNoNode;
  set_hard_state(term_ + 1, config_.self);
  note_role();
  emit(ResetElectionTimer{});
  campaign(false);
}

void RaftCore::campaign(bool pre_vote) {
  for (auto& p : peers_) {
    p.vote_answered = false;
    p.vote_granted = false;
  }
  const RequestVote request{.term = pre_vote ? term_ + 1 : term_, .last_log_index = log_.last_index(),
                            .last_log_term = log_.last_term(), .pre_vote = pre_vote};
  for (const auto& p : peers_) send(p.id, request);
  tally_votes();  // a single-replica cluster wins at once
}

void RaftCore::become_leader() {
  role_ = Role::kLeader;
  leader_ = config_.self;
  last_read_round_us_ = std::numeric_limits<std::int64_t>::min();
  for (auto& p : peers_) {
    p.progress = Progress(log_.last_index() + 1);
    p.recent_active = false;
    p.answered_since_heartbeat = true;
    p.backoff_shift = 0;
    p.acked_sent_at_us = std::numeric_limits<std::int64_t>::min();  // acks from earlier terms prove nothing now
  }
  note_role();
  // §5.4.2 and §8: a no-op of our own term lets earlier entries commit and lets reads be served.
  append_local(std::make_shared<Entry>(Entry{term_, log_.last_index() + 1, EntryKind::kNoop, {}}));
  broadcast_append();
  if (peers_.empty()) maybe_commit();
}

void RaftCore::note_role() {
  if (announced_.role == role_ && announced_.term == term_ && announced_.leader == leader_) return;
  announced_ = RoleChanged{role_, term_, leader_};
  emit(announced_);
}

// ---------------------------------------------------------------------------------------------------------------
// Replication

void RaftCore::send_append(PeerState& peer, bool heartbeat) {
  Progress& progress = peer.progress;
  if (progress.next() <= log_.base_index()) {
    // The entries it needs were compacted away: it gets the snapshot instead. Asked again on every heartbeat (the
    // replicator is idle, so the transfer stalled): the replicator resumes where the follower said it stopped.
    if (progress.mode() != Progress::Mode::kSnapshot || progress.snapshot_index() != log_.base_index() || heartbeat) {
      progress.become_snapshot(log_.base_index());
      emit(SendSnapshot{peer.id});
    }
    return;
  }
  const Index prev = progress.next() - 1;
  std::vector<EntryPtr> entries;
  const bool may_carry = progress.can_send_entries(config_.limits) ||
                         (heartbeat && progress.mode() == Progress::Mode::kProbe);
  if (may_carry && progress.next() <= log_.last_index()) {
    entries = log_.slice(progress.next(), log_.last_index(), config_.limits.max_append_entries,
                         config_.limits.max_append_bytes);
  }
  if (entries.empty() && !heartbeat) return;
  std::size_t bytes = 0;
  for (const auto& e : entries) bytes += e->wire_bytes();
  const Index last = prev + entries.size();
  AppendEntries message{.term = term_, .prev_log_index = prev, .prev_log_term = *log_.term_at(prev),
                        .entries = std::move(entries), .leader_commit = commit_, .sent_at_us = now_us_};
  if (!message.entries.empty() || progress.mode() == Progress::Mode::kProbe) progress.on_sent(last, bytes);
  emit(Transmit{peer.id, std::move(message), peer.backoff_shift});
  // Keep the pipeline full: more batches while the window allows.
  if (!heartbeat && progress.mode() == Progress::Mode::kReplicate && progress.next() <= log_.last_index() &&
      progress.can_send_entries(config_.limits)) {
    send_append(peer, false);
  }
}

void RaftCore::broadcast_append() {
  for (auto& p : peers_) send_append(p, false);
}

void RaftCore::broadcast_heartbeat() {
  for (auto& p : peers_) send_append(p, true);
}

void RaftCore::maybe_commit() {
  std::vector<Index> matches{durable_index_};
  for (const auto& p : peers_) matches.push_back(p.progress.match());
  const Index candidate = quorum_value(std::move(matches));
  // Raft §5.4.2 (Figure 8): only an entry of the current term is committed by counting replicas; earlier entries
  // commit indirectly, with it.
  if (candidate > commit_ && log_.term_at(candidate) == term_) {
    advance_commit(candidate);
    maybe_complete_reads();
  }
}

void RaftCore::advance_commit(Index index) {
  if (index <= commit_) return;
  commit_ = index;
  emit(CommitAdvanced{commit_});
}

// ---------------------------------------------------------------------------------------------------------------
// Snapshots (Raft §7, Figure 13)

void RaftCore::on_compact(const CompactLog& compact) {
  const Snapshot& snapshot = compact.snapshot;
  // Only committed state, only forwards, and only the entry we actually hold at that index.
  if (snapshot.index <= log_.base_index() || snapshot.index > commit_ ||
      log_.term_at(snapshot.index) != snapshot.term) {
    return;
  }
  compacted_ = log_.compact(snapshot.index, snapshot.term);
  // Nothing depends on this write: the log's entries stay on disk until the snapshot file is there.
  emit(SaveSnapshot{snapshot});
}

void RaftCore::on_install_snapshot(NodeId from, const InstallSnapshot& request) {
  if (role_ == Role::kLeader) {
    reject(from, "InstallSnapshot in the term this replica leads");
    return;
  }
  if (role_ != Role::kFollower || leader_ != from) become_follower(term_, from);
  votes_held_after_restart_ = false;
  emit(ResetElectionTimer{});

  InstallSnapshotReply reply{.term = term_, .last_included_index = request.last_included_index};
  if (request.last_included_index <= commit_) {
    // We already hold everything it covers (a duplicate, or we caught up meanwhile).
    incoming_snapshot_.reset();
    reply.next_offset = request.total_bytes;
    reply.done = true;
    send(from, reply);
    return;
  }
  auto& in = incoming_snapshot_;
  if (!in || in->index != request.last_included_index || in->term != request.last_included_term ||
      in->checksum != request.checksum) {
    // Chunks of another snapshot (a new leader serializes the same state its own way): never mix them with these.
    if (request.offset != 0) {
      in.reset();
      send(from, reply);  // next_offset 0: we have nothing of this snapshot, start over
      return;
    }
    in = IncomingSnapshot{request.last_included_index, request.last_included_term, request.checksum,
                          request.total_bytes, {}};
  }
  if (request.offset != in->bytes.size() || request.total_bytes != in->total_bytes ||
      in->bytes.size() + request.chunk.size() > in->total_bytes) {
    reply.next_offset = in->bytes.size();  // out of order or inconsistent: say where we are
    send(from, reply);
    return;
  }
  in->bytes += request.chunk;
  reply.next_offset = in->bytes.size();
  if (!request.done) {
    send(from, reply);
    return;
  }
  if (in->bytes.size() != in->total_bytes) {
    in.reset();
    reply.next_offset = 0;
    send(from, reply);
    return;
  }
  Snapshot snapshot = make_snapshot(in->index, in->term, std::move(in->bytes));
  const std::uint32_t expected = in->checksum;
  in.reset();
  if (snapshot.checksum != expected) {
    reject(from, fmt::format("snapshot at {} does not match its checksum", snapshot.index));
    reply.next_offset = 0;  // start over
    send(from, reply);
    return;
  }
  // Figure 13, rules 6-7: keep the entries after the snapshot if our log agrees with it there, otherwise discard
  // the whole log (the snapshot's index is beyond our commit index, so nothing committed is lost).
  if (log_.term_at(snapshot.index) != snapshot.term && log_.last_index() > snapshot.index) {
    truncate_local(snapshot.index + 1);
  }
  compacted_ = log_.compact(snapshot.index, snapshot.term);
  durable_index_ = std::max(durable_index_, snapshot.index);
  pending_persist_.snapshot = snapshot;
  persist_pending_ = true;
  commit_ = snapshot.index;
  emit(RestoreSnapshot{snapshot});
  reply.done = true;
  send(from, reply);
}

void RaftCore::on_install_snapshot_reply(NodeId from, const InstallSnapshotReply& reply) {
  if (role_ != Role::kLeader) return;
  PeerState& peer = peer_state(from);
  peer.recent_active = true;
  peer.answered_since_heartbeat = true;
  peer.backoff_shift = 0;
  emit(SnapshotAck{from, reply.last_included_index, reply.next_offset, reply.done});
  if (reply.done) {
    peer.progress.on_snapshot_installed(reply.last_included_index);
    send_append(peer, false);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Reads (thesis §6.4): a read is served at the commit index once leadership is confirmed by a majority that
// acknowledged a message sent no earlier than read_lease_us before the read arrived.

void RaftCore::maybe_complete_reads() {
  if (role_ != Role::kLeader || pending_reads_.empty()) return;
  // Until an entry of our term commits we do not know the latest commit index (§8).
  if (log_.term_at(commit_) != term_) return;
  std::vector<std::int64_t> acked{now_us_};
  for (const auto& p : peers_) acked.push_back(p.acked_sent_at_us);
  const std::int64_t confirmed = quorum_value(std::move(acked));
  while (!pending_reads_.empty() && confirmed >= pending_reads_.front().arrived_at_us - config_.read_lease_us) {
    emit(ReadReady{pending_reads_.front().read_id, commit_});
    pending_reads_.pop_front();
  }
  // The rest wait for a round sent after they arrived; one round serves every read waiting for it.
  if (!pending_reads_.empty() && last_read_round_us_ < pending_reads_.back().arrived_at_us) {
    last_read_round_us_ = now_us_;
    broadcast_heartbeat();
  }
}

void RaftCore::reject_reads() {
  for (const auto& read : pending_reads_) emit(ReadRejected{read.read_id, leader_});
  pending_reads_.clear();
}

bool RaftCore::in_leader_lease() const {
  // Followers forget the leader when their election timer fires, so "knows a leader" means "heard from it within
  // an election timeout". A leader is in its own lease until CheckQuorum deposes it.
  return config_.check_quorum && leader_ != kNoNode;
}

// ---------------------------------------------------------------------------------------------------------------
// Local state changes that must be persisted, and effects

void RaftCore::append_local(EntryPtr entry) {
  log_.append(entry);
  pending_persist_.entries.push_back(std::move(entry));
  persist_pending_ = true;
}

void RaftCore::truncate_local(Index index) {
  if (index <= commit_) {
    throw std::logic_error(fmt::format("replica {} asked to truncate at {} but commit index is {}",
                                       config_.self.str(), index, commit_));
  }
  log_.truncate_from(index);
  durable_index_ = std::min(durable_index_, index - 1);
  merge_persist(pending_persist_, Persist{.truncate_from = index});
  persist_pending_ = true;
}

void RaftCore::set_hard_state(Term term, NodeId voted_for) {
  term_ = term;
  voted_for_ = voted_for;
  pending_persist_.hard_state = HardState{term_, voted_for_};
  persist_pending_ = true;
}

void RaftCore::reject(NodeId from, std::string reason) { emit(MessageRejected{from, std::move(reason)}); }

void RaftCore::send(NodeId to, PeerPayload payload) {
  emit(Send{PeerMessage{config_.self, to, std::move(payload)}});
}

void RaftCore::emit(Effect effect) {
  // A vote or an append reply may depend on what is pending persistence: write it first. Nothing else needs to
  // wait: a leader's AppendEntries may go out before its own copy is durable (thesis §10.2.1; it counts itself
  // towards a commit only after Persisted), and commits, role news and read answers depend on no unsynced state.
  if (std::holds_alternative<Send>(effect)) flush_persist();
  effects_.push_back(std::move(effect));
}

void RaftCore::flush_persist() {
  if (!persist_pending_) return;
  persist_pending_ = false;
  effects_.push_back(std::exchange(pending_persist_, {}));
}

std::string describe(const Effect& effect) {
  return std::visit(
      Overloaded{
          [](const Persist& e) {
            return fmt::format("Persist{}{}{} n={}",
                               e.snapshot ? fmt::format(" snapshot={}/{}", e.snapshot->index, e.snapshot->term) : "",
                               e.hard_state ? fmt::format(" term={} vote={}", e.hard_state->term,
                                                          e.hard_state->voted_for.str())
                                            : "",
                               e.truncate_from ? fmt::format(" truncate_from={}", *e.truncate_from) : "",
                               e.entries.size());
          },
          [](const Send& e) { return "Send " + describe(e.message); },
          [](const Transmit& e) {
            return fmt::format("Transmit to={} prev={}/{} n={} commit={}", e.to.str(), e.message.prev_log_index,
                               e.message.prev_log_term, e.message.entries.size(), e.message.leader_commit);
          },
          [](const CommitAdvanced& e) { return fmt::format("CommitAdvanced {}", e.commit_index); },
          [](const RoleChanged& e) {
            return fmt::format("RoleChanged {} t={} leader={}", role_name(e.role), e.term, e.leader.str());
          },
          [](const ResetElectionTimer&) { return std::string("ResetElectionTimer"); },
          [](const ProposalAccepted& e) {
            return fmt::format("ProposalAccepted id={} first={} t={}", e.proposal_id, e.first_index, e.term);
          },
          [](const ProposalRejected& e) {
            return fmt::format("ProposalRejected id={} leader={}", e.proposal_id, e.leader.str());
          },
          [](const ReadReady& e) { return fmt::format("ReadReady id={} index={}", e.read_id, e.read_index); },
          [](const ReadRejected& e) {
            return fmt::format("ReadRejected id={} leader={}", e.read_id, e.leader.str());
          },
          [](const SendSnapshot& e) { return fmt::format("SendSnapshot to={}", e.to.str()); },
          [](const SnapshotAck& e) {
            return fmt::format("SnapshotAck to={} index={} next={}{}", e.to.str(), e.index, e.next_offset,
                               e.done ? " done" : "");
          },
          [](const RestoreSnapshot& e) {
            return fmt::format("RestoreSnapshot {}/{}", e.snapshot.index, e.snapshot.term);
          },
          [](const SaveSnapshot& e) { return fmt::format("SaveSnapshot {}/{}", e.snapshot.index, e.snapshot.term); },
          [](const MessageRejected& e) { return fmt::format("MessageRejected from={}: {}", e.from.str(), e.reason); },
      },
      effect);
}

}  // namespace coraft::raft
