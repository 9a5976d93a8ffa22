#pragma once
// The KV API actor: serves the typed calls of the HTTP API (Consul's KV semantics; net/consul_http turns HTTP into
// calls and answers back into HTTP, net/http_server carries them) on one replica.
//   Owns: every call not answered yet and where it stands (with the gateway, with the applier, forwarded to the
//         leader, waiting to retry), each with a deadline; the client sessions its writes use; its counters
//         (ApiMetrics).
//   Inbox: ApiCallReceived, ForwardAnswered (the HTTP edge); ApiClientReplied, ReportMetrics (gateway);
//          RangeAnswered (applier); KvApiSweep (its own timer).
//   Outbox: ClientRequestReceived to the gateway, ReadRange / WatchRange / EndWatch to the applier (try_send: both
//           send to us with send(), so we must not wait on them; a full mailbox answers the call "overloaded");
//           AnswerCall and ForwardCall to the HTTP edge (send: may wait; the edge waits on nobody); MetricsReport to
//           the gateway (try_send).
//   The gateway decides who serves a call, as for a client datagram, so that there is one place for it:
//   - writes become the gateway's ClientRequests under a client session (one per write in flight, from a pool; a
//     write forwarded by another replica keeps that replica's session), so a retry is applied once;
//   - linearizable reads send the gateway a get of the key: its answer, confirmed by the leader and given once the
//     read index is applied, is the barrier after which the applier's range is fresh (the applier answers with
//     indexes and flags, which the gateway's reply does not carry). Stale reads go to the applier at once;
//   - blocking reads then wait at the applier (WatchRange) until the range's index passes theirs; at the end of
//     their wait they take what is there (EndWatch).
//   A follower's gateway redirects to the leader: the call is forwarded there (ForwardCall) rather than bounced back to
//   the client. A forwarded call that reaches a replica which does not lead is answered kNotLeader, and the
//   forwarding replica tries again: at most one hop at a time, so calls never circle. No leader known, a full mailbox,
//   a forward that got no answer: tried again after a short pause, until the call's deadline (the request timeout,
//   after the wait of a blocking read); then the call is answered with what stopped it.
//   Shutdown: ends when its inbox is closed.

#include "actors/inboxes.hpp"
#include "actors/logger.hpp"
#include "actors/metrics.hpp"
#include "actors/replica_options.hpp"
#include "actors/rng.hpp"

#include <map>
#include <vector>

namespace coraft::actors {

class KvApi {
 public:
  struct Outboxes {
    GatewayMailbox& gateway;
    ApplierMailbox& applier;
    HttpEdgeMailbox& edge;
  };

  KvApi(KvApiMailbox& inbox, Outboxes out, Clock& clock, Rng rng, const ReplicaOptions& options,
        Logger log);
  asio::awaitable<void> run();

  std::size_t calls() const { return calls_.size(); }

 private:
  enum class Stage : std::uint8_t { kGateway, kApplier, kForwarded, kRetrying };
  struct Call {
    ApiCall call;
    bool forwarded = false;  // from another replica, which retries elsewhere if this one does not lead
    TimePoint deadline;      // past it the call is answered with last_error
    Stage stage = Stage::kGateway;
    std::string mid;         // of the gateway request under way
    std::uint64_t attempts = 0;
    TimePoint retry_at;
    bool blocking = false;   // a read that waits for a change until wait_until
    TimePoint wait_until;
    bool watch_ended = false;
    bool pooled_session = false;
    ApiError last_error = ApiError::kNoLeader;
    std::string last_detail;
  };

  void handle(KvApiInbox& message);
  void on_call(ApiCallReceived& received);
  void on_client_reply(ClientReply& reply);
  void on_range(RangeAnswered& answered);
  void on_forward_answered(ForwardAnswered& answered);
  void on_sweep(const KvApiSweep& sweep);

  void start(std::uint64_t id, Call& call);
  void ask_gateway(std::uint64_t id, Call& call);
  void ask_applier(std::uint64_t id, Call& call);
  void forward(std::uint64_t id, Call& call, raft::NodeId leader);
  void retry_later(Call& call, ApiError error, std::string detail);
  void answer(std::uint64_t id, ApiAnswer answer);
  void fail(std::uint64_t id, ApiError error, std::string detail) { answer(id, ApiFailure{error, std::move(detail)}); }
  kv::SessionRef take_session();

  KvApiMailbox& inbox_;
  Outboxes out_;
  Clock& clock_;
  Rng rng_;
  const ReplicaOptions& options_;
  ApiMetrics metrics_;  // rendered for the gateway on ReportMetrics
  Logger log_;
  Timer sweep_timer_;

  std::map<std::uint64_t, Call> calls_;         // by call id (the HTTP edge's)
  std::map<std::string, std::uint64_t> by_mid_;  // gateway request -> call
  std::vector<kv::SessionRef> idle_sessions_;    // seq: the last one used
  std::vector<HttpEdgeInbox> outgoing_;
};

}  // namespace coraft::actors
