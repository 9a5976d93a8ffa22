#include "actors/kv_api.hpp"

#include "raft/overloaded.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace coraft::actors {
namespace {

constexpr std::size_t kMaxBurst = 1024;  // messages handled before answers go out
constexpr Millis kSweepInterval{10};
constexpr Millis kRetryDelay{25};  // before a call tries again (no leader known, overloaded, a lost forward)

ClientRequest to_request(const ApiCall& call) {
  ClientRequest request;
  request.reply_via = ReplyVia::kKvApi;
  if (const auto* read = std::get_if<ApiRead>(&call)) {
    request.kind = RequestKind::kGet;
    request.key = read->range.key;
  } else if (const auto* write = std::get_if<ApiWrite>(&call)) {
    request.kind = write->kind;
    request.key = write->key;
    request.value = write->value;
    request.flags = write->flags;
    request.expected_index = write->expected_index;
    request.session = write->session;
  } else {
    request.kind = RequestKind::kStatus;
  }
  return request;
}

}  // namespace

KvApi::KvApi(KvApiMailbox& inbox, Outboxes out, Clock& clock, Rng rng, const ReplicaOptions& options,
             Logger log)
    : inbox_(inbox),
      out_(out),
      clock_(clock),
      rng_(rng),
      options_(options),
      log_(std::move(log)),
      sweep_timer_(clock, [this](std::uint64_t generation) { inbox_.try_send(KvApiSweep{generation}); }) {}

asio::awaitable<void> KvApi::run() {
  while (auto message = co_await inbox_.receive()) {
    handle(*message);
    inbox_.drain(kMaxBurst, [this](KvApiInbox& more) { handle(more); });
    if (!sweep_timer_.armed() && !calls_.empty()) sweep_timer_.arm_after(kSweepInterval);
    metrics_.api_calls_open = calls_.size();
    for (auto& out : outgoing_) {
      if (!co_await out_.edge.send(out)) co_return;
    }
    outgoing_.clear();
  }
  sweep_timer_.disarm();
}

void KvApi::handle(KvApiInbox& message) {
  std::visit(Overloaded{
                 [&](ApiCallReceived& m) { on_call(m); },
                 [&](ApiClientReplied& m) { on_client_reply(m.reply); },
                 [&](RangeAnswered& m) { on_range(m); },
                 [&](ForwardAnswered& m) { on_forward_answered(m); },
                 [&](KvApiSweep& m) { on_sweep(m); },
                 [&](ReportMetrics& m) {
                   MetricsReport answer{m.collection_id, m.slot, {}};
                   metrics_.render(answer.text, m.labels);
                   out_.gateway.try_send(std::move(answer));
                 },
             },
             message);
}

// ---------------------------------------------------------------------------------------------------------------
// Calls

void KvApi::on_call(ApiCallReceived& received) {
  if (calls_.count(received.call_id)) return;  // the edge numbers calls: a repeat is a bug upstream, not a new call
  ++metrics_.api_calls;
  if (const auto* status = std::get_if<ApiStatusQuery>(&received.call); status && *status == ApiStatusQuery::kPeers) {
    ApiStatusAnswer members;
    members.members = options_.peers;
    members.members.push_back(options_.self);
    std::sort(members.members.begin(), members.members.end());
    outgoing_.push_back(AnswerCall{received.call_id, std::move(members)});
    return;
  }
  const TimePoint now = clock_.now();
  Call call;
  call.call = std::move(received.call);
  call.forwarded = received.forwarded;
  call.deadline = now + options_.timing.request_timeout;
  if (auto* read = std::get_if<ApiRead>(&call.call); read && read->after_index > 0 && read->wait.count() > 0) {
    // Consul adds up to a sixteenth of the wait at random, so that many watchers woken together do not come back
    // together.
    const Millis wait = std::min(read->wait, kMaxBlockingWait);
    call.blocking = true;
    call.wait_until = now + wait + Millis(rng_.between(0, static_cast<std::uint64_t>(wait.count()) / 16));
    call.deadline = call.wait_until + options_.timing.request_timeout;
  }
  if (auto* write = std::get_if<ApiWrite>(&call.call); write && write->session.id == 0) {
    write->session = take_session();
    call.pooled_session = true;
  }
  auto [it, inserted] = calls_.emplace(received.call_id, std::move(call));
  start(it->first, it->second);
}

