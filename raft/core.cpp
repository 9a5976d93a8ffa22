#include "raft/core.hpp"

#include "raft/overloaded.hpp"

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
  if (config_.join) config_.initial = Membership{};  // only the leader's log says whom it joins
  if (config_.initial.members().empty() && !config_.join) {
    std::vector<Member> members{Member{config_.self}};
    for (NodeId peer : config_.peers)
      if (peer != config_.self) members.push_back(Member{peer});
    config_.initial = Membership::of_voters(members);
  }
  // The configuration: the snapshot's (or the initial one), then every configuration entry in the log after it.
  base_membership_ = config_.initial;
  if (recovered.snapshot && !recovered.snapshot->membership.empty()) {
    if (auto m = Membership::decode(recovered.snapshot->membership)) {
      base_membership_ = std::move(*m);
      membership_in_log_ = true;
      membership_index_ = recovered.snapshot->index;
    }
  }
  membership_ = base_membership_;
  for (Index i = log_.first_index(); i <= log_.last_index(); ++i) {
    const EntryPtr& entry = log_.at(i);
    if (entry->kind != EntryKind::kConfig) continue;
    if (auto m = Membership::decode(entry->data)) log_memberships_.emplace_back(i, std::move(*m));
  }
  if (!log_memberships_.empty()) {
    membership_ = log_memberships_.back().second;
    membership_index_ = log_memberships_.back().first;
    membership_in_log_ = true;
  }
  sync_peers();
  durable_index_ = log_.last_index();
  votes_held_after_restart_ = config_.check_quorum && term_ > 0;
  announced_ = RoleChanged{role_, term_, leader_};
}

const Progress* RaftCore::progress(NodeId peer) const {
  if (role_ != Role::kLeader) return nullptr;
  auto it = peers_.find(peer);
  return it == peers_.end() ? nullptr : &it->second.progress;
}

RaftCore::PeerState* RaftCore::find_peer(NodeId id) {
  auto it = peers_.find(id);
  return it == peers_.end() ? nullptr : &it->second;
}

const RaftCore::PeerState* RaftCore::find_peer(NodeId id) const {
  auto it = peers_.find(id);
  return it == peers_.end() ? nullptr : &it->second;
}

std::vector<Effect> RaftCore::step(const Input& input, std::int64_t now_us) {
  now_us_ = now_us;
  std::visit(Overloaded{
                 [&](const Receive& in) { on_message(in.message); },
                 [&](const ElectionTimeout&) { on_election_timeout(); },
                 [&](const Propose& in) { on_propose(in); },
                 [&](const ReadIndex& in) { on_read_index(in); },
                 [&](const HeartbeatDue& in) { on_heartbeat_due(in.peer); },
                 [&](const RetransmitDue&) { on_retransmit_due(); },
                 [&](const DurableThrough& in) { on_durable_through(in); },
                 [&](const CompactLog& in) { on_compact(in); },
                 [&](const ChangeMembership& in) { on_change(in); },
                 [&](const TransferLeadership& in) { on_transfer(in); },
             },
             input);
  on_time_passed();
  flush_persist();
  return std::exchange(effects_, {});
}

// ---------------------------------------------------------------------------------------------------------------
// Messages

void RaftCore::on_message(const PeerMessage& message) {
  if (message.to != config_.self || message.from == config_.self) return;
  // Votes and replies count only from members. What a leader sends is taken from anyone: a replica just added learns
  // that it is a member from the leader's log.
  const Member* member = membership_.find(message.from);
  const bool from_a_leader = std::holds_alternative<AppendEntries>(message.payload) ||
                             std::holds_alternative<InstallSnapshot>(message.payload) ||
                             std::holds_alternative<TimeoutNow>(message.payload);
  if (auto* refused = std::get_if<Refused>(&message.payload)) {
    // It stops campaigning (it would only be ignored) but follows a leader that still sends it the log: where peers
    // are not authenticated the refusal may be forged, and must not take a member out of the cluster.
    if (!retired_) emit(Retired{fmt::format("{} refuses this replica: {}", message.from.str(), refused->reason)});
    retired_ = true;
    return;
  }
  if (!member && !from_a_leader && membership_.was_removed(message.from)) {
    // A removed replica that did not see its removal commit still thinks it is a voter: tell it, once per message
    // (it sends one every election timeout at most), instead of leaving it campaigning for good.
    send(message.from, Refused{term_, fmt::format("replica {} was removed from the cluster (configuration at index "
                                                  "{}) and takes no further part; its id is never used again",
                                                  message.from.str(), membership_index_)});
    return;
  }
  if (!member && !from_a_leader) return;
  if (member && member->incarnation != 0 && message.incarnation != 0 && message.incarnation != member->incarnation) {
    // The id is pinned to another data directory: this one was wiped or replaced, and has forgotten what it
    // promised (votes, acknowledged entries). It must not take part under that id again.
    reject(message.from, "a new data directory under a member's id");
    send(message.from, Refused{term_, fmt::format("replica {} belongs to a data directory this cluster no longer "
                                                  "knows (it was wiped or replaced); it cannot rejoin under that id: "
                                                  "remove it and add a new replica under a new id with --join",
                                                  message.from.str())});
    return;
  }
  if (role_ == Role::kLeader && member && member->incarnation == 0 && message.incarnation != 0) {
    heard_incarnations_[message.from] = message.incarnation;
  }
  const Term message_term = term_of(message.payload);
  const auto* vote_request = std::get_if<RequestVote>(&message.payload);

  if (message_term > term_) {
    if (vote_request && !vote_request->transfer && (in_leader_lease() || votes_held_after_restart_)) {
      // Thesis §4.2.3: a replica that has heard from a current leader within the election timeout ignores vote
      // requests, so a partitioned replica coming back cannot depose a healthy leader. Also covers the restart rule.
      return;
    }
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
                 [&](const TimeoutNow& m) { on_timeout_now(message.from, m); },
                 [](const Refused&) {},
             },
             message.payload);
}

void RaftCore::on_request_vote(NodeId from, const RequestVote& request) {
  if (!membership_.is_voter(from)) return;  // a learner, or no longer a voter: its campaign cannot count
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
  PeerState* voter = find_peer(from);
  if (!voter || !membership_.is_voter(from)) return;
  PeerState& peer = *voter;
  if (peer.vote_answered) return;  // duplicate
  peer.last_heard_us = now_us_;
  peer.contact_probes = 0;
  peer.vote_answered = true;
  peer.vote_granted = reply.granted;
  tally_votes();
}

