#pragma once
// The client gateway actor: where client requests enter a replica and from where each is answered exactly once.
//   Owns: every request that has not been answered yet, and where it stands (held / proposing / committing /
//         confirming a read / waiting for the applier), each with a deadline.
//         Also the backups it took (their bytes, streamed to a client chunk by chunk, dropped a minute after the last
//         chunk was read).
//   Inbox: ClientRequestReceived (bridge); LeaderChanged, ElectionRoundEnded, LeaderHeard, ProposalOutcome,
//          ReadOutcome, StatusReady (node);
//          EntriesApplied, ValuesRead, BackupTaken (applier); MetricsReport (storage, KV API, the edges); EdgeAttached
//          (the edges, once); GatewaySweep (its own deadline timer).
//   Outbox: ProposeCommands, RequestRead, StatusRequest, WatchLeaderContact to the node (try_send: the node sends
//           to us with send(), so we must not wait on it; a full node inbox answers the client "fail: overloaded");
//           ReadValues and TakeBackup to the applier (try_send, for the same reason); ReportMetrics to the storage,
//           the KV API and the attached edges (try_send); SendClientReply to the bridge, or ApiClientReplied to the
//           KV API for the requests it made (send: may wait).
//   Never touches the kv::Store: reads that are ready (the applier has passed their index) go to the applier in one
//   ReadValues per burst, and are answered with its ValuesRead. A write retried in its session is proposed again:
//   the store recognises it and answers with the first result.
//   Follower: redirect to the leader; while no leader is known, hold the request for the election under way and
//   redirect as soon as a leader is known (never `fail` where a redirect will do); when a round of elections ends
//   here with no leader (or we stopped leading, cut off from a majority), or at hold_timeout at the latest, redirect
//   naming none, and after such a round send newcomers on at once (the client tries another replica; one that is back
//   soon after is sent on again after 20 ms; once more, and it waits for a leader until its request times out). A
//   client that comes straight back after a redirect is held too, until the node hears from the leader we named
//   (LeaderHeard: it is alive, and the client gets its name again) or a leader change: the leader may be dead, and
//   sending the client round in circles would only storm the network (not a request of the KV API's, which forwards
//   it to the leader itself and bounds the hops).
//   Leader: writes are proposed in batches (one per burst of requests) and answered once applied; reads are batched
//   into one ReadIndex request and answered from the store once applied up to the read index. A request still
//   unanswered at its deadline gets `fail` on the leader (it could not complete) or a redirect elsewhere — except a
//   write from a client without a session that may already be in the log: such a client retries with a new MID, so
//   that write is answered only with its outcome.
//   Status and metrics: one path for both (kvctl status and metrics, the HTTP /metrics endpoint). The node answers
//   StatusRequest with its status and its counters; every other actor and edge that counts something answers
//   ReportMetrics with its own text; the gateway renders them together once all are in (or after a second, with
//   what came: a full mailbox must not hang a status request).
//   Backups: a new backup is a read (the leader confirms its leadership and waits until the applier has passed the
//   read index), after which the applier serializes the store as it then stands; every write acknowledged before the
//   backup was asked for is in it. The chunks after the first are read from this replica by id, whatever its role.
//   Shutdown: ends when its inbox is closed.

#include "actors/inboxes.hpp"
#include "actors/logger.hpp"
#include "actors/metrics.hpp"
#include "actors/recent_digests.hpp"
#include "actors/replica_options.hpp"
#include "kv/command.hpp"

#include <deque>
#include <map>
#include <set>

namespace coraft::actors {

class Gateway {
 public:
  struct Outboxes {
    NodeMailbox& node;
    ApplierMailbox& applier;
    BridgeMailbox& bridge;
    KvApiMailbox& kv_api;
    StorageMailbox& storage;  // ReportMetrics only
    HttpEdgeMailbox& http;    // ReportMetrics only
  };

  Gateway(GatewayMailbox& inbox, Outboxes out, Clock& clock, const ReplicaOptions& options, Logger log);
  asio::awaitable<void> run();
  const GatewayMetrics& metrics() const { return metrics_; }

  std::uint64_t answered() const { return answered_; }
  std::size_t waiting() const;

 private:
  struct Waiting {
    ClientRequest request;
    TimePoint deadline;
    TimePoint arrived;
    std::optional<TimePoint> held_since;  // set while it waits in held_ for a leader
  };
  struct ProposedWrite {
    raft::Term term;
    Waiting waiting;
  };

  void handle(GatewayInbox& message);
  void on_request(ClientRequest request);
  void on_leader_changed(const LeaderChanged& change);
  void on_election_round_ended();
  void on_proposal_outcome(const ProposalOutcome& outcome);
  void on_read_outcome(const ReadOutcome& outcome);
  bool reads_under_way() const;  // a get waits for its confirmation, its read index or its values
  void on_committed(const WritesCommitted& committed);
  void on_applied(const EntriesApplied& applied);
  void on_sweep(const GatewaySweep& sweep);
  void on_change_answered(const ChangeAnswered& answer);
  void on_backup_taken(BackupTaken& taken);
  void ask_for_status(const ClientRequest& request);
  void on_status(StatusReady& ready);
  void on_metrics_report(MetricsReport& report);
  void finish_status(std::uint64_t collection_id);
  void send_backup_chunk(const ClientRequest& request);
  void ask_for_change(Waiting waiting);

