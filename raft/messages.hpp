#pragma once
// Replica-to-replica messages, named as in Raft Figure 2. Plain aggregates; the codec in net/ puts them on the wire.

#include "raft/types.hpp"

#include <string>
#include <variant>
#include <vector>

namespace coraft::raft {

// Also used for PreVote (thesis §9.6): then `term` is the term the candidate would campaign in, and nothing changes
// on the receiver.
struct RequestVote {
  Term term = 0;
  Index last_log_index = 0;
  Term last_log_term = 0;
  bool pre_vote = false;
  // Sent because the leader handed over (TimeoutNow): voters grant it even while they still follow that leader.
  bool transfer = false;
};

struct RequestVoteReply {
  Term term = 0;
  bool granted = false;
  bool pre_vote = false;
};

struct AppendEntries {
  Term term = 0;
  Index prev_log_index = 0;
  Term prev_log_term = 0;
  std::vector<EntryPtr> entries;
  Index leader_commit = 0;
  // The leader's clock when it sent this, echoed in the reply: a majority of echoes newer than T proves that no
  // other leader could be elected before T + election timeout, which is what ReadIndex and the lease rest on.
  std::int64_t sent_at_us = 0;
  // Receivers that send no success reply to this message (RaftConfig::quiet_acks: one message for every follower,
  // answered by only as many as a majority needs). A rejection is always sent.
  std::vector<NodeId> quiet;
};

struct AppendEntriesReply {
  Term term = 0;
  bool success = false;
  // On success: the last index known to match the leader's log (prev_log_index + entries in the request).
  Index match_index = 0;
  // On rejection: the prev_log_index that did not match (lets the leader recognise stale rejections), and the
  // fast-backtracking hint: the follower's conflicting term and the first index it holds of that term, or, when the
  // follower's log is too short, conflict_term 0 and conflict_index = its last index + 1.
  Index rejected_prev = 0;
  Index conflict_index = 0;
  Term conflict_term = 0;
  std::int64_t sent_at_us = 0;
  // How long the follower's transport held this answer before it left (course mode holds a heartbeat's, which tells
  // the leader nothing new, behind its client traffic): not part of the round trip the leader measures.
  std::int64_t held_us = 0;
  // The request carried no entries: for the follower's own transport, which may hold such an answer back (not on the
  // wire; a retransmitted append's answer, which a commit may wait for, is never one).
  bool answers_heartbeat = false;
};

// Raft Figure 13, in chunks that each fit a datagram. `offset` is where `chunk` starts in the snapshot's bytes.
struct InstallSnapshot {
  Term term = 0;
  Index last_included_index = 0;
  Term last_included_term = 0;
  std::uint64_t offset = 0;
  std::uint64_t total_bytes = 0;
  std::uint32_t checksum = 0;  // of the whole snapshot: with index and term, which snapshot the chunk belongs to
  std::string chunk;
  bool done = false;       // this chunk ends the snapshot
  std::string membership;  // the configuration at last_included_index (Membership::encode), with every chunk
};

struct InstallSnapshotReply {
  Term term = 0;
  Index last_included_index = 0;
  std::uint64_t next_offset = 0;  // bytes received so far, in order: where the leader should continue
  bool done = false;              // the snapshot is installed
};

// Leadership transfer (thesis §3.10): the leader tells an up-to-date voter to start an election at once.
struct TimeoutNow {
  Term term = 0;
};

// A member refuses to talk to this sender for good: its id belongs to a data directory of another incarnation (the
// sender's was wiped or replaced), or it is no longer a member.
struct Refused {
  Term term = 0;
  std::string reason;
};

using PeerPayload = std::variant<RequestVote, RequestVoteReply, AppendEntries, AppendEntriesReply, InstallSnapshot,
                                 InstallSnapshotReply, TimeoutNow, Refused>;

struct PeerMessage {
  NodeId from;
  NodeId to;
  PeerPayload payload;
  // The sender's data directory identity (cluster mode; 0 where nothing checks it, as in course mode).
  std::uint64_t incarnation = 0;
};

Term term_of(const PeerPayload& payload);
std::string_view type_name(const PeerPayload& payload);
// One line, for logs and traces: "0001->0002 AppendEntries t=3 prev=7/2 n=5 commit=9".
std::string describe(const PeerMessage& message);

}  // namespace coraft::raft
