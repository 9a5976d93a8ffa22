#include "actors/replica.hpp"

#include "actors/spawn.hpp"

#include <asio/io_context.hpp>

namespace coraft::actors {

Replica::Replica(asio::io_context& io, Clock& clock, const StorageSetup& storage, Rng rng, ReplicaOptions options,
                 Logger log)
    : io_(io),
      options_(std::move(options)),
      log_(std::move(log)),
      node_inbox_(io.get_executor(), options_.mailbox_capacity, "node"),
      timer_inbox_(io.get_executor(), 64, "election-timer"),
      applier_inbox_(io.get_executor(), options_.mailbox_capacity, "applier"),
      gateway_inbox_(io.get_executor(), options_.mailbox_capacity, "gateway"),
      storage_inbox_(io.get_executor(), options_.mailbox_capacity, "storage"),
      kv_api_inbox_(io.get_executor(), options_.mailbox_capacity, "kv-api"),
      outbox_(io.get_executor(), options_.mailbox_capacity, "bridge"),
      http_outbox_(io.get_executor(), options_.mailbox_capacity, "http-edge"),
      storage_(storage_inbox_, node_inbox_, clock, io, storage, gateway_inbox_, log_),
      node_(node_inbox_, RaftNode::Outboxes{timer_inbox_, applier_inbox_, gateway_inbox_, outbox_, storage_inbox_}, clock,
            storage_.recovered(), options_, log_),
      timer_(timer_inbox_, node_inbox_, clock, rng.fork(1), options_.timing, log_),
      applier_(applier_inbox_, gateway_inbox_, node_inbox_, kv_api_inbox_, store_, options_.snapshot_every_entries,
               options_.background_snapshots, options_.self.value, log_),
      gateway_(gateway_inbox_, Gateway::Outboxes{node_inbox_, applier_inbox_, outbox_, kv_api_inbox_, storage_inbox_, http_outbox_},
               clock, options_, log_),
      kv_api_(kv_api_inbox_, KvApi::Outboxes{gateway_inbox_, applier_inbox_, http_outbox_}, clock, rng.fork(2), options_,
              log_) {}

void Replica::start() {
  const std::string id = options_.self.str();
  auto on_exit = [this] { --live_actors_; };
  live_actors_ = 6;
  spawn(io_.get_executor(), id + "/storage", storage_.run(), on_exit);
  spawn(io_.get_executor(), id + "/node", node_.run(), on_exit);
  spawn(io_.get_executor(), id + "/election-timer", timer_.run(), on_exit);
  spawn(io_.get_executor(), id + "/applier", applier_.run(), on_exit);
  spawn(io_.get_executor(), id + "/gateway", gateway_.run(), on_exit);
  spawn(io_.get_executor(), id + "/kv-api", kv_api_.run(), on_exit);
}

void Replica::stop() {
  node_inbox_.close();
  timer_inbox_.close();
  applier_inbox_.close();
  gateway_inbox_.close();
  storage_inbox_.close();
  kv_api_inbox_.close();
  outbox_.close();
  http_outbox_.close();
}

bool Replica::hand_over() { return node_inbox_.try_send(TransferRequest{kHandOverBeforeStop, raft::kNoNode}); }

bool Replica::deliver(raft::PeerMessage message) { return node_inbox_.try_send(PeerReceived{std::move(message)}); }

bool Replica::deliver(ClientRequest request) {
  return gateway_inbox_.try_send(ClientRequestReceived{std::move(request)});
}

bool Replica::deliver(ApiCallReceived call) { return kv_api_inbox_.try_send(std::move(call)); }

bool Replica::deliver(ForwardAnswered answered) { return kv_api_inbox_.try_send(std::move(answered)); }

}  // namespace coraft::actors