  void route(Waiting waiting);
  void flush_batches();
  void answer_read(Waiting waiting);  // once the applier has passed its index
  void on_values_read(ValuesRead& read);
  void answer_write(const Waiting& waiting, const kv::Result& result);
  void reply(const ClientRequest& request, ReplyKind kind, raft::NodeId leader, kv::Status status = kv::Status::kOk,
             std::optional<std::string> value = std::nullopt, std::string reason = {});
  // To the leader if known. A replica that no longer votes (removed, or refused under its id) names a voter instead:
  // it will not learn of a new leader, and its clients would otherwise wait on it for nothing.
  void redirect(const ClientRequest& request) { reply(request, ReplyKind::kRedirect, leader_or_voter()); }
  raft::NodeId leader_or_voter() const;
  void redirect_to_leader(const ClientRequest& request);
  bool answer_is_current(const ProposedWrite& write) const;
  bool came_back_from_leader(const Waiting& waiting);
  void on_leader_heard(const LeaderHeard& heard);
  void hold(Waiting waiting);
  void end_hold(const Waiting& waiting, bool timed_out);
  void give_up(const Waiting& waiting);
  bool first_sighting(const ClientRequest& request);
  void keep_sweeping();

  GatewayMailbox& inbox_;
  Outboxes out_;
  Clock& clock_;
  const ReplicaOptions& options_;
  Logger log_;
  Timer sweep_timer_;

  raft::Role role_ = raft::Role::kFollower;
  raft::Term term_ = 0;
  raft::Term inherited_term_ = 0;  // while leading: the term of the last entry we were elected with
  raft::NodeId leader_;
  raft::Membership membership_;  // the configuration in effect here (MembershipKnown)
  raft::Index applied_index_ = 0;
  std::uint64_t keys_ = 0;  // in the store, as of applied_index_

  std::deque<Waiting> held_;                                            // no leader known yet
  // Clients sent on (redirected with no leader named) since a leader was last known here: when, and how long before
  // the next time. The spacing grows while a client keeps coming back, and starts over once it stays away.
  struct SentOn {
    TimePoint at;
    Micros spacing;
  };
  std::map<std::uint16_t, SentOn> sent_on_;
  bool round_ended_leaderless_ = false;  // an ElectionRoundEnded came since a leader was last known
  bool sending_on() const;               // a round ended here with no leader, and none is known yet
  TimePoint may_send_on_at(std::uint16_t client) const;
  bool may_send_on_now(std::uint16_t client) const;
  void send_on(const ClientRequest& request);
  GatewayMetrics metrics_;
  std::vector<Waiting> write_batch_, read_batch_;                       // collected during this burst
  std::map<std::uint64_t, std::vector<std::optional<Waiting>>> proposing_;  // proposal id -> requests, in log order
  std::map<raft::Index, ProposedWrite> committing_;                     // log index -> request
  std::map<std::uint64_t, std::vector<std::optional<Waiting>>> confirming_;  // read id -> requests
  std::map<std::uint64_t, Waiting> changing_;  // membership change or handover under way, by request id
  std::multimap<raft::Index, Waiting> applying_reads_;                  // read index -> requests
  std::vector<Waiting> reads_to_fetch_;                                 // ready: their values are asked for
  std::map<std::uint64_t, std::vector<Waiting>> fetching_;             // read batch id -> requests
  std::map<std::uint64_t, Waiting> taking_backups_;                    // backup id -> request, while the applier works
  std::uint64_t next_batch_id_ = 1;

  // Digests of (client, MID) of recent requests: a datagram delivered twice must not be answered twice.
  static constexpr std::size_t kRecentMids = 1u << 16;  // remembered (client, MID) pairs
  RecentDigests recent_mids_{kRecentMids};

  // Clients recently redirected to the leader, to notice one coming straight back (a redirect loop).
  struct Redirected {
    raft::NodeId leader;
    TimePoint at;
  };
  std::map<raft::NodeId, Redirected> redirected_;

  // Status requests while their reports come in. Reports go in slots, so the text is in one order whatever the
  // order they arrive in: the node's, the storage's, the KV API's, the network edge's, the HTTP edge's.
  enum Slot : std::size_t { kNodeSlot, kGatewaySlot, kStorageSlot, kApiSlot, kNetworkSlot, kHttpSlot, kSlots };
  struct Collection {
    ClientRequest request;
    std::optional<ReplicaStatus> status;
    std::vector<std::string> reports = std::vector<std::string>(kSlots);
    std::size_t awaiting = 0;
    TimePoint deadline;
  };
  std::map<std::uint64_t, Collection> collecting_;
  bool network_edge_ = false, http_edge_ = false;  // attached: they answer ReportMetrics

  // Backups taken here, by id, while a client reads them.
  struct HeldBackup {
    std::shared_ptr<const std::string> file;  // raft/backup_file.hpp
    raft::Index index;
    raft::Term term;
    std::uint32_t crc;
    TimePoint last_read;
  };
  static constexpr std::size_t kMaxHeldBackups = 4;  // the least recently read goes first
  std::map<std::uint64_t, HeldBackup> backups_;
  std::uint64_t next_backup_id_;  // seeded from the clock: ids of an earlier run of this replica are not reused

  std::vector<std::pair<ReplyVia, ClientReply>> outgoing_;
  std::uint64_t answered_ = 0;
};

}  // namespace coraft::actors
