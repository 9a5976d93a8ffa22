#pragma once
// Every message one actor sends another, grouped by the inbox that accepts it. One std::variant per actor lists
// exactly what it accepts. See ARCHITECTURE.md for who sends what, and which sends may wait.

#include "actors/api_protocol.hpp"
#include "actors/client_protocol.hpp"
#include "actors/mailbox.hpp"
#include "kv/command.hpp"
#include "raft/core.hpp"
#include "raft/messages.hpp"

#include <variant>
#include <vector>

namespace coraft::actors {

// ---- raft node ----
struct PeerReceived {  // bridge -> node
  raft::PeerMessage message;
};
struct ElectionTimerFired {  // election timer -> node; `epoch` names the reset it counts from
  std::uint64_t epoch;
};
struct RetransmitTimerFired {  // the node's own retransmission deadline (RaftCore::next_retransmit_us)
  std::uint64_t generation;
};
struct ProposeCommands {  // gateway -> node
  std::uint64_t proposal_id;
  std::vector<std::string> commands;
};
struct RequestRead {  // gateway -> node
  std::uint64_t read_id;
};
struct FollowerIdle {  // replicator -> node: nothing went to `peer` for a heartbeat interval
  raft::NodeId peer;
  raft::Term term;
};
struct AppliedThrough {  // applier -> node
  raft::Index index;
};
struct StatusRequest {  // gateway -> node: answered with StatusReady
  std::uint64_t collection_id;
};
struct SnapshotTaken {  // applier -> node: the state machine as of snapshot.index; the log before it may go
  raft::Snapshot snapshot;
};
struct ChangeMembershipRequest {  // gateway -> node
  std::uint64_t request_id;
  raft::MembershipChange change;
};
struct TransferRequest {  // gateway (or a replica stopping) -> node: hand leadership over
  std::uint64_t request_id;  // kHandOverBeforeStop: answered through ReplicaOptions::on_handover_done
  raft::NodeId target;       // kNoNode: the most up-to-date voter
};
inline constexpr std::uint64_t kHandOverBeforeStop = 0;
struct WatchLeaderContact {};  // gateway -> node: say (LeaderHeard) when the leader is next heard from
struct StorageDurable {  // storage -> node: every write up to `seq` is on disk
  std::uint64_t seq;
  raft::Index last_index;  // the newest log entry written so far, and its term (0: none yet)
  raft::Term last_term;
};
using NodeInbox = std::variant<PeerReceived, ElectionTimerFired, RetransmitTimerFired, ProposeCommands, RequestRead,
                               FollowerIdle, AppliedThrough, StatusRequest, SnapshotTaken, StorageDurable,
                               ChangeMembershipRequest, TransferRequest, WatchLeaderContact>;

// ---- storage ----
struct StorageWrite {  // node -> storage: make this change durable, after every write numbered before it
  std::uint64_t seq;
  raft::Persist change;
  // Written while not leading: what waits for it is this replica's replies, so the write may hold up the replica's
  // thread (no hand-off to a disk thread). A leader's must not: it keeps replicating meanwhile.
  bool may_block_replica = false;
};
struct StorageSnapshot {  // node -> storage: our own snapshot; once its file is on disk, the log up to it may go
  raft::Snapshot snapshot;
};
struct StorageDiscard {  // node -> storage: compacted entries, freed on a disk thread (a million of them take a while)
  std::vector<raft::EntryPtr> entries;
};
struct StorageWake {  // its own disk work finished, or its notice timer expired: look at what is done
  std::uint64_t generation;
};
// Gateway -> storage, KV API, network and HTTP edges: render your counters (answered with MetricsReport).
struct ReportMetrics {
  std::uint64_t collection_id;
  std::string labels;  // to put on every sample: the replica's (replica_label())
  std::size_t slot;    // echoed in the report: where its text goes among the others
};
using StorageInbox = std::variant<StorageWrite, StorageSnapshot, StorageDiscard, StorageWake, ReportMetrics>;

// ---- election timer ----
struct ArmElectionTimer {  // node -> timer: start a fresh randomized timeout, counted from `epoch`
  std::uint64_t epoch;
};
struct ElectionDeadlinePassed {  // the timer's own deadline
  std::uint64_t generation;
};
using ElectionTimerInbox = std::variant<ArmElectionTimer, ElectionDeadlinePassed>;

// ---- replicator (one per follower, while leading) ----
struct TransmitAppend {  // node -> replicator
  raft::AppendEntries message;
  int backoff_shift;
};
struct ReplicatorIdleCheck {  // the replicator's own heartbeat deadline
  std::uint64_t generation;
};
struct TransmitSnapshot {  // node -> replicator: stream this snapshot (or resume streaming it)
  raft::Snapshot snapshot;
};
struct SnapshotProgress {  // node -> replicator: the follower holds the snapshot up to next_offset
  raft::Index index;
  std::uint64_t next_offset;
  bool done;
};
using ReplicatorInbox = std::variant<TransmitAppend, ReplicatorIdleCheck, TransmitSnapshot, SnapshotProgress>;

// ---- applier ----
struct ApplyCommitted {  // node -> applier: committed entries, in order, each exactly once
  std::vector<raft::EntryPtr> entries;
};
struct RestoreFromSnapshot {  // node -> applier: replace the state machine (a snapshot from the leader, or at start)
  raft::Snapshot snapshot;
};
struct SnapshotSerialized {};  // the applier's own background serialization finished
struct ReadRange {  // kv api -> applier: what `range` holds now (answered with RangeAnswered)
  std::uint64_t query_id;
  kv::KeyRange range;
  bool keys_only = false;
};
struct WatchRange {  // kv api -> applier: answer (RangeAnswered) once the range's index passes after_index; at once
                     // if it already has
  std::uint64_t query_id;
  kv::KeyRange range;
  bool keys_only = false;
  std::uint64_t after_index = 0;
};
struct EndWatch {  // kv api -> applier: the query's wait is over: answer now with what the range holds (if still held)
  std::uint64_t query_id;
};
struct ReadValues {  // gateway -> applier: the values of `keys` now (answered with ValuesRead); the gateway asks once
                     // the applier has passed the reads' index
  std::uint64_t batch_id;
  std::vector<std::string> keys;
};
struct TakeBackup {  // gateway -> applier: serialize the store now (answered with BackupTaken); the gateway asks
                     // only once the applier has passed the backup's read index
  std::uint64_t backup_id;
};
using ApplierInbox =
    std::variant<ApplyCommitted, RestoreFromSnapshot, SnapshotSerialized, ReadRange, WatchRange, EndWatch, ReadValues,
                 TakeBackup>;

// ---- client gateway ----
struct ClientRequestReceived {  // bridge -> gateway
  ClientRequest request;
};
struct LeaderChanged {  // node -> gateway
  raft::Role role;
  raft::Term term;
  raft::NodeId leader;
  raft::Term inherited_term = 0;  // leader: the term of the last entry in its log when it was elected
};
// node -> gateway: this replica's election timer ran out again with no leader heard of, or it stopped leading because
// no majority answered its probes
struct ElectionRoundEnded {
  raft::Term term;
};
struct LeaderHeard {  // node -> gateway, once per WatchLeaderContact: the leader sent us an AppendEntries just now
  raft::Term term;
  raft::NodeId leader;
};
struct ProposalOutcome {  // node -> gateway
  std::uint64_t proposal_id;
  bool accepted;
  raft::Index first_index;  // accepted: the commands sit at first_index, first_index + 1, ...
  raft::Term term;
  raft::NodeId leader;  // rejected: who leads, if known
};
struct ReadOutcome {  // node -> gateway
  std::uint64_t read_id;
  bool ready;
  raft::Index read_index;  // ready: answer once this index is applied
  raft::NodeId leader;     // rejected: who leads, if known
};
struct AppliedCommand {
  raft::Index index;
  raft::Term term;
  kv::Result result;
};
// node -> gateway, while leading: everything up to commit_index is committed. The writes this leader proposed in
// `term` whose answer the state machine cannot change (plain puts) are answered now, before they are applied.
struct WritesCommitted {
  raft::Term term;
  raft::Index commit_index;
};
struct EntriesApplied {  // applier -> gateway
  std::vector<AppliedCommand> commands;
  raft::Index applied_index;
  raft::Term applied_term;
  std::uint64_t keys = 0;  // how many the store holds now (for status)
  // The store was replaced by a snapshot up to applied_index: which commands it took in is not known one by one.
  bool from_snapshot = false;
};
struct StatusReady {  // node -> gateway
  std::uint64_t collection_id;
  ReplicaStatus status;
  std::string metrics;  // the node's own counters, as Prometheus text
};
struct MetricsReport {  // storage, KV API, network and HTTP edges -> gateway: the answer to ReportMetrics
  std::uint64_t collection_id;
  std::size_t slot;
  std::string text;  // its own counters, as Prometheus text
};
// An edge of the replica that answers ReportMetrics (the UDP bridge, the HTTP server) says so when it attaches, so
// that the gateway asks it too.
enum class EdgeKind : std::uint8_t { kNetwork, kHttp };
struct EdgeAttached {
  EdgeKind kind;
};
struct GatewaySweep {  // the gateway's own deadline check
  std::uint64_t generation;
};
struct ChangeAnswered {  // node -> gateway: the outcome of a membership change or a leadership transfer
  std::uint64_t request_id;
  bool done;
  std::string reason;
  raft::NodeId leader;
};
struct MembershipKnown {  // node -> gateway: the configuration in effect (clients learn members and addresses)
  raft::Membership membership;
};
struct ValuesRead {  // applier -> gateway: the answer to ReadValues, in its order (nullopt: no such key)
  std::uint64_t batch_id;
  std::vector<std::optional<std::string>> values;
};
struct BackupTaken {  // applier -> gateway: the store as it stood at snapshot.index, for backup `backup_id`
  std::uint64_t backup_id;
  raft::Snapshot snapshot;
};
using GatewayInbox = std::variant<ClientRequestReceived, LeaderChanged, ElectionRoundEnded, ProposalOutcome, ReadOutcome,
                                  WritesCommitted, EntriesApplied, StatusReady, GatewaySweep, ChangeAnswered,
                                  MembershipKnown, ValuesRead, BackupTaken, MetricsReport, EdgeAttached, LeaderHeard>;

// ---- KV API (the typed side of the HTTP API) ----
struct ApiCallReceived {  // http edge -> kv api: a client's call, or one another replica forwarded (`forwarded`)
  std::uint64_t call_id;
  ApiCall call;
  bool forwarded = false;
};
struct ApiClientReplied {  // gateway -> kv api: the answer to a ClientRequest the kv api made
  ClientReply reply;
};
struct RangeAnswered {  // applier -> kv api
  std::uint64_t query_id;
  kv::RangeRead read;
};
struct ForwardAnswered {  // http edge -> kv api: the leader's answer to a forwarded call; nullopt: none came
  std::uint64_t call_id;
  std::optional<ForwardedResponse> response;
  std::string error;  // why none came
};
struct KvApiSweep {  // the kv api's own deadline check
  std::uint64_t generation;
};
using KvApiInbox =
    std::variant<ApiCallReceived, ApiClientReplied, RangeAnswered, ForwardAnswered, KvApiSweep, ReportMetrics>;

// ---- http edge (outbound side of the kv api) ----
struct AnswerCall {
  std::uint64_t call_id;
  ApiAnswer answer;
};
struct ForwardCall {  // send the call to the leader's HTTP API; the answer comes back as ForwardAnswered
  std::uint64_t call_id;
  raft::NodeId leader;
  ApiCall call;
  Millis timeout;
};
using HttpEdgeInbox = std::variant<AnswerCall, ForwardCall, ReportMetrics>;

// ---- bridge (outbound side) ----
struct SendPeer {
  raft::PeerMessage message;
};
struct SendClientReply {
  ClientReply reply;
};
struct AnnounceLeader {  // node -> bridge: the `leader` field to stamp on every outgoing peer message
  raft::NodeId leader;
};
struct AnnounceMembers {  // node -> bridge: who is in the configuration now, and where (cluster mode addresses peers)
  std::vector<raft::Member> members;
};
using BridgeInbox = std::variant<SendPeer, SendClientReply, AnnounceLeader, AnnounceMembers, ReportMetrics>;

using NodeMailbox = Mailbox<NodeInbox>;
using StorageMailbox = Mailbox<StorageInbox>;
using ElectionTimerMailbox = Mailbox<ElectionTimerInbox>;
using ReplicatorMailbox = Mailbox<ReplicatorInbox>;
using ApplierMailbox = Mailbox<ApplierInbox>;
using GatewayMailbox = Mailbox<GatewayInbox>;
using BridgeMailbox = Mailbox<BridgeInbox>;
using KvApiMailbox = Mailbox<KvApiInbox>;
using HttpEdgeMailbox = Mailbox<HttpEdgeInbox>;

}  // namespace coraft::actors
