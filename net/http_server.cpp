#include "net/http_server.hpp"

#include "actors/metrics.hpp"
#include "actors/spawn.hpp"
#include "net/http_client.hpp"
#include "net/socket_deadline.hpp"
#include "raft/overloaded.hpp"

#include <asio/experimental/as_tuple.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <fmt/format.h>

#include <set>
#include <stdexcept>

namespace coraft::net {

using asio::experimental::as_tuple;
using asio::ip::tcp;

namespace {

constexpr std::size_t kIdleForwardConnections = 64;  // kept open per peer for forwards

struct Connection {
  Connection(asio::io_context& io, std::uint64_t connection_id, bool api_listener)
      : socket(io), deadline(socket), answers(io.get_executor(), 1, "http-answer"), id(connection_id), api(api_listener) {}
  tcp::socket socket;
  SocketDeadline deadline;
  actors::Mailbox<HttpResponse> answers;  // the send loop puts the answer to this connection's call here
  std::uint64_t id;
  bool api;  // the API listener's (else the metrics listener's: /metrics only)
};

// A call handed to the KV API, and what its answer needs.
struct PendingCall {
  std::weak_ptr<Connection> connection;
  Presentation presentation;
  HttpRequest request;  // as the client sent it: forwarded as is
};

std::string describe(const HostPort& where) { return fmt::format("{}:{}", where.host, where.port); }

}  // namespace

struct HttpServer::State {
  asio::io_context& io;
  actors::Replica& replica;
  HttpServerSettings settings;
  ConsulSettings metrics_only;
  actors::Logger log;
  std::optional<tcp::acceptor> api_acceptor, metrics_acceptor;
  std::map<std::uint64_t, std::shared_ptr<Connection>> connections;
  std::map<std::uint64_t, PendingCall> pending;
  std::map<raft::NodeId, std::vector<std::unique_ptr<HttpConnection>>> idle_forwards;
  std::set<HttpConnection*> forwarding;  // connections of the forwards under way (stop() cuts them short)
  // Counters for operators (coraft_http_*), rendered into the replica's metrics.
  std::uint64_t accepted_connections = 0;
  std::uint64_t refused_connections = 0;  // beyond max_connections
  std::uint64_t requests = 0;             // parsed whole
  std::uint64_t bad_requests = 0;         // malformed or beyond a limit: answered 400/413/431 and closed
  std::uint64_t cut_off = 0;              // a request that did not arrive whole by its deadline

  void render_metrics(std::string& out) const {
    const std::string id = actors::replica_label(replica.options().self);
    const std::pair<const char*, std::uint64_t> counters[] = {
        {"coraft_http_connections_total", accepted_connections},
        {"coraft_http_connections_refused_total", refused_connections},
        {"coraft_http_requests_total", requests},
        {"coraft_http_bad_requests_total", bad_requests},
        {"coraft_http_requests_cut_off_total", cut_off},
    };
    const char* help[] = {"HTTP connections accepted", "HTTP connections refused: too many open",
                          "HTTP requests received whole", "HTTP requests refused as malformed or too large",
                          "HTTP requests cut off: not received whole within their deadline"};
    for (std::size_t i = 0; i < std::size(counters); ++i) {
      actors::append_header(out, counters[i].first, "counter", help[i]);
      actors::append_sample(out, counters[i].first, id, static_cast<double>(counters[i].second));
    }
    actors::append_header(out, "coraft_http_connections_open", "gauge", "HTTP connections open");
    actors::append_sample(out, "coraft_http_connections_open", id, static_cast<double>(connections.size()));
  }
  std::uint64_t next_connection = 1;
  std::uint64_t next_call = 1;
  bool stopped = false;

  State(asio::io_context& io_context, actors::Replica& r, HttpServerSettings s, actors::Logger l)
      : io(io_context), replica(r), settings(std::move(s)), metrics_only(settings.consul), log(std::move(l)) {
    metrics_only.kv_routes = false;
  }

  void open(std::optional<tcp::acceptor>& acceptor, const HostPort& where) {
    asio::error_code error;
    tcp::resolver resolver(io);
    auto endpoints = resolver.resolve(where.host, std::to_string(where.port), error);
    if (error || endpoints.empty()) throw std::runtime_error(fmt::format("cannot resolve {}: {}", where.host, error.message()));
    const tcp::endpoint endpoint = endpoints.begin()->endpoint();
    acceptor.emplace(io);
    acceptor->open(endpoint.protocol(), error);
    if (!error) acceptor->set_option(asio::socket_base::reuse_address(true), error);
    if (!error) acceptor->bind(endpoint, error);
    if (!error) acceptor->listen(asio::socket_base::max_listen_connections, error);
    if (error) throw std::runtime_error(fmt::format("cannot listen on {}: {}", describe(where), error.message()));
  }

  // ---- accepting and serving connections ----

