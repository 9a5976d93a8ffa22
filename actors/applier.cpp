#include "actors/applier.hpp"

#include <fmt/format.h>

#include <stdexcept>

namespace coraft::actors {

Applier::Applier(ApplierMailbox& inbox, GatewayMailbox& gateway, NodeMailbox& node, kv::Store& store, Logger log)
    : inbox_(inbox), gateway_(gateway), node_(node), store_(store), log_(std::move(log)) {}

asio::awaitable<void> Applier::run() {
  while (auto message = co_await inbox_.receive()) {
    auto& batch = std::get<ApplyCommitted>(*message);
    EntriesApplied applied;
    for (const raft::EntryPtr& entry : batch.entries) {
      if (entry->index <= applied_index_) continue;  // already applied
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
    applied.applied_index = applied_index_;
    applied.applied_term = applied_term_;
    GatewayInbox out = std::move(applied);
    if (!co_await gateway_.send(out)) break;
    node_.try_send(AppliedThrough{applied_index_});
  }
}

}  // namespace coraft::actors
