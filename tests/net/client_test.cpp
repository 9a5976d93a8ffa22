// The client library's identity: a session must be new in every run, whatever seed the caller chose.

#include "net/client.hpp"

#include <asio/io_context.hpp>
#include <catch2/catch.hpp>

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
