// The gateway alone under simulated time, the test playing its node and its applier: the order in which it answers
// a put and a get that are under way together.

#include "actors/gateway.hpp"
#include "actors/logger.hpp"
#include "actors/sim_world.hpp"
#include "actors/spawn.hpp"

#include <asio/io_context.hpp>
#include <catch2/catch.hpp>

using namespace coraft;
using namespace coraft::actors;

namespace {

struct Rig {
  Rig() {
    world.add_context(io);
    clock = world.make_clock(io);
    options.self = raft::NodeId{1};
    gateway = std::make_unique<Gateway>(inbox, Gateway::Outboxes{node, applier, bridge, kv_api, storage, http}, *clock,
                                        options, make_logger("0001", clock.get()));
    spawn(io.get_executor(), "gateway", gateway->run());
    give(LeaderChanged{raft::Role::kLeader, 2, options.self, 1});
  }
  ~Rig() {
    inbox.close();
    world.run_until_idle();
  }
  template <class Message>
  void give(Message message) {
    REQUIRE(inbox.try_send(GatewayInbox{std::move(message)}));
  }
  void request(std::string mid, RequestKind kind, std::string key, std::string value = {}) {
    ClientRequest r;
    r.client = raft::NodeId{0x2010};
    r.mid = std::move(mid);
    r.kind = kind;
    r.key = std::move(key);
    r.value = std::move(value);
    give(ClientRequestReceived{std::move(r)});
  }
  // The first message of type T the gateway sent to `mailbox` (others are dropped).
  template <class T, class Box>
  T take(Box& mailbox) {
    while (auto message = mailbox.try_receive()) {
      if (auto* wanted = std::get_if<T>(&*message)) return std::move(*wanted);
    }
    FAIL("no such message");
    return {};
  }
  // The replies the gateway sent since the last call, in order: each one's MID, and "=value" if it carries one.
  std::vector<std::string> replies() {
    std::vector<std::string> mids;
    while (auto message = bridge.try_receive()) {
      if (auto* reply = std::get_if<SendClientReply>(&*message)) {
        mids.push_back(reply->reply.mid + (reply->reply.value ? "=" + *reply->reply.value : ""));
      }
    }
    return mids;
  }

  asio::io_context io;
  SimWorld world;
  std::unique_ptr<Clock> clock;
  GatewayMailbox inbox{io.get_executor(), 64, "gateway"};
  NodeMailbox node{io.get_executor(), 64, "node"};
  ApplierMailbox applier{io.get_executor(), 64, "applier"};
  BridgeMailbox bridge{io.get_executor(), 64, "bridge"};
  KvApiMailbox kv_api{io.get_executor(), 64, "kv api"};
  StorageMailbox storage{io.get_executor(), 64, "storage"};
  HttpEdgeMailbox http{io.get_executor(), 64, "http"};
  ReplicaOptions options;
  std::unique_ptr<Gateway> gateway;
};

}  // namespace

TEST_CASE("a put answered at commit does not overtake a get that reads the state before it", "[gateway][actors]") {
  // A get's confirmation (read index 4) and the commit of a put beside it (index 5) reach the gateway together. The
  // get is served at index 4, before the put: its answer must leave first, since a client that has the put's `ok`
  // expects to read the put (the course simulator checks exactly that).
  Rig rig;
  rig.give(EntriesApplied{{}, 4, 2, 1, false});
  rig.request("put", RequestKind::kPut, "k", "new");
  rig.request("get", RequestKind::kGet, "k");
  rig.world.run_until_idle();
  const auto proposal = rig.take<ProposeCommands>(rig.node);
  REQUIRE(proposal.commands.size() == 1);
  rig.give(ProposalOutcome{proposal.proposal_id, true, 5, 2, rig.options.self});
  rig.world.run_until_idle();
  const auto read = rig.take<RequestRead>(rig.node);
  rig.give(ReadOutcome{read.read_id, true, 4, rig.options.self});
  rig.give(WritesCommitted{2, 5});
  rig.world.run_until_idle();
  const auto values = rig.take<ReadValues>(rig.applier);
  REQUIRE(values.keys == std::vector<std::string>{"k"});
  const auto early = rig.replies();
  rig.give(ValuesRead{values.batch_id, {std::string("old")}});
  rig.give(EntriesApplied{{AppliedCommand{5, 2, kv::Result{}}}, 5, 2, 1, false});
  rig.world.run_until_idle();
  std::vector<std::string> order = early;
  for (auto& mid : rig.replies()) order.push_back(mid);
  CHECK(order == std::vector<std::string>{"get=old", "put"});
}

TEST_CASE("with no read under way, a put is answered at its commit, before it is applied", "[gateway][actors]") {
  Rig rig;
  rig.give(EntriesApplied{{}, 4, 2, 1, false});
  rig.request("put", RequestKind::kPut, "k", "new");
  rig.world.run_until_idle();
  const auto proposal = rig.take<ProposeCommands>(rig.node);
  rig.give(ProposalOutcome{proposal.proposal_id, true, 5, 2, rig.options.self});
  rig.give(WritesCommitted{2, 5});
  rig.world.run_until_idle();
  CHECK(rig.replies() == std::vector<std::string>{"put"});
  CHECK(rig.gateway->metrics().answered_at_commit == 1);
}
