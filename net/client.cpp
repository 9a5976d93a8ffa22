#include "net/client.hpp"

#include "net/batched_udp.hpp"
#include "net/codec.hpp"
#include "net/exit_codes.hpp"
#include "net/secret_file.hpp"

#include <asio/experimental/as_tuple.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <linux/errqueue.h>
#include <netinet/in.h>
#include <sys/socket.h>
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

ClusterAccess open_cluster(asio::io_context& io, const std::string& path) {
  try {
    const ClusterConfig config = load_cluster_config(path);
    return ClusterAccess{resolve(io, config), client_token(config), config};
  } catch (const ConfigFileMissing& e) {
    if (path != kLocalClusterFile) throw;
    throw ConfigFileMissing(fmt::format("{} (`make run` writes it there; run this from the repository's top folder, or "
                                        "give --cluster FILE)", e.what()));
  }
}

int exit_code_for(const ConfigError& error) {
  return dynamic_cast<const ConfigFileMissing*>(&error) ? exit_code::kNoInput : exit_code::kConfig;
}

std::string client_token(const ClusterConfig& config) {
  return config.client_token_file.empty() ? std::string{}
                                          : to_hex(load_secret_file(config.client_token_file, "client_token_file"));
}

namespace {

// A client's socket: any local port, and ICMP errors reported. Without IP_RECVERR, Linux reports them to connected
// sockets only, and a client of a cluster that is not running would wait out its whole deadline in silence.
void open_client_socket(asio::ip::udp::socket& socket, bool v6) {
  socket.open(v6 ? asio::ip::udp::v6() : asio::ip::udp::v4());
  socket.bind(asio::ip::udp::endpoint(v6 ? asio::ip::udp::v6() : asio::ip::udp::v4(), 0));
  const int on = 1;
  if (v6) setsockopt(socket.native_handle(), SOL_IPV6, IPV6_RECVERR, &on, sizeof on);
  else setsockopt(socket.native_handle(), SOL_IP, IP_RECVERR, &on, sizeof on);
}

// Reads a socket's error queue: every ICMP "port unreachable" names the destination that refused a datagram.
std::vector<asio::ip::udp::endpoint> read_refusals(int fd) {
  std::vector<asio::ip::udp::endpoint> refused_at;
  for (;;) {
    sockaddr_storage to{};
    char control[512];
    msghdr message{};
    message.msg_name = &to;
    message.msg_namelen = sizeof to;
    message.msg_control = control;
    message.msg_controllen = sizeof control;
    if (recvmsg(fd, &message, MSG_ERRQUEUE | MSG_DONTWAIT) < 0) return refused_at;  // drained
    bool refused = false;
    for (cmsghdr* c = CMSG_FIRSTHDR(&message); c; c = CMSG_NXTHDR(&message, c)) {
      if ((c->cmsg_level == SOL_IP && c->cmsg_type == IP_RECVERR) ||
          (c->cmsg_level == SOL_IPV6 && c->cmsg_type == IPV6_RECVERR)) {
        sock_extended_err error{};
        std::memcpy(&error, CMSG_DATA(c), sizeof error);
        refused = refused || error.ee_errno == ECONNREFUSED;
      }
    }
    // The kernel hands back the destination of the datagram that was refused.
    asio::ip::udp::endpoint destination;
    if (!refused || message.msg_namelen > destination.capacity()) continue;
    std::memcpy(destination.data(), &to, message.msg_namelen);
    destination.resize(message.msg_namelen);
    refused_at.push_back(destination);
  }
}

// The session a reply answers: its MID starts with the session's id in 16 hex digits (Client::call numbers them so).
// A routing hint only: the session decodes the datagram and checks the MID itself.
std::optional<std::uint64_t> session_of_reply(std::string_view datagram) {
  constexpr std::string_view kMid = "\"MID\":\"";
  const std::size_t at = datagram.find(kMid);
  if (at == std::string_view::npos || datagram.size() < at + kMid.size() + 16) return std::nullopt;
  std::uint64_t session = 0;
  for (char c : datagram.substr(at + kMid.size(), 16)) {
    const int digit = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    if (digit < 0) return std::nullopt;
    session = session << 4 | static_cast<std::uint64_t>(digit);
  }
  return session;
}

constexpr std::size_t kSharedReceiveSlots = 16;
constexpr std::size_t kMaxDrainCalls = 8;       // then the other handlers get a turn
constexpr std::size_t kMaxDeliveredUnread = 64;  // a session that stopped asking keeps only the newest strays

}  // namespace