void RaftCore::tally_votes() {
  // We vote for ourselves. While joint, it takes a majority of the old voters and one of the new (§4.3).
  auto answered = [&](NodeId id, bool granted) {
    if (id == config_.self) return granted;
    const PeerState* p = find_peer(id);
    return p && p->vote_answered && p->vote_granted == granted;
  };
  if (membership_.majority([&](NodeId id) { return answered(id, true); })) {
    if (role_ == Role::kPreCandidate) become_candidate();
    else become_leader();
  } else if (membership_.majority([&](NodeId id) { return answered(id, false); })) {
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
  leader_contact_us_ = now_us_;
  emit(ResetElectionTimer{});

  Index prev = request.prev_log_index;
  Term prev_term = request.prev_log_term;
  std::size_t skip = 0;
  AppendEntriesReply reply{.term = term_, .sent_at_us = request.sent_at_us,
                           .answers_heartbeat = request.entries.empty()};
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
  // The leader counts on other followers' answers for this one (RaftConfig::quiet_acks).
  if (std::find(request.quiet.begin(), request.quiet.end(), config_.self) != request.quiet.end()) return;
  send(from, reply);
}

RaftCore::PeerState* RaftCore::answering_peer(NodeId from) {
  if (role_ != Role::kLeader) return nullptr;
  PeerState* peer = find_peer(from);
  if (!peer) return nullptr;
  // Any answer shows the follower alive and reachable: it counts for CheckQuorum, and heartbeats need no back-off.
  peer->recent_active = true;
  peer->last_heard_us = now_us_;
  peer->contact_probes = 0;
  peer->answered_since_heartbeat = true;
  peer->backoff_shift = 0;
  peer->retries = 0;
  return peer;
}

void RaftCore::on_append_reply(NodeId from, const AppendEntriesReply& reply) {
  PeerState* member = answering_peer(from);
  if (!member) return;
  PeerState& peer = *member;
  // The echoed send time only grows: a reordered older reply proves less, never more.
  peer.acked_sent_at_us = std::max(peer.acked_sent_at_us, reply.sent_at_us);

  if (reply.sent_at_us > 0 && reply.sent_at_us <= now_us_) {
    peer.rtt.sample(std::max<std::int64_t>(0, now_us_ - reply.sent_at_us - reply.held_us));
  }

  Progress& progress = peer.progress;
  if (reply.success) {
    if (reply.match_index > log_.last_index()) return;  // cannot match what we never had: malformed
    if (progress.on_success(reply.match_index)) {
      // New entries acknowledged: whatever is still out gets a full timeout from now (RFC 6298 §5.3).
      peer.awaiting_since_us.reset();
      if (progress.awaiting_answer()) peer.awaiting_since_us = now_us_;
      maybe_commit();
    }
  } else {
    // Fast backtracking (§5.3, optimisation in the paper's last paragraph): skip a whole conflicting term at once.
    Index hint = reply.conflict_index;
    if (reply.conflict_term != 0) {
      if (auto last = log_.last_index_of_term(reply.conflict_term, reply.rejected_prev)) hint = *last + 1;
    }
    progress.on_reject(reply.rejected_prev, hint);
    last_loss_us_ = now_us_;  // (or a new term's first probe finding a different log: everyone answers a while)
  }
  // A commit may have changed the configuration (and so the peers): look the follower up again.
  if (PeerState* again = find_peer(from)) {
    if (transfer_ && !transfer_->timeout_sent && from == transfer_->target &&
        again->progress.match() == log_.last_index()) {
      // The target holds everything we do: it may take over now (thesis §3.10).
      transfer_->timeout_sent = true;
      lease_void_ = true;
      send(from, TimeoutNow{term_});
    }
    if (!is_spare(from)) send_append(*again, false);
  }
  maybe_promote();
  maybe_complete_reads();
}

// ---------------------------------------------------------------------------------------------------------------
// Timers and local requests

void RaftCore::on_election_timeout() {
  votes_held_after_restart_ = false;
  if (role_ == Role::kLeader) {
    if (!config_.check_quorum) return;
    // CheckQuorum: step down unless a majority of the voters (counting ourselves) was heard from during the last
    // timeout.
    const bool heard = membership_.majority([&](NodeId id) {
      const PeerState* p = find_peer(id);
      return id == config_.self || (p && p->recent_active);
    });
    for (auto& [id, p] : peers_) p.recent_active = false;
    if (!heard) become_follower(term_, kNoNode);
    return;
  }
  // Only voters campaign: a learner or a replica no longer in the configuration waits to hear from a leader.
  if (!membership_.is_voter(config_.self) || retired_) return;
  if (config_.pre_vote) become_pre_candidate();
  else become_candidate();
}

void RaftCore::on_propose(const Propose& propose) {
  if (role_ != Role::kLeader) {
    emit(ProposalRejected{propose.proposal_id, leader_});
    return;
  }
  if (transfer_) {  // handing over: held, then proposed here if it fails, or sent to the new leader if it works
    held_proposals_.push_back(propose);
    return;
  }
  if (!in_contact_with_majority()) {  // proposed once a majority is heard from, rejected if we step down first
    held_proposals_.push_back(propose);
    probe_for_contact();
    return;
  }
  const Index first = log_.last_index() + 1;
  for (const std::string& command : propose.commands) {
    append_local(std::make_shared<Entry>(Entry{term_, log_.last_index() + 1, EntryKind::kCommand, command}));
  }
  emit(ProposalAccepted{propose.proposal_id, first, term_});
  broadcast_append();
  maybe_commit();
}

void RaftCore::on_read_index(const ReadIndex& read) {
  if (role_ != Role::kLeader) {
    emit(ReadRejected{read.read_id, leader_});
    return;
  }
  pending_reads_.push_back(PendingRead{read.read_id, now_us_});
  maybe_complete_reads();
  if (clients_await_contact()) probe_for_contact();
}

void RaftCore::on_heartbeat_due(NodeId peer_id) {
  if (role_ != Role::kLeader) return;
  PeerState* peer = find_peer(peer_id);
  if (!peer) return;
  const std::int64_t half = config_.heartbeat_interval_us / 2;
  // Its timer ran out just after another follower's brought this heartbeat forward (the notices cross).
  if (half > 0 && peer->last_sent_us > now_us_ - half) return;  // (last_sent_us starts at the minimum: no subtraction)
  if (!peer->answered_since_heartbeat) {
    // Silent for a whole heartbeat interval: stop pipelining into the void and back off.
    last_loss_us_ = now_us_;
    peer->backoff_shift = std::min(peer->backoff_shift + 1, config_.max_backoff_shift);
    if (peer->progress.mode() == Progress::Mode::kReplicate) peer->progress.become_probe();
  }
  peer->answered_since_heartbeat = false;
  send_append(*peer, true);
  if (half <= 0) return;
  // Bring the other heartbeats forward. Only those of followers that answered and are not backed off: a silent one
  // keeps its own timer, whose expiry is where it gets backed off.
  for (auto& [id, other] : peers_) {
    if (&other == peer || !other.answered_since_heartbeat || other.backoff_shift != 0) continue;
    if (other.last_sent_us > now_us_ - half) continue;
    other.answered_since_heartbeat = false;
    send_append(other, true);
  }
}

void RaftCore::on_durable_through(const DurableThrough& durable) {
  if (log_.term_at(durable.index) != durable.term) return;  // truncated since: that write no longer counts
  durable_index_ = std::max(durable_index_, durable.index);
  if (role_ == Role::kLeader) maybe_commit();
}

// ---------------------------------------------------------------------------------------------------------------
// Role changes

void RaftCore::become_follower(Term term, NodeId leader) {
  const bool was_leader = role_ == Role::kLeader;
  if (term > term_) {
    set_hard_state(term, kNoNode);
    lease_void_ = false;
  }
  role_ = Role::kFollower;
  leader_ = leader;
  if (leader != kNoNode) leader_contact_us_ = now_us_;  // only a leader's own message names it
  campaign_sent_us_.reset();
  // Announced before the requests we turn away: the gateway must know we no longer lead when their answers come, or
  // it proposes them here again.
  note_role();
  if (was_leader) {
    reject_reads();
    if (change_) {
      emit(ChangeOutcome{change_->request_id, false,
                         "leadership was lost before the change committed; it may still complete (kvctl member list)",
                         leader_});
      change_.reset();
    }
    if (promotion_) {
      emit(ChangeOutcome{promotion_->request_id, false, "leadership was lost before the learner caught up", leader_});
      promotion_.reset();
    }
    if (transfer_) transferred_ = std::exchange(transfer_, std::nullopt);  // answered once we see who leads
    heard_incarnations_.clear();
  }
  // Proposals held for a handover go to whoever leads now: most likely, while its election is under way, the
  // replica we handed over to.
  const NodeId next_leader = leader_.valid() || !transferred_ ? leader_ : transferred_->target;
  for (const Propose& held : std::exchange(held_proposals_, {})) emit(ProposalRejected{held.proposal_id, next_leader});
  if (transferred_ && leader_.valid()) {
    const bool done = leader_ == transferred_->target;
    emit(ChangeOutcome{transferred_->request_id, done,
                       done ? std::string() : fmt::format("{} leads instead", leader_.str()), leader_});
    transferred_.reset();
  }
}

void RaftCore::become_pre_candidate() {
  role_ = Role::kPreCandidate;
  leader_ = kNoNode;
  note_role();
  campaign(true, false);
}

void RaftCore::become_candidate(bool transfer) {
  role_ = Role::kCandidate;
  leader_ = kNoNode;
  set_hard_state(term_ + 1, config_.self);
  note_role();
  emit(ResetElectionTimer{});
  campaign(false, transfer);
}

void RaftCore::campaign(bool pre_vote, bool transfer) {
  for (auto& [id, p] : peers_) {
    p.vote_answered = false;
    p.vote_granted = false;
  }
  const RequestVote request{.term = pre_vote ? term_ + 1 : term_, .last_log_index = log_.last_index(),
                            .last_log_term = log_.last_term(), .pre_vote = pre_vote, .transfer = transfer};
  for (const auto& [id, p] : peers_)
    if (membership_.is_voter(id)) send(id, request);
  campaign_request_ = request;
  campaign_sent_us_ = now_us_;
  campaign_retries_ = 0;
  tally_votes();  // a single-replica cluster wins at once
}

void RaftCore::become_leader() {
  role_ = Role::kLeader;
  leader_ = config_.self;
  last_read_round_us_ = std::numeric_limits<std::int64_t>::min();
  for (auto& [id, p] : peers_) {
    p.progress = Progress(log_.last_index() + 1);
    p.recent_active = false;
    p.answered_since_heartbeat = true;
    p.backoff_shift = 0;
    p.acked_sent_at_us = std::numeric_limits<std::int64_t>::min();  // acks from earlier terms prove nothing now
    p.awaiting_since_us.reset();
    p.retries = 0;
    p.contact_probes = 0;
  }
  campaign_sent_us_.reset();
  note_role();
  // §5.4.2 and §8: an entry of our own term lets earlier entries commit and lets reads be served. Usually a no-op;
  // the first leader of a new cluster writes the configuration it started from (cluster.json's) instead, so from
  // then on the log, not a file that may be edited, says who the members are. That is no change of membership (every
  // member started from the same one), so it may come before an entry of this term commits.
  if (membership_in_log_) {
    append_local(std::make_shared<Entry>(Entry{term_, log_.last_index() + 1, EntryKind::kNoop, {}}));
  } else {
    Membership initial = config_.incarnation != 0 ? membership_.with_incarnation(config_.self, config_.incarnation)
                                                  : membership_;
    append_local(std::make_shared<Entry>(
        Entry{term_, log_.last_index() + 1, EntryKind::kConfig, initial.encode()}));
  }
  broadcast_append();
  maybe_commit();
}

void RaftCore::note_role() {
  if (announced_.role == role_ && announced_.term == term_ && announced_.leader == leader_) return;
  // Announced before a leader appends its first entry, so the last one is still the one it was elected with.
  announced_ = RoleChanged{role_, term_, leader_, role_ == Role::kLeader ? log_.last_term() : 0};
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
  // A follower silent for a whole heartbeat interval is only asked where it stands (by heartbeat or retransmission):
  // entries would go into the void again and again while it is down or cut off; its answer brings them.
  const bool may_carry = !(heartbeat && peer.backoff_shift > 0) &&
                         (progress.can_send_entries(config_.limits) ||
                          (heartbeat && progress.mode() == Progress::Mode::kProbe));
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
  if (!message.entries.empty() || progress.mode() == Progress::Mode::kProbe) {
    progress.on_sent(last, bytes);
    peer.awaiting_since_us = now_us_;
    if (!heartbeat && !message.entries.empty()) start_fresh_round(peer);  // (a resend goes as a heartbeat)
  }
  peer.last_sent_us = now_us_;
  emit(Transmit{peer.id, std::move(message), peer.backoff_shift});
  // Keep the pipeline full: more batches while the window allows. A spare follower's heartbeat is when it gets
  // everything it lacks (RaftConfig::defer_spare_followers): one batch an interval would leave it further behind
  // each interval under load.
  if (progress.mode() == Progress::Mode::kReplicate && progress.next() <= log_.last_index() &&
      progress.can_send_entries(config_.limits) && (!heartbeat || is_spare(peer.id))) {
    send_append(peer, false);
  }
}

void RaftCore::broadcast_append() {
  if (config_.uniform_appends && broadcast_uniform_append()) return;
  for (auto& [id, p] : peers_) {
    if (!is_spare(id)) send_append(p, false);
  }
}

// Asked per append and per answer: it walks the (few) peers rather than build a list.
bool RaftCore::is_spare(NodeId id) const {
  const std::int64_t interval = config_.heartbeat_interval_us;
  if (!config_.defer_spare_followers || role_ != Role::kLeader || interval <= 0 || membership_.joint() ||
      !membership_.is_voter(config_.self) || transfer_) {
    return false;
  }
  std::size_t voters = 0;  // (counted in place: voters() builds a list, and this runs per append and answer)
  for (const Member& m : membership_.members()) voters += m.voter ? 1 : 0;
  std::size_t needed = voters / 2;  // followers a majority needs besides us
  for (const auto& [peer_id, peer] : peers_) {  // (in id order)
    if (!membership_.is_voter(peer_id)) continue;  // learners count towards nothing: they are not waited for anyway
    // Only a follower keeping up is needed (a silent or lagging one would hold the commit) or spare (heartbeats
    // are how the leader keeps hearing of it). A loss costs a needed follower's retransmission timeout, after which
    // the spare ones get what they lack (on_retransmit_due): unlike with quiet acks, no loss makes this stop a while,
    // because the disk's hiccups make retransmission timeouts fall due without any loss.
    if (peer.last_heard_us < now_us_ - 2 * interval || peer.backoff_shift != 0 ||
        peer.progress.mode() != Progress::Mode::kReplicate) {
      continue;
    }
    if (needed > 0) {
      --needed;
      if (peer_id == id) return false;  // needed
      continue;
    }
    if (peer_id == id) return true;
  }
  return false;
}

std::vector<NodeId> RaftCore::spare_followers() const {
  std::vector<NodeId> spare;
  for (const auto& [id, peer] : peers_) {
    if (is_spare(id)) spare.push_back(id);
  }
  return spare;
}

// RaftConfig::uniform_appends. Applies when at least two followers answer (a lone one gains nothing from a shared
// datagram) and at most one does not: the silent one's copy is counted as a message of its own, so with more of them
// the shared datagram would cost more messages than it saves passes. A follower whose probe is out counts as
// answering (the shared append is its next probe). Returns false where it does not apply.
bool RaftCore::broadcast_uniform_append() {
  // A follower further behind catches up on its own window rather than every follower being sent its backlog.
  constexpr Index kMaxUniformEntries = 64;
  std::vector<PeerState*> answering, silent;
  Index from = log_.last_index() + 1;
  for (auto& [id, p] : peers_) {
    const Progress& progress = p.progress;
    if (progress.mode() == Progress::Mode::kSnapshot || progress.next() <= log_.base_index()) return false;
    const bool may_send = p.backoff_shift == 0 && (progress.mode() == Progress::Mode::kProbe ||
                                                   progress.can_send_entries(config_.limits));
    if (!may_send) {
      silent.push_back(&p);
      continue;
    }
    answering.push_back(&p);
    from = std::min(from, progress.match() + 1);
  }
  if (answering.size() < 2 || silent.size() > 1 || from <= log_.base_index()) return false;
  if (from > log_.last_index()) return true;  // every answering follower confirmed all of it
  if (log_.last_index() - from + 1 > kMaxUniformEntries) return false;
  std::vector<EntryPtr> entries =
      log_.slice(from, log_.last_index(), config_.limits.max_append_entries, config_.limits.max_append_bytes);
  if (entries.empty() || entries.back()->index != log_.last_index()) return false;  // over a message's limits
  std::size_t bytes = 0;
  for (const auto& e : entries) bytes += e->wire_bytes();
  const AppendEntries message{.term = term_, .prev_log_index = from - 1, .prev_log_term = *log_.term_at(from - 1),
                              .entries = std::move(entries), .leader_commit = commit_, .sent_at_us = now_us_,
                              .quiet = quiet_followers(answering)};
  for (PeerState* peer : answering) {
    peer->progress.probe_from(from);
    peer->progress.on_sent(log_.last_index(), bytes);
    peer->awaiting_since_us = now_us_;
    start_fresh_round(*peer);
    peer->last_sent_us = now_us_;
    emit(Transmit{peer->id, message, peer->backoff_shift});
  }
  // The silent follower's copy changes nothing the leader knows of it: an answer is taken as any stray one would be.
  for (PeerState* peer : silent) emit(Transmit{peer->id, message, peer->backoff_shift});
  return true;
}

std::vector<NodeId> RaftCore::quiet_followers(const std::vector<PeerState*>& answering) const {
  const std::int64_t interval = config_.heartbeat_interval_us;
  if (!config_.quiet_acks || interval <= 0 || membership_.joint() || !membership_.is_voter(config_.self)) return {};
  // Lately lost messages: the next loss would stall a commit that waits on named answers; everyone answers.
  if (last_loss_us_ >= now_us_ - 5 * interval) return {};
  const std::int64_t fresh = 2 * interval;
  std::size_t needed = membership_.voters().size() / 2;  // answers a majority needs besides our own
  std::vector<NodeId> quiet;
  for (const PeerState* peer : answering) {  // (in id order)
    if (!membership_.is_voter(peer->id)) continue;  // learners answer; they count towards nothing here
    if (needed > 0) {
      --needed;
      continue;
    }
    // A follower we have not heard from for two heartbeat intervals answers: that is how the leader keeps knowing
    // of it while appends, not heartbeats, flow to it.
    if (peer->last_heard_us >= now_us_ - fresh && peer->progress.mode() == Progress::Mode::kReplicate) {
      quiet.push_back(peer->id);
    }
  }
  return needed == 0 ? quiet : std::vector<NodeId>{};
}

void RaftCore::broadcast_heartbeat() {
  for (auto& [id, p] : peers_) send_append(p, true);
}

void RaftCore::maybe_commit() {
  if (role_ != Role::kLeader) return;
  // What a quorum of the voters holds: we count ourselves as far as our own disk has it; learners do not count.
  const Index candidate = membership_.quorum_index([&](NodeId id) -> Index {
    if (id == config_.self) return durable_index_;
    const PeerState* p = find_peer(id);
    return p ? p->progress.match() : 0;
  });
  // Raft §5.4.2 (Figure 8): only an entry of the current term is committed by counting replicas; earlier entries
  // commit indirectly, with it.
  if (candidate > commit_ && log_.term_at(candidate) == term_) {
    advance_commit(candidate);
    maybe_complete_reads();
  }
}

void RaftCore::maybe_retire() {
  // A committed configuration that removed us: we are out for good. (Not merely one without us: a replica that
  // joins receives, before the entry that adds it, the configurations from before it was added.)
  if (membership_index_ <= commit_ && membership_.was_removed(config_.self) && !retired_) {
    retired_ = true;
    emit(Retired{fmt::format("removed from the cluster (configuration at index {}: {})", membership_index_,
                             membership_.describe())});
  }
}

void RaftCore::advance_commit(Index index) {
  if (index <= commit_) return;
  commit_ = index;
  emit(CommitAdvanced{commit_});
  maybe_retire();
  if (role_ == Role::kLeader) {
    maybe_finish_change();
    maybe_hand_over();
  }
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
  Snapshot saved = snapshot;
  base_membership_ = membership_at(snapshot.index);
  saved.membership = base_membership_.encode();  // a snapshot carries the configuration it was taken under
  std::erase_if(log_memberships_, [&](const auto& item) { return item.first <= snapshot.index; });
  compacted_ = log_.compact(snapshot.index, snapshot.term);
  // Nothing depends on this write: the log's entries stay on disk until the snapshot file is there.
  emit(SaveSnapshot{std::move(saved)});
}

void RaftCore::on_install_snapshot(NodeId from, const InstallSnapshot& request) {
  if (role_ == Role::kLeader) {
    reject(from, "InstallSnapshot in the term this replica leads");
    return;
  }
  if (role_ != Role::kFollower || leader_ != from) become_follower(term_, from);
  votes_held_after_restart_ = false;
  leader_contact_us_ = now_us_;
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
                          request.total_bytes, {}, request.membership};
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
  snapshot.membership = std::move(in->membership);
  in.reset();
  if (snapshot.checksum != expected) {
    reject(from, fmt::format("snapshot at {} does not match its checksum", snapshot.index));
    reply.next_offset = 0;  // start over
    send(from, reply);
    return;
  }
  // The configuration comes with the snapshot. Without one (no correct leader sends that), ours is used only if we
  // never had one in a log: our log is behind the snapshot, so what it says of that index may be out of date.
  std::optional<Membership> snapshot_membership;
  if (!snapshot.membership.empty()) snapshot_membership = Membership::decode(snapshot.membership);
  else if (!membership_in_log_) snapshot_membership = base_membership_;
  if (!snapshot_membership) {
    reject(from, fmt::format("snapshot at {} carries no configuration, or one that does not decode", snapshot.index));
    reply.next_offset = 0;
    send(from, reply);
    return;
  }
  snapshot.membership = snapshot_membership->encode();
  // Figure 13, rules 6-7: keep the entries after the snapshot if our log agrees with it there, otherwise discard
  // the whole log (the snapshot's index is beyond our commit index, so nothing committed is lost).
  if (log_.term_at(snapshot.index) != snapshot.term && log_.last_index() > snapshot.index) {
    truncate_local(snapshot.index + 1);
  }
  compacted_ = log_.compact(snapshot.index, snapshot.term);
  durable_index_ = std::max(durable_index_, snapshot.index);
  pending_persist_.snapshot = snapshot;
  persist_pending_ = true;
  // The configuration: the snapshot's, then whatever configuration entries survive after it.
  base_membership_ = std::move(*snapshot_membership);
  std::erase_if(log_memberships_, [&](const auto& item) { return item.first <= snapshot.index; });
  if (log_memberships_.empty()) adopt_membership(base_membership_, snapshot.index);
  commit_ = snapshot.index;
  emit(RestoreSnapshot{snapshot});
  maybe_retire();
  reply.done = true;
  send(from, reply);
}

