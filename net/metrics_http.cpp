#include "net/metrics_http.hpp"

#include "actors/spawn.hpp"

#include <asio/experimental/as_tuple.hpp>
#include <asio/read_until.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <fmt/format.h>

#include <memory>

namespace coraft::net {

namespace {

constexpr std::size_t kMaxRequestBytes = 8192;
constexpr auto kRequestDeadline = std::chrono::seconds(5);

std::string_view reason_phrase(int status) {
  switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    default: return "Error";
  }
}

asio::awaitable<void> serve_connection(std::shared_ptr<asio::ip::tcp::socket> socket,
                                       std::function<std::string()> metrics_text) {
  using asio::experimental::as_tuple;
  asio::steady_timer deadline(socket->get_executor());
  deadline.expires_after(kRequestDeadline);
  deadline.async_wait([socket](const asio::error_code& error) {
    if (!error) {
      asio::error_code ignored;
      socket->close(ignored);  // too slow: the pending read ends with an error
    }
  });
  std::string request;
  auto buffer = asio::dynamic_buffer(request, kMaxRequestBytes);
  auto [error, bytes] = co_await asio::async_read_until(*socket, buffer, "\r\n\r\n", as_tuple(asio::use_awaitable));
  HttpResponse response;
  if (error && error != asio::error::not_found) {
    deadline.cancel();
    co_return;  // closed, reset or timed out: nobody to answer
  }
  response = error ? HttpResponse{400, "text/plain", "request too large\n"} : answer_http(request, metrics_text);
  const std::string out = serialize(response);
  co_await asio::async_write(*socket, asio::buffer(out), as_tuple(asio::use_awaitable));
  deadline.cancel();
  asio::error_code ignored;
  socket->shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  socket->close(ignored);
}

}  // namespace

HttpResponse answer_http(std::string_view request, const std::function<std::string()>& metrics_text) {
  const auto line_end = request.find("\r\n");
  const std::string_view line = request.substr(0, line_end);
  const auto first_space = line.find(' ');
  const auto second_space = first_space == std::string_view::npos ? first_space : line.find(' ', first_space + 1);
  if (second_space == std::string_view::npos || line.substr(second_space + 1).rfind("HTTP/1.", 0) != 0) {
    return {400, "text/plain", "malformed request line\n"};
  }
  const std::string_view method = line.substr(0, first_space);
  std::string_view target = line.substr(first_space + 1, second_space - first_space - 1);
  if (auto query = target.find('?'); query != std::string_view::npos) target = target.substr(0, query);
  if (method != "GET" && method != "HEAD") return {405, "text/plain", "only GET\n"};
  if (target == "/metrics") return {200, "text/plain; version=0.0.4; charset=utf-8", metrics_text()};
  if (target == "/") return {200, "text/plain", "coraft replica: Prometheus metrics at /metrics\n"};
  return {404, "text/plain", "not found: try /metrics\n"};
}

std::string serialize(const HttpResponse& r) {
  return fmt::format("HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
                     r.status, reason_phrase(r.status), r.content_type, r.body.size(), r.body);
}

asio::awaitable<void> serve_metrics(asio::ip::tcp::acceptor& acceptor, std::function<std::string()> metrics_text) {
  using asio::experimental::as_tuple;
  for (;;) {
    auto socket = std::make_shared<asio::ip::tcp::socket>(acceptor.get_executor());
    auto [error] = co_await acceptor.async_accept(*socket, as_tuple(asio::use_awaitable));
    if (error) {
      if (!acceptor.is_open() || error == asio::error::operation_aborted) co_return;
      continue;  // a connection that failed before we took it (reset, out of descriptors): keep serving
    }
    actors::spawn(acceptor.get_executor(), "metrics-connection", serve_connection(socket, metrics_text));
  }
}

}  // namespace coraft::net
