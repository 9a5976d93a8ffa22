#include "net/etcd_client.hpp"

#include "net/codec.hpp"

#include <asio/connect.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/read.hpp>
#include <asio/read_until.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <fmt/format.h>

namespace coraft::net {

using asio::experimental::as_tuple;

std::optional<std::vector<EtcdEndpoint>> parse_etcd_urls(const std::string& urls) {
  std::vector<EtcdEndpoint> out;
  std::size_t start = 0;
  while (start <= urls.size()) {
    const std::size_t comma = urls.find(',', start);
    std::string url = urls.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (url.rfind("http://", 0) == 0) url = url.substr(7);
    while (!url.empty() && url.back() == '/') url.pop_back();
    const auto colon = url.rfind(':');
    if (url.empty() || colon == std::string::npos || colon == 0 || colon + 1 == url.size()) return std::nullopt;
    out.push_back({url.substr(0, colon), url.substr(colon + 1)});
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  if (out.empty()) return std::nullopt;
  return out;
}

EtcdClient::EtcdClient(asio::io_context& io, EtcdEndpoint endpoint)
    : io_(io), endpoint_(std::move(endpoint)), socket_(io) {}

asio::awaitable<bool> EtcdClient::put(const std::string& key, const std::string& value) {
  const std::string body =
      fmt::format(R"({{"key":"{}","value":"{}"}})", net::base64_encode(key), net::base64_encode(value));
  co_return co_await post("/v3/kv/put", body);
}

asio::awaitable<bool> EtcdClient::get(const std::string& key) {
  // etcd's default range read is linearizable (a ReadIndex round), as coraft's gets are.
  const std::string body = fmt::format(R"({{"key":"{}"}})", net::base64_encode(key));
  co_return co_await post("/v3/kv/range", body);
}

asio::awaitable<bool> EtcdClient::post(const std::string& path, const std::string& body) {
  const std::string request = fmt::format(
      "POST {} HTTP/1.1\r\nHost: {}:{}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n"
      "Connection: keep-alive\r\n\r\n{}",
      path, endpoint_.host, endpoint_.port, body.size(), body);
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (!socket_.is_open()) {
      asio::ip::tcp::resolver resolver(io_);
      auto [error, results] =
          co_await resolver.async_resolve(endpoint_.host, endpoint_.port, as_tuple(asio::use_awaitable));
      if (error) co_return false;
      auto [connect_error, ignored] = co_await asio::async_connect(socket_, results, as_tuple(asio::use_awaitable));
      if (connect_error) {
        socket_.close();
        co_return false;
      }
      socket_.set_option(asio::ip::tcp::no_delay(true));
    }
    const bool ok = co_await round_trip(request);
    if (ok) co_return true;
    if (socket_.is_open()) co_return false;  // an HTTP error, not a broken connection
  }
  co_return false;
}

asio::awaitable<bool> EtcdClient::round_trip(const std::string& request) {
  auto fail = [&] {
    asio::error_code ignored;
    socket_.close(ignored);
    buffer_.clear();
    return false;
  };
  auto [write_error, written] = co_await asio::async_write(socket_, asio::buffer(request), as_tuple(asio::use_awaitable));
  if (write_error) co_return fail();
  auto [read_error, header_end] = co_await asio::async_read_until(socket_, asio::dynamic_buffer(buffer_), "\r\n\r\n",
                                                                  as_tuple(asio::use_awaitable));
  if (read_error) co_return fail();
  const std::string header = buffer_.substr(0, header_end);
  const bool status_ok = header.rfind("HTTP/1.1 200", 0) == 0;
  buffer_.erase(0, header_end);
  if (header.find("Transfer-Encoding: chunked") != std::string::npos) {
    // Chunked body: size line in hex, the chunk, CRLF; a zero-size chunk and CRLF end it.
    for (;;) {
      auto [line_error, line_end] = co_await asio::async_read_until(socket_, asio::dynamic_buffer(buffer_), "\r\n",
                                                                    as_tuple(asio::use_awaitable));
      if (line_error) co_return fail();
      const std::size_t size = std::stoul(buffer_.substr(0, line_end), nullptr, 16);
      buffer_.erase(0, line_end);
      const std::size_t need = size + 2;
      if (buffer_.size() < need) {
        auto [e, got] = co_await asio::async_read(socket_, asio::dynamic_buffer(buffer_),
                                                  asio::transfer_exactly(need - buffer_.size()),
                                                  as_tuple(asio::use_awaitable));
        if (e) co_return fail();
      }
      buffer_.erase(0, need);
      if (size == 0) co_return status_ok;
    }
  }
  const auto at = header.find("Content-Length:");
  if (at == std::string::npos) co_return fail();
  const std::size_t total = std::stoul(header.substr(at + 15));
  if (buffer_.size() < total) {
    auto [body_error, got] = co_await asio::async_read(socket_, asio::dynamic_buffer(buffer_),
                                                       asio::transfer_exactly(total - buffer_.size()),
                                                       as_tuple(asio::use_awaitable));
    if (body_error) co_return fail();
  }
  buffer_.erase(0, total);
  co_return status_ok;
}

}  // namespace coraft::net