void KvApi::start(std::uint64_t id, Call& call) {
  const auto* read = std::get_if<ApiRead>(&call.call);
  if (read && read->consistency == ReadConsistency::kStale) {
    ask_applier(id, call);
  } else {
    ask_gateway(id, call);
  }
}

void KvApi::ask_gateway(std::uint64_t id, Call& call) {
  ClientRequest request = to_request(call.call);
  request.client = options_.self;
  request.mid = fmt::format("api-{}-{}", id, ++call.attempts);
  by_mid_.erase(call.mid);
  call.mid = request.mid;
  call.stage = Stage::kGateway;
  if (!out_.gateway.try_send(ClientRequestReceived{std::move(request)})) {
    fail(id, ApiError::kOverloaded, "the gateway's mailbox is full");
    return;
  }
  by_mid_[call.mid] = id;
}

void KvApi::ask_applier(std::uint64_t id, Call& call) {
  const auto& read = std::get<ApiRead>(call.call);
  call.stage = Stage::kApplier;
  const bool sent = call.blocking
                        ? out_.applier.try_send(WatchRange{id, read.range, read.keys_only, read.after_index})
                        : out_.applier.try_send(ReadRange{id, read.range, read.keys_only});
  if (!sent) fail(id, ApiError::kOverloaded, "the applier's mailbox is full");
}

void KvApi::forward(std::uint64_t id, Call& call, raft::NodeId leader) {
  ++metrics_.api_calls_forwarded;
  call.stage = Stage::kForwarded;
  const auto left = std::chrono::duration_cast<Millis>(call.deadline - clock_.now());
  outgoing_.push_back(ForwardCall{id, leader, call.call, std::max(left, Millis(1))});
}

void KvApi::retry_later(Call& call, ApiError error, std::string detail) {
  ++metrics_.api_retries;
  call.stage = Stage::kRetrying;
  call.retry_at = clock_.now() + kRetryDelay;
  call.last_error = error;
  call.last_detail = std::move(detail);
}

// ---------------------------------------------------------------------------------------------------------------
// Answers from the gateway, the applier and the leader

void KvApi::on_client_reply(ClientReply& reply) {
  auto mid = by_mid_.find(reply.mid);
  if (mid == by_mid_.end()) return;
  const std::uint64_t id = mid->second;
  by_mid_.erase(mid);
  auto it = calls_.find(id);
  if (it == calls_.end() || it->second.stage != Stage::kGateway || it->second.mid != reply.mid) return;
  Call& call = it->second;
  switch (reply.kind) {
    case ReplyKind::kOk:
      if (std::holds_alternative<ApiRead>(call.call)) {
        ask_applier(id, call);  // the barrier is passed: the applier has applied everything the read must see
      } else if (std::holds_alternative<ApiStatusQuery>(call.call)) {
        ApiStatusAnswer status;
        status.leader = reply.replica_status ? reply.replica_status->leader : reply.leader;
        if (reply.replica_status) status.metrics = std::move(reply.replica_status->metrics);
        answer(id, std::move(status));
      } else if (reply.status == kv::Status::kStaleSession) {
        fail(id, ApiError::kRejected, "stale session");
      } else {
        answer(id, ApiWriteAnswer{reply.status, reply.applied_index, std::move(reply.value)});
      }
      return;
    case ReplyKind::kRedirect:
      if (call.forwarded) {
        fail(id, ApiError::kNotLeader, fmt::format("{} does not lead", options_.self.str()));
      } else if (reply.leader.valid() && reply.leader != options_.self) {
        forward(id, call, reply.leader);
      } else {
        retry_later(call, ApiError::kNoLeader, "no leader");
      }
      return;
    case ReplyKind::kFail:
      if (reply.reason.find("too large") != std::string::npos) {
        fail(id, ApiError::kTooLarge, reply.reason);
      } else if (reply.status == kv::Status::kStaleSession) {
        fail(id, ApiError::kRejected, reply.reason);
      } else {
        retry_later(call, reply.reason == "timed out" ? ApiError::kTimedOut : ApiError::kOverloaded, reply.reason);
      }
      return;
  }
}

