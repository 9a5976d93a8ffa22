#pragma once
// HTTP clients for coroutines on an io_context.
//   HttpConnection: one server, one request at a time over a kept-alive connection (opened on first use, opened
//   again after the server closed it), each exchange held to a deadline. Replicas forward calls to their leader with
//   it; kvbench --http drives the API with it.
//   ConsulKvClient: coraft's HTTP API (Consul's KV API) from C++: prefix reads and deletes, and watches (blocking
//   queries), which do not fit the UDP protocol (an answer can be larger than a datagram; a watch waits for minutes).
//   kvctl uses it for get --prefix, del --prefix and watch. It tries the replicas in turn until one answers; each
//   forwards to the leader.

#include "kv/store.hpp"
#include "net/cluster_config.hpp"
#include "net/http_message.hpp"

#include <asio/awaitable.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace asio {
class io_context;
}

namespace coraft::net {

class HttpConnection {
 public:
  HttpConnection(asio::io_context& io, HostPort server, HttpLimits limits = {});
  ~HttpConnection();
  HttpConnection(const HttpConnection&) = delete;
  HttpConnection& operator=(const HttpConnection&) = delete;

  struct Exchange {
    std::optional<HttpResponse> response;  // nullopt: none came (error says why)
    std::string error;
  };
  // Sends `request` (by reference: see actors/mailbox.hpp on temporaries in co_await) and reads the response. A
  // kept-alive connection the server closed meanwhile is replaced once, if no byte of the response had come.
  asio::awaitable<Exchange> exchange(const HttpRequest& request, std::chrono::milliseconds timeout);
  const HostPort& server() const { return server_; }
  bool open() const;
  // Closes the connection: an exchange under way ends at once, without a response.
  void close();

 private:
  struct Socket;
  asio::awaitable<Exchange> attempt(const std::string& wire, std::chrono::milliseconds timeout, bool& sent_nothing);

  HostPort server_;
  HttpLimits limits_;
  std::unique_ptr<Socket> socket_;
};

class ConsulKvClient {
 public:
  // `servers`: the HTTP addresses of the replicas (any order); `token`: the cluster's client token (hex), or empty.
  ConsulKvClient(asio::io_context& io, std::vector<HostPort> servers, std::string token);
  ~ConsulKvClient();

  struct Answer {
    int status = 0;  // 0: no replica answered (error says why)
    std::string error;
    std::uint64_t index = 0;  // X-Consul-Index
    std::vector<kv::KeyValue> entries;
    std::string body;
  };
  // GET /v1/kv/<key>[?recurse]: entries (empty on 404); with `after_index`, a blocking query of up to `wait`.
  asio::awaitable<Answer> read(const kv::KeyRange& range, std::uint64_t after_index = 0,
                               std::chrono::milliseconds wait = std::chrono::milliseconds(0));
  asio::awaitable<Answer> put(const std::string& key, const std::string& value);
  // DELETE /v1/kv/<key>[?recurse].
  asio::awaitable<Answer> remove(const kv::KeyRange& range);

  std::chrono::milliseconds timeout{10000};  // per request, beyond a blocking query's wait

 private:
  asio::awaitable<Answer> call(HttpRequest& request, std::chrono::milliseconds limit);

  std::vector<std::unique_ptr<HttpConnection>> servers_;
  std::size_t current_ = 0;  // the replica that answered last
  std::string token_;
};

// The HTTP address of each replica: "http" in the cluster file. Throws ConfigError when a replica has none.
std::vector<HostPort> http_addresses(const ClusterConfig& config);

}  // namespace coraft::net
