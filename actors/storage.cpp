#include "actors/storage.hpp"

#include "actors/hop_trace.hpp"
#include "actors/local_executor.hpp"

#include <asio/post.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>

#include <chrono>

namespace coraft::actors {
namespace {

constexpr Millis kNoticeRetry{1};

}  // namespace

Storage::Storage(StorageMailbox& inbox, NodeMailbox& node, Clock& clock, asio::io_context& io,
                 const StorageSetup& setup, GatewayMailbox& gateway, Logger log)
    : inbox_(inbox),
      node_(node),
      gateway_(gateway),
      log_(std::move(log)),
      retry_timer_(clock, [this](std::uint64_t generation) { inbox_.try_send(StorageWake{generation}); }) {
  const auto started = std::chrono::steady_clock::now();
  disk_ = std::make_unique<raft::DiskStorage>(*setup.fs, setup.options);
  recovery_ms_ = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
  if (!setup.log_worker) own_log_worker_ = make_thread_worker(io);
  if (!setup.snapshot_worker) own_snapshot_worker_ = make_thread_worker(io);
  if (!setup.log_worker && !setup.inline_worker) own_inline_worker_ = make_inline_worker();
  log_worker_ = setup.log_worker ? setup.log_worker : own_log_worker_.get();
  snapshot_worker_ = setup.snapshot_worker ? setup.snapshot_worker : own_snapshot_worker_.get();
  inline_worker_ = setup.inline_worker ? setup.inline_worker : own_inline_worker_ ? own_inline_worker_.get() : log_worker_;
}

Storage::~Storage() { retry_timer_.disarm(); }

asio::awaitable<void> Storage::run() {
  while (auto message = co_await inbox_.receive()) {
    // A burst at once: everything queued goes into the next job.
    handle(*message);
    take_in_queued();
    if (!writing_ && !queued_.empty() && !queued_may_block_ && unsynced()) {
      // A leader's unsynced write, done inline: the appends the node handed out just before it are on their way to
      // the bridge, and one turn of the event loop lets them reach the socket first. (A synced write goes to the disk
      // thread at once: that thread's wake-up is the longer wait, and on a busy machine the later it is asked for,
      // the later it runs.)
      co_await asio::post(event_loop(co_await asio::this_coro::executor), asio::use_awaitable);
      take_in_queued();
    }
    start_writing();
    take_finished();  // an inline write is already done: tell the node in this same turn
    notify_node();
  }
  retry_timer_.disarm();
}

void Storage::handle(StorageInbox& message) {
  if (auto* write = std::get_if<StorageWrite>(&message)) {
    queued_may_block_ = queued_may_block_ && write->may_block_replica;
    queued_.emplace_back(write->seq, std::move(write->change));
  } else if (auto* snapshot = std::get_if<StorageSnapshot>(&message)) {
    // Written beside the log's writes (it may take a while); it joins the log's order once it is on disk.
    auto prepared = std::make_shared<raft::PreparedSnapshot>();
    snapshot_worker_->submit(
        [disk = disk_.get(), prepared, snapshot = std::move(snapshot->snapshot)] {
          *prepared = disk->prepare_snapshot(snapshot);
        },
        [this, prepared](std::exception_ptr failure) {
          finished_.push_back(Finished{Finished::Kind::kPrepared, 0, 0, 0, prepared, failure});
          wake();
        });
  } else if (auto* report = std::get_if<ReportMetrics>(&message)) {
    MetricsReport answer{report->collection_id, report->slot, {}};
    metrics_.render(answer.text, report->labels);
    gateway_.try_send(std::move(answer));
  } else if (auto* discard = std::get_if<StorageDiscard>(&message)) {
    snapshot_worker_->submit([garbage = std::move(discard->entries)]() mutable { garbage.clear(); },
                             [](std::exception_ptr) {});
  }
}

void Storage::take_in_queued() {
  while (auto more = inbox_.try_receive()) handle(*more);
  take_finished();
}

void Storage::take_finished() {
  for (auto& done : finished_) {
    // Never acknowledge what could not be written: the replica stops (kvstore exits with status 3).
    if (done.failure) std::rethrow_exception(done.failure);
    if (done.kind == Finished::Kind::kPrepared) {
      queued_.emplace_back(0, std::move(*done.prepared));
      continue;
    }
    writing_ = false;
    durable_seq_ = std::max(durable_seq_, done.seq);
    if (done.last_index != 0) {
      last_index_ = done.last_index;
      last_term_ = done.last_term;
    }
  }
  finished_.clear();
}

void Storage::start_writing() {
  if (writing_ || queued_.empty()) return;
  // Consecutive writes merge into one (one sync for all of them); an adoption keeps its place between them.
  auto steps = std::make_shared<std::vector<Step>>();
  Finished outcome{Finished::Kind::kWrite, durable_seq_, 0, 0, nullptr, nullptr};
  auto stats = std::make_shared<WriteStats>();
  for (auto& [seq, step] : queued_) {
    if (auto* change = std::get_if<raft::Persist>(&step)) {
      outcome.seq = seq;
      stats->entries += change->entries.size();
      if (!change->entries.empty()) {
        outcome.last_index = change->entries.back()->index;
        outcome.last_term = change->entries.back()->term;
      }
      if (steps->empty() || !std::holds_alternative<raft::Persist>(steps->back())) steps->emplace_back(raft::Persist{});
      raft::merge_persist(std::get<raft::Persist>(steps->back()), std::move(*change));
    } else {
      steps->push_back(std::move(step));
    }
  }
  queued_.clear();
  // Without fsync a write only reaches the page cache, in microseconds: a hand-off to the disk thread would cost more
  // (a thread wake-up) than the write itself.
  DiskWorker& worker = queued_may_block_ || unsynced() ? *inline_worker_ : *log_worker_;
  queued_may_block_ = true;
  writing_ = true;
  worker.submit(
      [disk = disk_.get(), steps, stats, last = outcome.last_index] {
        hop_trace::mark("write_begin", last);
        const auto started = std::chrono::steady_clock::now();
        for (const Step& step : *steps) {
          if (const auto* change = std::get_if<raft::Persist>(&step)) disk->persist(*change);
          else disk->adopt_snapshot(std::get<raft::PreparedSnapshot>(step));
        }
        stats->seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        hop_trace::mark("write_done", last);
      },
      [this, outcome, stats](std::exception_ptr failure) mutable {
        outcome.failure = failure;
        if (!failure) {
          ++metrics_.storage_writes;
          metrics_.entries_per_write.observe(static_cast<double>(stats->entries));
          metrics_.write_seconds.observe(stats->seconds);
        }
        finished_.push_back(std::move(outcome));
        wake();
      });
}

void Storage::notify_node() {
  if (durable_seq_ <= notified_seq_) return;
  if (node_.try_send(StorageDurable{durable_seq_, last_index_, last_term_})) {
    notified_seq_ = durable_seq_;
    retry_timer_.disarm();
  } else if (!retry_timer_.armed()) {
    retry_timer_.arm_after(kNoticeRetry);  // the node is busy; it must hear of this write all the same
  }
}

}  // namespace coraft::actors
