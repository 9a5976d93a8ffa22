#include "net/udp_bridge.hpp"

#include "raft/overloaded.hpp"

#include <asio/use_awaitable.hpp>
#include <fmt/format.h>

#include <algorithm>

namespace coraft::net {
namespace {
constexpr int kMaxDrain = 256;  // datagrams read per wake-up before yielding to the actors
}  // namespace

actors::ReplyAddress to_reply_address(const asio::ip::udp::endpoint& endpoint) {
  actors::ReplyAddress a;
  a.valid = true;
  a.port = endpoint.port();
  if (endpoint.address().is_v6()) {
    a.v6 = true;
    const auto bytes = endpoint.address().to_v6().to_bytes();
    std::copy(bytes.begin(), bytes.end(), a.bytes.begin());
  } else {
    const auto bytes = endpoint.address().to_v4().to_bytes();
    std::copy(bytes.begin(), bytes.end(), a.bytes.begin());
  }
  return a;
}

asio::ip::udp::endpoint to_endpoint(const actors::ReplyAddress& a) {
  if (a.v6) {
    asio::ip::address_v6::bytes_type bytes;
    std::copy(a.bytes.begin(), a.bytes.end(), bytes.begin());
    return {asio::ip::address_v6(bytes), a.port};
  }
  asio::ip::address_v4::bytes_type bytes;
  std::copy(a.bytes.begin(), a.bytes.begin() + 4, bytes.begin());
  return {asio::ip::address_v4(bytes), a.port};
}

UdpBridge::UdpBridge(asio::ip::udp::socket& socket, actors::Replica& replica, Addressing addressing,
                     actors::Logger log)
    : socket_(socket),
      replica_(replica),
      addressing_(std::move(addressing)),
      log_(std::move(log)),
      self_(replica.options().self) {
  socket_.non_blocking(true);
}

bool UdpBridge::is_member(raft::NodeId id) const {
  const auto& peers = replica_.options().peers;
  return std::find(peers.begin(), peers.end(), id) != peers.end();
}

asio::awaitable<void> UdpBridge::receive_loop() {
  std::vector<char> buffer(kMaxDatagramBytes + 1);
  asio::ip::udp::endpoint from;
  for (;;) {
    auto [error, bytes] = co_await socket_.async_receive_from(asio::buffer(buffer), from,
                                                              asio::experimental::as_tuple(asio::use_awaitable));
    if (error == asio::error::operation_aborted || !socket_.is_open()) co_return;
    if (error) {
      log_->debug("receive error: {}", error.message());
      continue;
    }
    ++stats_.received;
    on_datagram(std::string_view(buffer.data(), bytes), from);
    // Take whatever else is already queued in the socket before yielding: the gateway and the node then see a
    // burst and batch it (one proposal, one write, one sync) instead of one wake-up per datagram.
    for (int more = 0; more < kMaxDrain; ++more) {
      asio::error_code again;
      const std::size_t n = socket_.receive_from(asio::buffer(buffer), from, 0, again);
      if (again) break;  // would block: nothing more for now
      ++stats_.received;
      on_datagram(std::string_view(buffer.data(), n), from);
    }
  }
}

void UdpBridge::on_datagram(std::string_view datagram, const asio::ip::udp::endpoint& from) {
  auto decoded = decode(datagram);
  if (auto* reason = std::get_if<DropReason>(&decoded)) {
    ++stats_.dropped[static_cast<std::size_t>(*reason)];
    log_->debug("dropped a {}-byte datagram from {}:{}: {}", datagram.size(), from.address().to_string(), from.port(),
                drop_reason_name(*reason));
    return;
  }
  std::visit(Overloaded{
                 [&](PeerDatagram& d) {
                   if (d.envelope.dst != self_ || !is_member(d.envelope.src)) {
                     ++stats_.not_member;
                     log_->debug("dropped {}: not a member or not for us", raft::describe(d.message));
                     return;
                   }
                   if (!replica_.deliver(std::move(d.message))) ++stats_.inbox_full;
                 },
                 [&](RequestDatagram& d) {
                   if (!addressing_.course_mode) d.request.reply_to = to_reply_address(from);
                   if (!replica_.deliver(std::move(d.request))) ++stats_.inbox_full;
                 },
                 [&](ReplyDatagram&) {
                   ++stats_.dropped[static_cast<std::size_t>(DropReason::kUnknownType)];
                   log_->debug("dropped a reply addressed to a replica");
                 },
                 [&](HelloDatagram&) {},
             },
             std::get<Datagram>(decoded));
}

asio::awaitable<void> UdpBridge::send_loop() {
  while (auto message = co_await replica_.outbox().receive()) {
    send_message(*message);
    // Drain whatever else is ready before waiting again.
    while (auto more = replica_.outbox().try_receive()) send_message(*more);
  }
}

void UdpBridge::send_message(actors::BridgeInbox& message) {
  std::visit(Overloaded{
                 [&](actors::SendPeer& m) {
                   asio::ip::udp::endpoint to = addressing_.simulator;
                   if (!addressing_.course_mode) {
                     auto it = addressing_.replicas.find(m.message.to);
                     if (it == addressing_.replicas.end()) return;
                     to = it->second;
                   }
                   for (const std::string& datagram : encode_peer(m.message, leader_)) send_raw(datagram, to);
                 },
                 [&](actors::SendClientReply& m) {
                   asio::ip::udp::endpoint to = addressing_.simulator;
                   if (!addressing_.course_mode) {
                     if (!m.reply.reply_to.valid) return;
                     to = to_endpoint(m.reply.reply_to);
                   }
                   send_raw(encode_reply(m.reply, self_), to);
                 },
                 [&](actors::AnnounceLeader& m) { leader_ = m.leader; },
             },
             message);
}

void UdpBridge::send_raw(const std::string& datagram, const asio::ip::udp::endpoint& to) {
  asio::error_code error;
  socket_.send_to(asio::buffer(datagram), to, 0, error);
  if (error) {
    ++stats_.send_errors;
    log_->debug("send of {} bytes to {}:{} failed: {}", datagram.size(), to.address().to_string(), to.port(),
                error.message());
    return;
  }
  ++stats_.sent;
}

void UdpBridge::render_metrics(std::string& out) const {
  const std::string id = fmt::format("replica=\"{}\"", self_.str());
  actors::append_header(out, "coraft_datagrams_received_total", "counter", "UDP datagrams received");
  actors::append_sample(out, "coraft_datagrams_received_total", id, static_cast<double>(stats_.received));
  actors::append_header(out, "coraft_datagrams_sent_total", "counter", "UDP datagrams sent");
  actors::append_sample(out, "coraft_datagrams_sent_total", id, static_cast<double>(stats_.sent));
  actors::append_header(out, "coraft_datagrams_dropped_total", "counter", "Datagrams dropped, by reason");
  for (int r = 0; r < kDropReasons; ++r) {
    actors::append_sample(out, "coraft_datagrams_dropped_total",
                          fmt::format("{},reason=\"{}\"", id, drop_reason_name(static_cast<DropReason>(r))),
                          static_cast<double>(stats_.dropped[static_cast<std::size_t>(r)]));
  }
  actors::append_sample(out, "coraft_datagrams_dropped_total", id + ",reason=\"not_member\"",
                        static_cast<double>(stats_.not_member));
  actors::append_sample(out, "coraft_datagrams_dropped_total", id + ",reason=\"inbox_full\"",
                        static_cast<double>(stats_.inbox_full));
  actors::append_header(out, "coraft_send_errors_total", "counter", "Datagrams the socket refused to send");
  actors::append_sample(out, "coraft_send_errors_total", id, static_cast<double>(stats_.send_errors));
}

}  // namespace coraft::net
