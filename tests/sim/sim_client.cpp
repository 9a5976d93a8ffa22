#include "sim_client.hpp"

#include "actors/spawn.hpp"
#include "sim_cluster.hpp"

#include <asio/io_context.hpp>
#include <fmt/format.h>

namespace coraft::test {

SimClient::SimClient(SimCluster& cluster, raft::NodeId id, const ClientOptions& options, actors::Rng rng,
                     std::uint64_t max_ops)
    : cluster_(cluster),
      id_(id),
      options_(options),
      rng_(rng),
      max_ops_(max_ops),
      inbox_(cluster.clients_io_->get_executor(), 1024, "client-" + id.str()),
      timer_(*cluster.clients_clock_, [this](std::uint64_t generation) { inbox_.try_send(TimerFired{generation}); }) {}

void SimClient::start() {
  target_ = random_replica();
  actors::spawn(cluster_.clients_io_->get_executor(), "client-" + id_.str(), run());
}

void SimClient::retarget(int slot) {
  target_ = slot;
  burst_reads_ = 0;
  if (in_operation_ && options_.sessions) inbox_.try_send(Resend{});
}

int SimClient::random_replica() { return static_cast<int>(rng_.between(0, static_cast<std::uint64_t>(cluster_.size() - 1))); }

Operation SimClient::random_operation() {
  Operation op;
  op.client = id_.value;
  op.key = fmt::format("k{}", rng_.between(0, static_cast<std::uint64_t>(options_.keys - 1)));
  const double dice = rng_.unit();
  if (burst_reads_ > 0) {
    --burst_reads_;
    op.kind = OpKind::kGet;
  } else if (dice < options_.read_fraction) {
    op.kind = OpKind::kGet;
  } else if (dice < options_.read_fraction + options_.cas_fraction) {
    op.kind = OpKind::kCas;
    // Expect the value most recently written by anyone we know of: often right, sometimes stale.
    for (auto it = history_.rbegin(); it != history_.rend(); ++it) {
      if (it->key == op.key && it->completed) {
        op.expected = it->kind == OpKind::kGet ? it->read : std::optional<std::string>(it->value);
        break;
      }
    }
    op.value = fmt::format("{}-{}", id_.str(), ++value_counter_);
  } else if (dice < options_.read_fraction + options_.cas_fraction + options_.delete_fraction) {
    op.kind = OpKind::kDelete;
  } else {
    op.kind = OpKind::kPut;
    op.value = fmt::format("{}-{}", id_.str(), ++value_counter_);
  }
  return op;
}

void SimClient::send_attempt(const Operation& op) {
  actors::ClientRequest request;
  request.client = id_;
  request.mid = fmt::format("{}-{}-{}", id_.str(), seq_, ++attempt_);
  request.kind = op.kind == OpKind::kGet      ? actors::RequestKind::kGet
                 : op.kind == OpKind::kPut    ? actors::RequestKind::kPut
                 : op.kind == OpKind::kDelete ? actors::RequestKind::kDelete
                                              : actors::RequestKind::kCas;
  request.key = op.key;
  request.value = op.value;
  request.expected = op.expected;
  if (op.kind != OpKind::kGet && options_.sessions) request.session = kv::SessionRef{0x10000u + id_.value, seq_};
  cluster_.send_request(target_, std::move(request));
  timer_.arm_after(options_.attempt_timeout);
}

asio::awaitable<void> SimClient::run() {
  while (!stopping_ && completed_ < max_ops_) {
    // Think, then invoke the next operation (at once in a burst of reads).
    timer_.arm_after(burst_reads_ > 0 ? actors::Micros(50) : options_.think_time);
    for (;;) {
      auto message = co_await inbox_.receive();
      if (!message) co_return;
      if (auto* fired = std::get_if<TimerFired>(&*message); fired && timer_.is_current(fired->generation)) break;
    }
    if (stopping_) break;
    Operation op = random_operation();
    op.invoked_us = cluster_.world().now().time_since_epoch().count();
    ++seq_;
    history_.push_back(op);
    in_operation_ = true;
    send_attempt(op);
    const std::string mid_prefix = fmt::format("{}-{}-", id_.str(), seq_);
    while (in_operation_) {
      auto message = co_await inbox_.receive();
      if (!message) co_return;
      if (std::holds_alternative<Resend>(*message)) {
        send_attempt(op);
        continue;
      }
      if (auto* fired = std::get_if<TimerFired>(&*message)) {
        if (!timer_.is_current(fired->generation)) continue;
        target_ = random_replica();  // silence: try someone else
        if (!options_.sessions) {
          in_operation_ = false;  // a client without a session never repeats an unanswered request
          break;
        }
        send_attempt(op);
        continue;
      }
      auto& reply = std::get<actors::ClientReply>(*message);
      if (reply.mid.rfind(mid_prefix, 0) != 0) continue;  // a late answer to an earlier operation
      if (reply.kind == actors::ReplyKind::kOk) {
        Operation& done = history_.back();
        done.completed = true;
        done.completed_us = cluster_.world().now().time_since_epoch().count();
        done.status = reply.status;
        done.read = reply.value;
        ++completed_;
        in_operation_ = false;
        timer_.disarm();
        break;
      }
      // Only the answer to the newest attempt steers the next one; older redirects are stale news.
      if (reply.mid != fmt::format("{}{}", mid_prefix, attempt_)) continue;
      if (reply.kind == actors::ReplyKind::kRedirect && reply.leader.valid() && cluster_.slot_of(reply.leader) >= 0 &&
          cluster_.slot_of(reply.leader) != target_) {
        target_ = cluster_.slot_of(reply.leader);
      } else {
        target_ = random_replica();
      }
      send_attempt(op);
    }
  }
  finished_ = true;
}

}  // namespace coraft::test
