#include "actors/applier.hpp"

#include "actors/hop_trace.hpp"
#include "actors/local_executor.hpp"

#include <fmt/format.h>

#include <asio/executor_work_guard.hpp>
#include <asio/post.hpp>
#include <asio/thread_pool.hpp>

#include <algorithm>
#include <chrono>

#include <stdexcept>

namespace coraft::actors {

Applier::Applier(ApplierMailbox& inbox, GatewayMailbox& gateway, NodeMailbox& node, KvApiMailbox& kv_api,
                 kv::Store& store, std::uint64_t snapshot_every_entries, bool background_snapshots,
                 std::uint64_t stagger, Logger log)
    : inbox_(inbox),
      gateway_(gateway),
      node_(node),
      kv_api_(kv_api),
      store_(store),
      snapshot_every_entries_(snapshot_every_entries),
      stagger_(stagger),
      log_(std::move(log)) {
  if (background_snapshots) snapshot_thread_ = std::make_unique<asio::thread_pool>(1);
}

Applier::~Applier() {
  if (snapshot_thread_) snapshot_thread_->join();
}

asio::awaitable<void> Applier::run() {
  while (auto message = co_await inbox_.receive()) {
    if (std::holds_alternative<ReadRange>(*message) || std::holds_alternative<WatchRange>(*message) ||
        std::holds_alternative<EndWatch>(*message) || std::holds_alternative<ReadValues>(*message)) {
      if (!co_await answer_query(*message)) co_return;
      continue;
    }
    if (auto* backup = std::get_if<TakeBackup>(&*message)) {
      // An image being serialized already will do: it is at least as new as anything the gateway has seen applied.
      backups_waiting_.push_back(backup->backup_id);
      if (!serializing_) start_snapshot();
      if (!co_await send_backups()) co_return;
      continue;
    }
    if (std::holds_alternative<SnapshotSerialized>(*message) || (serializing_ && serialized_->load())) snapshot_done();
    if (!co_await send_backups()) co_return;
    if (std::holds_alternative<SnapshotSerialized>(*message)) {
      if (serializing_) continue;
    } else if (serializing_) {
      held_.push_back(std::move(*message));  // the store must hold still until the snapshot is taken
      continue;
    } else {
      held_.push_back(std::move(*message));
    }
    while (!held_.empty() && !serializing_) {
      ApplierInbox next = std::move(held_.front());
      held_.pop_front();
      EntriesApplied applied;
      if (auto* batch = std::get_if<ApplyCommitted>(&next)) {
        // A long batch (a restarted replica learning that its whole log is committed, say) is applied a slice at a
        // time, yielding in between, so that the node and replicators on this thread keep up their heartbeats. The
        // slice is counted in entries, not timed: simulations must not depend on how fast the machine is.
        const std::size_t done = apply(*batch, applied, kApplySlice);
        hop_trace::mark("applied", applied_index_);
        if (done < batch->entries.size()) {
          held_.push_front(ApplyCommitted{{batch->entries.begin() + static_cast<std::ptrdiff_t>(done), batch->entries.end()}});
        }
      } else if (auto* restore_message = std::get_if<RestoreFromSnapshot>(&next)) {
        applied.from_snapshot = restore(restore_message->snapshot);
        if (applied.from_snapshot) maybe_changed_ = watches_.all();
      } else {
        continue;
      }
      applied.applied_index = applied_index_;
      applied.applied_term = applied_term_;
      applied.keys = store_.size();
      GatewayInbox out = std::move(applied);
      if (!co_await gateway_.send(out)) co_return;
      if (!co_await answer_watches()) co_return;
      node_.try_send(AppliedThrough{applied_index_});
      maybe_snapshot();
      if (!held_.empty()) co_await asio::post(event_loop(co_await asio::this_coro::executor), asio::use_awaitable);
    }
  }
}

std::size_t Applier::apply(const ApplyCommitted& batch, EntriesApplied& applied, std::size_t at_most) {
  std::size_t done = 0;
  for (const raft::EntryPtr& entry : batch.entries) {
    if (done == at_most) return done;
    ++done;
    if (entry->index <= applied_index_) continue;  // already applied (or covered by a snapshot)
    if (entry->index != applied_index_ + 1) {
      throw std::logic_error(fmt::format("applier got index {} after {}", entry->index, applied_index_));
    }
    applied_index_ = entry->index;
    applied_term_ = entry->term;
    if (entry->kind != raft::EntryKind::kCommand) continue;
    kv::Result result;
    if (auto command = kv::decode(entry->data)) {
      result = store_.apply(entry->index, *command);
      note_change(*command, result);
    } else {
      // Every replica fails the same way on the same entry, so skipping it keeps them identical.
      log_->error("undecodable command at index {} skipped", entry->index);
      result = kv::Result{kv::Status::kOk, std::nullopt};
    }
    applied.commands.push_back(AppliedCommand{entry->index, entry->term, std::move(result)});
  }
  return done;
}

void Applier::note_change(const kv::Command& command, const kv::Result& result) {
  // Only watches over a range the command may have changed need a look; whether it did is told by the range's index.
  if (watches_.empty() || result.status != kv::Status::kOk) return;
  const auto overlapping = watches_.overlapping(kv::KeyRange{command.key, command.op == kv::Op::kDeletePrefix});
  maybe_changed_.insert(maybe_changed_.end(), overlapping.begin(), overlapping.end());
}

// ---------------------------------------------------------------------------------------------------------------
// Queries from the KV API

asio::awaitable<bool> Applier::answer_query(ApplierInbox& query) {
  if (auto* read = std::get_if<ReadValues>(&query)) {
    ValuesRead answer{read->batch_id, {}};
    answer.values.reserve(read->keys.size());
    for (const std::string& key : read->keys) answer.values.push_back(store_.get(key));
    GatewayInbox out = std::move(answer);
    co_return co_await gateway_.send(out);
  }
  if (auto* read = std::get_if<ReadRange>(&query)) {
    kv::RangeRead now = store_.read(read->range, read->keys_only);
    co_return co_await answer(read->query_id, now);
  }
  if (auto* watch = std::get_if<WatchRange>(&query)) {
    kv::RangeRead now = store_.read(watch->range, watch->keys_only);
    if (now.index > watch->after_index || now.too_large || watches_.contains(watch->query_id)) {
      co_return co_await answer(watch->query_id, now);
    }
    watches_.add(watch->query_id, watch->range);
    watch_queries_[watch->query_id] = Watch{watch->keys_only, watch->after_index};
    co_return true;
  }
  const std::uint64_t id = std::get<EndWatch>(query).query_id;
  const kv::KeyRange* range = watches_.range_of(id);
  if (!range) co_return true;  // answered already: the range changed first
  kv::RangeRead now = store_.read(*range, watch_queries_.at(id).keys_only);
  watches_.remove(id);
  watch_queries_.erase(id);
  co_return co_await answer(id, now);
}

asio::awaitable<bool> Applier::answer_watches() {
  std::vector<std::uint64_t> candidates = std::move(maybe_changed_);
  maybe_changed_.clear();
  std::sort(candidates.begin(), candidates.end());
  candidates.erase(std::unique(candidates.begin(), candidates.end()), candidates.end());
  for (std::uint64_t id : candidates) {
    const kv::KeyRange* range = watches_.range_of(id);
    if (!range) continue;
    const Watch watch = watch_queries_.at(id);
    kv::RangeRead now = store_.read(*range, watch.keys_only);
    if (now.index <= watch.after_index && !now.too_large) continue;  // touched, but not past the query's index
    watches_.remove(id);
    watch_queries_.erase(id);
    if (!co_await answer(id, now)) co_return false;
  }
  co_return true;
}

asio::awaitable<bool> Applier::answer(std::uint64_t query_id, kv::RangeRead& read) {
  KvApiInbox out = RangeAnswered{query_id, std::move(read)};
  co_return co_await kv_api_.send(out);
}

// ---------------------------------------------------------------------------------------------------------------
// Snapshots

bool Applier::restore(const raft::Snapshot& snapshot) {
  if (snapshot.index <= applied_index_) return false;  // we are already past it
  const auto started = std::chrono::steady_clock::now();
  if (!store_.restore(*snapshot.data)) {
    // The bytes passed a checksum (on disk) or came whole from the leader: failing here is a bug, not bad input.
    throw std::runtime_error(fmt::format("snapshot at index {} does not decode", snapshot.index));
  }
  applied_index_ = snapshot.index;
  applied_term_ = snapshot.term;
  last_snapshot_index_ = snapshot.index;
  log_->info("state machine restored from the snapshot at {} (term {}, {} keys) in {} ms", snapshot.index,
             snapshot.term, store_.size(),
             std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started).count());
  return true;
}