  asio::awaitable<void> accept_loop(tcp::acceptor& acceptor, bool api) {
    while (!stopped) {
      auto connection = std::make_shared<Connection>(io, next_connection++, api);
      auto [error] = co_await acceptor.async_accept(connection->socket, as_tuple(asio::use_awaitable));
      if (error) {
        if (stopped || !acceptor.is_open()) co_return;
        continue;  // a connection that failed before we took it, or out of descriptors for now: keep serving
      }
      if (connections.size() >= settings.max_connections) {
        if (refused_connections++ % 1000 == 0) {
          log->warn("HTTP: {} connections open (the limit): refused {} so far", connections.size(), refused_connections);
        }
        continue;  // closed as `connection` goes
      }
      ++accepted_connections;
      asio::error_code ignored;
      connection->socket.set_option(tcp::no_delay(true), ignored);
      connections.emplace(connection->id, connection);
      actors::spawn(io.get_executor(), replica.options().self.str() + "/http-connection", serve(connection));
    }
  }

  asio::awaitable<void> serve(std::shared_ptr<Connection> connection) {
    co_await serve_requests(*connection);
    asio::error_code ignored;
    connection->deadline.disarm();
    connection->socket.shutdown(tcp::socket::shutdown_both, ignored);
    connection->socket.close(ignored);
    connection->answers.close();
    connections.erase(connection->id);
  }

  asio::awaitable<void> serve_requests(Connection& connection) {
    HttpParser parser(HttpParser::Kind::kRequests, settings.limits);
    std::string unparsed;  // bytes read beyond the request being served (pipelined requests)
    char buffer[16 * 1024];
    while (!stopped) {
      // Read until a whole request is in: idle for at most idle_timeout before it starts, and for at most
      // request_deadline from its first byte to its last.
      bool deadline_from_first_byte = false;
      connection.deadline.arm(settings.idle_timeout);
      while (!parser.complete() && parser.error() == HttpParseError::kNone) {
        if (!unparsed.empty()) {
          unparsed.erase(0, parser.feed(unparsed));
        } else {
          auto [error, n] = co_await connection.socket.async_read_some(asio::buffer(buffer), as_tuple(asio::use_awaitable));
          if (error) {
            if (connection.deadline.passed() && parser.in_progress()) {
              ++cut_off;
              log->debug("HTTP: a request took longer than {} ms to arrive: connection closed",
                         settings.request_deadline.count());
            }
            co_return;  // closed, reset, or too slow: nobody to answer
          }
          const std::string_view bytes(buffer, n);
          const std::size_t used = parser.feed(bytes);
          unparsed.assign(bytes.substr(used));
        }
        if (parser.in_progress() && !deadline_from_first_byte) {
          deadline_from_first_byte = true;
          connection.deadline.arm(settings.request_deadline);
        }
        if (parser.take_continue_request()) {
          static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
          auto [error, n] = co_await asio::async_write(connection.socket, asio::buffer(kContinue), as_tuple(asio::use_awaitable));
          if (error) co_return;
        }
      }
      connection.deadline.disarm();
      if (parser.error() != HttpParseError::kNone) {
        ++bad_requests;
        HttpResponse refusal = text_response(status_for(parser.error()), parser.error_text());
        refusal.keep_alive = false;  // where the next request would start is not known
        co_await write(connection, refusal);
        co_return;
      }
      HttpRequest request = parser.take_request();
      ++requests;
      const bool keep_alive = request.keep_alive && !parser.upgraded();
      HttpResponse response = co_await answer(connection, request);
      response.keep_alive = keep_alive && response.keep_alive;
      if (!co_await write(connection, response) || !response.keep_alive) co_return;
    }
  }

  // The response to one request: at once, or from the KV API. By reference: see actors/mailbox.hpp on temporaries in
  // co_await expressions.
  asio::awaitable<HttpResponse> answer(Connection& connection, HttpRequest& request) {
    auto translated = translate(request, connection.api ? settings.consul : metrics_only);
    if (auto* response = std::get_if<HttpResponse>(&translated)) co_return std::move(*response);
    ConsulCall& call = std::get<ConsulCall>(translated);
    const std::uint64_t id = next_call++;
    actors::ApiCallReceived received{id, call.call, call.forwarded};
    if (!replica.deliver(std::move(received))) co_return text_response(503, "overloaded: the replica's KV API is busy");
    pending.emplace(id, PendingCall{connections.at(connection.id), std::move(call.presentation), std::move(request)});
    auto response = co_await connection.answers.receive();
    if (!response) {  // the server is stopping
      HttpResponse closing = text_response(503, "the replica is stopping");
      closing.keep_alive = false;
      co_return closing;
    }
    co_return std::move(*response);
  }

  asio::awaitable<bool> write(Connection& connection, const HttpResponse& response) {
    const std::string wire = render(response);
    connection.deadline.arm(settings.write_deadline);  // a client that does not read its answers is cut off
    auto [error, n] = co_await asio::async_write(connection.socket, asio::buffer(wire), as_tuple(asio::use_awaitable));
    connection.deadline.disarm();
    co_return !error;
  }

  // ---- the KV API's answers and forwards ----