void RaftCore::on_install_snapshot_reply(NodeId from, const InstallSnapshotReply& reply) {
  PeerState* member = answering_peer(from);
  if (!member) return;
  PeerState& peer = *member;
  emit(SnapshotAck{from, reply.last_included_index, reply.next_offset, reply.done});
  if (reply.done) {
    peer.progress.on_snapshot_installed(reply.last_included_index);
    send_append(peer, false);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Membership (dissertation chapter 4): joint consensus for voter changes, learners, leadership transfer

void RaftCore::adopt_membership(Membership membership, Index index) {
  membership_ = std::move(membership);
  membership_index_ = index;
  sync_peers();
  emit(MembershipChanged{membership_, membership_index_});
}

void RaftCore::membership_after_truncation(Index from) {
  // A configuration entry cut from the log takes its configuration with it: back to the one before.
  if (log_memberships_.empty() || log_memberships_.back().first < from) return;
  std::erase_if(log_memberships_, [&](const auto& item) { return item.first >= from; });
  if (log_memberships_.empty()) adopt_membership(base_membership_, log_.base_index());
  else adopt_membership(log_memberships_.back().second, log_memberships_.back().first);
}

Membership RaftCore::membership_at(Index index) const {
  Membership at = base_membership_;
  for (const auto& [entry_index, membership] : log_memberships_) {
    if (entry_index > index) break;
    at = membership;
  }
  return at;
}

void RaftCore::sync_peers() {
  // Everyone in the configuration but us; progress kept for those who stay, fresh for the new.
  for (auto it = peers_.begin(); it != peers_.end();) {
    it = membership_.contains(it->first) ? std::next(it) : peers_.erase(it);
  }
  for (const Member& member : membership_.members()) {
    if (member.id == config_.self || peers_.contains(member.id)) continue;
    PeerState& peer = peers_.emplace(member.id, PeerState{member.id}).first->second;
    // A leader that just appended the entry adding it starts there (the append that follows carries it, and the
    // new member's answer says how far back to go); otherwise past the log.
    peer.progress = Progress(role_ == Role::kLeader ? std::max<Index>(log_.last_index(), 1) : log_.last_index() + 1);
  }
}

bool RaftCore::change_pending() const { return membership_index_ > commit_ || membership_.joint(); }

void RaftCore::propose_membership(Membership next) {
  append_local(std::make_shared<Entry>(Entry{term_, log_.last_index() + 1, EntryKind::kConfig, next.encode()}));
  broadcast_append();
  maybe_commit();
}

void RaftCore::on_change(const ChangeMembership& request) {
  auto refuse = [&](std::string reason) { emit(ChangeOutcome{request.request_id, false, std::move(reason), leader_}); };
  if (role_ != Role::kLeader) return refuse("not the leader");
  // One change at a time, and none before this leader has committed an entry of its term: until then an
  // uncommitted configuration of an earlier leader may still be in force somewhere (raft-dev, 2015).
  if (change_pending() || change_ || promotion_) return refuse("another membership change is in progress");
  if (log_.term_at(commit_) != term_) return refuse("the leader has not committed an entry of its term yet; try again");
  if (transfer_) return refuse("leadership is being handed over");
  const MembershipChange& change = request.change;
  const Member* target = membership_.find(change.id);
  // A request whose effect is already in the committed configuration is answered done: a client that retries one
  // whose answer it lost (the leader that removed itself stepped down before its reply went out) must not be told
  // it failed.
  auto already = [&] { emit(ChangeOutcome{request.request_id, true, "already done", leader_}); };
  switch (change.kind) {
    case MembershipChange::Kind::kAddLearner:
      if (!change.id.valid()) return refuse("not a replica id");
      if (target && target->address == change.address) return already();
      if (target) return refuse(fmt::format("{} is a member already, at {}", change.id.str(), target->address));
      if (membership_.was_removed(change.id)) {
        return refuse(fmt::format("{} was a member once and was removed: ids are never reused, choose a new one",
                                  change.id.str()));
      }
      change_ = PendingChange{request.request_id, log_.last_index() + 1};
      propose_membership(membership_.with_learner(Member{change.id, change.address, false, 0}));
      return;
    case MembershipChange::Kind::kPromote:
      if (target && target->voter) return already();
      if (!target) return refuse(fmt::format("{} is not a member", change.id.str()));
      promotion_ = PendingPromotion{request.request_id, change.id, now_us_ + config_.promotion_timeout_us, {}};
      maybe_promote();
      return;
    case MembershipChange::Kind::kRemove: {
      if (!target && membership_.was_removed(change.id)) return already();
      if (!target) return refuse(fmt::format("{} is not a member", change.id.str()));
      if (!target->voter) {
        change_ = PendingChange{request.request_id, log_.last_index() + 1};
        propose_membership(membership_.without_learner(change.id));
        return;
      }
      std::vector<NodeId> voters = membership_.voters();
      std::erase(voters, change.id);
      if (voters.empty()) return refuse("the last voter cannot be removed");
      change_ = PendingChange{request.request_id, 0};
      propose_membership(membership_.entering_joint(std::move(voters)));
      return;
    }
    case MembershipChange::Kind::kReplace: {
      const Member* leaving = membership_.find(change.replaced);
      if (target && target->voter && !leaving && membership_.was_removed(change.replaced)) return already();
      if (!target || target->voter) return refuse(fmt::format("{} is not a learner", change.id.str()));
      if (!leaving || !leaving->voter) return refuse(fmt::format("{} is not a voter", change.replaced.str()));
      // Like a promotion, once the learner has caught up: then one joint change swaps the two.
      promotion_ = PendingPromotion{request.request_id, change.id, now_us_ + config_.promotion_timeout_us,
                                    change.replaced};
      maybe_promote();
      return;
    }
  }
}

void RaftCore::maybe_finish_change() {
  // A joint configuration that has committed is left at once (the dissertation's C_old,new then C_new).
  if (membership_.joint() && membership_index_ <= commit_ && log_.term_at(commit_) == term_) {
    const Index leave_at = log_.last_index() + 1;
    propose_membership(membership_.leaving_joint());
    if (change_ && change_->final_index == 0) change_->final_index = leave_at;
    return;
  }
  if (change_ && change_->final_index != 0 && commit_ >= change_->final_index) {
    emit(ChangeOutcome{change_->request_id, true, {}, leader_});
    change_.reset();
  }
  if (!change_pending() && !change_) {
    maybe_pin_incarnations();
    maybe_promote();
  }
}

void RaftCore::maybe_promote() {
  if (!promotion_ || role_ != Role::kLeader || change_pending() || change_) return;
  const PeerState* learner = find_peer(promotion_->id);
  if (!learner || learner->progress.match() + config_.promotion_lag < log_.last_index()) return;  // not yet
  std::vector<NodeId> voters = membership_.voters();
  voters.push_back(promotion_->id);
  if (promotion_->replaced.valid()) std::erase(voters, promotion_->replaced);
  change_ = PendingChange{promotion_->request_id, 0};
  promotion_.reset();
  propose_membership(membership_.entering_joint(std::move(voters)));
}

void RaftCore::maybe_pin_incarnations() {
  // Members are pinned to the data directory they first spoke from, so one that was wiped cannot return under its
  // id having forgotten its votes and acknowledgements. A configuration entry of its own, when there is news.
  Membership pinned = membership_;
  bool news = false;
  if (const Member* me = membership_.find(config_.self); me && me->incarnation == 0 && config_.incarnation != 0) {
    pinned = pinned.with_incarnation(config_.self, config_.incarnation);
    news = true;
  }
  for (const auto& [id, incarnation] : heard_incarnations_) {
    const Member* member = membership_.find(id);
    if (member && member->incarnation == 0) {
      pinned = pinned.with_incarnation(id, incarnation);
      news = true;
    }
  }
  heard_incarnations_.clear();
  if (news && log_.term_at(commit_) == term_) propose_membership(std::move(pinned));
}

void RaftCore::maybe_hand_over() {
  // A leader that the committed configuration no longer lists as a voter steps down, handing over to the most
  // up-to-date voter at once rather than leaving the cluster to an election timeout.
  if (membership_index_ > commit_ || membership_.is_voter(config_.self)) return;
  NodeId best = kNoNode;
  Index best_match = 0;
  for (const auto& [id, p] : peers_) {
    if (membership_.is_voter(id) && (best == kNoNode || p.progress.match() > best_match)) {
      best = id;
      best_match = p.progress.match();
    }
  }
  if (best.valid()) send(best, TimeoutNow{term_});
  become_follower(term_, kNoNode);
}

void RaftCore::on_transfer(const TransferLeadership& request) {
  auto refuse = [&](std::string reason) { emit(ChangeOutcome{request.request_id, false, std::move(reason), leader_}); };
  if (role_ != Role::kLeader) return refuse("not the leader");
  if (transfer_) return refuse("a handover is under way already");
  NodeId target = request.target;
  if (target == config_.self) {
    emit(ChangeOutcome{request.request_id, true, {}, leader_});
    return;
  }
  if (!target.valid()) {  // the most up-to-date voter
    Index best_match = 0;
    for (const auto& [id, p] : peers_) {
      if (membership_.is_voter(id) && (!target.valid() || p.progress.match() > best_match)) {
        target = id;
        best_match = p.progress.match();
      }
    }
    if (!target.valid()) return refuse("there is no other voter to hand over to");
  } else if (!membership_.is_voter(target)) {
    return refuse(fmt::format("{} is not a voter", target.str()));
  }
  transfer_ = Transfer{request.request_id, target, now_us_ + config_.transfer_timeout_us};
  PeerState* peer = find_peer(target);
  if (peer->progress.match() == log_.last_index()) {
    transfer_->timeout_sent = true;
    lease_void_ = true;
    send(target, TimeoutNow{term_});
  } else {
    send_append(*peer, true);  // catch it up first; TimeoutNow goes once it acknowledges our last entry
  }
}

void RaftCore::on_timeout_now(NodeId from, const TimeoutNow& request) {
  // From our leader of this term: it handed over to us. Campaign at once, without PreVote; voters grant it even while
  // they still follow that leader (RequestVote::transfer).
  if (request.term != term_ || from != leader_ || role_ != Role::kFollower || !membership_.is_voter(config_.self)) return;
  votes_held_after_restart_ = false;
  become_candidate(/*transfer=*/true);
}

void RaftCore::on_time_passed() {
  if (role_ == Role::kLeader && !transfer_ && !held_proposals_.empty() && in_contact_with_majority()) {
    release_held_proposals();
  }
  if (transfer_ && now_us_ >= transfer_->deadline_us) {
    emit(ChangeOutcome{transfer_->request_id, false,
                       fmt::format("{} did not take over in time; this replica still leads", transfer_->target.str()),
                       leader_});
    transfer_.reset();
    release_held_proposals();
  }
  if (promotion_ && now_us_ >= promotion_->deadline_us) {
    emit(ChangeOutcome{promotion_->request_id, false,
                       fmt::format("{} did not catch up with the log in time; it stays a learner", promotion_->id.str()),
                       leader_});
    promotion_.reset();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Loss recovery: what a lossy network swallowed is sent again after the peer's retransmission timeout, not a
// heartbeat or an election timeout later.

// A campaign asks each silent voter at most this many times more. Five tries reach a voter and bring its answer back
// in 96 cases of 100 even at 30 % loss each way; a replica cut off from everyone would only be talking to the void
// until its next election timeout starts a new campaign.
constexpr int kMaxCampaignRetries = 4;

// Probes a voter a leader cannot reach must leave unanswered before it counts as cut off (after two heartbeat
// intervals of silence first). With 30 % of datagrams lost each way, a live voter leaves all five unanswered about
// once in 30 tries, and a leader steps down by mistake only when most of its voters do that at once.
constexpr int kContactProbes = 5;

std::optional<std::int64_t> RaftCore::retransmit_at_us(const PeerState& peer) const {
  if (!peer.awaiting_since_us || !peer.progress.awaiting_answer()) return std::nullopt;
  // What a majority already holds is committed without this follower: it catches up with the next append (whose
  // rejection fills the gap) or heartbeat, and the network is spared a copy the commit does not need.
  const Index last_sent =
      peer.progress.mode() == Progress::Mode::kReplicate ? peer.progress.next() - 1 : log_.last_index();
  if (last_sent <= commit_) return std::nullopt;
  return *peer.awaiting_since_us + peer.rtt.timeout_us(config_.retransmit, peer.retries);
}

void RaftCore::start_fresh_round(PeerState& peer) {
  // New entries for a follower heard from lately: a lost copy of the last ones (or of its answer) says nothing about
  // these, so their timeout starts from the base again. The doubling (RFC 6298 §5.5) is for data a silent follower
  // keeps not answering; carried over to the next append under random loss, it doubled that append's wait.
  if (peer.last_heard_us >= now_us_ - config_.retransmit.max_us) peer.retries = 0;
}

void RaftCore::on_retransmit_due() {
  if (clients_await_contact()) {  // (leaders only)
    probe_for_contact();
    if (role_ != Role::kLeader) return;
  }
  if (role_ == Role::kLeader) {
    const std::vector<NodeId> spare = spare_followers();
    bool resent = false;
    for (auto& [id, peer] : peers_) {
      const std::optional<std::int64_t> due = retransmit_at_us(peer);
      if (!due || now_us_ < *due) continue;
      ++peer.retries;
      ++retransmissions_;
      last_loss_us_ = now_us_;
      resent = true;
      peer.progress.resend_unanswered();
      send_append(peer, true);  // a probe: it goes even when it carries no entries
    }
    // A needed follower is late (RaftConfig::defer_spare_followers): the spare ones get what they lack now, so that
    // the commit does not wait for their heartbeats.
    if (resent) {
      for (NodeId id : spare) send_append(*find_peer(id), false);
    }
    return;
  }
  if ((role_ != Role::kPreCandidate && role_ != Role::kCandidate) || !campaign_sent_us_) return;
  if (campaign_retries_ >= kMaxCampaignRetries || now_us_ < campaign_retransmit_at_us()) return;
  // Votes are idempotent: a voter asked again in the same term answers the same way.
  for (const auto& [id, p] : peers_) {
    if (membership_.is_voter(id) && !p.vote_answered) {
      send(id, campaign_request_);
      ++retransmissions_;
    }
  }
  campaign_sent_us_ = now_us_;
  ++campaign_retries_;
}

std::int64_t RaftCore::campaign_retransmit_at_us() const {
  // The slowest unanswered voter sets the pace (most have not been measured: the initial timeout).
  std::int64_t wait = config_.retransmit.min_us;
  for (const auto& [id, p] : peers_) {
    if (membership_.is_voter(id) && !p.vote_answered) {
      wait = std::max(wait, p.rtt.timeout_us(config_.retransmit, campaign_retries_));
    }
  }
  return *campaign_sent_us_ + wait;
}

std::optional<std::int64_t> RaftCore::next_retransmit_us() const {
  std::optional<std::int64_t> next;
  auto earliest = [&](std::int64_t at) { next = next ? std::min(*next, at) : at; };
  if (role_ == Role::kLeader) {
    for (const auto& [id, peer] : peers_)
      if (const auto due = retransmit_at_us(peer)) earliest(*due);
    if (clients_await_contact()) {
      for (const auto& [id, peer] : peers_) {
        if (!membership_.is_voter(id) || peer.last_heard_us >= now_us_ - config_.quorum_contact_us) continue;
        // Its next probe, or once it has had them all, the moment its silence counts (not again once it has).
        const std::int64_t at = peer.last_sent_us + contact_probe_wait_us(peer);
        if (peer.contact_probes < kContactProbes || at > now_us_) earliest(at);
      }
    }
  } else if ((role_ == Role::kPreCandidate || role_ == Role::kCandidate) && campaign_sent_us_ &&
             campaign_retries_ < kMaxCampaignRetries) {
    earliest(campaign_retransmit_at_us());
  }
  return next;
}

void RaftCore::release_held_proposals() {
  for (const Propose& held : std::exchange(held_proposals_, {})) on_propose(held);
}

std::int64_t RaftCore::contact_probe_wait_us(const PeerState& peer) const {
  // Linear, not doubling: five probes take fifteen timeouts, long beside a stalled process or a burst of losses and
  // short beside an election timeout (doubled, they took as long as CheckQuorum in the simulated cluster).
  return peer.rtt.timeout_us(config_.retransmit, 0) * std::max(1, peer.contact_probes);
}

bool RaftCore::clients_await_contact() const {
  return role_ == Role::kLeader && !transfer_ && (!held_proposals_.empty() || !pending_reads_.empty()) &&
         !in_contact_with_majority();
}

void RaftCore::probe_for_contact() {
  // Ask the voters not heard from lately, each again after a wait that grows by its retransmission timeout per silent
  // probe: where a majority is there after all (a few answers lost), the waiting clients are served one round trip
  // later, not at the next heartbeat. A voter that leaves kContactProbes of them unanswered as well is cut off;
  // once that leaves no majority, we step down at once rather than at CheckQuorum's next look (up to two election
  // timeouts later), and the waiting clients go to find the majority side's leader instead of waiting for the
  // partition to heal.
  std::vector<NodeId> cut_off;
  for (auto& [id, peer] : peers_) {
    if (!membership_.is_voter(id) || peer.last_heard_us >= now_us_ - config_.quorum_contact_us) continue;
    if (peer.last_sent_us > now_us_ - contact_probe_wait_us(peer)) continue;
    if (peer.contact_probes >= kContactProbes) {
      cut_off.push_back(id);
      continue;
    }
    send_append(peer, true);
    ++peer.contact_probes;
  }
  const auto reachable = [&](NodeId id) { return std::find(cut_off.begin(), cut_off.end(), id) == cut_off.end(); };
  if (config_.check_quorum && !membership_.majority(reachable)) {
    ++cut_off_step_downs_;
    become_follower(term_, kNoNode);
  }
}

bool RaftCore::in_contact_with_majority() const {
  if (config_.quorum_contact_us <= 0) return true;
  return membership_.majority([&](NodeId id) {
    if (id == config_.self) return true;
    const PeerState* p = find_peer(id);
    return p && p->last_heard_us >= now_us_ - config_.quorum_contact_us;
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Reads (thesis §6.4): a read is served at the commit index once leadership is confirmed by a majority that
// acknowledged a message sent no earlier than read_lease_us before the read arrived.

void RaftCore::maybe_complete_reads() {
  if (role_ != Role::kLeader || pending_reads_.empty()) return;
  // Until an entry of our term commits we do not know the latest commit index (§8).
  if (log_.term_at(commit_) != term_) return;
  // The newest send a quorum of the voters acknowledged (joint: a quorum of each).
  const std::int64_t confirmed = membership_.quorum_index([&](NodeId id) -> std::int64_t {
    if (id == config_.self) return now_us_;
    const PeerState* p = find_peer(id);
    return p ? p->acked_sent_at_us : std::numeric_limits<std::int64_t>::min();
  });
  // Once we told a replica to take over, it may lead before our lease runs out: a fresh round for every read.
  const std::int64_t lease = lease_void_ ? 0 : config_.read_lease_us;
  const bool fresh = config_.read_fresh_us <= 0 || confirmed > now_us_ - config_.read_fresh_us;  // (min: none acked)
  while (fresh && !pending_reads_.empty() && confirmed >= pending_reads_.front().arrived_at_us - lease) {
    emit(ReadReady{pending_reads_.front().read_id, commit_});
    pending_reads_.pop_front();
  }
  // The rest wait for a round sent after they arrived (or after the confirmed one, gone stale); one round serves
  // every read waiting for it.
  if (!pending_reads_.empty() &&
      (last_read_round_us_ < pending_reads_.back().arrived_at_us || (!fresh && last_read_round_us_ <= confirmed))) {
    last_read_round_us_ = now_us_;
    broadcast_heartbeat();
  }
}

void RaftCore::reject_reads() {
  for (const auto& read : pending_reads_) emit(ReadRejected{read.read_id, leader_});
  pending_reads_.clear();
}

bool RaftCore::in_leader_lease() const {
  // A leader is in its own lease until CheckQuorum deposes it. A follower is while it heard from its leader within
  // the minimum election timeout, as the thesis has it, rather than until its own randomized timer fires: then the
  // first voter to time out after a leader dies can be elected at once, where it used to wait for a majority of the
  // others' timers to fire too (kvchaos, leader kills in course mode: a median 0.65 s without a leader, was 0.96 s).
  // A timer could always fire at the minimum, so the read lease's worst case is the same.
  if (!config_.check_quorum || leader_ == kNoNode) return false;
  if (role_ == Role::kLeader || config_.vote_quiet_us == 0) return true;
  return now_us_ - leader_contact_us_ < config_.vote_quiet_us;
}

// ---------------------------------------------------------------------------------------------------------------
// Local state changes that must be persisted, and effects

void RaftCore::append_local(EntryPtr entry) {
  log_.append(entry);
  if (entry->kind == EntryKind::kConfig) {
    // §4.1: a configuration takes effect as soon as it is in the log, committed or not.
    membership_in_log_ = true;
    if (auto next = Membership::decode(entry->data)) {
      log_memberships_.emplace_back(entry->index, *next);
      adopt_membership(std::move(*next), entry->index);
    }
  }
  pending_persist_.entries.push_back(std::move(entry));
  persist_pending_ = true;
}

void RaftCore::truncate_local(Index index) {
  if (index <= commit_) {
    throw std::logic_error(fmt::format("replica {} asked to truncate at {} but commit index is {}",
                                       config_.self.str(), index, commit_));
  }
  log_.truncate_from(index);
  ++truncations_;
  last_truncated_from_ = index;
  durable_index_ = std::min(durable_index_, index - 1);
  merge_persist(pending_persist_, Persist{.truncate_from = index});
  persist_pending_ = true;
  membership_after_truncation(index);
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
  // towards a commit only after DurableThrough), and commits, role news and read answers depend on no unsynced state.
  if (std::holds_alternative<Send>(effect)) flush_persist();
  effects_.push_back(std::move(effect));
}

void RaftCore::flush_persist() {
  if (!persist_pending_) return;
  persist_pending_ = false;
  effects_.push_back(std::exchange(pending_persist_, {}));
}

bool change_may_succeed_later(std::string_view reason) {
  for (std::string_view not_now : {"in progress", "try again", "being handed over", "leadership was lost"})
    if (reason.find(not_now) != std::string_view::npos) return true;
  return false;
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
          [](const MembershipChanged& e) {
            return fmt::format("MembershipChanged at {}: {}", e.index, e.membership.describe());
          },
          [](const ChangeOutcome& e) {
            return fmt::format("ChangeOutcome id={} {}{}", e.request_id, e.done ? "done" : "refused: ", e.reason);
          },
          [](const Retired& e) { return fmt::format("Retired: {}", e.reason); },
      },
      effect);
}

}  // namespace coraft::raft