void KvApi::on_range(RangeAnswered& answered) {
  auto it = calls_.find(answered.query_id);
  if (it == calls_.end() || it->second.stage != Stage::kApplier) return;
  if (answered.read.too_large) {
    fail(answered.query_id, ApiError::kTooLarge,
         "the range holds more than 100000 keys or 32 MiB: ask for a longer prefix, or for ?keys");
    return;
  }
  answer(answered.query_id, ApiRangeAnswer{std::move(answered.read)});
}

void KvApi::on_forward_answered(ForwardAnswered& answered) {
  auto it = calls_.find(answered.call_id);
  if (it == calls_.end() || it->second.stage != Stage::kForwarded) return;
  Call& call = it->second;
  if (!answered.response) {
    // The leader may have died with the call: ask again (a write keeps its session, so it is applied once).
    retry_later(call, ApiError::kNoLeader, "the leader did not answer: " + answered.error);
    return;
  }
  for (const auto& [name, value] : answered.response->headers) {
    if (name == "X-Coraft-Not-Leader") {
      retry_later(call, ApiError::kNoLeader, "the replica we took for the leader no longer leads");
      return;
    }
  }
  answer(answered.call_id, std::move(*answered.response));
}

// ---------------------------------------------------------------------------------------------------------------
// Deadlines and retries

void KvApi::on_sweep(const KvApiSweep& sweep) {
  if (!sweep_timer_.is_current(sweep.generation)) return;
  const TimePoint now = clock_.now();
  std::vector<std::uint64_t> expired, due;  // acted on after the pass: both may answer (and erase) a call
  for (auto& [id, call] : calls_) {
    if (call.deadline <= now) {
      expired.push_back(id);
    } else if (call.stage == Stage::kRetrying && call.retry_at <= now) {
      due.push_back(id);
    } else if (call.stage == Stage::kApplier && call.blocking && !call.watch_ended && call.wait_until <= now) {
      // Its wait is over: the applier answers with what the range holds (unless it answered first).
      call.watch_ended = out_.applier.try_send(EndWatch{id});
    }
  }
  for (std::uint64_t id : due) start(id, calls_.at(id));
  for (std::uint64_t id : expired) {
    Call& call = calls_.at(id);
    if (call.stage == Stage::kRetrying) {
      fail(id, call.last_error, call.last_detail);
    } else if (std::holds_alternative<ApiWrite>(call.call)) {
      fail(id, ApiError::kTimedOut, "no answer in time: the write may or may not have been applied");
    } else {
      fail(id, ApiError::kTimedOut, "no answer in time");
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Answers and sessions

void KvApi::answer(std::uint64_t id, ApiAnswer answer) {
  auto it = calls_.find(id);
  if (it == calls_.end()) return;
  Call& call = it->second;
  by_mid_.erase(call.mid);
  // The session is free for the next write. Should this one still be on its way (we gave up on it), the next write
  // under the session has a higher sequence number, and the store refuses this one as stale if it comes later.
  if (call.pooled_session) idle_sessions_.push_back(std::get<ApiWrite>(call.call).session);
  if (std::holds_alternative<ApiFailure>(answer)) ++metrics_.api_failures;
  calls_.erase(it);
  outgoing_.push_back(AnswerCall{id, std::move(answer)});
}

kv::SessionRef KvApi::take_session() {
  if (idle_sessions_.empty()) return kv::SessionRef{rng_.next() | 1, 1};  // never 0, which means "no session"
  kv::SessionRef session = idle_sessions_.back();
  idle_sessions_.pop_back();
  ++session.seq;
  return session;
}

}  // namespace coraft::actors