// ---------------------------------------------------------------------------------------------------------------
// ClientSocket

ClientSocket::ClientSocket(asio::io_context& io, bool v6)
    : io_(io),
      socket_(io),
      receiver_(std::make_unique<BatchReceiver>(kSharedReceiveSlots, kMaxDatagramBytes + 1)),
      sender_(std::make_unique<BatchSender>()),
      bundles_(std::make_unique<LineBundles>()) {
  open_client_socket(socket_, v6);
  socket_.non_blocking(true);
  // Client ids of the sessions here differ from each other (a replica tells clients apart by it); where the range
  // starts is random, as for a Client of its own.
  static std::random_device device;
  next_client_id_ = static_cast<std::uint16_t>(0x1000 + device() % 0xE000);
  wait_readable();
}

ClientSocket::~ClientSocket() {
  *alive_ = false;
  asio::error_code ignored;
  socket_.close(ignored);
}

void ClientSocket::close() {
  flush();
  asio::error_code ignored;
  socket_.close(ignored);
}

raft::NodeId ClientSocket::next_client_id() {
  const std::uint16_t id = next_client_id_;
  next_client_id_ = next_client_id_ >= 0xFFFE ? 0x1000 : static_cast<std::uint16_t>(next_client_id_ + 1);
  return raft::NodeId{id};
}

void ClientSocket::attach(Client& session) { sessions_[session.session()] = &session; }

void ClientSocket::detach(const Client& session) { sessions_.erase(session.session()); }

void ClientSocket::send(std::string datagram, const asio::ip::udp::endpoint& to) {
  // A replica that bundles its replies to this socket reads bundled requests too: this turn's requests to it go in
  // as few datagrams as fit, one per line.
  if (std::find(bundling_.begin(), bundling_.end(), to) != bundling_.end()) bundles_->add(std::move(datagram), to);
  else sender_->add(std::move(datagram), to);
  if (flush_posted_) return;
  flush_posted_ = true;
  // After the handlers already queued: the sessions that a burst of replies woke send in the same system call.
  asio::post(io_, [this, alive = alive_] {
    if (*alive) flush();
  });
}

void ClientSocket::flush() {
  flush_posted_ = false;
  bundles_->drain(
      [this](std::string datagram, const asio::ip::udp::endpoint& to) { sender_->add(std::move(datagram), to); });
  if (sender_->empty() || !socket_.is_open()) return;
  ++stats_.send_calls;
  std::vector<std::pair<std::string, asio::ip::udp::endpoint>> again;
  stats_.sent += sender_->flush(socket_.native_handle(), [&](std::string_view datagram,
                                                             const asio::ip::udp::endpoint& to, std::error_code error) {
    // An earlier refusal, still pending on the socket, failed this send instead: note it and send again.
    if (error == std::errc::connection_refused) again.emplace_back(std::string(datagram), to);
  });
  if (again.empty()) return;
  note_refusals();
  for (const auto& [datagram, to] : again) {
    asio::error_code error;
    socket_.send_to(asio::buffer(datagram), to, 0, error);
    if (!error) ++stats_.sent;
  }
}

void ClientSocket::note_refusals() {
  for (const asio::ip::udp::endpoint& destination : read_refusals(socket_.native_handle())) {
    for (auto& [id, session] : sessions_) session->refused(destination);
  }
}

void ClientSocket::wait_readable() {
  socket_.async_wait(asio::ip::udp::socket::wait_read, [this, alive = alive_](const asio::error_code& error) {
    if (!*alive || error == asio::error::operation_aborted || !socket_.is_open()) return;
    take_in();
  });
}

