#include "actors/raft_node.hpp"

#include "actors/replicator.hpp"
#include "actors/spawn.hpp"
#include "raft/overloaded.hpp"

#include <asio/executor_work_guard.hpp>
#include <asio/post.hpp>
#include <asio/this_coro.hpp>
#include <asio/thread_pool.hpp>

#include <deque>
#include <limits>

namespace coraft::actors {
namespace {

constexpr std::size_t kMaxBurst = 256;  // inbox messages stepped before their effects are carried out

raft::RecoveredState recover(raft::Storage& storage, std::optional<raft::Snapshot>& snapshot) {
  raft::RecoveredState state = storage.recover();
  snapshot = state.snapshot;
  return state;
}

raft::RaftConfig raft_config(const ReplicaOptions& options) {
  raft::RaftConfig config;
  config.self = options.self;
  config.peers = options.peers;
  config.pre_vote = options.pre_vote;
  config.check_quorum = options.check_quorum;
  config.limits = options.limits;
  config.read_lease_us = options.read_lease_us();
  return config;
}

}  // namespace

RaftNode::RaftNode(NodeMailbox& inbox, Outboxes out, Clock& clock, raft::Storage& storage,
                   const ReplicaOptions& options, ReplicaMetrics& metrics, Logger log)
    : inbox_(inbox),
      out_(out),
      clock_(clock),
      storage_(storage),
      options_(options),
      metrics_(metrics),
      log_(std::move(log)),
      core_(raft_config(options), recover(storage, latest_snapshot_)) {
  // Real processes (background_snapshots) get a storage thread even without fsync: snapshots and freeing a
  // compacted log happen there.
  if (storage_.blocks() || options_.background_snapshots) storage_thread_ = std::make_unique<asio::thread_pool>(1);
}

RaftNode::~RaftNode() {
  stop_replicators();
  if (storage_thread_) storage_thread_->join();
}

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
  while (auto message = co_await inbox_.receive()) {
    // A burst of messages is stepped together and its effects carried out together, so that one write and one
    // sync cover every change the burst made (group commit).
    std::vector<raft::Effect> effects;
    std::optional<NodeInbox> next = std::move(message);
    std::optional<NodeInbox> timer_fired;
    for (std::size_t handled = 1; next; ++handled) {
      if (std::holds_alternative<ElectionTimerFired>(*next)) {
        // Handled after the rest of the burst: a leader's message queued behind it (while this node was busy
        // syncing, say) proves the leader alive and makes the timeout stale.
        timer_fired = std::move(next);
      } else if (auto* status_request = std::get_if<StatusRequest>(&*next)) {
        GatewayInbox report = StatusReady{std::move(status_request->request), status()};
        co_await out_.gateway.send(report);
      } else if (std::holds_alternative<StorageSynced>(*next)) {
        take_synced(effects);
      } else if (std::optional<raft::Input> input = to_input(*next)) {
        auto produced = core_.step(*input, now_us());
        // A reset takes effect at once, not when the burst is carried out: an election timeout later in this same
        // burst was counted from before the leader's message and must be seen as stale.
        for (const auto& effect : produced)
          if (std::holds_alternative<raft::ResetElectionTimer>(effect)) ++timer_epoch_;
        effects.insert(effects.end(), std::make_move_iterator(produced.begin()), std::make_move_iterator(produced.end()));
      }
      if (handled == kMaxBurst) break;
      next = inbox_.try_receive();
    }
    if (timer_fired) {
      if (std::optional<raft::Input> input = to_input(*timer_fired)) {
        auto produced = core_.step(*input, now_us());
        for (const auto& effect : produced)
          if (std::holds_alternative<raft::ResetElectionTimer>(effect)) ++timer_epoch_;
        effects.insert(effects.end(), std::make_move_iterator(produced.begin()), std::make_move_iterator(produced.end()));
      }
    }
    if (auto dropped = core_.take_compacted(); !dropped.empty()) {
      if (storage_thread_) {
        asio::post(*storage_thread_, [garbage = std::move(dropped)] {});  // freed there, not on this thread
      }
    }
    co_await execute(std::move(effects));
  }
  stop_replicators();
}

