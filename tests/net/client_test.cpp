// The client library: a session must be new in every run, whatever seed the caller chose; sessions that share a
// socket (real loopback sockets here) each get their own answers, and hear of refusals.

#include "net/batched_udp.hpp"
#include "net/client.hpp"
#include "net/codec.hpp"

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <catch2/catch.hpp>

#include <array>
#include <chrono>
#include <memory>
#include <set>

using namespace coraft;

TEST_CASE("clients made from the same seed still get sessions of their own", "[net][client][session]") {
  // kvbench --seed 7 twice against one cluster: had the sessions repeated, the second run's writes would have been
  // answered from the session table instead of being applied, and it would have measured nothing.
  asio::io_context io;
  const std::map<raft::NodeId, asio::ip::udp::endpoint> replicas{
      {raft::NodeId{0}, asio::ip::udp::endpoint(asio::ip::make_address("127.0.0.1"), 9)}};
  net::Client first(io, replicas, actors::Rng(7), net::ClientSettings{});
  net::Client second(io, replicas, actors::Rng(7), net::ClientSettings{});
  CHECK(first.session() != 0);
  CHECK(second.session() != 0);
  CHECK(first.session() != second.session());
}

// ---------------------------------------------------------------------------------------------------------------
// Many sessions over one socket (ClientSocket): each operation's answer reaches the session that asked, whatever
// order the answers come in, and what the sessions send in one turn leaves in one system call.

namespace {

using asio::ip::udp;

// A stand-in replica on a real loopback socket: it collects `batch` requests, then answers them in reverse order
// (a get with its key as the value, anything else ok), after one reply no session asked for. With `bundle`, it packs
// them into one datagram, one per line, as the UDP bridge does for a client that asks for it, and reads requests
// bundled the same way, as the bridge does.
class ReversingReplica {
 public:
  ReversingReplica(asio::io_context& io, std::size_t batch, bool bundle = false)
      : socket_(io, udp::endpoint(asio::ip::make_address("127.0.0.1"), 0)), batch_(batch), bundle_(bundle) {
    receive();
  }
  udp::endpoint endpoint() const { return socket_.local_endpoint(); }
  void close() { socket_.close(); }
  std::size_t datagrams = 0, requests = 0;
  std::size_t asked_for_bundles = 0;
  std::set<raft::NodeId> clients_seen;

 private:
  void receive() {
    socket_.async_receive_from(asio::buffer(buffer_), from_, [this](const asio::error_code& error, std::size_t n) {
      if (error) return;
      ++datagrams;
      std::string_view datagram(buffer_.data(), n);
      REQUIRE((bundle_ || datagram.find('\n') == std::string_view::npos));  // bundles only to a replica that sends them
      net::LineBundles::for_each(datagram, [this](std::string_view line) { take(line); });
      receive();
    });
  }

  void take(std::string_view line) {
    auto decoded = net::decode(line);
    auto* d = std::get_if<net::Datagram>(&decoded);
    auto* request = d ? std::get_if<net::RequestDatagram>(d) : nullptr;
    REQUIRE(request);
    ++requests;
    asked_for_bundles += request->request.reply_to.bundles;
    clients_seen.insert(request->request.client);
    actors::ClientReply reply;
    reply.client = request->request.client;
    reply.mid = request->request.mid;
    reply.kind = actors::ReplyKind::kOk;
    reply.leader = raft::NodeId{0};
    if (request->request.kind == actors::RequestKind::kGet) reply.value = request->request.key;
    pending_.emplace_back(net::encode_reply(reply, raft::NodeId{0}), from_);
    if (pending_.size() == batch_) {
      actors::ClientReply stray;
      stray.client = reply.client;
      stray.mid = "00000000000000ff-1-1";  // a session nobody has
      std::string bundle = net::encode_reply(stray, raft::NodeId{0});
      if (!bundle_) socket_.send_to(asio::buffer(bundle), pending_.back().second);
      for (auto it = pending_.rbegin(); it != pending_.rend(); ++it) {
        if (bundle_) bundle += "\n" + it->first;
        else socket_.send_to(asio::buffer(it->first), it->second);
      }
      if (bundle_) socket_.send_to(asio::buffer(bundle), pending_.back().second);
      pending_.clear();
    }
  }

