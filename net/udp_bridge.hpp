#pragma once
// The UDP bridge: the replica's edge to the network. Two coroutines, one wait point each:
//   receive loop: socket -> decode -> Replica::deliver (peer messages to the node, requests to the gateway);
//                 malformed, oversized, unknown or foreign datagrams are counted by reason and dropped (debug log);
//   send loop:    replica outbox -> encode (leader stamped on every message; AppendEntries split to fit) -> socket.
// Course mode sends every datagram to the simulator's port; cluster mode sends to peers' configured addresses and
// answers clients at their source address.
// Shutdown: the send loop ends when the outbox closes; the receive loop when the socket closes.

#include "actors/log.hpp"
#include "actors/replica.hpp"
#include "net/codec.hpp"

#include <asio/ip/udp.hpp>

#include <array>
#include <map>

namespace coraft::net {

struct Addressing {
  bool course_mode = false;
  asio::ip::udp::endpoint simulator;                         // course mode: everything goes here
  std::map<raft::NodeId, asio::ip::udp::endpoint> replicas;  // cluster mode: every member, self included
};

struct BridgeStats {
  std::uint64_t received = 0;
  std::uint64_t sent = 0;
  std::array<std::uint64_t, kDropReasons> dropped{};
  std::uint64_t not_member = 0;     // peer messages from ids outside the cluster, or not addressed to us
  std::uint64_t inbox_full = 0;     // dropped because an actor's mailbox was full
  std::uint64_t send_errors = 0;
};

actors::ReplyAddress to_reply_address(const asio::ip::udp::endpoint& endpoint);
asio::ip::udp::endpoint to_endpoint(const actors::ReplyAddress& address);

class UdpBridge {
 public:
  UdpBridge(asio::ip::udp::socket& socket, actors::Replica& replica, Addressing addressing, actors::Logger log);

  asio::awaitable<void> receive_loop();
  asio::awaitable<void> send_loop();
  // Sends one datagram now (the course mode's hello).
  void send_raw(const std::string& datagram, const asio::ip::udp::endpoint& to);

  const BridgeStats& stats() const { return stats_; }
  // Appends the datagram counters in Prometheus text format (part of the replica's metrics).
  void render_metrics(std::string& out) const;

 private:
  void on_datagram(std::string_view datagram, const asio::ip::udp::endpoint& from);
  void send_message(actors::BridgeInbox& message);
  bool is_member(raft::NodeId id) const;

  asio::ip::udp::socket& socket_;
  actors::Replica& replica_;
  Addressing addressing_;
  actors::Logger log_;
  raft::NodeId self_;
  raft::NodeId leader_;
  BridgeStats stats_;
};

}  // namespace coraft::net
