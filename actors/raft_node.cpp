#include "actors/raft_node.hpp"

#include "actors/hop_trace.hpp"
#include "actors/local_executor.hpp"
#include "actors/replicator.hpp"
#include "actors/spawn.hpp"
#include "raft/overloaded.hpp"

#include <asio/post.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>

#include <limits>

namespace coraft::actors {
namespace {

constexpr std::size_t kMaxBurst = 256;     // inbox messages stepped before their effects are carried out
constexpr Millis kRejectionLogInterval{10000};  // at most one warning per interval about rejected peer messages

raft::RaftConfig raft_config(const ReplicaOptions& options) {
  raft::RaftConfig config;
  config.self = options.self;
  config.peers = options.peers;
  config.initial = options.initial_membership;
  config.incarnation = options.incarnation;
  config.join = options.join;
  const auto election_min = std::chrono::duration_cast<Micros>(options.timing.election_timeout_min).count();
  config.transfer_timeout_us = 2 * election_min;
  config.vote_quiet_us = election_min;
  config.pre_vote = options.pre_vote;
  config.check_quorum = options.check_quorum;
  config.uniform_appends = options.uniform_appends;
  config.quiet_acks = options.quiet_acks;
  config.defer_spare_followers = options.defer_spare_followers;
  config.limits = options.limits;
  config.read_lease_us = options.read_lease_us();
  config.read_fresh_us = options.read_fresh_us();
  config.retransmit.max_us = std::chrono::duration_cast<Micros>(options.timing.heartbeat_interval).count();
  config.heartbeat_interval_us = config.retransmit.max_us;
  // Two heartbeat intervals: a leader with a majority hears from one that often even when a few answers are lost
  // (and a held proposal asks the silent ones at once); on a minority side, few writes get in before it holds them.
  if (options.check_quorum) config.quorum_contact_us = 2 * config.heartbeat_interval_us;
  config.retransmit.initial_us = std::min(config.retransmit.initial_us, config.retransmit.max_us);
  config.retransmit.min_us = std::min(config.retransmit.min_us, config.retransmit.initial_us);
  return config;
}

}  // namespace

RaftNode::RaftNode(NodeMailbox& inbox, Outboxes out, Clock& clock, raft::RecoveredState recovered,
                   const ReplicaOptions& options, Logger log)
    : inbox_(inbox),
      out_(out),
      clock_(clock),
      options_(options),
      log_(std::move(log)),
      latest_snapshot_(recovered.snapshot),
      core_(raft_config(options), std::move(recovered)),
      retransmit_timer_(clock, [this](std::uint64_t generation) { inbox_.try_send(RetransmitTimerFired{generation}); }) {
  // A snapshot file written before snapshots kept the configuration: the core knows the one it was taken under.
  if (latest_snapshot_ && latest_snapshot_->membership.empty()) {
    latest_snapshot_->membership = core_.membership_at(latest_snapshot_->index).encode();
  }
}

RaftNode::~RaftNode() { stop_replicators(); }

std::int64_t RaftNode::now_us() const { return clock_.now().time_since_epoch().count(); }

asio::awaitable<void> RaftNode::run() {
  executor_ = co_await asio::this_coro::executor;
  log_->info("starting: term {} vote {} log {}..{}", core_.term(), core_.voted_for().str(), core_.log().first_index(),
             core_.log().last_index());
  if (latest_snapshot_) {
    // The state machine starts from the recovered snapshot; the log after it is applied once committed.
    ApplierInbox restore = RestoreFromSnapshot{*latest_snapshot_};
    co_await out_.applier.send(restore);
    applier_next_ = latest_snapshot_->index + 1;
  }
  ElectionTimerInbox arm = ArmElectionTimer{++timer_epoch_};
  co_await out_.timer.send(arm);
  {  // The network and the gateway learn the configuration we start from.
    raft::Effect known = raft::MembershipChanged{core_.membership(), core_.membership_index()};
    co_await carry_out(known);
  }
  while (auto message = co_await inbox_.receive()) {
    // A burst of messages is stepped together and its effects carried out together, so that one write and one
    // sync cover every change the burst made (group commit).
    std::vector<raft::Effect> effects;
    std::optional<NodeInbox> timer_fired;
    const std::uint64_t cut_off_before = core_.cut_off_step_downs();
    std::optional<NodeInbox> next = std::move(message);
    for (std::size_t handled = 1; next; ++handled) {
      if (std::holds_alternative<ElectionTimerFired>(*next)) {
        // Handled after the rest of the burst: a leader's message queued behind it (while this node was busy, say)
        // proves the leader alive and makes the timeout stale.
        timer_fired = std::move(next);
      } else if (auto* status_request = std::get_if<StatusRequest>(&*next)) {
        StatusReady ready{status_request->collection_id, status(), {}};
        metrics_.retransmissions = core_.retransmissions();
        metrics_.render(ready.metrics, replica_label(options_.self));
        GatewayInbox report = std::move(ready);
        co_await out_.gateway.send(report);
      } else {
        step(*next, effects);
      }
      if (handled == kMaxBurst) break;
      next = inbox_.try_receive();
    }
    if (timer_fired) {
      const bool leaderless = !core_.leader().valid() && core_.role() != raft::Role::kLeader;
      const std::uint64_t campaigns = metrics_.elections_started;
      step(*timer_fired, effects);
      // A whole round went by here without news of a leader: the requests the gateway holds for one need not wait
      // for the next round (this replica may be cut off from the majority). A lost notice costs only a longer hold.
      if (leaderless && metrics_.elections_started != campaigns && !core_.leader().valid()) {
        out_.gateway.try_send(ElectionRoundEnded{core_.term()});
      }
    }
    if (auto dropped = core_.take_compacted(); !dropped.empty()) {
      StorageInbox discard = StorageDiscard{std::move(dropped)};  // freed off this thread
      co_await out_.storage.send(discard);
    }
    co_await execute(std::move(effects));
    // We stepped down because no majority answered our probes: an election here will not find one soon either, so
    // the clients whose requests we just turned away (the gateway holds them, knowing no leader) try another replica
    // now, as after a round that ended here with no leader, not an election timeout from now.
    if (core_.cut_off_step_downs() != cut_off_before) out_.gateway.try_send(ElectionRoundEnded{core_.term()});
    arm_retransmit_timer();
  }
  retransmit_timer_.disarm();
  stop_replicators();
}

void RaftNode::step(NodeInbox& message, std::vector<raft::Effect>& effects) {
  if (auto* durable = std::get_if<StorageDurable>(&message)) {
    hop_trace::mark("durable_seen", durable->last_index);
    // Sends that waited for these writes go before anything this burst produces: they were made earlier.
    for (auto& send : gate_.durable(durable->seq)) released_.push_back(std::move(send));
    if (durable->last_index != 0) step(raft::DurableThrough{durable->last_index, durable->last_term}, effects);
    return;
  }
  if (std::optional<raft::Input> input = to_input(message)) step(*input, effects);
}

void RaftNode::step(const raft::Input& input, std::vector<raft::Effect>& effects) {
  auto produced = core_.step(input, now_us());
  // A reset takes effect at once, not when the burst is carried out: an election timeout later in this same burst
  // was counted from before the leader's message and must be seen as stale.
  for (const auto& effect : produced)
    if (std::holds_alternative<raft::ResetElectionTimer>(effect)) ++timer_epoch_;
  effects.insert(effects.end(), std::make_move_iterator(produced.begin()), std::make_move_iterator(produced.end()));
}

void RaftNode::arm_retransmit_timer() {
  const std::optional<std::int64_t> due = core_.next_retransmit_us();
  if (!due) return;  // an armed timer that finds nothing due does nothing
  const TimePoint at{Micros(*due)};
  // Under load the deadline moves later with every answer: re-arm only to fire sooner. A timer that fires early
  // finds nothing due, and this arms it again for the new deadline.
  if (retransmit_timer_.armed() && retransmit_armed_for_ <= at) return;
  retransmit_armed_for_ = at;
  retransmit_timer_.arm_at(at);
}

std::optional<raft::Input> RaftNode::to_input(NodeInbox& message) {
  return std::visit(
      Overloaded{
          [&](PeerReceived& m) -> std::optional<raft::Input> {
            if (std::holds_alternative<raft::AppendEntries>(m.message.payload) &&
                raft::term_of(m.message.payload) >= core_.term()) {
              last_leader_contact_ = clock_.now();
              heard_from_leader_ = true;
              if (std::exchange(leader_contact_watched_, false)) {  // a lost notice costs the client hold_timeout
                out_.gateway.try_send(LeaderHeard{raft::term_of(m.message.payload), m.message.from});
              }
            }
            return raft::Receive{std::move(m.message)};
          },
          [&](ElectionTimerFired& m) -> std::optional<raft::Input> {
            if (m.epoch != timer_epoch_) return std::nullopt;  // counted from before a reset: stale
            if (core_.role() != raft::Role::kLeader) ++metrics_.elections_started;
            return raft::ElectionTimeout{};
          },
          [&](RetransmitTimerFired& m) -> std::optional<raft::Input> {
            if (!retransmit_timer_.is_current(m.generation)) return std::nullopt;
            return raft::RetransmitDue{};
          },
          [&](ProposeCommands& m) -> std::optional<raft::Input> {
            ++metrics_.proposal_batches;
            metrics_.proposals += m.commands.size();
            metrics_.proposal_batch_size.observe(static_cast<double>(m.commands.size()));
            return raft::Propose{m.proposal_id, std::move(m.commands)};
          },
          [&](RequestRead& m) -> std::optional<raft::Input> {
            ++metrics_.reads;
            return raft::ReadIndex{m.read_id};
          },
          [&](FollowerIdle& m) -> std::optional<raft::Input> {
            if (m.term != core_.term()) return std::nullopt;  // from a replicator of an earlier leadership
            return raft::HeartbeatDue{m.peer};
          },
          [&](AppliedThrough& m) -> std::optional<raft::Input> {
            applied_index_ = std::max(applied_index_, m.index);
            return std::nullopt;
          },
          [&](SnapshotTaken& m) -> std::optional<raft::Input> {
            ++metrics_.snapshots_taken;
            return raft::CompactLog{std::move(m.snapshot)};
          },
          [&](StatusRequest&) -> std::optional<raft::Input> { return std::nullopt; },
          [&](StorageDurable&) -> std::optional<raft::Input> { return std::nullopt; },
          [&](ChangeMembershipRequest& m) -> std::optional<raft::Input> {
            return raft::ChangeMembership{m.request_id, std::move(m.change)};
          },
          [&](TransferRequest& m) -> std::optional<raft::Input> {
            return raft::TransferLeadership{m.request_id, m.target};
          },
          [&](WatchLeaderContact&) -> std::optional<raft::Input> {
            leader_contact_watched_ = true;
            return std::nullopt;
          },
      },
      message);
}

asio::awaitable<void> RaftNode::execute(std::vector<raft::Effect> effects) {
  std::vector<raft::Send> released = std::exchange(released_, {});
  for (auto& send : released) {
    raft::Effect effect = std::move(send);
    co_await carry_out(effect);
  }
  // The acknowledgement that waited for the write has gone (or nothing waits): now the applier may have the commits.
  if (!released.empty() || gate_.held() == 0 || core_.role() == raft::Role::kLeader) {
    for (auto& effect : apply_after_ack_) co_await carry_out(effect);
    apply_after_ack_.clear();
  }
  DurabilityGate::Plan plan = gate_.plan(std::move(effects));
  // What may go now goes first (a leader's AppendEntries among it), then the write: a leader's own copy is not on its
  // followers' critical path, and the storage actor lets these sends reach the socket before it starts the write.
  for (auto& effect : plan.now) {
    // A follower's write (and the sync in it) comes before applying what the same append committed: the leader
    // waits for the acknowledgement, not for our state machine, and applying a batch of new keys takes about as long
    // as the sync (ARCHITECTURE.md: Where a put's time goes). The applier runs on this thread, so it would otherwise
    // run first.
    if (plan.write && core_.role() != raft::Role::kLeader && std::holds_alternative<raft::CommitAdvanced>(effect)) {
      apply_after_ack_.push_back(std::move(effect));
      continue;
    }
    co_await carry_out(effect);
  }
  if (plan.write) {
    StorageInbox write = StorageWrite{plan.write_seq, std::move(*plan.write), core_.role() != raft::Role::kLeader};
    co_await out_.storage.send(write);
  }
}

asio::awaitable<void> RaftNode::carry_out(raft::Effect& effect) {
  // Named, not temporaries, all of it: GCC 12 can destroy a temporary inside a co_await expression twice (see
  // Mailbox::send), so the visitor, the awaitable it returns and every message sent are variables.
  auto visitor = Overloaded{
          [&](raft::Persist&) -> asio::awaitable<void> {
            co_return;  // never here: the gate turns every Persist into a StorageWrite
          },
          [&](raft::Send& send) -> asio::awaitable<void> {
            BridgeInbox out = SendPeer{std::move(send.message)};
            co_await out_.bridge.send(out);
          },
          [&](raft::Transmit& transmit) -> asio::awaitable<void> {
            auto it = replicators_.find(transmit.to);
            if (it == replicators_.end()) co_return;
            ReplicatorInbox out = TransmitAppend{std::move(transmit.message), transmit.backoff_shift};
            co_await it->second.inbox->send(out);
          },
          [&](raft::CommitAdvanced& commit) -> asio::awaitable<void> {
            if (commit.commit_index < applier_next_) co_return;
            hop_trace::mark("committed", commit.commit_index);
            auto entries = core_.log().slice(applier_next_, commit.commit_index,
                                             std::numeric_limits<std::size_t>::max(),
                                             std::numeric_limits<std::size_t>::max());
            applier_next_ = commit.commit_index + 1;
            if (core_.role() == raft::Role::kLeader) {
              // The gateway answers the puts this commit decides (WritesCommitted), and its replies reach the bridge
              // before the applier, queued behind the gateway on this thread, applies the batch: one turn of the
              // event loop first.
              GatewayInbox committed = WritesCommitted{core_.term(), commit.commit_index};
              co_await out_.gateway.send(committed);
              co_await asio::post(event_loop(executor_), asio::use_awaitable);
            }
            ApplierInbox out = ApplyCommitted{std::move(entries)};
            co_await out_.applier.send(out);
          },
          [&](raft::RoleChanged& role) -> asio::awaitable<void> {
            log_->info("{} in term {}, leader {}", raft::role_name(role.role), role.term, role.leader.str());
            if (role.leader != last_leader_) ++metrics_.leader_changes;
            last_leader_ = role.leader;
            if (role.role == raft::Role::kLeader) {
              ++metrics_.terms_led;
              start_replicators(role.term);
            } else {
              stop_replicators();
            }
            if (role.leader == options_.self) heard_from_leader_ = true;
            GatewayInbox news = LeaderChanged{role.role, role.term, role.leader, role.inherited_term};
            co_await out_.gateway.send(news);
            BridgeInbox announce = AnnounceLeader{role.leader};
            co_await out_.bridge.send(announce);
          },
          [&](raft::ResetElectionTimer&) -> asio::awaitable<void> {
            ElectionTimerInbox out = ArmElectionTimer{timer_epoch_};  // the epoch moved when the reset was decided
            co_await out_.timer.send(out);
          },
          [&](raft::ProposalAccepted& accepted) -> asio::awaitable<void> {
            hop_trace::mark("appended", accepted.first_index);
            GatewayInbox out =
                ProposalOutcome{accepted.proposal_id, true, accepted.first_index, accepted.term, options_.self};
            co_await out_.gateway.send(out);
          },
          [&](raft::ProposalRejected& rejected) -> asio::awaitable<void> {
            GatewayInbox out = ProposalOutcome{rejected.proposal_id, false, 0, 0, rejected.leader};
            co_await out_.gateway.send(out);
          },
          [&](raft::ReadReady& ready) -> asio::awaitable<void> {
            GatewayInbox out = ReadOutcome{ready.read_id, true, ready.read_index, options_.self};
            co_await out_.gateway.send(out);
          },
          [&](raft::ReadRejected& refused) -> asio::awaitable<void> {
            GatewayInbox out = ReadOutcome{refused.read_id, false, 0, refused.leader};
            co_await out_.gateway.send(out);
          },
          [&](raft::SendSnapshot& send_snapshot) -> asio::awaitable<void> {
            auto it = replicators_.find(send_snapshot.to);
            if (it == replicators_.end() || !latest_snapshot_) co_return;
            ReplicatorInbox out = TransmitSnapshot{*latest_snapshot_};
            co_await it->second.inbox->send(out);
          },
          [&](raft::SnapshotAck& ack) -> asio::awaitable<void> {
            auto it = replicators_.find(ack.to);
            if (it == replicators_.end()) co_return;
            ReplicatorInbox out = SnapshotProgress{ack.index, ack.next_offset, ack.done};
            co_await it->second.inbox->send(out);
          },
          [&](raft::RestoreSnapshot& restore) -> asio::awaitable<void> {
            log_->info("installing the leader's snapshot at {} (term {}, {} bytes)", restore.snapshot.index,
                       restore.snapshot.term, restore.snapshot.data->size());
            applier_next_ = std::max(applier_next_, restore.snapshot.index + 1);
            latest_snapshot_ = restore.snapshot;
            ++metrics_.snapshots_installed;
            ApplierInbox out = RestoreFromSnapshot{std::move(restore.snapshot)};
            co_await out_.applier.send(out);
          },
          [&](raft::SaveSnapshot& save) -> asio::awaitable<void> {
            latest_snapshot_ = save.snapshot;  // the log before it is gone from memory already
            StorageInbox out = StorageSnapshot{std::move(save.snapshot)};
            co_await out_.storage.send(out);
          },
          [&](raft::MembershipChanged& changed) -> asio::awaitable<void> {
            log_->info("configuration at {}: {}", changed.index, changed.membership.describe());
            if (core_.role() == raft::Role::kLeader) start_replicators(core_.term());  // new members, gone members
            BridgeInbox book = AnnounceMembers{changed.membership.members()};
            co_await out_.bridge.send(book);
            GatewayInbox news = MembershipKnown{std::move(changed.membership)};
            co_await out_.gateway.send(news);
          },
          [&](raft::ChangeOutcome& outcome) -> asio::awaitable<void> {
            if (outcome.request_id == kHandOverBeforeStop) {  // asked by the replica's process, not a client
              if (options_.on_handover_done) options_.on_handover_done(outcome.done, outcome.reason);
              co_return;
            }
            GatewayInbox answer = ChangeAnswered{outcome.request_id, outcome.done, std::move(outcome.reason),
                                                 outcome.leader};
            co_await out_.gateway.send(answer);
          },
          [&](raft::Retired& retired) -> asio::awaitable<void> {
            // The core says it once per life (RaftCore::retired_).
            log_->info("{}", retired.reason);  // kvstore says it at error level as it stops
            if (options_.on_retired) options_.on_retired(retired.reason);
            co_return;
          },
          [&](raft::MessageRejected& rejected) -> asio::awaitable<void> {
            ++metrics_.peer_messages_rejected;
            const TimePoint now = clock_.now();
            if (now - last_rejection_logged_ >= kRejectionLogInterval || metrics_.peer_messages_rejected == 1) {
              last_rejection_logged_ = now;
              log_->warn("dropped a peer message from {}: {} ({} so far; a forged datagram or a faulty replica)",
                         rejected.from.str(), rejected.reason, metrics_.peer_messages_rejected);
            } else {
              log_->debug("dropped a peer message from {}: {}", rejected.from.str(), rejected.reason);
            }
            co_return;
          },
  };
  asio::awaitable<void> work = std::visit(visitor, effect);
  co_await std::move(work);
}

void RaftNode::start_replicators(raft::Term term) {
  // One per member of the configuration but us, for this term: kept while they stay, closed when they go.
  if (replicators_term_ != term) stop_replicators();
  replicators_term_ = term;
  for (auto it = replicators_.begin(); it != replicators_.end();) {
    if (core_.membership().contains(it->first)) {
      ++it;
    } else {
      it->second.inbox->close();
      it = replicators_.erase(it);
    }
  }
  const Micros heartbeat = std::chrono::duration_cast<Micros>(options_.timing.heartbeat_interval);
  for (const raft::Member& member : core_.membership().members()) {
    const raft::NodeId peer = member.id;
    if (peer == options_.self || replicators_.contains(peer)) continue;
    auto inbox = std::make_shared<ReplicatorMailbox>(executor_, options_.mailbox_capacity,
                                                     options_.self.str() + "/replicator-" + peer.str());
    auto actor = std::make_shared<Replicator>(*inbox, inbox_, out_.bridge, clock_, options_.self, peer, term,
                                              heartbeat, log_);
    // The coroutine holds both by value, so they outlive the node's handle until it returns.
    auto body = [](std::shared_ptr<ReplicatorMailbox> in, std::shared_ptr<Replicator> self) -> asio::awaitable<void> {
      (void)in;
      co_await self->run();
    };
    spawn(executor_, inbox->name(), body(inbox, actor));
    replicators_.emplace(peer, ReplicatorHandle{std::move(inbox), std::move(actor)});
  }
}

void RaftNode::stop_replicators() {
  for (auto& [peer, handle] : replicators_) handle.inbox->close();
  replicators_.clear();
}

ReplicaStatus RaftNode::status() const {
  ReplicaStatus s;
  s.id = options_.self;
  s.role = core_.role();
  s.term = core_.term();
  s.leader = core_.leader();
  s.commit_index = core_.commit_index();
  s.applied_index = applied_index_;
  s.last_log_index = core_.log().last_index();
  s.snapshot_index = core_.log().first_index() - 1;
  s.members = core_.membership().members();
  s.outgoing_voters = core_.membership().outgoing_voters();
  s.membership_index = core_.membership_index();
  if (core_.role() == raft::Role::kLeader) {
    s.last_leader_contact_ms = 0;
    for (const raft::Member& member : core_.membership().members()) {
      if (const auto* progress = core_.progress(member.id)) s.followers.push_back({member.id, progress->match()});
    }
  } else if (heard_from_leader_) {
    s.last_leader_contact_ms = std::chrono::duration_cast<Millis>(clock_.now() - last_leader_contact_).count();
  }
  return s;
}

}  // namespace coraft::actors
