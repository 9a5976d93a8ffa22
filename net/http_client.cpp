#include "net/http_client.hpp"

#include "net/codec.hpp"
#include "net/socket_deadline.hpp"

#include <asio/connect.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace coraft::net {

using asio::experimental::as_tuple;

struct HttpConnection::Socket {
  explicit Socket(asio::io_context& io_context) : io(io_context), socket(io_context), deadline(socket) {}
  asio::io_context& io;
  asio::ip::tcp::socket socket;
  SocketDeadline deadline;  // closes the socket when an exchange outlives its timeout

  void close() {
    asio::error_code ignored;
    socket.close(ignored);
  }
};

HttpConnection::HttpConnection(asio::io_context& io, HostPort server, HttpLimits limits)
    : server_(std::move(server)), limits_(limits), socket_(std::make_unique<Socket>(io)) {}

HttpConnection::~HttpConnection() = default;

bool HttpConnection::open() const { return socket_->socket.is_open(); }

void HttpConnection::close() { socket_->close(); }

asio::awaitable<HttpConnection::Exchange> HttpConnection::exchange(const HttpRequest& request,
                                                                   std::chrono::milliseconds timeout) {
  const std::string wire = render(request, fmt::format("{}:{}", server_.host, server_.port));
  const bool reused = socket_->socket.is_open();
  bool sent_nothing = false;
  Exchange result = co_await attempt(wire, timeout, sent_nothing);
  // A kept-alive connection may have been closed by the server just before we wrote: that is no answer from it yet.
  if (!result.response && reused && sent_nothing) result = co_await attempt(wire, timeout, sent_nothing);
  co_return result;
}

asio::awaitable<HttpConnection::Exchange> HttpConnection::attempt(const std::string& wire,
                                                                  std::chrono::milliseconds timeout,
                                                                  bool& sent_nothing) {
  Socket& s = *socket_;
  sent_nothing = false;
  auto fail = [&](std::string why) {
    s.deadline.disarm();
    s.close();
    return Exchange{std::nullopt, s.deadline.passed() ? fmt::format("no answer within {} ms", timeout.count()) : std::move(why)};
  };
  s.deadline.arm(timeout);
  if (!s.socket.is_open()) {
    asio::ip::tcp::resolver resolver(s.io);
    const std::string port = std::to_string(server_.port);  // named: GCC 12 destroys a temporary in co_await twice
    auto [resolve_error, endpoints] =
        co_await resolver.async_resolve(server_.host, port, as_tuple(asio::use_awaitable));
    if (resolve_error) co_return fail(fmt::format("cannot resolve {}: {}", server_.host, resolve_error.message()));
    auto [connect_error, connected] = co_await asio::async_connect(s.socket, endpoints, as_tuple(asio::use_awaitable));
    if (connect_error) {
      co_return fail(fmt::format("cannot connect to {}:{}: {}", server_.host, server_.port, connect_error.message()));
    }
    asio::error_code ignored;
    s.socket.set_option(asio::ip::tcp::no_delay(true), ignored);
  }
  auto [write_error, written] = co_await asio::async_write(s.socket, asio::buffer(wire), as_tuple(asio::use_awaitable));
  // Only the server closing the connection counts as "sent nothing"; our own close (stop, deadline) does not.
  auto closed_by_server = [](const asio::error_code& error) {
    return error == asio::error::eof || error == asio::error::connection_reset || error == asio::error::broken_pipe;
  };
  if (write_error) {
    sent_nothing = closed_by_server(write_error);
    co_return fail(write_error.message());
  }
  HttpParser parser(HttpParser::Kind::kResponses, limits_);
  char buffer[16 * 1024];
  bool got_bytes = false;
  while (!parser.complete()) {
    auto [read_error, n] = co_await s.socket.async_read_some(asio::buffer(buffer), as_tuple(asio::use_awaitable));
    if (read_error) {
      if (read_error == asio::error::eof) parser.finish();
      if (parser.complete()) break;
      sent_nothing = !got_bytes && closed_by_server(read_error);
      co_return fail(read_error == asio::error::eof ? std::string("the server closed the connection")
                                                    : read_error.message());
    }
    got_bytes = true;
    // A server answers one request at a time: nothing may follow the response we asked for.
    if (parser.feed(std::string_view(buffer, n)) != n && !parser.complete()) co_return fail(parser.error_text());
    if (parser.error() != HttpParseError::kNone) co_return fail(parser.error_text());
  }
  s.deadline.disarm();
  HttpResponse response = parser.take_response();
  if (!response.keep_alive) s.close();
  co_return Exchange{std::move(response), {}};
}