  asio::awaitable<void> send_loop() {
    while (auto message = co_await replica.http_outbox().receive()) {
      std::visit(Overloaded{
                     [&](actors::AnswerCall& m) { deliver_answer(m); },
                     [&](actors::ForwardCall& m) { start_forward(m); },
                     [&](actors::ReportMetrics& m) {
                       actors::MetricsReport report{m.collection_id, m.slot, {}};
                       render_metrics(report.text);
                       replica.deliver(std::move(report));
                     },
                 },
                 *message);
    }
  }

  void deliver_answer(actors::AnswerCall& answered) {
    auto it = pending.find(answered.call_id);
    if (it == pending.end()) return;
    PendingCall call = std::move(it->second);
    pending.erase(it);
    auto connection = call.connection.lock();
    if (!connection) return;  // the client went away
    connection->answers.try_send(render_answer(answered.answer, call.presentation, settings.raft_addresses));
  }

  void start_forward(actors::ForwardCall& forward) {
    auto it = pending.find(forward.call_id);
    if (it == pending.end()) return;
    auto address = settings.peers_http.find(forward.leader);
    if (address == settings.peers_http.end()) {
      actors::ForwardedResponse refusal{503, {{"Content-Type", "text/plain; charset=utf-8"}},
                                        fmt::format("the leader, {}, has no \"http\" address in the cluster file: "
                                                    "cannot forward\n",
                                                    forward.leader.str())};
      replica.deliver(actors::ForwardAnswered{forward.call_id, std::move(refusal), {}});
      return;
    }
    std::unique_ptr<HttpConnection> peer;
    auto& idle = idle_forwards[forward.leader];
    if (!idle.empty()) {
      peer = std::move(idle.back());
      idle.pop_back();
    } else {
      peer = std::make_unique<HttpConnection>(io, address->second, settings.limits);
    }
    HttpRequest request = forwarded_request(it->second.request, replica.options().self, forward.call);
    actors::spawn(io.get_executor(), replica.options().self.str() + "/http-forward",
                  forward_call(forward.call_id, forward.leader, std::move(peer), std::move(request), forward.timeout));
  }

  asio::awaitable<void> forward_call(std::uint64_t call_id, raft::NodeId leader, std::unique_ptr<HttpConnection> peer,
                                     HttpRequest request, actors::Millis timeout) {
    forwarding.insert(peer.get());
    auto exchange = co_await peer->exchange(request, timeout);
    forwarding.erase(peer.get());
    actors::ForwardAnswered answered{call_id, std::nullopt, std::move(exchange.error)};
    if (exchange.response) {
      answered.response = actors::ForwardedResponse{exchange.response->status, std::move(exchange.response->headers),
                                                    std::move(exchange.response->body)};
    }
    if (stopped) co_return;
    auto& idle = idle_forwards[leader];
    if (peer->open() && idle.size() < kIdleForwardConnections) idle.push_back(std::move(peer));
    // A full KV API mailbox loses the answer: the call then ends at its deadline.
    replica.deliver(std::move(answered));
  }
};

HttpServer::HttpServer(asio::io_context& io, actors::Replica& replica, HttpServerSettings settings, actors::Logger log)
    : state_(std::make_unique<State>(io, replica, std::move(settings), std::move(log))) {}

HttpServer::~HttpServer() = default;

void HttpServer::listen() {
  if (state_->settings.api) state_->open(state_->api_acceptor, *state_->settings.api);
  if (state_->settings.metrics) state_->open(state_->metrics_acceptor, *state_->settings.metrics);
}

void HttpServer::start() {
  const std::string id = state_->replica.options().self.str();
  if (state_->api_acceptor) {
    actors::spawn(state_->io.get_executor(), id + "/http-accept", state_->accept_loop(*state_->api_acceptor, true));
  }
  if (state_->metrics_acceptor) {
    actors::spawn(state_->io.get_executor(), id + "/metrics-accept",
                  state_->accept_loop(*state_->metrics_acceptor, false));
  }
  actors::spawn(state_->io.get_executor(), id + "/http-send", state_->send_loop());
  state_->replica.attach_edge(actors::EdgeKind::kHttp);  // its send loop answers ReportMetrics from now on
}

void HttpServer::stop() {
  State& s = *state_;
  s.stopped = true;
  asio::error_code ignored;
  if (s.api_acceptor) s.api_acceptor->close(ignored);
  if (s.metrics_acceptor) s.metrics_acceptor->close(ignored);
  for (auto& [id, connection] : s.connections) {
    connection->socket.close(ignored);
    connection->answers.close();
  }
  s.idle_forwards.clear();
  for (HttpConnection* forward : s.forwarding) forward->close();
}

std::uint16_t HttpServer::api_port() const {
  return state_->api_acceptor ? state_->api_acceptor->local_endpoint().port() : 0;
}

std::uint16_t HttpServer::metrics_port() const {
  return state_->metrics_acceptor ? state_->metrics_acceptor->local_endpoint().port() : 0;
}

std::size_t HttpServer::open_connections() const { return state_->connections.size(); }

}  // namespace coraft::net
