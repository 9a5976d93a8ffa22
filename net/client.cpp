#include "net/client.hpp"

#include "net/codec.hpp"
#include "net/secret_file.hpp"

#include <asio/experimental/as_tuple.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <fmt/format.h>

#include <random>

namespace coraft::net {

std::map<raft::NodeId, asio::ip::udp::endpoint> resolve(asio::io_context& io, const ClusterConfig& config) {
  asio::ip::udp::resolver resolver(io);
  std::map<raft::NodeId, asio::ip::udp::endpoint> out;
  for (const auto& [id, hp] : config.replicas) {
    asio::error_code error;
    auto results = resolver.resolve(hp.host, std::to_string(hp.port), error);
    if (error || results.empty()) {
      throw ConfigError(fmt::format("replica {}: cannot resolve {}: {}", id.str(), hp.host, error.message()));
    }
    const asio::ip::udp::endpoint endpoint = results.begin()->endpoint();
    for (const auto& [other, other_endpoint] : out) {
      // "localhost:7000" and "127.0.0.1:7000" are different strings but one socket.
      if (other_endpoint == endpoint) {
        throw ConfigError(fmt::format("replicas {} and {} both resolve to {}:{}", other.str(), id.str(),
                                      endpoint.address().to_string(), endpoint.port()));
      }
    }
    out.emplace(id, endpoint);
  }
  return out;
}

std::string client_token(const ClusterConfig& config) {
  return config.client_token_file.empty() ? std::string{}
                                          : to_hex(load_secret_file(config.client_token_file, "client_token_file"));
}

Client::Client(asio::io_context& io, std::map<raft::NodeId, asio::ip::udp::endpoint> replicas, actors::Rng rng,
               ClientSettings settings)
    : io_(io),
      socket_(io),
      timer_(io),
      replicas_(std::move(replicas)),
      rng_(rng),
      settings_(settings),
      buffer_(kMaxDatagramBytes + 1) {
  const bool v6 = !replicas_.empty() && replicas_.begin()->second.address().is_v6();
  socket_.open(v6 ? asio::ip::udp::v6() : asio::ip::udp::v4());
  socket_.bind(asio::ip::udp::endpoint(v6 ? asio::ip::udp::v6() : asio::ip::udp::v4(), 0));
  client_id_ = raft::NodeId{static_cast<std::uint16_t>(rng_.between(0x1000, 0xFFFE))};
  // A session id must never repeat across runs, whatever seed the caller chose (kvbench --seed): a write under a
  // reused id and sequence number is answered from the session table instead of being applied.
  static std::random_device device;
  const std::uint64_t entropy = static_cast<std::uint64_t>(device()) << 32 | device();
  session_ = (rng_.next() ^ entropy) | 1;  // never 0, which means "no session"
  target_ = random_replica(raft::kNoNode);
}

raft::NodeId Client::random_replica(raft::NodeId other_than) {
  if (replicas_.empty()) return raft::kNoNode;
  for (int i = 0; i < 8; ++i) {
    auto it = replicas_.begin();
    std::advance(it, static_cast<long>(rng_.between(0, replicas_.size() - 1)));
    if (it->first != other_than || replicas_.size() == 1) return it->first;
  }
  return replicas_.begin()->first;
}

void Client::send(const actors::ClientRequest& request, raft::NodeId to) {
  auto it = replicas_.find(to);
  if (it == replicas_.end()) return;
  asio::error_code ignored;
  socket_.send_to(asio::buffer(encode_request(request, to, target_, settings_.token)), it->second, 0, ignored);
}

asio::awaitable<std::optional<std::string>> Client::receive_until(std::chrono::steady_clock::time_point deadline) {
  // A deadline timer that cancels the receive when it fires. Safe with a socket (unlike a channel): a datagram that
  // arrives as the receive is cancelled stays queued in the socket for the next one. Cheaper than racing two
  // awaitables, which matters for a load generator running many clients on one thread.
  // The generation keeps an expiry that was already queued when the receive finished from cancelling a later one.
  const std::uint64_t generation = ++receive_generation_;
  timer_.expires_at(deadline);
  timer_.async_wait([this, generation](const asio::error_code& error) {
    if (error || generation != receive_generation_) return;
    timed_out_generation_ = generation;
    socket_.cancel();
  });
  asio::ip::udp::endpoint from;
  auto [error, bytes] = co_await socket_.async_receive_from(asio::buffer(buffer_), from,
                                                            asio::experimental::as_tuple(asio::use_awaitable));
  const bool timed_out = timed_out_generation_ == generation;
  ++receive_generation_;
  timer_.cancel();
  if (timed_out) co_return std::nullopt;
  if (error) co_return std::string{};
  co_return std::string(buffer_.data(), bytes);
}

asio::awaitable<CallResult> Client::call(actors::ClientRequest& request) {
  using clock = std::chrono::steady_clock;
  CallResult result;
  request.client = client_id_;
  const bool write = request.kind != actors::RequestKind::kGet && request.kind != actors::RequestKind::kStatus;
  const std::uint64_t seq = ++seq_;
  if (write) request.session = kv::SessionRef{session_, seq};
  const std::string mid_prefix = fmt::format("{:016x}-{}-", session_, seq);
  const auto give_up = clock::now() + settings_.deadline;
  auto backoff = std::chrono::milliseconds(5);
  bool pause_before_next = false;
  while (clock::now() < give_up) {
    if (pause_before_next) {
      asio::steady_timer pause(io_, std::min(give_up, clock::now() + backoff));
      co_await pause.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
      backoff = std::min(backoff * 2, std::chrono::duration_cast<std::chrono::milliseconds>(settings_.max_backoff));
    }
    pause_before_next = false;
    request.mid = fmt::format("{}{}", mid_prefix, ++attempt_);
    ++result.attempts;
    send(request, target_);
    const auto attempt_deadline = std::min(give_up, clock::now() + settings_.attempt_timeout);
    bool answered = false;
    while (!answered) {
      auto datagram = co_await receive_until(attempt_deadline);
      if (!datagram) break;  // silence: try another replica
      auto decoded = decode(*datagram);
      auto* d = std::get_if<Datagram>(&decoded);
      auto* reply = d ? std::get_if<ReplyDatagram>(d) : nullptr;
      if (!reply || reply->reply.mid.rfind(mid_prefix, 0) != 0) continue;  // not an answer to this operation
      actors::ClientReply& r = reply->reply;
      if (r.kind == actors::ReplyKind::kOk) {
        if (reply->envelope.leader.valid()) target_ = reply->envelope.leader;
        result.outcome = Outcome::kOk;
        result.reply = std::move(r);
        co_return result;
      }
      if (r.mid != request.mid) continue;  // a stale redirect or fail from an earlier attempt
      answered = true;
      if (r.kind == actors::ReplyKind::kFail) {
        // Too large, a stale session, or no valid client token: retrying cannot help. Anything else (timed out,
        // overloaded) may.
        if (r.status == kv::Status::kStaleSession || r.reason.find("too large") != std::string::npos ||
            r.reason == kUnauthorizedReason) {
          result.outcome = Outcome::kRejected;
          result.reply = std::move(r);
          co_return result;
        }
        pause_before_next = true;
      } else {
        ++result.redirects;
        if (r.leader.valid() && replicas_.count(r.leader) && r.leader != target_) {
          target_ = r.leader;  // go straight there
        } else {
          target_ = random_replica(target_);
          pause_before_next = true;  // nobody knows a leader yet: do not spin
        }
      }
    }
    if (!answered) {
      target_ = random_replica(target_);
      pause_before_next = result.attempts > static_cast<int>(replicas_.size());
    }
  }
  result.outcome = Outcome::kUnavailable;
  co_return result;
}

asio::awaitable<CallResult> Client::put(const std::string& key, const std::string& value) {
  actors::ClientRequest r;
  r.kind = actors::RequestKind::kPut;
  r.key = key;
  r.value = value;
  co_return co_await call(r);
}

asio::awaitable<CallResult> Client::get(const std::string& key) {
  actors::ClientRequest r;
  r.kind = actors::RequestKind::kGet;
  r.key = key;
  co_return co_await call(r);
}

asio::awaitable<CallResult> Client::del(const std::string& key) {
  actors::ClientRequest r;
  r.kind = actors::RequestKind::kDelete;
  r.key = key;
  co_return co_await call(r);
}

asio::awaitable<CallResult> Client::cas(const std::string& key, const std::optional<std::string>& expected,
                                        const std::string& value) {
  actors::ClientRequest r;
  r.kind = actors::RequestKind::kCas;
  r.key = key;
  r.expected = expected;
  r.value = value;
  co_return co_await call(r);
}

asio::awaitable<CallResult> Client::del_prefix(const std::string& prefix) {
  actors::ClientRequest r;
  r.kind = actors::RequestKind::kDeletePrefix;
  r.key = prefix;
  co_return co_await call(r);
}

asio::awaitable<std::optional<actors::ReplicaStatus>> Client::status(raft::NodeId replica, actors::Millis timeout) {
  actors::ClientRequest r;
  r.kind = actors::RequestKind::kStatus;
  r.client = client_id_;
  r.mid = fmt::format("{:016x}-status-{}", session_, ++attempt_);
  send(r, replica);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    auto datagram = co_await receive_until(deadline);
    if (!datagram) co_return std::nullopt;
    auto decoded = decode(*datagram);
    auto* d = std::get_if<Datagram>(&decoded);
    auto* reply = d ? std::get_if<ReplyDatagram>(d) : nullptr;
    if (reply && reply->reply.mid == r.mid && reply->reply.replica_status) co_return reply->reply.replica_status;
    if (reply && reply->reply.mid == r.mid && reply->reply.kind == actors::ReplyKind::kFail) co_return std::nullopt;
  }
}

}  // namespace coraft::net
