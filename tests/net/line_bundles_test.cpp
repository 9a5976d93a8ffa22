// Line bundles (net/batched_udp.hpp): a burst's messages bound for one socket that reads them bundled leave in as few
// datagrams as fit, one per line, in the order they came; on a network that is not loopback a bundle stays within one
// Ethernet frame; the receiver takes them apart in the same order.

#include "net/udp_bridge.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <utility>
#include <vector>

using namespace coraft;
using asio::ip::udp;

namespace {

std::vector<std::pair<udp::endpoint, std::string>> drained(net::LineBundles& bundles) {
  std::vector<std::pair<udp::endpoint, std::string>> out;
  bundles.drain([&](std::string datagram, const udp::endpoint& to) { out.emplace_back(to, std::move(datagram)); });
  return out;
}

}  // namespace

TEST_CASE("replies to one client socket go in one datagram, one per line; other sockets get their own",
          "[net][bridge][bundle]") {
  const udp::endpoint a(asio::ip::make_address("127.0.0.1"), 4000), b(asio::ip::make_address("127.0.0.1"), 4001);
  net::LineBundles bundles;
  bundles.add("{\"r\":1}", a);
  bundles.add("{\"r\":2}", b);
  bundles.add("{\"r\":3}", a);
  const auto out = drained(bundles);
  REQUIRE(out.size() == 2);
  CHECK(out[0].first == a);
  CHECK(out[0].second == "{\"r\":1}\n{\"r\":3}");
  CHECK(out[1].first == b);
  CHECK(out[1].second == "{\"r\":2}");
  CHECK(drained(bundles).empty());  // drained means gone
}

TEST_CASE("a bundle off loopback stays within one Ethernet frame, and its replies keep their order",
          "[net][bridge][bundle]") {
  const udp::endpoint remote(asio::ip::make_address("10.1.2.3"), 4000);
  const udp::endpoint local(asio::ip::make_address("127.0.0.1"), 4000);
  REQUIRE(net::LineBundles::limit_for(remote) == 1400);
  REQUIRE(net::LineBundles::limit_for(local) == net::kMaxDatagramBytes);
  net::LineBundles bundles;
  std::vector<std::string> replies;
  for (int i = 0; i < 40; ++i) replies.push_back(std::to_string(i) + ":" + std::string(90, 'x'));
  replies.push_back(std::string(2000, 'y'));  // larger than the frame alone: a datagram of its own
  replies.push_back("last");
  for (const auto& r : replies) bundles.add(r, remote);
  const auto out = drained(bundles);
  std::vector<std::string> seen;
  for (const auto& [to, datagram] : out) {
    CHECK(to == remote);
    const bool lone_big_reply = datagram == replies[40];
    CHECK((datagram.size() <= 1400 || lone_big_reply));
    net::LineBundles::for_each(datagram, [&](std::string_view reply) { seen.emplace_back(reply); });
  }
  CHECK(seen == replies);
  CHECK(out.size() >= 4);   // 40 replies of 92 bytes need at least three frames, and the big one its own
  CHECK(out.size() <= 6);   // and are packed, not one each

  // On loopback the same replies (but the big one) fit in one datagram.
  for (int i = 0; i < 40; ++i) bundles.add(replies[static_cast<std::size_t>(i)], local);
  CHECK(drained(bundles).size() == 1);
}

TEST_CASE("a receiver takes a bundle apart line by line, in order, skipping empty lines", "[net][bridge][bundle]") {
  std::vector<std::string> lines;
  const auto take = [&](std::string_view line) { lines.emplace_back(line); };
  net::LineBundles::for_each("{\"a\":1}", take);
  CHECK(lines == std::vector<std::string>{"{\"a\":1}"});
  lines.clear();
  net::LineBundles::for_each("one\n\ntwo\nthree\n", take);
  CHECK(lines == std::vector<std::string>{"one", "two", "three"});
  lines.clear();
  net::LineBundles::for_each("\n\n", take);
  CHECK(lines.empty());
}