std::optional<raft::Input> RaftNode::to_input(NodeInbox& message) {
  return std::visit(
      Overloaded{
          [&](PeerReceived& m) -> std::optional<raft::Input> {
            if (std::holds_alternative<raft::AppendEntries>(m.message.payload) &&
                raft::term_of(m.message.payload) >= core_.term()) {
              last_leader_contact_ = clock_.now();
              heard_from_leader_ = true;
            }
            return raft::Receive{std::move(m.message)};
          },
          [&](ElectionTimerFired& m) -> std::optional<raft::Input> {
            if (m.epoch != timer_epoch_) return std::nullopt;  // counted from before a reset: stale
            if (core_.role() != raft::Role::kLeader) ++metrics_.elections_started;
            return raft::ElectionTimeout{};
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
          [&](HeartbeatDue& m) -> std::optional<raft::Input> {
            if (m.term != core_.term()) return std::nullopt;  // from a replicator of an earlier leadership
            return raft::HeartbeatDue{m.peer};
          },
          [&](AppliedThrough& m) -> std::optional<raft::Input> {
            applied_index_ = std::max(applied_index_, m.index);
            return std::nullopt;
          },
          [&](StatusRequest&) -> std::optional<raft::Input> { return std::nullopt; },
          [&](SnapshotTaken& m) -> std::optional<raft::Input> {
            ++metrics_.snapshots_taken;
            return raft::CompactLog{std::move(m.snapshot)};
          },
          [&](StorageSynced&) -> std::optional<raft::Input> { return std::nullopt; },
      },
      message);
}

asio::awaitable<void> RaftNode::persist(const raft::Persist& change) {
  // A follower syncs inline: a thread hand-off would only add latency, and what arrives meanwhile waits in the
  // socket and is merged into the next burst's write anyway. While background writes are still under way, this one
  // queues behind them on the storage thread (the storage is never used from two threads at once); so does a
  // snapshot, whose file can take long enough to write that the replica would otherwise miss its heartbeats.
  const auto started = std::chrono::steady_clock::now();
  if (!storage_thread_ || (background_writes_ == 0 && !change.snapshot)) {
    storage_.persist(change);
  } else {
    // The sync runs on the storage thread while this replica goes on sending (replicators stream AppendEntries)
    // and receiving (the next burst queues up and is merged into the next write).
    auto done = [this, &change](auto handler) {
      auto work = asio::make_work_guard(executor_);
      asio::post(*storage_thread_, [this, &change, handler = std::move(handler), work = std::move(work)]() mutable {
        std::exception_ptr failure;
        try {
          storage_.persist(change);
        } catch (...) {
          failure = std::current_exception();
        }
        asio::post(work.get_executor(), [handler = std::move(handler), failure]() mutable { handler(failure); });
      });
    };
    // A completion whose first argument is an exception_ptr rethrows it here (a disk error fails the replica).
    co_await asio::async_initiate<decltype(asio::use_awaitable), void(std::exception_ptr)>(std::move(done),
                                                                                          asio::use_awaitable);
  }
  if (change.snapshot) latest_snapshot_ = change.snapshot;
  record_write(change, std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
}

void RaftNode::record_write(const raft::Persist& change, double seconds) {
  ++metrics_.storage_writes;
  metrics_.entries_per_write.observe(static_cast<double>(change.entries.size()));
  metrics_.write_seconds.observe(seconds);
}

asio::awaitable<void> RaftNode::execute(std::vector<raft::Effect> effects) {
  // The core puts a Persist before every Send that depends on it. Carrying out a burst, every Persist becomes one
  // write and one sync (group commit); every Send waits for it; every other effect — AppendEntries to replicators,
  // commits, role news, outcomes — goes first, since none depends on the sync (a leader may send entries before its
  // own copy is durable: it counts itself only after Persisted). Effects only ever move later than what they
  // depend on, which keeps the core's ordering contract.
  raft::Persist merged;
  bool any_persist = false;
  std::deque<raft::Effect> queue, sends;
  for (auto& effect : effects) {
    if (auto* p = std::get_if<raft::Persist>(&effect)) {
      raft::merge_persist(merged, *p);
      any_persist = true;
    } else if (std::holds_alternative<raft::Send>(effect)) {
      sends.push_back(std::move(effect));
    } else {
      queue.push_back(std::move(effect));
    }
  }
  co_await carry_out(queue);
  // Off this thread, without waiting: a leader's synced writes (it goes on replicating meanwhile), a snapshot (tens
  // of megabytes: waiting for it would starve the heartbeats and cost the leadership), and anything that would
  // queue behind those on the storage thread anyway. Sends of the burst wait until the write is durable.
  const bool leader_sync = storage_.blocks() && core_.role() == raft::Role::kLeader;
  if (any_persist && storage_thread_ && (leader_sync || merged.snapshot || background_writes_ > 0)) {
    persist_in_background(std::move(merged), std::move(sends));
    co_return;
  }
  if (any_persist) {
    co_await persist(merged);
    if (!merged.entries.empty()) {
      const raft::EntryPtr& last = merged.entries.back();
      for (auto& more : core_.step(raft::Persisted{last->index, last->term}, now_us())) sends.push_back(std::move(more));
    }
  }
  co_await carry_out(sends);
}

void RaftNode::persist_in_background(raft::Persist change, std::deque<raft::Effect> held_sends) {
  auto write = std::make_shared<BackgroundWrite>(BackgroundWrite{std::move(change), std::move(held_sends), nullptr});
  ++background_writes_;
  auto work = asio::make_work_guard(executor_);
  // One storage thread: writes reach the disk in the order they were made.
  asio::post(*storage_thread_, [this, write, work = std::move(work)]() mutable {
    const auto started = std::chrono::steady_clock::now();
    try {
      storage_.persist(write->change);
    } catch (...) {
      write->failure = std::current_exception();
    }
    write->seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    asio::post(work.get_executor(), [this, write] {
      --background_writes_;
      synced_.push_back(write);
      inbox_.try_send(StorageSynced{});  // if the inbox is full the node is busy and finds synced_ anyway
    });
  });
}

void RaftNode::take_synced(std::vector<raft::Effect>& effects) {
  while (!synced_.empty()) {
    auto write = std::move(synced_.front());
    synced_.pop_front();
    if (write->failure) std::rethrow_exception(write->failure);  // never acknowledge what could not be written
    record_write(write->change, write->seconds);
    if (write->change.snapshot) latest_snapshot_ = write->change.snapshot;
    if (!write->change.entries.empty()) {
      const raft::EntryPtr& last = write->change.entries.back();
      auto produced = core_.step(raft::Persisted{last->index, last->term}, now_us());
      effects.insert(effects.end(), std::make_move_iterator(produced.begin()), std::make_move_iterator(produced.end()));
    }
    // Held back until this write was durable; now in order with the rest of the burst.
    for (auto& send : write->held_sends) effects.push_back(std::move(send));
  }
}

asio::awaitable<void> RaftNode::carry_out(std::deque<raft::Effect>& queue) {
  while (!queue.empty()) {
    raft::Effect effect = std::move(queue.front());
    queue.pop_front();
    if (auto* p = std::get_if<raft::Persist>(&effect)) {
      // Produced by Persisted while carrying out this burst: rare; persisted on the spot.
      co_await persist(*p);
      if (!p->entries.empty()) {
        const raft::EntryPtr& last = p->entries.back();
        for (auto& more : core_.step(raft::Persisted{last->index, last->term}, now_us())) queue.push_back(std::move(more));
      }
      continue;
    }
    if (auto* send = std::get_if<raft::Send>(&effect)) {
      BridgeInbox out = SendPeer{std::move(send->message)};
      co_await out_.bridge.send(out);
      continue;
    }
    if (auto* transmit = std::get_if<raft::Transmit>(&effect)) {
      auto it = replicators_.find(transmit->to);
      if (it != replicators_.end()) {
        ReplicatorInbox out = TransmitAppend{std::move(transmit->message), transmit->backoff_shift};
        co_await it->second.inbox->send(out);
      }
      continue;
    }
    if (auto* commit = std::get_if<raft::CommitAdvanced>(&effect)) {
      if (commit->commit_index < applier_next_) continue;
      auto entries = core_.log().slice(applier_next_, commit->commit_index, std::numeric_limits<std::size_t>::max(),
                                       std::numeric_limits<std::size_t>::max());
      applier_next_ = commit->commit_index + 1;
      ApplierInbox out = ApplyCommitted{std::move(entries)};
      co_await out_.applier.send(out);
      continue;
    }
    if (auto* role = std::get_if<raft::RoleChanged>(&effect)) {
      log_->info("{} in term {}, leader {}", raft::role_name(role->role), role->term, role->leader.str());
      if (role->leader != last_leader_) ++metrics_.leader_changes;
      last_leader_ = role->leader;
      if (role->role == raft::Role::kLeader) ++metrics_.terms_led;
      if (role->role == raft::Role::kLeader) start_replicators(role->term);
      else stop_replicators();
      if (role->leader == options_.self) heard_from_leader_ = true;
      GatewayInbox news = LeaderChanged{role->role, role->term, role->leader};
      co_await out_.gateway.send(news);
      BridgeInbox announce = AnnounceLeader{role->leader};
      co_await out_.bridge.send(announce);
      continue;
    }
    if (std::holds_alternative<raft::ResetElectionTimer>(effect)) {
      ElectionTimerInbox out = ArmElectionTimer{timer_epoch_};  // the epoch moved when the reset was decided
      co_await out_.timer.send(out);
      continue;
    }
    if (auto* accepted = std::get_if<raft::ProposalAccepted>(&effect)) {
      GatewayInbox out =
          ProposalOutcome{accepted->proposal_id, true, accepted->first_index, accepted->term, options_.self};
      co_await out_.gateway.send(out);
      continue;
    }
    if (auto* rejected = std::get_if<raft::ProposalRejected>(&effect)) {
      GatewayInbox out = ProposalOutcome{rejected->proposal_id, false, 0, 0, rejected->leader};
      co_await out_.gateway.send(out);
      continue;
    }
    if (auto* ready = std::get_if<raft::ReadReady>(&effect)) {
      GatewayInbox out = ReadOutcome{ready->read_id, true, ready->read_index, options_.self};
      co_await out_.gateway.send(out);
      continue;
    }
    if (auto* send_snapshot = std::get_if<raft::SendSnapshot>(&effect)) {
      auto it = replicators_.find(send_snapshot->to);
      if (it != replicators_.end() && latest_snapshot_) {
        ReplicatorInbox out = TransmitSnapshot{*latest_snapshot_};
        co_await it->second.inbox->send(out);
      }
      continue;
    }
    if (auto* ack = std::get_if<raft::SnapshotAck>(&effect)) {
      auto it = replicators_.find(ack->to);
      if (it != replicators_.end()) {
        ReplicatorInbox out = SnapshotProgress{ack->index, ack->next_offset, ack->done};
        co_await it->second.inbox->send(out);
      }
      continue;
    }
    if (auto* restore = std::get_if<raft::RestoreSnapshot>(&effect)) {
      log_->info("installing the leader's snapshot at {} (term {}, {} bytes)", restore->snapshot.index,
                 restore->snapshot.term, restore->snapshot.data->size());
      applier_next_ = std::max(applier_next_, restore->snapshot.index + 1);
      ++metrics_.snapshots_installed;
      ApplierInbox out = RestoreFromSnapshot{std::move(restore->snapshot)};
      co_await out_.applier.send(out);
      continue;
    }
    if (auto* refused = std::get_if<raft::ReadRejected>(&effect)) {
      GatewayInbox out = ReadOutcome{refused->read_id, false, 0, refused->leader};
      co_await out_.gateway.send(out);
      continue;
    }
  }
}

void RaftNode::start_replicators(raft::Term term) {
  if (!replicators_.empty() && replicators_term_ == term) return;
  stop_replicators();
  replicators_term_ = term;
  const Micros heartbeat = std::chrono::duration_cast<Micros>(options_.timing.heartbeat_interval);
  for (raft::NodeId peer : options_.peers) {
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
  if (core_.role() == raft::Role::kLeader) {
    s.last_leader_contact_ms = 0;
    for (raft::NodeId peer : options_.peers) {
      if (const auto* progress = core_.progress(peer)) s.followers.push_back({peer, progress->match()});
    }
  } else if (heard_from_leader_) {
    s.last_leader_contact_ms =
        std::chrono::duration_cast<Millis>(clock_.now() - last_leader_contact_).count();
  }
  return s;
}

}  // namespace coraft::actors
