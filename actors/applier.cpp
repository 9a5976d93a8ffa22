#include "actors/applier.hpp"

#include <fmt/format.h>

#include <algorithm>

#include <stdexcept>

namespace coraft::actors {

Applier::Applier(ApplierMailbox& inbox, GatewayMailbox& gateway, NodeMailbox& node, kv::Store& store,
                 std::uint64_t snapshot_every_entries, Logger log)
    : inbox_(inbox),
      gateway_(gateway),
      node_(node),
      store_(store),
      snapshot_every_entries_(snapshot_every_entries),
      log_(std::move(log)) {}

asio::awaitable<void> Applier::run() {
  while (auto message = co_await inbox_.receive()) {
    EntriesApplied applied;
    if (auto* batch = std::get_if<ApplyCommitted>(&*message)) {
      apply(*batch, applied);
    } else {
      restore(std::get<RestoreFromSnapshot>(*message).snapshot);
    }
    applied.applied_index = applied_index_;
    applied.applied_term = applied_term_;
    GatewayInbox out = std::move(applied);
    if (!co_await gateway_.send(out)) break;
    node_.try_send(AppliedThrough{applied_index_});
    maybe_snapshot();
  }
}

void Applier::apply(const ApplyCommitted& batch, EntriesApplied& applied) {
  for (const raft::EntryPtr& entry : batch.entries) {
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
    } else {
      // Every replica fails the same way on the same entry, so skipping it keeps them identical.
      log_->error("undecodable command at index {} skipped", entry->index);
      result = kv::Result{kv::Status::kOk, std::nullopt};
    }
    applied.commands.push_back(AppliedCommand{entry->index, entry->term, std::move(result)});
  }
}

void Applier::restore(const raft::Snapshot& snapshot) {
  if (snapshot.index <= applied_index_) return;  // we are already past it
  if (!store_.restore(*snapshot.data)) {
    // The bytes passed a checksum (on disk) or came whole from the leader: failing here is a bug, not bad input.
    throw std::runtime_error(fmt::format("snapshot at index {} does not decode", snapshot.index));
  }
  applied_index_ = snapshot.index;
  applied_term_ = snapshot.term;
  last_snapshot_index_ = snapshot.index;
  log_->info("state machine restored from the snapshot at {} (term {}, {} keys)", snapshot.index, snapshot.term,
             store_.size());
}

void Applier::maybe_snapshot() {
  // Never more often than once per as many entries as there are keys: a snapshot costs time in proportion to the
  // store, so this keeps its cost per applied entry constant however large the store grows.
  const std::uint64_t every = std::max<std::uint64_t>(snapshot_every_entries_, store_.size());
  if (snapshot_every_entries_ == 0 || applied_index_ < last_snapshot_index_ + every) return;
  raft::Snapshot snapshot{applied_index_, applied_term_, std::make_shared<const std::string>(store_.serialize())};
  last_snapshot_index_ = applied_index_;
  log_->debug("snapshot at {} ({} bytes)", snapshot.index, snapshot.data->size());
  node_.try_send(SnapshotTaken{std::move(snapshot)});
}

}  // namespace coraft::actors
