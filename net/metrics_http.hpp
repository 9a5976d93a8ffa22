#pragma once
// The Prometheus endpoint: a small HTTP/1.1 server on the replica's io_context that answers `GET /metrics` with the
// replica's status and counters in Prometheus text format (and `GET /` with a pointer to it). One request per
// connection; requests are read with a size limit and a deadline, so a slow or hostile client cannot pin it.

#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>

#include <functional>
#include <string>

namespace coraft::net {

// What the server answers for a request line and headers (pure: tested without sockets).
struct HttpResponse {
  int status = 200;
  std::string content_type;
  std::string body;
};
HttpResponse answer_http(std::string_view request, const std::function<std::string()>& metrics_text);
std::string serialize(const HttpResponse& response);

// Accepts until the acceptor is closed.
asio::awaitable<void> serve_metrics(asio::ip::tcp::acceptor& acceptor, std::function<std::string()> metrics_text);

}  // namespace coraft::net
