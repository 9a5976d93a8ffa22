#pragma once
// A minimal etcd v3 client over its JSON gateway (HTTP/1.1 keep-alive): POST /v3/kv/put and /v3/kv/range with
// base64 keys and values. Enough for kvbench to drive etcd with the same workload as coraft.

#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>

#include <optional>
#include <string>

namespace coraft::net {

struct EtcdEndpoint {
  std::string host;
  std::string port;
};

// "http://127.0.0.1:2379,http://..." -> endpoints; nullopt if malformed.
std::optional<std::vector<EtcdEndpoint>> parse_etcd_urls(const std::string& urls);

class EtcdClient {
 public:
  EtcdClient(asio::io_context& io, EtcdEndpoint endpoint);
  // True on a 200 answer. A broken connection is reopened once per call.
  asio::awaitable<bool> put(const std::string& key, const std::string& value);
  asio::awaitable<bool> get(const std::string& key);

 private:
  asio::awaitable<bool> post(const std::string& path, const std::string& body);
  asio::awaitable<bool> round_trip(const std::string& request);

  asio::io_context& io_;
  EtcdEndpoint endpoint_;
  asio::ip::tcp::socket socket_;
  std::string buffer_;
};

}  // namespace coraft::net
