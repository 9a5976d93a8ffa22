#pragma once
// RaftCore: the Raft rules as a pure state machine. Inputs go in through step(); decisions come out as an ordered
// list of addressed effects. No asio, no clock, no sockets, no randomness: time arrives as a number with each input
// and the election timer lives outside (actors/election_timer).
//
// Ordering contract for whoever executes the effects (the raft node actor, or a test):
//   * execute them in order, except that a Send may be held back (never brought forward);
//   * a Send must not leave the replica before every Persist emitted before it is durable — including Persists of
//     earlier steps whose writes are still under way: no vote, append reply or snapshot reply may claim state the
//     disk does not hold yet (Raft Figure 2: "updated on stable storage before responding to RPCs");
//   * a Transmit (a leader's AppendEntries) need not wait: a leader may send entries before its own copy is durable
//     (thesis §10.2.1), because it counts itself towards a commit only after step(DurableThrough{...}) says so;
//   * after a Persist that carried entries is durable, step(DurableThrough{last index, its term}).
// The raft node keeps this contract with actors/durability_gate.hpp.

#include "raft/log.hpp"
#include "raft/membership.hpp"
#include "raft/messages.hpp"
#include "raft/persist.hpp"
#include "raft/progress.hpp"
#include "raft/round_trip.hpp"
#include "raft/types.hpp"

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace coraft::raft {

struct RaftConfig {
  NodeId self;
  // The configuration a new cluster starts from, when neither the log nor a snapshot holds one. Empty: `self` and
  // `peers`, all voters.
  Membership initial;
  std::vector<NodeId> peers;
  // Joining an existing cluster: no configuration until the leader's log brings one (`initial` and `peers` unused).
  bool join = false;
  std::uint64_t incarnation = 0;  // this replica's data directory identity, sent with every message (0: none)
  bool pre_vote = true;           // thesis §9.6
  bool check_quorum = true;   // a leader that has not heard from a majority for an election timeout steps down
  ReplicationLimits limits;
  // Reads are served when a majority acknowledged a message sent at most lease_us before the read arrived.
  // 0 means plain ReadIndex (a fresh round after the read arrives). Must stay below the minimum election timeout by
  // the assumed clock-rate error (see ARCHITECTURE.md, "Reads").
  std::int64_t read_lease_us = 0;
  // A read is served only while the round that confirmed it is younger than this (0: however old). A round
  // acknowledged long before (the leader stood still meanwhile, say) no longer rules out a newer leader that has
  // committed writes since: the read would still be linearizable, but older than writes whose answers its client
  // may already hold. Set below the minimum election timeout by the same margin as the lease.
  std::int64_t read_fresh_us = 0;
  // Thesis §4.2.3: a follower ignores vote requests for this long after it last heard from its leader (the minimum
  // election timeout; the read lease above relies on it). 0: until its own election timer fires.
  std::int64_t vote_quiet_us = 0;
  // Longest back-off for heartbeats to a silent follower: heartbeat interval << max_backoff_shift.
  int max_backoff_shift = 3;
  // A leadership transfer that has not put the target in charge by then is abandoned (about an election timeout).
  std::int64_t transfer_timeout_us = 1'000'000;
  // A learner is promoted once its log trails the leader's by at most this many entries; a promotion waiting longer
  // than promotion_timeout_us for that fails.
  Index promotion_lag = 100;
  std::int64_t promotion_timeout_us = 60'000'000;
  // Loss recovery without waiting for a heartbeat: an AppendEntries (or a campaign's vote request) left unanswered
  // for the peer's retransmission timeout is sent again (raft/round_trip.hpp). The node sets max_us to the
  // heartbeat interval.
  RetransmitLimits retransmit;
  // When one follower's heartbeat falls due, the others whose last append went at least half of this long ago get
  // theirs in the same step: the copies leave together (one datagram for all where the wire allows, one wake-up for
  // all) instead of interleaving with client traffic one by one. 0: each follower on its own timer.
  std::int64_t heartbeat_interval_us = 0;
  // The transport carries one datagram to every follower at the cost of one (the course simulator's FFFF): a new
  // entry then goes to all followers as one AppendEntries, from the lowest position any answering follower has not
  // confirmed (each skips what it holds, and gaps a loss left close on the next entry), with a copy for a lone silent
  // follower, so that the bridge can send one datagram where it would send one per follower.
  bool uniform_appends = false;
  // With uniform appends: when no loss was seen lately, the shared append names the followers that need not answer
  // it (AppendEntries::quiet). Enough others answer for a majority; a quiet follower answers again once the leader
  // has not heard from it for two heartbeat intervals, and if the answers the commit needs do not come, the
  // retransmission timer asks every follower again. Each answer the commit does not need is a datagram the course
  // simulator counts and relays in line before the leader's reply.
  bool quiet_acks = false;
  // Followers a commit does not need get new entries with their heartbeats instead of at once. A commit needs a
  // majority of durable copies: the leader's own, and those of as many followers as make a majority with it, taken
  // in id order among the followers answering lately ("needed"). The rest ("spare") catch up in one batch per
  // heartbeat interval, so their writes and syncs do not compete with the needed followers' for the disk (or the
  // CPU) while a commit waits for them, and they sync once an interval instead of once a batch. Off in a joint
  // configuration and during a leadership transfer; when a needed follower's answer is overdue (its retransmission
  // falls due), the spare ones get what they lack at once.
  bool defer_spare_followers = false;
  // A leader that has heard from no majority for this long holds new proposals until it does again (or rejects them
  // when it steps down): on a minority side, a write it appended but cannot commit may still be committed by the
  // next leader, and its client then never learns the outcome. 0: proposals are never held for this.
  std::int64_t quorum_contact_us = 0;
};

// What an operator asks of the membership (kvctl member ...).
struct MembershipChange {
  enum class Kind : std::uint8_t {
    kAddLearner,  // `id` joins at `address`, receiving the log but not voting
    kPromote,     // the learner `id` becomes a voter, once caught up
    kRemove,      // `id` leaves; its id is never used again
    kReplace,     // in one joint change: the learner `id` becomes a voter and the voter `replaced` leaves
  };
  Kind kind = Kind::kAddLearner;
  NodeId id;
  std::string address;
  NodeId replaced;
};

// ---- inputs ----
struct Receive {
  PeerMessage message;
};
struct ElectionTimeout {};  // the election timer expired (on a leader: one CheckQuorum period passed)
struct Propose {
  std::uint64_t proposal_id = 0;
  std::vector<std::string> commands;
};
struct ReadIndex {
  std::uint64_t read_id = 0;
};
struct HeartbeatDue {  // the replicator for `peer` has been idle for a heartbeat interval
  NodeId peer;
};
struct RetransmitDue {};  // the time next_retransmit_us() named has come
struct DurableThrough {  // the log is durable through `index` (whose entry has `term`): a Persist finished
  Index index = 0;
  Term term = 0;
};
struct CompactLog {  // the state machine was snapshotted: the log up to the snapshot's index may go
  Snapshot snapshot;
};
struct ChangeMembership {  // leader: carry out this change, one configuration entry (or a joint pair) at a time
  std::uint64_t request_id = 0;
  MembershipChange change;
};
struct TransferLeadership {  // leader: hand over to `target` (kNoNode: the most up-to-date voter)
  std::uint64_t request_id = 0;
  NodeId target;
};
using Input = std::variant<Receive, ElectionTimeout, Propose, ReadIndex, HeartbeatDue, RetransmitDue, DurableThrough,
                           CompactLog, ChangeMembership, TransferLeadership>;

// ---- effects ----
struct Send {  // straight to the network
  PeerMessage message;
};
struct Transmit {  // to the replicator of `to`, which sends it and keeps the heartbeat clock for that follower
  NodeId to;
  AppendEntries message;
  int backoff_shift = 0;  // the follower has been silent: next idle heartbeat after interval << backoff_shift
};
struct CommitAdvanced {
  Index commit_index = 0;
};
struct RoleChanged {
  Role role;
  Term term;
  NodeId leader;
  Term inherited_term = 0;  // a new leader's: the term of the last entry it was elected with
};
struct ResetElectionTimer {};
struct ProposalAccepted {
  std::uint64_t proposal_id;
  Index first_index;
  Term term;
};
struct ProposalRejected {
  std::uint64_t proposal_id;
  NodeId leader;
};
struct ReadReady {
  std::uint64_t read_id;
  Index read_index;  // answer once the state machine has applied this index
};
struct ReadRejected {
  std::uint64_t read_id;
  NodeId leader;
};
struct SendSnapshot {  // to the replicator of `to`: stream it the latest snapshot (resume where it stopped)
  NodeId to;
};
struct SnapshotAck {  // to the replicator of `to`: the follower has the snapshot up to `next_offset`
  NodeId to;
  Index index;
  std::uint64_t next_offset;
  bool done;
};
struct RestoreSnapshot {  // to the applier: replace the state machine with this snapshot
  Snapshot snapshot;
};
struct SaveSnapshot {  // to storage: our own snapshot of the state machine; once on disk the log up to it may go there
  Snapshot snapshot;   // too. Nothing waits for it: the log's entries stay on disk until then.
};
struct MessageRejected {  // a peer message that could not have come from a correct replica: dropped
  NodeId from;
  std::string reason;
};
struct MembershipChanged {  // the configuration in effect is now this one (addresses for the network, status)
  Membership membership;
  Index index;  // of the entry that set it (0: the initial one)
};
struct ChangeOutcome {  // the answer to ChangeMembership or TransferLeadership
  std::uint64_t request_id;
  bool done;
  std::string reason;  // why not
  NodeId leader;       // who leads now, if known
};
struct Retired {  // this replica is out of the cluster for good: removed, or refused under its id
  std::string reason;
};
using Effect = std::variant<Persist, Send, Transmit, CommitAdvanced, RoleChanged, ResetElectionTimer, ProposalAccepted,
                            ProposalRejected, ReadReady, ReadRejected, SendSnapshot, SnapshotAck, RestoreSnapshot,
                            SaveSnapshot, MessageRejected, MembershipChanged, ChangeOutcome, Retired>;
std::string describe(const Effect& effect);
// Whether a ChangeOutcome's reason says "not now" rather than "no": another change or a handover is under way, a new
// leader has not committed an entry of its term, or the leader lost office before the change committed. Asking again
// (of whoever leads) is then safe, since a change already in effect is answered done.
bool change_may_succeed_later(std::string_view reason);

class RaftCore {
 public:
  RaftCore(RaftConfig config, RecoveredState recovered);

  std::vector<Effect> step(const Input& input, std::int64_t now_us);

  NodeId self() const { return config_.self; }
  Role role() const { return role_; }
  Term term() const { return term_; }
  NodeId leader() const { return leader_; }
  NodeId voted_for() const { return voted_for_; }
  Index commit_index() const { return commit_; }
  const Log& log() const { return log_; }
  const RaftConfig& config() const { return config_; }
  const Membership& membership() const { return membership_; }
  Index membership_index() const { return membership_index_; }
  // The configuration in effect once the log up to `index` is applied, as far as this replica's log knows it.
  Membership membership_at(Index index) const;
  // Leader only: the follower's replication state.
  const Progress* progress(NodeId peer) const;
  // Entries dropped by compaction since the last call. Freeing a million entries takes a while; the caller decides
  // where (the raft node hands them to its storage thread).
  std::vector<EntryPtr> take_compacted() { return std::exchange(compacted_, {}); }
  // When step(RetransmitDue{}) has something to resend: the earliest moment an unanswered AppendEntries or vote
  // request reaches its peer's retransmission timeout. Nothing while nothing awaits an answer.
  std::optional<std::int64_t> next_retransmit_us() const;
  std::uint64_t retransmissions() const { return retransmissions_; }  // AppendEntries and vote requests sent again
  // Times this replica stepped down as leader because probes found no majority it could reach (probe_for_contact).
  std::uint64_t cut_off_step_downs() const { return cut_off_step_downs_; }
  // Suffixes of the log a newer leader replaced (§5.3), and where the latest began: a follower that acknowledged
  // entries may lose them this way (they were not committed), which an observer of its claims must allow for.
  std::uint64_t truncations() const { return truncations_; }
  Index last_truncated_from() const { return last_truncated_from_; }

 private:
  struct PeerState {
    NodeId id;
    Progress progress{1};
    bool vote_granted = false;
    bool vote_answered = false;
    bool recent_active = false;            // heard from since the last CheckQuorum
    bool answered_since_heartbeat = true;  // for back-off
    int backoff_shift = 0;
    std::int64_t acked_sent_at_us = std::numeric_limits<std::int64_t>::min();
    RoundTrip rtt;                      // measured from the send times its answers echo
    std::optional<std::int64_t> awaiting_since_us;  // an AppendEntries with entries (or a probe) went then, unanswered
    int retries = 0;                     // retransmissions since its last answer
    int contact_probes = 0;  // probes sent, since it was last heard, while clients wait for contact with a majority
    std::int64_t last_sent_us = std::numeric_limits<std::int64_t>::min();  // its latest AppendEntries left then
    std::int64_t last_heard_us = std::numeric_limits<std::int64_t>::min();  // its latest answer (or vote) came then
  };
  struct PendingRead {
    std::uint64_t read_id;
    std::int64_t arrived_at_us;
  };

  void on_message(const PeerMessage& message);
  void on_request_vote(NodeId from, const RequestVote& request);
  void on_vote_reply(NodeId from, const RequestVoteReply& reply);
  void on_append(NodeId from, const AppendEntries& request);
  void on_append_reply(NodeId from, const AppendEntriesReply& reply);
  void on_election_timeout();
  void on_propose(const Propose& propose);
  void on_read_index(const ReadIndex& read);
  void on_heartbeat_due(NodeId peer);
  void on_durable_through(const DurableThrough& durable);
  void on_install_snapshot(NodeId from, const InstallSnapshot& request);
  void on_install_snapshot_reply(NodeId from, const InstallSnapshotReply& reply);
  void on_compact(const CompactLog& compact);
  void on_timeout_now(NodeId from, const TimeoutNow& request);
  void on_change(const ChangeMembership& request);
  void on_transfer(const TransferLeadership& request);
  void on_time_passed();
  void on_retransmit_due();
  // When the unanswered AppendEntries to `peer` is due to be sent again; none while nothing awaits an answer or the
  // commit no longer needs it.
  std::optional<std::int64_t> retransmit_at_us(const PeerState& peer) const;
  // RaftConfig::quiet_acks: which of these followers (in id order) may leave a shared append unanswered.
  std::vector<NodeId> quiet_followers(const std::vector<PeerState*>& answering) const;
  // RaftConfig::defer_spare_followers: whether `id` gets new entries only with its heartbeats, now; and all that do.
  bool is_spare(NodeId id) const;
  std::vector<NodeId> spare_followers() const;
  // New entries leave for this follower: its retransmission back-off restarts if it answered lately.
  void start_fresh_round(PeerState& peer);
  std::int64_t campaign_retransmit_at_us() const;

  void become_follower(Term term, NodeId leader);
  void become_pre_candidate();
  void become_candidate(bool transfer = false);
  void become_leader();
  void campaign(bool pre_vote, bool transfer);
  void tally_votes();
  void note_role();

  // Membership: the configuration in effect is the newest in the log (committed or not), else the snapshot's.
  void adopt_membership(Membership membership, Index index);
  void membership_after_truncation(Index from);
  void sync_peers();
  bool change_pending() const;  // a configuration entry not committed yet, or a joint one not yet left
  void propose_membership(Membership next);
  void maybe_finish_change();
  void maybe_promote();
  void maybe_pin_incarnations();
  void maybe_hand_over();
  void release_held_proposals();
  bool in_contact_with_majority() const;
  // Clients' proposals or reads wait here for contact with a majority.
  bool clients_await_contact() const;
  // How long after the last send to this silent voter its next probe goes (or its silence counts).
  std::int64_t contact_probe_wait_us(const PeerState& peer) const;
  void probe_for_contact();

  void send_append(PeerState& peer, bool heartbeat);
  void broadcast_append();
  bool broadcast_uniform_append();
  void broadcast_heartbeat();
  void maybe_commit();
  void advance_commit(Index index);
  void maybe_retire();
  void maybe_complete_reads();
  void reject_reads();
  bool in_leader_lease() const;

  void append_local(EntryPtr entry);
  void truncate_local(Index index);
  void set_hard_state(Term term, NodeId voted_for);
  void send(NodeId to, PeerPayload payload);
  void emit(Effect effect);
  void flush_persist();
  void reject(NodeId from, std::string reason);

  PeerState* find_peer(NodeId id);
  const PeerState* find_peer(NodeId id) const;
  // On a leader, the follower `from` that answered, marked alive; nullptr elsewhere or for a non-member.
  PeerState* answering_peer(NodeId from);

  RaftConfig config_;
  Term term_ = 0;
  NodeId voted_for_ = kNoNode;
  Role role_ = Role::kFollower;
  NodeId leader_ = kNoNode;
  Log log_;
  Index commit_ = 0;
  Index durable_index_ = 0;  // own log is durable up to here (what a leader counts for itself)
  // After a restart, grant no vote until our own election timer fires once: we may have acknowledged a leader just
  // before crashing, and its read lease counts on us not helping elect anyone else for an election timeout.
  bool votes_held_after_restart_ = false;
  std::int64_t leader_contact_us_ = 0;  // when a message of our leader last reached us
  std::map<NodeId, PeerState> peers_;  // every member but us (voters and learners)
  // A campaign's vote request, resent to the voters that have not answered (none: no campaign under way).
  RequestVote campaign_request_;
  std::optional<std::int64_t> campaign_sent_us_;
  int campaign_retries_ = 0;
  std::uint64_t retransmissions_ = 0;
  std::uint64_t cut_off_step_downs_ = 0;
  std::uint64_t truncations_ = 0;
  Index last_truncated_from_ = 0;

  Membership membership_;        // in effect
  Index membership_index_ = 0;   // the entry that set it (0: the snapshot's or the initial one)
  Membership base_membership_;   // the configuration at the log's base (the snapshot's), or the initial one
  bool membership_in_log_ = false;  // some log entry or snapshot recorded a configuration (else: the initial one)
  std::vector<std::pair<Index, Membership>> log_memberships_;  // config entries after the base, in log order
  bool retired_ = false;
  // Leader: the change under way (whose request is answered once its last entry commits), and learners waiting to be
  // promoted once they catch up.
  struct PendingChange {
    std::uint64_t request_id;
    Index final_index;  // answered once this commits (0: a joint configuration still to be left first)
  };
  std::optional<PendingChange> change_;
  struct PendingPromotion {
    std::uint64_t request_id;
    NodeId id;
    std::int64_t deadline_us;
    NodeId replaced;  // a replacement: this voter leaves in the same joint change
  };
  std::optional<PendingPromotion> promotion_;
  std::map<NodeId, std::uint64_t> heard_incarnations_;  // leader: what members said when unpinned
  // Leader: a handover under way. Proposals wait meanwhile; after TimeoutNow went out, no lease reads any more.
  struct Transfer {
    std::uint64_t request_id;
    NodeId target;
    std::int64_t deadline_us;
    bool timeout_sent = false;
  };
  std::optional<Transfer> transfer_;
  std::vector<Propose> held_proposals_;
  std::int64_t last_loss_us_ = std::numeric_limits<std::int64_t>::min() / 2;  // leader: a resend, rejection or silence
  bool lease_void_ = false;  // this term's lease is no longer ours to use (we told someone to take over)
  std::optional<Transfer> transferred_;  // handed over: answered when the target is seen leading

  std::deque<PendingRead> pending_reads_;
  std::int64_t last_read_round_us_ = std::numeric_limits<std::int64_t>::min();
  std::int64_t now_us_ = 0;

  // A snapshot arriving in chunks from the leader.
  struct IncomingSnapshot {  // identified by index, term and checksum: two leaders may serialize one state differently
    Index index;
    Term term;
    std::uint32_t checksum;
    std::uint64_t total_bytes;
    std::string bytes;
    std::string membership;
  };
  std::optional<IncomingSnapshot> incoming_snapshot_;
  std::vector<EntryPtr> compacted_;

  Persist pending_persist_;
  bool persist_pending_ = false;
  RoleChanged announced_{Role::kFollower, 0, kNoNode};
  std::vector<Effect> effects_;
};

}  // namespace coraft::raft