  udp::socket socket_;
  std::size_t batch_;
  bool bundle_;
  std::array<char, 65536> buffer_{};
  udp::endpoint from_;
  std::vector<std::pair<std::string, udp::endpoint>> pending_;
};

}  // namespace

TEST_CASE("sessions over one socket each get the answer to their own operation", "[net][client][shared]") {
  asio::io_context io(1);
  const std::size_t sessions = GENERATE(1, 5, 16, 40);
  const bool bundled = GENERATE(false, true);
  const int rounds = 3;
  INFO("sessions: " << sessions << (bundled ? ", replies bundled" : ""));
  ReversingReplica replica(io, sessions, bundled);
  const std::map<raft::NodeId, udp::endpoint> replicas{{raft::NodeId{0}, replica.endpoint()}};
  net::ClientSocket shared(io, false);
  std::vector<std::unique_ptr<net::Client>> clients;
  for (std::size_t i = 0; i < sessions; ++i) {
    clients.push_back(std::make_unique<net::Client>(shared, replicas, actors::Rng(i + 1), net::ClientSettings{}));
  }
  std::size_t running = sessions, answered = 0, wrong = 0;
  for (std::size_t i = 0; i < sessions; ++i) {
    asio::co_spawn(io, [&, i]() -> asio::awaitable<void> {
      for (int round = 0; round < rounds; ++round) {
        const std::string key = "key-" + std::to_string(i) + "-" + std::to_string(round);
        net::CallResult r = co_await clients[i]->get(key);
        if (r.outcome == net::Outcome::kOk && r.reply.value == key && r.attempts == 1) ++answered;
        else ++wrong;
      }
      if (--running == 0) {
        shared.close();
        replica.close();
      }
    }, asio::detached);
  }
  io.run();  // returns once both sockets are closed: nothing else keeps it running
  CHECK(running == 0);
  CHECK(wrong == 0);
  CHECK(answered == sessions * rounds);
  CHECK(replica.requests == sessions * rounds);
  CHECK(replica.clients_seen.size() == sessions);  // a client id each: a replica tells clients apart by it
  const net::ClientSocket::Stats& stats = shared.stats();
  CHECK(replica.asked_for_bundles == sessions * rounds);  // sessions on a shared socket take bundled replies
  // A replica that bundled its replies gets the next rounds' requests bundled too: one datagram a round.
  const std::size_t sent = bundled ? sessions + (rounds - 1) : sessions * rounds;
  CHECK(stats.sent == sent);
  CHECK(replica.datagrams == sent);
  CHECK(stats.received == (bundled ? rounds : sessions * rounds + rounds));
  CHECK(stats.replies == sessions * rounds);
  CHECK(stats.unrouted == static_cast<std::uint64_t>(rounds));  // the strays
  // Every session of a round sends in the same turn (the first round) or as the same burst of answers wakes it.
  CHECK(stats.send_calls <= static_cast<std::uint64_t>(rounds) * ((sessions + 15) / 16) + 1);
}

TEST_CASE("sessions over one socket hear at once that nothing listens", "[net][client][shared]") {
  asio::io_context io(1);
  // A port with nothing behind it: bound, then closed.
  udp::endpoint nowhere;
  {
    udp::socket probe(io, udp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    nowhere = probe.local_endpoint();
  }
  const std::map<raft::NodeId, udp::endpoint> replicas{{raft::NodeId{0}, nowhere}};
  net::ClientSettings settings;
  settings.deadline = actors::Millis(20000);
  settings.give_up_when_refused_for = actors::Millis(200);
  net::ClientSocket shared(io, false);
  net::Client a(shared, replicas, actors::Rng(1), settings), b(shared, replicas, actors::Rng(2), settings);
  int nothing_listens = 0, done = 0;
  const auto started = std::chrono::steady_clock::now();
  for (net::Client* client : {&a, &b}) {
    asio::co_spawn(io, [&, client]() -> asio::awaitable<void> {
      const std::string key = "k";
      net::CallResult r = co_await client->get(key);
      if (r.outcome == net::Outcome::kUnavailable && r.nothing_listens) ++nothing_listens;
      if (++done == 2) shared.close();
    }, asio::detached);
  }
  io.run();
  CHECK(nothing_listens == 2);
  // Refusals, not the 20 s deadline, ended it (each attempt waits 300 ms for an answer that a refusal cuts short).
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(5));
}