void Applier::maybe_snapshot() {
  // Never more often than once per as many entries as there are keys: a snapshot costs time in proportion to the
  // store, so this keeps its cost per applied entry constant however large the store grows.
  // Replicas apply the same entries, so without a nudge they would all snapshot at once (and all pause at once):
  // each takes its turn a little later than the one before.
  std::uint64_t every = std::max<std::uint64_t>(snapshot_every_entries_, store_.size());
  every += every / 8 * (stagger_ % 4);
  if (snapshot_every_entries_ == 0 || applied_index_ < last_snapshot_index_ + every) return;
  start_snapshot();
}

void Applier::start_snapshot() {
  serialize_started_ = std::chrono::steady_clock::now();
  last_snapshot_index_ = applied_index_;
  serializing_ = std::make_shared<raft::Snapshot>(raft::Snapshot{applied_index_, applied_term_, nullptr});
  if (!snapshot_thread_) {
    *serializing_ = raft::make_snapshot(serializing_->index, serializing_->term, store_.serialize());
    snapshot_done();
    return;
  }
  // The store is read on the snapshot thread while this thread only reads it too (the gateway's gets): nothing
  // writes it until snapshot_done().
  serialized_ = std::make_shared<std::atomic<bool>>(false);
  asio::post(*snapshot_thread_, [this, snapshot = serializing_, done = serialized_,
                                 work = asio::make_work_guard(inbox_.executor())]() mutable {
    *snapshot = raft::make_snapshot(snapshot->index, snapshot->term, store_.serialize());
    done->store(true);
    asio::post(work.get_executor(), [this] { inbox_.try_send(SnapshotSerialized{}); });
  });
}

void Applier::snapshot_done() {
  if (!serializing_ || (serialized_ && !serialized_->load())) return;
  raft::Snapshot snapshot = std::move(*serializing_);
  serializing_.reset();
  serialized_.reset();
  log_->info("snapshot at {}: {} keys, {} bytes, serialized in {} ms", snapshot.index, store_.size(),
             snapshot.data->size(),
             std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                   serialize_started_)
                 .count());
  for (std::uint64_t id : backups_waiting_) backups_ready_.push_back(BackupTaken{id, snapshot});
  backups_waiting_.clear();
  node_.try_send(SnapshotTaken{std::move(snapshot)});
}

asio::awaitable<bool> Applier::send_backups() {
  while (!backups_ready_.empty()) {
    GatewayInbox out = std::move(backups_ready_.front());
    backups_ready_.pop_front();
    if (!co_await gateway_.send(out)) co_return false;
  }
  co_return true;
}

}  // namespace coraft::actors