void ClientSocket::take_in() {
  const auto route = [this](std::string_view datagram, const asio::ip::udp::endpoint& from) {
    ++stats_.received;
    // The sessions ask for their replies bundled: one per line (a reply's JSON holds no raw newline).
    if (datagram.find('\n') != std::string_view::npos &&
        std::find(bundling_.begin(), bundling_.end(), from) == bundling_.end()) {
      bundling_.push_back(from);
    }
    LineBundles::for_each(datagram, [this](std::string_view reply) {
      const auto session = session_of_reply(reply);
      auto it = session ? sessions_.find(*session) : sessions_.end();
      if (it == sessions_.end()) {
        ++stats_.unrouted;
        return;
      }
      ++stats_.replies;
      it->second->deliver(reply);
    });
  };
  for (std::size_t call = 0; call < kMaxDrainCalls; ++call) {
    const BatchReceiver::Taken taken = receiver_->receive(socket_.native_handle(), route);
    if (taken.error == std::errc::connection_refused) {
      note_refusals();  // the error queue held a refusal; datagrams may still be waiting behind it
      continue;
    }
    if (taken.error || !taken.full) {
      wait_readable();  // the socket is empty: the next datagram makes it readable again
      return;
    }
  }
  // More may be waiting, and the socket reports readiness only when a datagram arrives (edge-triggered): come back
  // after the handlers already queued, without waiting for one.
  asio::post(io_, [this, alive = alive_] {
    if (*alive && socket_.is_open()) take_in();
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Client

Client::Client(asio::io_context& io, std::map<raft::NodeId, asio::ip::udp::endpoint> replicas, actors::Rng rng,
               ClientSettings settings)
    : io_(io),
      socket_(io),
      timer_(io),
      replicas_(std::move(replicas)),
      rng_(rng),
      settings_(settings),
      buffer_(kMaxDatagramBytes + 1) {
  open_client_socket(socket_, !replicas_.empty() && replicas_.begin()->second.address().is_v6());
  client_id_ = raft::NodeId{static_cast<std::uint16_t>(rng_.between(0x1000, 0xFFFE))};
  set_up_session();
}

Client::Client(ClientSocket& shared, std::map<raft::NodeId, asio::ip::udp::endpoint> replicas, actors::Rng rng,
               ClientSettings settings)
    : io_(shared.io_),
      socket_(shared.io_),
      timer_(shared.io_),
      replicas_(std::move(replicas)),
      rng_(rng),
      settings_(settings),
      shared_(&shared) {
  client_id_ = shared.next_client_id();
  set_up_session();
  shared.attach(*this);
}

Client::~Client() {
  if (shared_) shared_->detach(*this);
}

void Client::set_up_session() {
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

std::string Client::address(raft::NodeId replica) const {
  auto it = replicas_.find(replica);
  return it == replicas_.end() ? std::string("?")
                               : fmt::format("{}:{}", it->second.address().to_string(), it->second.port());
}

std::string Client::addresses(const std::vector<raft::NodeId>& ids) const {
  std::vector<raft::NodeId> sorted = ids;  // in id order, however they were tried
  std::sort(sorted.begin(), sorted.end());
  std::string out;
  for (raft::NodeId id : sorted) out += fmt::format("{}{} at {}", out.empty() ? "" : ", ", id.str(), address(id));
  return out;
}

void Client::send(const actors::ClientRequest& request, raft::NodeId to) {
  auto it = replicas_.find(to);
  if (it == replicas_.end()) return;
  std::string datagram = encode_request(request, to, target_, settings_.token);
  if (shared_) {
    // (`request.reply_to.bundles`, set by call(), asked for bundled replies: ClientSocket splits them.)
    shared_->send(std::move(datagram), it->second);
    return;
  }
  asio::error_code error;
  socket_.send_to(asio::buffer(datagram), it->second, 0, error);
  if (error == asio::error::connection_refused) {
    // An earlier refusal, still pending on the socket, failed this send instead: note it and send again.
    note_refusals();
    socket_.send_to(asio::buffer(datagram), it->second, 0, error);
  }
}

void Client::note_refusals() {
  for (const asio::ip::udp::endpoint& destination : read_refusals(socket_.native_handle())) {
    for (const auto& [id, endpoint] : replicas_)
      if (endpoint == destination) refusing_.insert(id);
  }
}

void Client::deliver(std::string_view datagram) {
  if (delivered_.size() >= kMaxDeliveredUnread) delivered_.pop_front();
  delivered_.emplace_back(datagram);
  timer_.cancel();  // wakes receive_until, if it waits
}

void Client::refused(const asio::ip::udp::endpoint& destination) {
  for (const auto& [id, endpoint] : replicas_) {
    if (endpoint != destination) continue;
    refusing_.insert(id);
    refusal_delivered_ = true;
    timer_.cancel();
  }
}

asio::awaitable<Client::Heard> Client::receive_until(std::chrono::steady_clock::time_point deadline,
                                                     std::string& datagram) {
  if (shared_) {
    // The shared socket routes datagrams and refusals here and cancels the timer to say so.
    for (;;) {
      if (!delivered_.empty()) {
        datagram = std::move(delivered_.front());
        delivered_.pop_front();
        co_return Heard::kDatagram;
      }
      if (refusal_delivered_) {
        refusal_delivered_ = false;
        co_return Heard::kRefused;
      }
      if (std::chrono::steady_clock::now() >= deadline) co_return Heard::kSilence;
      timer_.expires_at(deadline);
      co_await timer_.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
    }
  }
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
  if (timed_out) co_return Heard::kSilence;
  if (error) {
    // An ICMP error pending on the socket ends the receive (IP_RECVERR); other errors are as good as nothing.
    note_refusals();
    datagram.clear();
    co_return error == asio::error::connection_refused ? Heard::kRefused : Heard::kDatagram;
  }
  datagram.assign(buffer_.data(), bytes);
  co_return Heard::kDatagram;
}

asio::awaitable<CallResult> Client::call(actors::ClientRequest& request) {
  using clock = std::chrono::steady_clock;
  CallResult result;
  request.client = client_id_;
  const bool write = request.kind != actors::RequestKind::kGet && request.kind != actors::RequestKind::kStatus &&
                     request.kind != actors::RequestKind::kBackup;
  const std::uint64_t seq = ++seq_;
  if (write) request.session = kv::SessionRef{session_, seq};
  request.reply_to.bundles = shared_ != nullptr;  // a shared socket takes several replies in one datagram
  std::string mid_prefix;  // "<session as 16 hex digits>-<seq>-"; each attempt adds its number
  append_hex(mid_prefix, session_, 16);
  mid_prefix += '-';
  append_number(mid_prefix, seq);
  mid_prefix += '-';
  const auto give_up = clock::now() + settings_.deadline;
  std::optional<clock::time_point> all_refusing_since;
  auto backoff = std::chrono::milliseconds(5);
  bool pause_before_next = false;
  std::string datagram;
  while (clock::now() < give_up) {
    if (refusing_.size() < replicas_.size()) {
      all_refusing_since.reset();
    } else if (!all_refusing_since) {
      all_refusing_since = clock::now();
    } else if (settings_.give_up_when_refused_for &&
               clock::now() - *all_refusing_since >= *settings_.give_up_when_refused_for) {
      result.nothing_listens = true;
      break;
    }
    if (pause_before_next) {
      asio::steady_timer pause(io_, std::min(give_up, clock::now() + backoff));
      co_await pause.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
      backoff = std::min(backoff * 2, std::chrono::duration_cast<std::chrono::milliseconds>(settings_.max_backoff));
    }
    pause_before_next = false;
    request.mid = mid_prefix;
    append_number(request.mid, ++attempt_);
    ++result.attempts;
    if (std::find(result.tried.begin(), result.tried.end(), target_) == result.tried.end()) {
      result.tried.push_back(target_);
    }
    refusing_.erase(target_);  // from here on, a refusal that names it is this attempt's
    send(request, target_);
    const auto attempt_deadline = std::min(give_up, clock::now() + settings_.attempt_timeout);
    bool answered = false;
    while (!answered) {
      const Heard heard = co_await receive_until(attempt_deadline, datagram);
      if (heard == Heard::kSilence) {
        refusing_.erase(target_);  // not refused: it may be alive and slow
        break;
      }
      if (heard == Heard::kRefused) {
        if (!refusing_.count(target_)) continue;  // an earlier attempt's refusal
        break;  // nothing listens there: no point waiting for an answer (trying it again later costs little)
      }
      auto decoded = decode(datagram);
      auto* d = std::get_if<Datagram>(&decoded);
      auto* reply = d ? std::get_if<ReplyDatagram>(d) : nullptr;
      if (!reply) continue;
      refusing_.erase(reply->envelope.src);
      if (reply->reply.mid.rfind(mid_prefix, 0) != 0) continue;  // not an answer to this operation
      actors::ClientReply& r = reply->reply;
      if (r.kind == actors::ReplyKind::kOk) {
        if (reply->envelope.leader.valid()) target_ = reply->envelope.leader;
        result.outcome = Outcome::kOk;
        result.answered_by = reply->envelope.src;
        result.reply = std::move(r);
        co_return result;
      }
      if (r.mid != request.mid) continue;  // a stale redirect or fail from an earlier attempt
      answered = true;
      // Membership changes and backups (the kinds from kAddLearner on).
      const bool membership = request.kind >= actors::RequestKind::kAddLearner;
      if (r.kind == actors::ReplyKind::kFail) {
        // Too large, a stale session, or no valid client token: retrying cannot help. Anything else (timed out,
        // overloaded) may. A membership change's refusal says why it cannot be done (or that it timed out and may
        // still complete), a backup's that its holder dropped it: the caller decides.
        if (r.status == kv::Status::kStaleSession || r.reason.find("too large") != std::string::npos ||
            r.reason == kUnauthorizedReason || (membership && r.reason != "overloaded")) {
          result.outcome = Outcome::kRejected;
          result.reply = std::move(r);
          co_return result;
        }
        pause_before_next = true;
      } else {
        ++result.redirects;
        if (r.leader.valid() && !replicas_.count(r.leader)) {
          // A leader this client never heard of (added after its cluster file was written): the replica that named
          // it knows its address.
          co_await status(reply->envelope.src, settings_.attempt_timeout);
        }
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

asio::awaitable<CallResult> Client::change(actors::RequestKind kind, const std::string& id, const std::string& value) {
  actors::ClientRequest r;
  r.kind = kind;
  r.key = id;
  r.value = value;
  co_return co_await call(r);
}

void Client::learn_members(const actors::ReplicaStatus& status) {
  for (const raft::Member& member : status.members) {
    if (replicas_.count(member.id) || member.address.empty()) continue;
    try {
      const HostPort where = parse_host_port(member.address);
      asio::ip::udp::resolver resolver(io_);
      const auto found = resolver.resolve(asio::ip::udp::v4(), where.host, std::to_string(where.port));
      if (!found.empty()) replicas_.emplace(member.id, found.begin()->endpoint());
    } catch (const std::exception&) {
      // An address this machine cannot resolve: that member stays unknown here.
    }
  }
}

asio::awaitable<CallResult> Client::put(const std::string& key, const std::string& value) {
  actors::ClientRequest r;
  r.kind = actors::RequestKind::kPut;
  r.key = key;
  r.value = value;
  co_return co_await call(r);
}

asio::awaitable<CallResult> Client::backup_chunk(std::uint64_t id, std::uint64_t offset, raft::NodeId holder) {
  actors::ClientRequest r;
  r.kind = actors::RequestKind::kBackup;
  r.backup_id = id;
  r.offset = offset;
  if (id != 0 && replicas_.count(holder)) target_ = holder;
  co_return co_await call(r);
}

asio::awaitable<CallResult> Client::on_key(actors::RequestKind kind, const std::string& key) {
  actors::ClientRequest r;
  r.kind = kind;
  r.key = key;
  co_return co_await call(r);
}

asio::awaitable<CallResult> Client::get(const std::string& key) {
  co_return co_await on_key(actors::RequestKind::kGet, key);
}

asio::awaitable<CallResult> Client::del(const std::string& key) {
  co_return co_await on_key(actors::RequestKind::kDelete, key);
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
  co_return co_await on_key(actors::RequestKind::kDeletePrefix, prefix);
}

asio::awaitable<std::optional<actors::ReplicaStatus>> Client::status(raft::NodeId replica, actors::Millis timeout) {
  actors::ClientRequest r;
  r.kind = actors::RequestKind::kStatus;
  r.client = client_id_;
  r.mid = fmt::format("{:016x}-status-{}", session_, ++attempt_);
  refusing_.erase(replica);
  send(r, replica);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string datagram;
  while (true) {
    const Heard heard = co_await receive_until(deadline, datagram);
    if (heard == Heard::kSilence) {
      refusing_.erase(replica);
      co_return std::nullopt;
    }
    if (heard == Heard::kRefused) {
      if (refusing_.count(replica)) co_return std::nullopt;
      continue;
    }
    auto decoded = decode(datagram);
    auto* d = std::get_if<Datagram>(&decoded);
    auto* reply = d ? std::get_if<ReplyDatagram>(d) : nullptr;
    if (reply) refusing_.erase(reply->envelope.src);
    if (reply && reply->reply.mid == r.mid && reply->reply.replica_status) {
      learn_members(*reply->reply.replica_status);
      co_return reply->reply.replica_status;
    }
    if (reply && reply->reply.mid == r.mid && reply->reply.kind == actors::ReplyKind::kFail) co_return std::nullopt;
  }
}

}  // namespace coraft::net
