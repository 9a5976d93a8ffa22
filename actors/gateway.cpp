#include "actors/gateway.hpp"

#include "actors/hop_trace.hpp"
#include "kv/command.hpp"
#include "raft/backup_file.hpp"
#include "raft/overloaded.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>

namespace coraft::actors {
namespace {

constexpr std::size_t kMaxBurst = 1024;          // messages handled before batches are flushed
constexpr Millis kSweepInterval{10};
// A client sent on (no leader named) that comes straight back may have landed here again by chance (it picks a
// random replica among the living; the majority side may have a leader): it is sent on again after this. One that is
// back once more has most likely found no leader anywhere (by chance that happens one time in N^2): it waits here
// for a leader until its request times out, as a storm of redirects would find none either.
constexpr Millis kFirstSendOnSpacing{20};

bool is_write(RequestKind kind) {
  return kind == RequestKind::kPut || kind == RequestKind::kDelete || kind == RequestKind::kCas ||
         kind == RequestKind::kDeletePrefix;
}

// A retry of this request is harmless: a read, or a write whose session lets the store recognise the retry. A client
// without a session (the course simulator's) re-sends a failed or redirected write with a new MID, so a write of its
// that may be in the log is answered only with its real outcome, never with `fail` or a redirect: those would invite
// a second application.
bool retry_safe(const ClientRequest& request) { return !is_write(request.kind) || request.session.id != 0; }

bool is_membership(RequestKind kind) {
  return kind == RequestKind::kAddLearner || kind == RequestKind::kPromote || kind == RequestKind::kRemoveMember ||
         kind == RequestKind::kReplaceMember || kind == RequestKind::kTransferLeader;
}

// A membership change or a handover takes as long as a learner needs to catch up: it gets its own, longer deadline.
// So does a backup, whose store may take a while to serialize.
constexpr Millis kChangeTimeout{120000};
constexpr Millis kBackupIdle{60000};  // a backup no client read from for this long is dropped
constexpr Millis kStatusPatience{1000};  // a status request answers with the reports in by then

kv::Command to_command(const ClientRequest& request) {
  kv::Command command;
  command.op = request.kind == RequestKind::kPut            ? kv::Op::kPut
               : request.kind == RequestKind::kDelete       ? kv::Op::kDelete
               : request.kind == RequestKind::kDeletePrefix ? kv::Op::kDeletePrefix
                                                            : kv::Op::kCas;
  command.key = request.key;
  command.value = request.value;
  command.expected = request.expected;
  command.session = request.session;
  command.flags = request.flags;
  command.expected_index = request.expected_index;
  return command;
}

}  // namespace

Gateway::Gateway(GatewayMailbox& inbox, Outboxes out, Clock& clock, const ReplicaOptions& options, Logger log)
    : inbox_(inbox),
      out_(out),
      clock_(clock),
      options_(options),
      log_(std::move(log)),
      sweep_timer_(clock, [this](std::uint64_t generation) { inbox_.try_send(GatewaySweep{generation}); }),
      next_backup_id_(static_cast<std::uint64_t>(clock.now().time_since_epoch().count()) << 8 | 1) {}

std::size_t Gateway::waiting() const {
  std::size_t n = held_.size() + write_batch_.size() + read_batch_.size() + committing_.size() + applying_reads_.size() +
                  changing_.size() + taking_backups_.size() + backups_.size() + reads_to_fetch_.size() +
                  collecting_.size();
  for (const auto& [id, batch] : fetching_) n += batch.size();
  for (const auto& [id, batch] : proposing_)
    for (const auto& w : batch) n += w.has_value();
  for (const auto& [id, batch] : confirming_)
    for (const auto& w : batch) n += w.has_value();
  return n;
}

asio::awaitable<void> Gateway::run() {
  while (auto message = co_await inbox_.receive()) {
    handle(*message);
    inbox_.drain(kMaxBurst, [this](GatewayInbox& more) { handle(more); });
    flush_batches();
    keep_sweeping();
    for (auto& [via, reply_message] : outgoing_) {
      if (via == ReplyVia::kKvApi) {
        KvApiInbox out = ApiClientReplied{std::move(reply_message)};
        if (!co_await out_.kv_api.send(out)) co_return;
      } else {
        BridgeInbox out = SendClientReply{std::move(reply_message)};
        if (!co_await out_.bridge.send(out)) co_return;
      }
    }
    outgoing_.clear();
  }
  sweep_timer_.disarm();
}

void Gateway::handle(GatewayInbox& message) {
  std::visit(Overloaded{
                 [&](ClientRequestReceived& m) { on_request(std::move(m.request)); },
                 [&](LeaderChanged& m) { on_leader_changed(m); },
                 [&](ElectionRoundEnded&) { on_election_round_ended(); },
                 [&](ProposalOutcome& m) { on_proposal_outcome(m); },
                 [&](ReadOutcome& m) { on_read_outcome(m); },
                 [&](WritesCommitted& m) { on_committed(m); },
                 [&](EntriesApplied& m) { on_applied(m); },
                 [&](StatusReady& m) { on_status(m); },
                 [&](MetricsReport& m) { on_metrics_report(m); },
                 [&](EdgeAttached& m) { (m.kind == EdgeKind::kNetwork ? network_edge_ : http_edge_) = true; },
                 [&](GatewaySweep& m) { on_sweep(m); },
                 [&](ChangeAnswered& m) { on_change_answered(m); },
                 [&](MembershipKnown& m) { membership_ = std::move(m.membership); },
                 [&](ValuesRead& m) { on_values_read(m); },
                 [&](BackupTaken& m) { on_backup_taken(m); },
                 [&](LeaderHeard& m) { on_leader_heard(m); },
             },
             message);
}

// ---------------------------------------------------------------------------------------------------------------
// Requests

bool Gateway::first_sighting(const ClientRequest& request) {
  // A 64-bit digest of (client, MID) instead of the strings: this runs for every request, and a collision (about one
  // in 2^48 within the window) would only make a client retry.
  const std::uint64_t digest = std::hash<std::string_view>{}(request.mid) * 0x9E3779B97F4A7C15ull ^ request.client.value;
  return recent_mids_.insert(digest);
}

void Gateway::on_request(ClientRequest request) {
  if (!first_sighting(request)) {
    log_->debug("duplicate request {} from {} ignored", request.mid, request.client.str());
    return;
  }
  if (request.kind == RequestKind::kStatus) {
    ask_for_status(request);
    return;
  }
  if (request.kind == RequestKind::kBackup && request.backup_id != 0) {
    send_backup_chunk(request);
    return;
  }
  // Limits count encoded bytes (JSON escaping included), so that any accepted command fits in one datagram.
  const std::size_t key_bytes = kv::json_quoted_size(request.key) - 2;
  if (key_bytes > options_.max_key_bytes) {
    reply(request, ReplyKind::kFail, leader_, {}, {},
          fmt::format("key too large: {} bytes encoded (limit {})", key_bytes, options_.max_key_bytes));
    return;
  }
  const std::size_t value_bytes = kv::json_quoted_size(request.value) - 2 +
                                  (request.expected ? kv::json_quoted_size(*request.expected) - 2 : 0);
  if (value_bytes > options_.max_value_bytes) {
    reply(request, ReplyKind::kFail, leader_, {}, {},
          fmt::format("value too large: {} bytes encoded (limit {})", value_bytes, options_.max_value_bytes));
    return;
  }
  const bool long_running = is_membership(request.kind) || request.kind == RequestKind::kBackup;
  const TimePoint deadline =
      clock_.now() + (long_running ? Micros(kChangeTimeout) : Micros(options_.timing.request_timeout));
  route(Waiting{std::move(request), deadline, clock_.now(), std::nullopt});
}

void Gateway::route(Waiting waiting) {
  const bool follower_with_leader = role_ != raft::Role::kLeader && leader_.valid() && leader_ != options_.self;
  const bool hold_it = role_ != raft::Role::kLeader &&
                       (follower_with_leader ? waiting.request.reply_via != ReplyVia::kKvApi && came_back_from_leader(waiting)
                                             : !leader_or_voter().valid());
  if (hold_it) {
    hold(std::move(waiting));
    return;
  }
  if (waiting.held_since) end_hold(waiting, false);
  if (role_ == raft::Role::kLeader && is_membership(waiting.request.kind)) {
    ask_for_change(std::move(waiting));
  } else if (role_ == raft::Role::kLeader) {
    (is_write(waiting.request.kind) ? write_batch_ : read_batch_).push_back(std::move(waiting));
  } else if (follower_with_leader && waiting.request.reply_via == ReplyVia::kKvApi) {
    redirect(waiting.request);  // the KV API forwards it to the leader and bounds the hops itself
  } else if (follower_with_leader) {
    redirect_to_leader(waiting.request);
  } else {
    redirect(waiting.request);  // out of the configuration: no election here will tell us a leader
  }
}

void Gateway::hold(Waiting waiting) {
  // An election is under way, or the leader we named did not serve this client: wait a little for news of a leader
  // rather than send the client round in circles.
  // A round already ended here with no leader (or we stopped leading, cut off from a majority): holding a newcomer
  // for the next round would only repeat what that round found. It is sent on at once, as the held were. One that is
  // back soon after has found this replica again by chance (a minority side: the majority may well have a leader) or
  // found no leader anywhere (no majority anywhere): it is sent on again, spaced as sent_on_ says, so neither parks
  // it nor lets it storm.
  if (!waiting.held_since && sending_on() && may_send_on_now(waiting.request.client.value)) {
    ++metrics_.sent_on_at_once;
    send_on(waiting.request);
    return;
  }
  if (!waiting.held_since) {
    waiting.held_since = clock_.now();
    // Sent on lately (see above): its turn comes after its spacing, however long (within its own deadline).
    waiting.deadline = std::min(waiting.deadline, sending_on() ? may_send_on_at(waiting.request.client.value)
                                                               : clock_.now() + options_.timing.hold_timeout);
    if (leader_.valid()) {
      ++metrics_.held_came_back;
      out_.node.try_send(WatchLeaderContact{});  // a lost notice costs this client hold_timeout
    } else {
      ++metrics_.held_no_leader;
    }
  }
  held_.push_back(std::move(waiting));
}

bool Gateway::sending_on() const {
  return round_ended_leaderless_ && !leader_.valid() && role_ != raft::Role::kLeader;
}

TimePoint Gateway::may_send_on_at(std::uint16_t client) const {
  auto it = sent_on_.find(client);
  return it == sent_on_.end() ? TimePoint{} : it->second.at + it->second.spacing;
}

bool Gateway::may_send_on_now(std::uint16_t client) const {
  // (requests of one client that are here together go together: one was sent on this very moment)
  auto it = sent_on_.find(client);
  const TimePoint now = clock_.now();
  return it == sent_on_.end() || it->second.at == now || it->second.at + it->second.spacing <= now;
}

void Gateway::send_on(const ClientRequest& request) {
  const TimePoint now = clock_.now();
  auto [it, first] = sent_on_.try_emplace(request.client.value, SentOn{now, Micros(kFirstSendOnSpacing)});
  SentOn& last = it->second;
  if (!first && now > last.at) {  // (several requests of one client sent on together count once)
    const bool came_back = now - last.at < 2 * last.spacing;
    last.spacing = came_back ? Micros(options_.timing.request_timeout) : Micros(kFirstSendOnSpacing);
    last.at = now;
  }
  redirect(request);
}

void Gateway::end_hold(const Waiting& waiting, bool timed_out) {
  if (timed_out) ++metrics_.hold_timeouts;
  metrics_.hold_seconds.observe(std::chrono::duration<double>(clock_.now() - *waiting.held_since).count());
}

void Gateway::ask_for_change(Waiting waiting) {
  const ClientRequest& request = waiting.request;
  const auto id = raft::NodeId::parse(request.key);
  const auto other = raft::NodeId::parse(request.value);
  const bool needs_id = request.kind != RequestKind::kTransferLeader || !request.key.empty();
  if (needs_id && (!id || !id->valid())) {
    reply(request, ReplyKind::kFail, leader_, {}, {}, fmt::format("\"{}\" is not a replica id", request.key));
    return;
  }
  const std::uint64_t request_id = next_batch_id_++;
  NodeInbox ask;
  switch (request.kind) {
    case RequestKind::kTransferLeader:
      ask = TransferRequest{request_id, id.value_or(raft::kNoNode)};
      break;
    case RequestKind::kReplaceMember:
      if (!other || !other->valid()) {
        reply(request, ReplyKind::kFail, leader_, {}, {}, fmt::format("\"{}\" is not a replica id", request.value));
        return;
      }
      ask = ChangeMembershipRequest{request_id, {raft::MembershipChange::Kind::kReplace, *id, {}, *other}};
      break;
    default: {
      const auto kind = request.kind == RequestKind::kAddLearner ? raft::MembershipChange::Kind::kAddLearner
                        : request.kind == RequestKind::kPromote  ? raft::MembershipChange::Kind::kPromote
                                                                 : raft::MembershipChange::Kind::kRemove;
      ask = ChangeMembershipRequest{request_id, {kind, *id, request.value, raft::kNoNode}};
    }
  }
  if (!out_.node.try_send(std::move(ask))) {
    reply(request, ReplyKind::kFail, leader_, {}, {}, "overloaded");
    return;
  }
  changing_.emplace(request_id, std::move(waiting));
}

void Gateway::on_change_answered(const ChangeAnswered& answer) {
  auto it = changing_.find(answer.request_id);
  if (it == changing_.end()) return;
  Waiting waiting = std::move(it->second);
  changing_.erase(it);
  if (answer.done) {
    reply(waiting.request, ReplyKind::kOk, answer.leader.valid() ? answer.leader : leader_);
  } else if (answer.reason == "not the leader") {
    route(std::move(waiting));  // leadership moved meanwhile: to the new leader
  } else {
    reply(waiting.request, ReplyKind::kFail, answer.leader.valid() ? answer.leader : leader_, {}, {}, answer.reason);
  }
}

void Gateway::flush_batches() {
  while (!write_batch_.empty()) {
    const std::size_t n = std::min(write_batch_.size(), options_.max_commands_per_proposal);
    ProposeCommands propose{next_batch_id_++, {}};
    std::vector<std::optional<Waiting>> batch;
    for (std::size_t i = 0; i < n; ++i) {
      propose.commands.push_back(kv::encode(to_command(write_batch_[i].request)));
      batch.emplace_back(std::move(write_batch_[i]));
    }
    write_batch_.erase(write_batch_.begin(), write_batch_.begin() + static_cast<std::ptrdiff_t>(n));
    hop_trace::mark("proposed");
    if (out_.node.try_send(std::move(propose))) {
      proposing_.emplace(next_batch_id_ - 1, std::move(batch));
    } else {
      for (auto& w : batch) reply(w->request, ReplyKind::kFail, leader_, {}, {}, "overloaded");
    }
  }
  if (!reads_to_fetch_.empty()) {
    const std::uint64_t id = next_batch_id_++;
    ReadValues ask{id, {}};
    ask.keys.reserve(reads_to_fetch_.size());
    for (const Waiting& w : reads_to_fetch_) ask.keys.push_back(w.request.key);
    if (out_.applier.try_send(std::move(ask))) {
      fetching_.emplace(id, std::move(reads_to_fetch_));
    } else {
      for (const Waiting& w : reads_to_fetch_) reply(w.request, ReplyKind::kFail, leader_, {}, {}, "overloaded");
    }
    reads_to_fetch_.clear();
  }
  if (!read_batch_.empty()) {
    const std::uint64_t id = next_batch_id_++;
    std::vector<std::optional<Waiting>> batch;
    for (auto& w : read_batch_) batch.emplace_back(std::move(w));
    read_batch_.clear();
    if (out_.node.try_send(RequestRead{id})) {
      confirming_.emplace(id, std::move(batch));
    } else {
      for (auto& w : batch) reply(w->request, ReplyKind::kFail, leader_, {}, {}, "overloaded");
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// News from the node and the applier

bool Gateway::answer_is_current(const ProposedWrite& write) const {
  // A client without a session takes the last write it was told `ok` for as its key's value. While we lead the term
  // we proposed in, we answer in log order and no other leader has answered anything, so an `ok` now is the newest
  // answer. Once another leader exists it may have answered a later write of the same key already (we redirected
  // the client's next request there while this one waited for its entry): our late `ok` would make the client
  // expect the overwritten value. The write did commit, so silence (the client counts it unanswered) is the one
  // answer that is both true and not misleading. A client with a session, or one behind the KV API, orders its own
  // writes and is answered in any case.
  //
  // One case of a later term is as safe: we lead again, and the last entry we were elected with is of the write's
  // term. Log terms never decrease, so every entry between the write and our new term is ours from that term, none
  // of them answered: no other leader committed (so answered) anything in between, and we answer in log order.
  const ClientRequest& request = write.waiting.request;
  if (request.session.id != 0 || request.reply_via == ReplyVia::kKvApi) return true;
  return role_ == raft::Role::kLeader && (term_ == write.term || inherited_term_ == write.term);
}

bool Gateway::came_back_from_leader(const Waiting& waiting) {
  // A client we sent to the leader a moment ago is back: the leader did not serve it (it may be dead and we not yet
  // know). Another redirect would send it round in circles; hold it until our view of the leader changes. Only a
  // request that arrived after that redirect has come back: one that was already here (held with it, or sent before
  // the client heard from us) is just the client's next request.
  auto it = redirected_.find(waiting.request.client);
  if (it == redirected_.end()) return false;
  if (it->second.at < waiting.arrived && it->second.leader == leader_ &&
      clock_.now() - it->second.at < options_.timing.election_timeout_max) {
    return true;
  }
  if (it->second.at >= waiting.arrived) return false;  // still a fresh record for this client's later requests
  redirected_.erase(it);
  return false;
}

raft::NodeId Gateway::leader_or_voter() const {
  if (leader_.valid() || membership_.members().empty() || membership_.is_voter(options_.self)) return leader_;
  // Spread such clients over the voters rather than send them all to one.
  const std::vector<raft::NodeId> voters = membership_.voters();
  if (voters.empty()) return leader_;
  return voters[static_cast<std::size_t>(clock_.now().time_since_epoch().count()) % voters.size()];
}

void Gateway::redirect_to_leader(const ClientRequest& request) {
  if (redirected_.size() >= kRecentMids) redirected_.clear();  // a bound; forgetting only costs an extra redirect
  redirected_[request.client] = Redirected{leader_, clock_.now()};
  redirect(request);
}

void Gateway::on_leader_changed(const LeaderChanged& change) {
  if (change.leader != leader_) redirected_.clear();
  if (change.leader.valid()) sent_on_.clear();
  if (change.leader.valid() || change.role == raft::Role::kLeader) round_ended_leaderless_ = false;
  role_ = change.role;
  term_ = change.term;
  leader_ = change.leader;
  inherited_term_ = change.inherited_term;
  if (role_ != raft::Role::kLeader && !leader_.valid()) return;  // still no leader: keep holding
  std::deque<Waiting> held = std::move(held_);
  held_.clear();
  for (auto& w : held) route(std::move(w));
}

void Gateway::on_election_round_ended() {
  // A request is held for the outcome of the election under way, not longer: a round that ended here with no leader
  // says this replica may not reach one (a minority side, say). Its clients try another replica (no leader named)
  // instead of waiting out hold_timeout; one sent on lately waits for its turn (see hold), so no storm.
  if (role_ == raft::Role::kLeader || leader_.valid()) return;
  round_ended_leaderless_ = true;
  for (auto it = held_.begin(); it != held_.end();) {
    if (!may_send_on_now(it->request.client.value)) {
      it->deadline = std::min(it->deadline, may_send_on_at(it->request.client.value));
      ++it;
      continue;
    }
    ++metrics_.holds_ended_by_round;
    end_hold(*it, false);
    send_on(it->request);
    it = held_.erase(it);
  }
}

void Gateway::on_leader_heard(const LeaderHeard& heard) {
  // The leader we named is alive and leads: the clients we held because they came back from it go to it again (their
  // view of the leader was stale, or they had several requests out). One that it really turned away is back soon,
  // and held again until the leader is heard from again or changes.
  if (role_ == raft::Role::kLeader || heard.leader != leader_ || heard.term != term_) return;
  std::deque<Waiting> held = std::move(held_);
  held_.clear();
  for (auto& w : held) {
    redirected_.erase(w.request.client);
    route(std::move(w));
  }
}

void Gateway::on_proposal_outcome(const ProposalOutcome& outcome) {
  auto it = proposing_.find(outcome.proposal_id);
  if (it == proposing_.end()) return;
  auto batch = std::move(it->second);
  proposing_.erase(it);
  for (std::size_t i = 0; i < batch.size(); ++i) {
    if (!batch[i]) continue;  // already answered (deadline)
    if (!outcome.accepted) {
      route(std::move(*batch[i]));
      continue;
    }
    const raft::Index index = outcome.first_index + i;
    // The node reports a proposal before any of it can commit, and the applier reports after; both reach this
    // inbox in that order, so the index cannot have been applied yet.
    committing_.emplace(index, ProposedWrite{outcome.term, std::move(*batch[i])});
  }
}

void Gateway::on_read_outcome(const ReadOutcome& outcome) {
  auto it = confirming_.find(outcome.read_id);
  if (it == confirming_.end()) return;
  auto batch = std::move(it->second);
  confirming_.erase(it);
  for (auto& w : batch) {
    if (!w) continue;
    if (!outcome.ready) route(std::move(*w));
    else if (outcome.read_index <= applied_index_) answer_read(std::move(*w));
    else applying_reads_.emplace(outcome.read_index, std::move(*w));
  }
}

void Gateway::on_committed(const WritesCommitted& committed) {
  // Leading in `term` since we proposed them, our entries of that term are still at their indexes (a leader never
  // overwrites its own log), so those up to the commit index are committed. A plain put's answer is `ok` whatever the
  // store holds: it need not wait for the applier, which on this thread would run first. A read that follows waits
  // for the applied index to reach its read index (on_read_outcome), so it still sees the put. The KV API's writes
  // wait: their answer carries the applied index (Consul's X-Consul-Index). One answer differs: a late copy of a
  // session's earlier write, which the store refuses as stale, is told `ok` instead of "stale session"; its MID is
  // one its client no longer waits on (a client has one write in flight per session, and moves on once answered).
  // Not while a read is under way here: it may be served from the state before these puts (its read index can be
  // below theirs), and answers must leave in the order the operations take effect. A client that sends a get while
  // its put is in flight (as the course simulator's do) is told the put's `ok` first and must then read its value.
  if (role_ != raft::Role::kLeader || term_ != committed.term || reads_under_way()) return;
  for (auto it = committing_.begin(); it != committing_.end() && it->first <= committed.commit_index;) {
    const ProposedWrite& write = it->second;
    const ClientRequest& request = write.waiting.request;
    if (write.term != committed.term || request.kind != RequestKind::kPut || request.reply_via == ReplyVia::kKvApi) {
      ++it;
      continue;
    }
    reply(request, ReplyKind::kOk, leader_);
    ++metrics_.answered_at_commit;
    it = committing_.erase(it);
  }
}

bool Gateway::reads_under_way() const {
  return !read_batch_.empty() || !confirming_.empty() || !applying_reads_.empty() || !reads_to_fetch_.empty() ||
         !fetching_.empty();
}

void Gateway::on_applied(const EntriesApplied& applied) {
  applied_index_ = applied.applied_index;
  keys_ = applied.keys;
  for (const AppliedCommand& command : applied.commands) {
    auto it = committing_.find(command.index);
    if (it == committing_.end()) continue;
    if (it->second.term == command.term) {
      if (answer_is_current(it->second)) {
        answer_write(it->second.waiting, command.result);
      } else {
        log_->debug("write {} from {} applied after this replica stopped leading term {}: left unanswered",
                    it->second.waiting.request.mid, it->second.waiting.request.client.str(), it->second.term);
      }
    } else {
      // Another leader's entry took this index: ours can never commit. Safe to propose again or send elsewhere.
      route(std::move(it->second.waiting));
    }
    committing_.erase(it);
  }
  // Left at or below the applied index: another leader's entry that is not a command (a no-op) took the index, or a
  // snapshot replaced the store and which commands it took in is not known one by one.
  while (!committing_.empty() && committing_.begin()->first <= applied_index_) {
    auto item = committing_.extract(committing_.begin());
    Waiting& waiting = item.mapped().waiting;
    if (!applied.from_snapshot) {
      route(std::move(waiting));
      continue;
    }
    if (waiting.request.session.id != 0) {
      // Proposed again: the session table came with the snapshot, so the store answers a write it took in with its
      // first result, and applies one it did not.
      route(std::move(waiting));
    } else {
      // Applied or not, nothing can tell: silence is the one safe answer (the client counts it unanswered).
      log_->debug("write {} from {} is covered by a snapshot: left unanswered", waiting.request.mid,
                  waiting.request.client.str());
    }
  }
  while (!applying_reads_.empty() && applying_reads_.begin()->first <= applied_index_) {
    answer_read(std::move(applying_reads_.begin()->second));
    applying_reads_.erase(applying_reads_.begin());
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Deadlines

void Gateway::keep_sweeping() {
  if (!sweep_timer_.armed() && waiting() > 0) sweep_timer_.arm_after(kSweepInterval);
}

void Gateway::on_sweep(const GatewaySweep& sweep) {
  if (!sweep_timer_.is_current(sweep.generation)) return;
  const TimePoint now = clock_.now();
  for (auto it = held_.begin(); it != held_.end();) {
    if (it->deadline <= now) {
      // The client's turn to be sent on again came (see hold), or hold_timeout passed (or its own deadline).
      const bool its_turn = sending_on() && may_send_on_now(it->request.client.value);
      end_hold(*it, !its_turn);
      if (its_turn) ++metrics_.sent_on_later;
      if (sending_on()) {
        send_on(it->request);  // leader still unknown: the client tries another replica
      } else {
        redirect(it->request);  // to the leader we name, or none
      }
      it = held_.erase(it);
    } else {
      ++it;
    }
  }
  // A write that may be in the log waits for its outcome past its deadline unless a retry of it is harmless.
  for (auto& [id, batch] : proposing_) {
    for (auto& w : batch) {
      if (w && w->deadline <= now && retry_safe(w->request)) {
        give_up(*w);
        w.reset();
      }
    }
  }
  for (auto& [id, batch] : confirming_) {
    for (auto& w : batch) {
      if (w && w->deadline <= now) {
        give_up(*w);
        w.reset();
      }
    }
  }
  std::erase_if(committing_, [&](auto& item) {
    if (item.second.waiting.deadline > now || !retry_safe(item.second.waiting.request)) return false;
    give_up(item.second.waiting);
    return true;
  });
  std::erase_if(changing_, [&](auto& item) {
    if (item.second.deadline > now) return false;
    reply(item.second.request, ReplyKind::kFail, leader_, {}, {},
          "timed out; the change may still complete (kvctl member list tells)");
    return true;
  });
  std::erase_if(applying_reads_, [&](auto& item) {
    if (item.second.deadline > now) return false;
    give_up(item.second);
    return true;
  });
  std::vector<std::uint64_t> overdue;
  for (const auto& [id, collection] : collecting_)
    if (collection.deadline <= now) overdue.push_back(id);
  for (std::uint64_t id : overdue) finish_status(id);
  std::erase_if(taking_backups_, [&](auto& item) {
    if (item.second.deadline > now) return false;
    give_up(item.second);
    return true;
  });
  std::erase_if(backups_, [&](auto& item) {
    if (now - item.second.last_read < Micros(kBackupIdle)) return false;
    log_->info("backup {} dropped: no client read it for {} s", item.first, kBackupIdle.count() / 1000);
    return true;
  });
}

void Gateway::give_up(const Waiting& waiting) {
  if (role_ == raft::Role::kLeader) {
    reply(waiting.request, ReplyKind::kFail, leader_, {}, {}, "timed out");
  } else {
    redirect(waiting.request);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Answers

void Gateway::answer_read(Waiting waiting) {
  if (waiting.request.kind == RequestKind::kBackup) {
    const std::uint64_t id = next_backup_id_++;
    if (!out_.applier.try_send(TakeBackup{id})) {
      reply(waiting.request, ReplyKind::kFail, leader_, {}, {}, "overloaded");
      return;
    }
    taking_backups_.emplace(id, std::move(waiting));
    return;
  }
  reads_to_fetch_.push_back(std::move(waiting));
}

void Gateway::on_values_read(ValuesRead& read) {
  auto it = fetching_.find(read.batch_id);
  if (it == fetching_.end()) return;
  std::vector<Waiting> batch = std::move(it->second);
  fetching_.erase(it);
  for (std::size_t i = 0; i < batch.size() && i < read.values.size(); ++i) {
    std::optional<std::string>& value = read.values[i];
    const kv::Status status = value ? kv::Status::kOk : kv::Status::kNotFound;
    reply(batch[i].request, ReplyKind::kOk, leader_, status, std::move(value));
  }
}

void Gateway::ask_for_status(const ClientRequest& request) {
  const std::uint64_t id = next_batch_id_++;
  if (!out_.node.try_send(StatusRequest{id})) {
    reply(request, ReplyKind::kFail, leader_, {}, {}, "overloaded");
    return;
  }
  Collection collection{request, {}, std::vector<std::string>(kSlots), 1, clock_.now() + kStatusPatience};
  const std::string labels = replica_label(options_.self);
  auto ask = [&](auto& mailbox, Slot slot) {
    if (mailbox.try_send(ReportMetrics{id, labels, slot})) ++collection.awaiting;
  };
  metrics_.render(collection.reports[kGatewaySlot], labels);
  ask(out_.storage, kStorageSlot);
  ask(out_.kv_api, kApiSlot);
  if (network_edge_) ask(out_.bridge, kNetworkSlot);
  if (http_edge_) ask(out_.http, kHttpSlot);
  collecting_.emplace(id, std::move(collection));
}

void Gateway::on_status(StatusReady& ready) {
  auto it = collecting_.find(ready.collection_id);
  if (it == collecting_.end()) return;
  it->second.status = std::move(ready.status);
  it->second.reports[kNodeSlot] = std::move(ready.metrics);
  if (--it->second.awaiting == 0) finish_status(ready.collection_id);
}

void Gateway::on_metrics_report(MetricsReport& report) {
  auto it = collecting_.find(report.collection_id);
  if (it == collecting_.end() || report.slot >= kSlots) return;
  it->second.reports[report.slot] = std::move(report.text);
  if (--it->second.awaiting == 0) finish_status(report.collection_id);
}

void Gateway::finish_status(std::uint64_t collection_id) {
  auto it = collecting_.find(collection_id);
  if (it == collecting_.end()) return;
  Collection collection = std::move(it->second);
  collecting_.erase(it);
  if (!collection.status) {
    reply(collection.request, ReplyKind::kFail, leader_, {}, {}, "timed out");
    return;
  }
  ReplicaStatus& status = *collection.status;
  status.applied_index = applied_index_;
  status.keys = keys_;
  status.metrics = render_prometheus(status, collection.reports);
  reply(collection.request, ReplyKind::kOk, leader_);
  outgoing_.back().second.replica_status = std::move(status);
}

void Gateway::on_backup_taken(BackupTaken& taken) {
  auto it = taking_backups_.find(taken.backup_id);
  if (it == taking_backups_.end()) return;  // its client gave up meanwhile
  ClientRequest request = std::move(it->second.request);
  taking_backups_.erase(it);
  raft::Backup backup;
  backup.index = taken.snapshot.index;
  backup.term = taken.snapshot.term;
  // Informative only (nothing reads it back), so the wall clock may be used here even under simulation.
  backup.taken_unix_ms = static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                        std::chrono::system_clock::now().time_since_epoch())
                                                        .count());
  backup.cluster_id = options_.cluster_id;
  auto file = std::make_shared<const std::string>(raft::encode_backup(backup, *taken.snapshot.data));
  const std::uint32_t crc = raft::backup_checksum(*file);  // which the client checks chunk by chunk
  if (backups_.size() >= kMaxHeldBackups) {
    auto oldest = std::min_element(backups_.begin(), backups_.end(), [](const auto& a, const auto& b) {
      return a.second.last_read < b.second.last_read;
    });
    log_->info("backup {} dropped for a newer one (at most {} are held)", oldest->first, kMaxHeldBackups);
    backups_.erase(oldest);
  }
  backups_.emplace(taken.backup_id, HeldBackup{file, backup.index, backup.term, crc, clock_.now()});
  log_->info("backup {} taken at index {} (term {}): {} bytes of state, a file of {} bytes", taken.backup_id, backup.index,
             backup.term, taken.snapshot.data->size(), file->size());
  request.backup_id = taken.backup_id;
  request.offset = 0;
  send_backup_chunk(request);
}

void Gateway::send_backup_chunk(const ClientRequest& request) {
  auto it = backups_.find(request.backup_id);
  if (it == backups_.end()) {
    reply(request, ReplyKind::kFail, leader_, {}, {},
          fmt::format("backup {} is not held here (a replica drops a backup {} s after its last read, and when it "
                      "restarts): take a new one",
                      request.backup_id, kBackupIdle.count() / 1000));
    return;
  }
  HeldBackup& held = it->second;
  if (request.offset > held.file->size()) {
    reply(request, ReplyKind::kFail, leader_, {}, {},
          fmt::format("offset {} is past the end of backup {} ({} bytes)", request.offset, request.backup_id,
                      held.file->size()));
    return;
  }
  held.last_read = clock_.now();
  const std::size_t length = std::min<std::size_t>(kBackupChunkBytes, held.file->size() - request.offset);
  reply(request, ReplyKind::kOk, leader_);
  outgoing_.back().second.backup =
      BackupChunk{request.backup_id, held.index, held.term, held.file->size(), held.crc, request.offset,
                  held.file->substr(request.offset, length)};
}

void Gateway::answer_write(const Waiting& waiting, const kv::Result& result) {
  if (result.status == kv::Status::kStaleSession) {
    // Its session has moved on: the client's answer went out long ago, and this is a late copy of the request.
    reply(waiting.request, ReplyKind::kFail, leader_, kv::Status::kStaleSession, {}, "stale session sequence number");
    return;
  }
  reply(waiting.request, ReplyKind::kOk, leader_, result.status, result.value);
}

void Gateway::reply(const ClientRequest& request, ReplyKind kind, raft::NodeId leader, kv::Status status,
                    std::optional<std::string> value, std::string reason) {
  ClientReply r;
  r.client = request.client;
  r.mid = request.mid;
  r.reply_to = request.reply_to;
  r.kind = kind;
  r.leader = leader;
  r.status = status;
  r.value = std::move(value);
  r.reason = std::move(reason);
  r.applied_index = applied_index_;
  outgoing_.emplace_back(request.reply_via, std::move(r));
  ++answered_;
}

}  // namespace coraft::actors
