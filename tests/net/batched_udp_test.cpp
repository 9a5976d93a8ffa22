// BatchReceiver and BatchSender over real loopback sockets: every datagram arrives once, whole, in order, with its
// sender's address; a datagram the socket refuses is reported and skipped while the rest still go.

#include "net/batched_udp.hpp"

#include <asio/io_context.hpp>
#include <asio/ip/udp.hpp>
#include <catch2/catch.hpp>

#include <string>
#include <vector>

using namespace coraft;
using asio::ip::udp;

namespace {

udp::socket loopback_socket(asio::io_context& io) {
  udp::socket socket(io, udp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  socket.non_blocking(true);
  return socket;
}

// Datagram i: its number, then filler up to a size from 1 byte to 500; the fourth is 60 KB. (All of them together
// stay well inside a socket's default receive buffer, which the kernel may not let the test enlarge.)
std::string datagram(int i) {
  const std::size_t size = i == 3 ? 60'000 : 1 + static_cast<std::size_t>(i * 37 % 500);
  std::string text = std::to_string(i) + ":";
  text.resize(std::max(size, text.size()), static_cast<char>('a' + i % 26));
  return text;
}

}  // namespace

TEST_CASE("batched sends and receives carry every datagram once, whole and in order", "[net][udp][batch]") {
  asio::io_context io;
  udp::socket from_a = loopback_socket(io), from_b = loopback_socket(io), to = loopback_socket(io);
  const int count = GENERATE(1, 5, 16, 17, 40);
  INFO("datagrams: " << count);

  net::BatchSender a, b;
  for (int i = 0; i < count; ++i) (i % 2 ? b : a).add(datagram(i), to.local_endpoint());
  int refused = 0;
  auto count_refused = [&](std::string_view, const udp::endpoint&, std::error_code) { ++refused; };
  CHECK(a.flush(from_a.native_handle(), count_refused) == static_cast<std::size_t>((count + 1) / 2));
  CHECK(b.flush(from_b.native_handle(), count_refused) == static_cast<std::size_t>(count / 2));
  CHECK(refused == 0);
  CHECK(a.empty());

  // Four slots a call: calls until one leaves a slot unused (the socket is then empty).
  net::BatchReceiver receiver(4, 65'508);
  std::vector<std::string> got;
  std::vector<udp::endpoint> senders;
  for (;;) {
    const auto taken = receiver.receive(to.native_handle(), [&](std::string_view d, const udp::endpoint& from) {
      got.emplace_back(d);
      senders.push_back(from);
    });
    REQUIRE_FALSE(taken.error);
    CHECK(taken.datagrams <= 4);
    CHECK(taken.full == (taken.datagrams == 4));
    if (!taken.full) break;
  }
  // Each sender's datagrams in the order it sent them (the two senders' may interleave any way).
  REQUIRE(got.size() == static_cast<std::size_t>(count));
  std::vector<int> next_of{0, 1};
  for (std::size_t k = 0; k < got.size(); ++k) {
    const int sender = senders[k] == from_a.local_endpoint() ? 0 : 1;
    CHECK(senders[k] == (sender == 0 ? from_a : from_b).local_endpoint());
    CHECK(got[k] == datagram(next_of[sender]));
    next_of[sender] += 2;
  }
  // Nothing more: an empty socket is no error.
  const auto empty = receiver.receive(to.native_handle(), [&](std::string_view, const udp::endpoint&) { FAIL(); });
  CHECK(empty.datagrams == 0);
  CHECK_FALSE(empty.error);
}

TEST_CASE("a datagram the socket refuses is reported and the rest of the batch still goes", "[net][udp][batch]") {
  asio::io_context io;
  udp::socket from = loopback_socket(io), to = loopback_socket(io);
  net::BatchSender sender;
  sender.add("first", to.local_endpoint());
  sender.add(std::string(70'000, 'x'), to.local_endpoint());  // more than a UDP datagram holds: EMSGSIZE
  sender.add("third", to.local_endpoint());
  sender.add(std::string(70'000, 'y'), to.local_endpoint());  // refused as the last of its batch too
  std::vector<std::size_t> refused_sizes;
  std::error_code last_error;
  const std::size_t sent = sender.flush(from.native_handle(), [&](std::string_view refused, const udp::endpoint& at,
                                                                  std::error_code error) {
    CHECK(at == to.local_endpoint());
    refused_sizes.push_back(refused.size());
    last_error = error;
  });
  CHECK(sent == 2);
  CHECK(refused_sizes == std::vector<std::size_t>{70'000, 70'000});
  CHECK(last_error == std::errc::message_size);

  net::BatchReceiver receiver(8, 100);  // 100 bytes a slot: longer datagrams arrive cut
  std::vector<std::string> got;
  receiver.receive(to.native_handle(), [&](std::string_view d, const udp::endpoint&) { got.emplace_back(d); });
  CHECK(got == std::vector<std::string>{"first", "third"});

  // A datagram longer than a slot arrives cut to the slot: the caller sees it as too long.
  sender.add(std::string(300, 'z'), to.local_endpoint());
  CHECK(sender.flush(from.native_handle(), [](std::string_view, const udp::endpoint&, std::error_code) { FAIL(); }) == 1);
  got.clear();
  receiver.receive(to.native_handle(), [&](std::string_view d, const udp::endpoint&) { got.emplace_back(d); });
  REQUIRE(got.size() == 1);
  CHECK(got[0] == std::string(100, 'z'));
}