// ---------------------------------------------------------------------------------------------------------------
// Consul's KV API

ConsulKvClient::ConsulKvClient(asio::io_context& io, std::vector<HostPort> servers, std::string token)
    : token_(std::move(token)) {
  for (HostPort& server : servers) servers_.push_back(std::make_unique<HttpConnection>(io, std::move(server)));
}

ConsulKvClient::~ConsulKvClient() = default;

asio::awaitable<ConsulKvClient::Answer> ConsulKvClient::call(HttpRequest& request, std::chrono::milliseconds limit) {
  if (!token_.empty()) request.headers.emplace_back("X-Consul-Token", token_);
  Answer answer;
  // Any replica serves any call (followers forward to the leader): try the next only when one does not answer.
  for (std::size_t tried = 0; tried < servers_.size(); ++tried) {
    HttpConnection& server = *servers_[current_];
    auto exchange = co_await server.exchange(request, limit);
    if (exchange.response) {
      HttpResponse& response = *exchange.response;
      answer.status = response.status;
      if (const std::string* index = response.header("X-Consul-Index")) {
        answer.index = std::strtoull(index->c_str(), nullptr, 10);
      }
      answer.body = std::move(response.body);
      co_return answer;
    }
    answer.error += fmt::format("{}{}:{}: {}", answer.error.empty() ? "" : "; ", server.server().host,
                                server.server().port, exchange.error);
    current_ = (current_ + 1) % servers_.size();
  }
  co_return answer;
}

asio::awaitable<ConsulKvClient::Answer> ConsulKvClient::read(const kv::KeyRange& range, std::uint64_t after_index,
                                                             std::chrono::milliseconds wait) {
  HttpRequest request;
  request.method = "GET";
  request.target = "/v1/kv/" + percent_encode(range.key, true);
  std::string query = range.prefix ? "recurse" : "";
  if (after_index > 0) query += fmt::format("{}index={}&wait={}ms", query.empty() ? "" : "&", after_index, wait.count());
  if (!query.empty()) request.target += "?" + query;
  Answer answer = co_await call(request, timeout + wait);
  if (answer.status != 200) co_return answer;
  const auto json = nlohmann::json::parse(answer.body, nullptr, /*allow_exceptions=*/false);
  if (!json.is_array()) {
    answer.status = 0;
    answer.error = "the answer is not a JSON list";
    co_return answer;
  }
  for (const auto& item : json) {
    kv::KeyValue entry;
    if (!item.is_object() || !item.contains("Key") || !item["Key"].is_string()) continue;
    entry.key = item["Key"].get<std::string>();
    if (item.contains("Value") && item["Value"].is_string()) {
      entry.value = base64_decode(item["Value"].get<std::string>()).value_or("");
    }
    entry.create_index = item.value("CreateIndex", std::uint64_t{0});
    entry.modify_index = item.value("ModifyIndex", std::uint64_t{0});
    entry.flags = item.value("Flags", std::uint64_t{0});
    answer.entries.push_back(std::move(entry));
  }
  co_return answer;
}

asio::awaitable<ConsulKvClient::Answer> ConsulKvClient::put(const std::string& key, const std::string& value) {
  HttpRequest request;
  request.method = "PUT";
  request.target = "/v1/kv/" + percent_encode(key, true);
  request.body = value;
  co_return co_await call(request, timeout);
}

asio::awaitable<ConsulKvClient::Answer> ConsulKvClient::remove(const kv::KeyRange& range) {
  HttpRequest request;
  request.method = "DELETE";
  request.target = "/v1/kv/" + percent_encode(range.key, true) + (range.prefix ? "?recurse" : "");
  co_return co_await call(request, timeout);
}

std::vector<HostPort> http_addresses(const ClusterConfig& config) {
  std::vector<HostPort> out;
  for (const auto& [id, udp] : config.replicas) {
    auto it = config.http.find(id);
    if (it == config.http.end()) {
      throw ConfigError(fmt::format("replica {} has no \"http\" address in the cluster file (needed for prefix reads, "
                                    "prefix deletes and watches; see README: HTTP API)",
                                    id.str()));
    }
    out.push_back(it->second);
  }
  return out;
}

}  // namespace coraft::net
