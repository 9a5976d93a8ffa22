#pragma once
// The HTTP edge of a replica: its TCP listeners, as the UDP bridge is its datagram edge. On the replica's io_context:
//   accept loop, one per listener: the API port (--http-port / "http" in the cluster file: Consul's KV API and
//     /metrics) and the metrics port (--metrics-port: /metrics only). Beyond max_connections open at once, a new
//     connection is closed at once;
//   connection loop, one per connection: reads one request at a time with http-parser (net/http_message; pipelined
//     requests wait their turn), held to deadlines: a request must arrive whole within request_deadline of its first
//     byte (slow or half-sent requests are cut off), a kept-alive connection may idle for idle_timeout, an answer
//     must be taken within write_deadline; bad bytes get 400/413/431 and the connection is closed. It answers at once
//     what needs no replica (net/consul_http: bad requests, unknown paths, a wrong token), hands calls to the KV API
//     (Replica::deliver: try_send, a full mailbox answers 503), waits for the answer and writes it;
//   send loop: drains the replica's http_outbox(): AnswerCall goes to the connection waiting for it; ForwardCall
//     starts a forward: the client's request (net/consul_http's forwarded_request) goes to the leader's HTTP address
//     over a kept-alive connection from a small pool per peer, and the answer, or its absence, goes back to the KV API
//     as ForwardAnswered.
// The edge decides nothing about the cluster: who serves a call, and what happens when the leader does not answer, is
// the KV API actor's business (actors/kv_api.hpp).
// Shutdown: stop() closes the listeners and every connection (their loops end at their next wait); the send loop ends
// when the replica closes the outbox.

#include "actors/logger.hpp"
#include "actors/replica.hpp"
#include "net/cluster_config.hpp"
#include "net/consul_http.hpp"

#include <chrono>
#include <map>
#include <memory>
#include <optional>

namespace asio {
class io_context;
}

namespace coraft::net {

struct HttpServerSettings {
  std::optional<HostPort> api;      // serve the API (and /metrics) here
  std::optional<HostPort> metrics;  // serve only /metrics here
  std::map<raft::NodeId, HostPort> peers_http;  // where each replica's API is: forwards go to the leader's
  RaftAddresses raft_addresses;                 // what /v1/status/leader and /v1/status/peers answer with
  ConsulSettings consul;
  std::size_t max_connections = 1024;
  std::chrono::milliseconds request_deadline{10000};
  std::chrono::milliseconds idle_timeout{60000};
  std::chrono::milliseconds write_deadline{10000};
  HttpLimits limits;
};

class HttpServer {
 public:
  HttpServer(asio::io_context& io, actors::Replica& replica, HttpServerSettings settings, actors::Logger log);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Opens the listeners. Throws std::runtime_error naming the address when one cannot be opened.
  void listen();
  // Spawns the accept loops and the send loop (after the replica has started).
  void start();
  void stop();

  // The ports listened on (useful when asked for port 0); 0 when not listening.
  std::uint16_t api_port() const;
  std::uint16_t metrics_port() const;
  std::size_t open_connections() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace coraft::net
