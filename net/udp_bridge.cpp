#include "net/udp_bridge.hpp"

#include "actors/hop_trace.hpp"
#include "actors/local_executor.hpp"

#include "net/cluster_config.hpp"
#include "raft/overloaded.hpp"
#include "version/version.hpp"

#include <asio/post.hpp>
#include <asio/use_awaitable.hpp>
#include <fmt/format.h>
#include <openssl/crypto.h>

#include <algorithm>
#include <chrono>

namespace coraft::net {
namespace {
constexpr std::size_t kMaxDrain = 256;     // datagrams read per wake-up before yielding to the actors
constexpr std::size_t kReceiveSlots = 16;  // datagrams per system call (each slot holds the largest: 1 MiB in all)
constexpr std::uint64_t kWarningIntervalUs = 10'000'000;

// Peer authentication's counters follow the wall clock (net/peer_auth.hpp explains why), so this is the one place in
// the bridge that reads it.
std::uint64_t wall_clock_us() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch()).count());
}

std::vector<raft::NodeId> members(const actors::ReplicaOptions& options) {
  std::vector<raft::NodeId> all = options.peers;
  all.push_back(options.self);
  return all;
}

// kvstore --trace-hops: an append that carries entries (named by its last index), or an ack (by its match index).
void mark_replication_hop(const raft::PeerMessage& message, const char* append_hop, const char* ack_hop) {
  if (const auto* append = std::get_if<raft::AppendEntries>(&message.payload); append && !append->entries.empty()) {
    actors::hop_trace::mark(append_hop, append->entries.back()->index);
  } else if (const auto* ack = std::get_if<raft::AppendEntriesReply>(&message.payload); ack && ack->success) {
    actors::hop_trace::mark(ack_hop, ack->match_index);
  }
}

}  // namespace

actors::ReplyAddress to_reply_address(const asio::ip::udp::endpoint& endpoint) {
  actors::ReplyAddress a;
  a.valid = true;
  a.port = endpoint.port();
  if (endpoint.address().is_v6()) {
    a.v6 = true;
    const auto bytes = endpoint.address().to_v6().to_bytes();
    std::copy(bytes.begin(), bytes.end(), a.bytes.begin());
  } else {
    const auto bytes = endpoint.address().to_v4().to_bytes();
    std::copy(bytes.begin(), bytes.end(), a.bytes.begin());
  }
  return a;
}

asio::ip::udp::endpoint to_endpoint(const actors::ReplyAddress& a) {
  if (a.v6) {
    asio::ip::address_v6::bytes_type bytes;
    std::copy(a.bytes.begin(), a.bytes.end(), bytes.begin());
    return {asio::ip::address_v6(bytes), a.port};
  }
  asio::ip::address_v4::bytes_type bytes;
  std::copy(a.bytes.begin(), a.bytes.begin() + 4, bytes.begin());
  return {asio::ip::address_v4(bytes), a.port};
}

UdpBridge::UdpBridge(asio::ip::udp::socket& socket, actors::Replica& replica, Addressing addressing,
                     actors::Logger log, const BridgeSecurity& security)
    : socket_(socket),
      replica_(replica),
      addressing_(std::move(addressing)),
      log_(std::move(log)),
      self_(replica.options().self),
      client_token_(security.client_token),
      receiver_(kReceiveSlots, kMaxDatagramBytes + 1),
      hold_timer_(socket.get_executor()),
      cluster_id_(replica.options().cluster_id) {
  if (!security.peer_key.empty()) auth_.emplace(security.peer_key, self_, members(replica.options()), wall_clock_us());
  socket_.non_blocking(true);
  replica_.attach_edge(actors::EdgeKind::kNetwork);
}

bool UdpBridge::is_member(raft::NodeId id) const {
  // Anyone in the address book: the cluster file's replicas and every member the configuration named since. Who may
  // vote or count is the core's business (raft/membership.hpp); a replica that is joining must hear the leader.
  if (addressing_.course_mode) {
    const auto& peers = replica_.options().peers;
    return std::find(peers.begin(), peers.end(), id) != peers.end();
  }
  return id != self_ && addressing_.replicas.contains(id);
}

asio::awaitable<void> UdpBridge::receive_loop() {
  const auto each = [this](std::string_view datagram, const asio::ip::udp::endpoint& from) {
    ++stats_.received;
    on_datagram(datagram, from);
  };
  for (;;) {
    // Wait for the socket, then take everything already queued in it before yielding: the gateway and the node see
    // a burst and batch it (one proposal, one write, one sync) instead of one wake-up per datagram. Up to
    // kReceiveSlots datagrams per system call; a call that leaves slots unused found the socket empty, so no second
    // call is needed to learn that.
    auto [error] = co_await socket_.async_wait(asio::ip::udp::socket::wait_read,
                                               asio::experimental::as_tuple(asio::use_awaitable));
    if (error == asio::error::operation_aborted || !socket_.is_open()) co_return;
    if (error) {
      log_->debug("receive error: {}", error.message());
      continue;
    }
    in_burst_ = true;  // what handling these datagrams sends (a refusal of a bad token) goes out after them
    for (std::size_t taken = 0; taken < kMaxDrain;) {
      const BatchReceiver::Taken batch = receiver_.receive(socket_.native_handle(), each);
      if (batch.error) log_->debug("receive error: {}", batch.error.message());
      taken += batch.datagrams;
      if (!batch.full) break;
    }
    in_burst_ = false;
    flush_sends();
  }
}

void UdpBridge::on_datagram(std::string_view datagram, const asio::ip::udp::endpoint& from) {
  if (PeerAuth::is_sealed(datagram)) {
    if (auth_) on_sealed(datagram, from);
    else drop_peer(AuthFailure::kUnauthenticated, from, datagram);
    return;
  }
  if (!addressing_.course_mode && datagram.find('\n') != std::string_view::npos) {
    // A bundle of requests from sessions that share a socket, one per line (JSON holds no raw newline): each line is
    // taken as a datagram of its own. Course mode never bundles (the simulator counts and checks each datagram).
    ++stats_.bundles;
    LineBundles::for_each(datagram, [&](std::string_view request) { on_datagram(request, from); });
    return;
  }
  auto decoded = decode(datagram);
  if (auto* reason = std::get_if<DropReason>(&decoded)) {
    ++stats_.dropped[static_cast<std::size_t>(*reason)];
    if (*reason == DropReason::kWireFormat) drop_other_wire_format(datagram, from);
    else log_->debug("dropped a {}-byte datagram from {}:{}: {}", datagram.size(), from.address().to_string(),
                     from.port(), drop_reason_name(*reason));
    return;
  }
  std::visit(Overloaded{
                 [&](PeerDatagram& d) {
                   if (auth_) drop_peer(AuthFailure::kUnauthenticated, from, datagram);
                   else on_peer(d);
                 },
                 [&](RequestDatagram& d) { on_request(d, from); },
                 [&](ReplyDatagram&) {
                   ++stats_.dropped[static_cast<std::size_t>(DropReason::kUnknownType)];
                   log_->debug("dropped a reply addressed to a replica");
                 },
                 [&](HelloDatagram&) {},
             },
             std::get<Datagram>(decoded));
}

void UdpBridge::on_sealed(std::string_view datagram, const asio::ip::udp::endpoint& from) {
  auto opened = auth_->open(datagram);
  if (auto* failure = std::get_if<AuthFailure>(&opened)) {
    drop_peer(*failure, from, datagram);
    return;
  }
  const OpenedDatagram& sealed = std::get<OpenedDatagram>(opened);
  auto decoded = decode(sealed.body);
  if (auto* reason = std::get_if<DropReason>(&decoded)) {
    ++stats_.dropped[static_cast<std::size_t>(*reason)];
    if (*reason == DropReason::kWireFormat) drop_other_wire_format(sealed.body, from);
    else log_->debug("dropped a sealed datagram from {}: {}", sealed.sender.str(), drop_reason_name(*reason));
    return;
  }
  auto* peer = std::get_if<PeerDatagram>(&std::get<Datagram>(decoded));
  // The seal vouches for its header's ids: the message inside must claim the same ones.
  if (!peer || peer->envelope.src != sealed.sender || peer->envelope.dst != self_) {
    ++stats_.dropped[static_cast<std::size_t>(DropReason::kBadEnvelope)];
    log_->debug("dropped a sealed datagram from {}: its message is not a peer message between the sealed ids",
                sealed.sender.str());
    return;
  }
  on_peer(*peer);
}

void UdpBridge::on_peer(PeerDatagram& d) {
  // Course mode: a datagram addressed to FFFF is for every replica but its sender (the simulator copies it).
  if (addressing_.course_mode && d.envelope.dst == raft::kNoNode &&
      std::holds_alternative<raft::AppendEntries>(d.message.payload)) {
    d.envelope.dst = self_;
    d.message.to = self_;
  }
  if (d.envelope.dst != self_ || !is_member(d.envelope.src)) {
    ++stats_.not_member;
    log_->debug("dropped {}: not a member or not for us", raft::describe(d.message));
    return;
  }
  if (!same_cluster(d)) return;
  if (actors::hop_trace::enabled()) mark_replication_hop(d.message, "append_in", "ack_in");
  if (!replica_.deliver(std::move(d.message))) ++stats_.inbox_full;
}

bool UdpBridge::same_cluster(const PeerDatagram& d) {
  const std::uint64_t theirs = d.envelope.cluster_id;
  if (theirs == cluster_id_) return true;
  if (adopt_cluster_ && cluster_id_ == 0) {
    adopt_cluster_(theirs);  // durable before anything of that cluster's reaches the node
    adopt_cluster_ = nullptr;
    cluster_id_ = theirs;
    log_->info("joined cluster {:016x} (named by {}, the first member to talk to this new replica)", theirs,
               d.envelope.src.str());
    return true;
  }
  ++stats_.other_cluster;
  const std::uint64_t now = wall_clock_us();
  const bool warn = last_cluster_warning_us_ == 0 || now - last_cluster_warning_us_ >= kWarningIntervalUs;
  auto name = [](std::uint64_t id) {
    return id == 0 ? std::string("the original cluster (never restored from a backup)") : fmt::format("cluster {:016x}", id);
  };
  if (warn) {
    last_cluster_warning_us_ = now;
    log_->warn("refused {} from {}: it belongs to {}, this replica to {}. A cluster restored from a backup is a new "
               "cluster: its replicas and those of the cluster the backup came from never talk ({} refused so far; "
               "at most one such warning every {} s)",
               raft::describe(d.message), d.envelope.src.str(), name(theirs), name(cluster_id_), stats_.other_cluster,
               kWarningIntervalUs / 1'000'000);
  } else {
    log_->debug("refused {} from {}: cluster {:016x}, not ours", raft::describe(d.message), d.envelope.src.str(),
                theirs);
  }
  return false;
}

void UdpBridge::drop_other_wire_format(std::string_view datagram, const asio::ip::udp::endpoint& from) {
  const std::uint64_t now = wall_clock_us();
  if (last_wire_warning_us_ != 0 && now - last_wire_warning_us_ < kWarningIntervalUs) return;
  last_wire_warning_us_ = now;
  log_->warn("dropped a datagram from {}:{}: it speaks wire format {}, this replica ({}) wire format {}. Replicas "
             "talk only within one wire format: run releases of the same format on every replica (README: Versions "
             "on the wire); at most one such warning every {} s",
             from.address().to_string(), from.port(), wire_format_of(datagram).value_or(0), version(), kWireFormat,
             kWarningIntervalUs / 1'000'000);
}

void UdpBridge::on_request(RequestDatagram& d, const asio::ip::udp::endpoint& from) {
  if (!client_token_.empty() &&
      (d.token.size() != client_token_.size() ||
       CRYPTO_memcmp(d.token.data(), client_token_.data(), client_token_.size()) != 0)) {
    ++stats_.unauthorized;
    log_->debug("refused a request from {}:{}: no valid client token", from.address().to_string(), from.port());
    // Answer, so that a client without the token learns why at once instead of timing out. The answer is about the
    // size of the request (a few bytes more at most), so a spoofed source gains no meaningful amplification.
    actors::ClientReply reply;
    reply.client = d.envelope.src;
    reply.mid = std::move(d.request.mid);
    reply.kind = actors::ReplyKind::kFail;
    reply.reason = kUnauthorizedReason;
    send_raw(encode_reply(reply, self_), addressing_.course_mode ? addressing_.simulator : from);
    return;
  }
  if (!addressing_.course_mode) {
    const bool bundles = d.request.reply_to.bundles;
    d.request.reply_to = to_reply_address(from);
    d.request.reply_to.bundles = bundles;
  }
  actors::hop_trace::mark("client_in");
  if (!replica_.deliver(std::move(d.request))) ++stats_.inbox_full;
}

void UdpBridge::drop_peer(AuthFailure reason, const asio::ip::udp::endpoint& from, std::string_view datagram) {
  std::uint64_t* count = nullptr;
  switch (reason) {
    case AuthFailure::kUnauthenticated: count = &stats_.unauthenticated; break;
    case AuthFailure::kNotMember: count = &stats_.not_member; break;
    case AuthFailure::kReplayed: count = &stats_.replayed; break;
    case AuthFailure::kTooOld: count = &stats_.too_old; break;
  }
  ++*count;
  std::uint64_t& last = last_warning_us_[static_cast<std::size_t>(reason)];
  const std::uint64_t now = wall_clock_us();
  const bool warn = last == 0 || now - last >= kWarningIntervalUs;
  if (!warn && !log_->should_log(spdlog::level::debug)) return;  // a flood of forgeries costs no formatting
  if (warn) last = now;

  // Only an authentic datagram's header can be believed; these details are for the operator.
  const bool sealed = PeerAuth::is_sealed(datagram) && datagram.size() >= kSealOverheadBytes;
  const raft::NodeId sender = sealed ? PeerAuth::sender_of(datagram) : raft::kNoNode;
  std::string detail;
  switch (reason) {
    case AuthFailure::kUnauthenticated:
      detail = !sealed  ? "not sealed"
               : auth_ ? "its tag does not verify (is key_file the same on every replica?)"
                       : "it is sealed but this replica has no key_file (is the cluster file the same everywhere?)";
      break;
    case AuthFailure::kNotMember:
      detail = fmt::format("sealed by {} for {}, but this is {} and its members are {}", sender.str(),
                           PeerAuth::receiver_of(datagram).str(), self_.str(), fmt::join(members_text(), ","));
      break;
    case AuthFailure::kReplayed:
      detail = fmt::format("sealed by {}, counter {} accepted before", sender.str(), PeerAuth::counter_of(datagram));
      break;
    case AuthFailure::kTooOld: {
      const std::uint64_t counter = PeerAuth::counter_of(datagram), newest = auth_->newest_from(sender);
      detail = fmt::format("sealed by {}, {} ms older than the newest accepted from it or than this replica's "
                           "start-up (is {}'s clock behind? see net/peer_auth.hpp)",
                           sender.str(), newest > counter ? (newest - counter) / 1000 : 0, sender.str());
      break;
    }
  }
  if (warn) {
    log_->warn("dropped a peer datagram from {}:{}: {}: {} ({} {} so far; at most one such warning every {} s)",
               from.address().to_string(), from.port(), auth_failure_name(reason), detail, *count,
               auth_failure_name(reason), kWarningIntervalUs / 1'000'000);
  } else {
    log_->debug("dropped a peer datagram from {}:{}: {}: {}", from.address().to_string(), from.port(),
                auth_failure_name(reason), detail);
  }
}

std::vector<std::string> UdpBridge::members_text() const {
  std::vector<std::string> out;
  if (addressing_.course_mode) {
    for (raft::NodeId id : members(replica_.options())) out.push_back(id.str());
  } else {
    for (const auto& [id, endpoint] : addressing_.replicas) out.push_back(id.str());
  }
  return out;
}

namespace {

// The peer message of this kind that an outgoing item carries, if it is one.
template <class Payload>
const Payload* outgoing(const actors::BridgeInbox& message) {
  const auto* send = std::get_if<actors::SendPeer>(&message);
  return send ? std::get_if<Payload>(&send->message.payload) : nullptr;
}

const raft::AppendEntries* append_in(const actors::BridgeInbox& message) {
  return outgoing<raft::AppendEntries>(message);
}

bool same_append(const raft::AppendEntries& a, const raft::AppendEntries& b) {
  if (a.term != b.term || a.prev_log_index != b.prev_log_index || a.prev_log_term != b.prev_log_term ||
      a.leader_commit != b.leader_commit || a.sent_at_us != b.sent_at_us || a.entries.size() != b.entries.size() ||
      a.quiet != b.quiet) {
    return false;
  }
  for (std::size_t i = 0; i < a.entries.size(); ++i)
    if (a.entries[i] != b.entries[i]) return false;  // slices of one log share their entries
  return true;
}

}  // namespace

asio::awaitable<void> gather_course_burst(actors::BridgeMailbox& outbox, std::vector<actors::BridgeInbox>& burst,
                                          std::size_t peers) {
  // In course runs nearly all that comes, comes within one turn (ARCHITECTURE.md); the bound keeps a burst from waiting
  // on a busy replica.
  constexpr int kMaxTurns = 4;
  // An append some peer has no copy of yet waits on, through the event loop's own queue: the node hands a heartbeat's
  // copies to the replicators in one step, and some reach us only after asio's queue (not just the actors' local one)
  // has had a turn. An append for fewer peers (a retransmission, a catch-up) waits the whole bound, some microseconds.
  constexpr int kMaxTurnsForCopies = 8;
  const auto has_append = [&] {
    return std::any_of(burst.begin(), burst.end(), [](actors::BridgeInbox& m) { return append_in(m) != nullptr; });
  };
  const auto copies_missing = [&] {
    for (auto& m : burst) {
      const raft::AppendEntries* append = append_in(m);
      if (!append) continue;
      std::size_t copies = 0;
      for (auto& other : burst) {
        const raft::AppendEntries* o = append_in(other);
        if (o && same_append(*append, *o)) ++copies;
      }
      if (copies < peers) return true;
    }
    return false;
  };
  for (int turn = 0;; ++turn) {
    const std::size_t before = burst.size();
    while (auto more = outbox.try_receive()) burst.push_back(std::move(*more));
    // Only a leader's appends wait: what else a burst holds (a follower's acknowledgement, answers) is complete as it
    // is, and a turn's wait would let other actors' work (a follower applying what was committed) run before it.
    if (!has_append() || turn == kMaxTurnsForCopies) break;
    const bool settled = (turn > 0 && burst.size() == before) || turn >= kMaxTurns;
    if (settled && (peers < 2 || !copies_missing())) break;
    if (settled) {
      co_await asio::post(actors::event_loop(co_await asio::this_coro::executor), asio::use_awaitable);
    } else {
      co_await asio::post(co_await asio::this_coro::executor, asio::use_awaitable);
    }
  }
  std::stable_partition(burst.begin(), burst.end(),
                        [](const actors::BridgeInbox& m) { return std::holds_alternative<actors::SendClientReply>(m); });
}

asio::awaitable<void> UdpBridge::send_loop() {
  std::vector<actors::BridgeInbox> burst;
  while (auto message = co_await replica_.outbox().receive()) {
    // Whatever else is ready goes with it, in one system call.
    in_burst_ = true;
    if (!addressing_.course_mode) {
      send_message(*message);
      while (auto more = replica_.outbox().try_receive()) send_message(*more);
    } else {
      burst.push_back(std::move(*message));
      co_await gather_course_burst(replica_.outbox(), burst, replica_.options().peers.size());
      in_burst_ = true;  // (the receive loop may have run meanwhile, and set it back)
      if (!holds_back(burst)) send_burst(burst);
      burst.clear();
    }
    in_burst_ = false;
    flush_sends();
  }
}

// A follower's answer to a heartbeat tells the leader nothing it does not know but that the follower lives, and the
// relay wakes at that heartbeat to inject the requests that came due while it slept: the leader's answers to them
// then wait in the relay behind every follower's acknowledgement (one datagram each, taken in socket order). Held
// back a moment, the acknowledgements go in a pass of their own. The time held is not the network's: the answer says
// how long (`held_us`), and the leader takes it off the round trip it measures. An answer that does say something
// new (an append taken, a rejection) goes at once; a held one goes after it, or not at all once a later successful
// acknowledgement says more.
CourseHold course_hold(const std::vector<actors::BridgeInbox>& burst, bool holding, raft::Term answered_term,
                       raft::Index answered_match) {
  const raft::AppendEntriesReply* ack = burst.size() == 1 ? outgoing<raft::AppendEntriesReply>(burst[0]) : nullptr;
  if (ack && ack->success && ack->answers_heartbeat && ack->term == answered_term &&
      ack->match_index == answered_match) {
    return CourseHold::kHoldThis;  // (a held one before it says no more)
  }
  if (!holding) return CourseHold::kSend;
  const bool superseded = std::any_of(burst.begin(), burst.end(), [&](const actors::BridgeInbox& message) {
    const raft::AppendEntriesReply* later = outgoing<raft::AppendEntriesReply>(message);
    return later && later->success && later->term == answered_term;
  });
  return superseded ? CourseHold::kSendDropHeld : CourseHold::kSendThenHeld;
}

bool UdpBridge::holds_back(std::vector<actors::BridgeInbox>& burst) {
  constexpr auto kHold = std::chrono::milliseconds(1);  // a relay pass or two, and the leader's turn to answer
  switch (course_hold(burst, held_answer_.has_value(), answered_term_, answered_match_)) {
    case CourseHold::kSend:
      return false;
    case CourseHold::kHoldThis:
      held_answer_ = std::move(std::get<actors::SendPeer>(burst[0]).message);
      held_since_ = std::chrono::steady_clock::now();
      hold_timer_.expires_after(kHold);
      hold_timer_.async_wait([this](std::error_code error) {
        if (error || !held_answer_) return;
        send_held_answer();
        flush_sends();
      });
      return true;
    case CourseHold::kSendThenHeld:
      send_burst(burst);
      send_held_answer();
      return true;
    case CourseHold::kSendDropHeld:
      send_burst(burst);
      held_answer_.reset();
      hold_timer_.cancel();
      return true;
  }
  return false;
}

void UdpBridge::send_held_answer() {
  if (!held_answer_) return;
  raft::PeerMessage answer = std::move(*held_answer_);
  held_answer_.reset();
  hold_timer_.cancel();
  auto& ack = std::get<raft::AppendEntriesReply>(answer.payload);
  const auto held = std::chrono::steady_clock::now() - held_since_;
  ack.held_us = std::chrono::duration_cast<std::chrono::microseconds>(held).count();
  send_peer(answer);
}

void UdpBridge::send_burst(std::vector<actors::BridgeInbox>& burst) {
  const std::vector<raft::NodeId>& peers = replica_.options().peers;
  std::vector<bool> sent(burst.size(), false);
  std::vector<std::size_t> copies;   // of the append in hand, by position in the burst
  std::vector<raft::NodeId> reached;  // and whom they are for
  for (std::size_t i = 0; i < burst.size(); ++i) {
    if (sent[i]) continue;
    const raft::AppendEntries* append = append_in(burst[i]);
    if (!append || peers.size() < 2) {
      send_message(burst[i]);
      continue;
    }
    // Its copies for the other replicas, each once (a second copy for one replica is a later message: kept apart).
    copies.assign(1, i);
    reached.assign(1, std::get<actors::SendPeer>(burst[i]).message.to);
    for (std::size_t j = i + 1; j < burst.size() && reached.size() < peers.size(); ++j) {
      const raft::AppendEntries* other = sent[j] ? nullptr : append_in(burst[j]);
      if (!other || !same_append(*append, *other)) continue;
      const raft::NodeId to = std::get<actors::SendPeer>(burst[j]).message.to;
      if (std::find(reached.begin(), reached.end(), to) != reached.end()) continue;
      reached.push_back(to);
      copies.push_back(j);
    }
    if (reached.size() < peers.size()) {
      send_message(burst[i]);  // not everyone's: FFFF would hand it to replicas it is not for
      continue;
    }
    for (std::size_t j : copies) sent[j] = true;
    raft::PeerMessage& everyone = std::get<actors::SendPeer>(burst[i]).message;
    everyone.to = raft::kNoNode;
    send_peer(everyone);
  }
}

void UdpBridge::send_peer(raft::PeerMessage& message) {
  message.incarnation = replica_.options().incarnation;
  if (const auto* ack = std::get_if<raft::AppendEntriesReply>(&message.payload); ack && ack->success) {
    answered_term_ = ack->term;
    answered_match_ = ack->match_index;
  }
  if (actors::hop_trace::enabled()) mark_replication_hop(message, "append_out", "ack_out");
  asio::ip::udp::endpoint to = addressing_.simulator;
  if (!addressing_.course_mode) {
    auto it = addressing_.replicas.find(message.to);
    if (it == addressing_.replicas.end()) return;
    to = it->second;
  }
  for (std::string& datagram : encode_peer(message, leader_, kMaxAppendDatagramBytes, cluster_id_)) {
    if (!auth_) {
      send_raw(std::move(datagram), to);
      continue;
    }
    std::string sealed;  // its own string: it waits in the batch until the burst ends
    auth_->seal(datagram, message.to, wall_clock_us(), sealed);
    send_raw(std::move(sealed), to);
  }
}

void UdpBridge::send_message(actors::BridgeInbox& message) {
  std::visit(Overloaded{
                 [&](actors::SendPeer& m) { send_peer(m.message); },
                 [&](actors::SendClientReply& m) {
                   asio::ip::udp::endpoint to = addressing_.simulator;
                   if (!addressing_.course_mode) {
                     if (!m.reply.reply_to.valid) return;
                     to = to_endpoint(m.reply.reply_to);
                   }
                   if (in_burst_ && !addressing_.course_mode && m.reply.reply_to.bundles) {
                     reply_bundles_.add(encode_reply(m.reply, self_), to);  // sent when the burst ends
                   } else {
                     send_raw(encode_reply(m.reply, self_), to);
                   }
                   actors::hop_trace::mark("reply_out");
                 },
                 [&](actors::AnnounceLeader& m) { leader_ = m.leader; },
                 [&](actors::AnnounceMembers& m) { learn_addresses(m.members); },
                 [&](actors::ReportMetrics& m) {
                   actors::MetricsReport report{m.collection_id, m.slot, {}};
                   render_metrics(report.text);
                   replica_.deliver(std::move(report));
                 },
             },
             message);
}

void UdpBridge::learn_addresses(const std::vector<raft::Member>& members) {
  if (addressing_.course_mode) return;
  for (const raft::Member& member : members) {
    if (member.address.empty() || member.id == self_) continue;
    try {
      const HostPort where = parse_host_port(member.address);
      asio::ip::udp::resolver resolver(socket_.get_executor());
      const auto found = resolver.resolve(asio::ip::udp::v4(), where.host, std::to_string(where.port));
      if (found.empty()) continue;
      const auto endpoint = found.begin()->endpoint();
      auto [it, added] = addressing_.replicas.insert_or_assign(member.id, endpoint);
      if (added) {
        log_->info("member {} at {}", member.id.str(), member.address);
        if (auth_) auth_->admit(member.id, wall_clock_us());
      }
    } catch (const std::exception& e) {
      log_->warn("member {}: cannot use its address \"{}\": {}", member.id.str(), member.address, e.what());
    }
  }
}

void UdpBridge::send_raw(std::string datagram, const asio::ip::udp::endpoint& to) {
  outgoing_.add(std::move(datagram), to);
  if (!in_burst_) flush_sends();
}

void UdpBridge::flush_sends() {
  reply_bundles_.drain([this](std::string datagram, const asio::ip::udp::endpoint& to) {
    outgoing_.add(std::move(datagram), to);
  });
  if (outgoing_.empty()) return;
  const auto refused = [this](std::string_view datagram, const asio::ip::udp::endpoint& to, std::error_code error) {
    ++stats_.send_errors;
    log_->debug("send of {} bytes to {}:{} failed: {}", datagram.size(), to.address().to_string(), to.port(),
                error.message());
  };
  stats_.sent += outgoing_.flush(socket_.native_handle(), refused);
}

void UdpBridge::render_metrics(std::string& out) const {
  const std::string id = actors::replica_label(self_);
  actors::append_header(out, "coraft_datagrams_received_total", "counter", "UDP datagrams received");
  actors::append_sample(out, "coraft_datagrams_received_total", id, static_cast<double>(stats_.received));
  actors::append_header(out, "coraft_datagrams_sent_total", "counter", "UDP datagrams sent");
  actors::append_sample(out, "coraft_datagrams_sent_total", id, static_cast<double>(stats_.sent));
  actors::append_header(out, "coraft_request_bundles_received_total", "counter",
                        "Datagrams received that carried several client requests, one per line");
  actors::append_sample(out, "coraft_request_bundles_received_total", id, static_cast<double>(stats_.bundles));
  actors::append_header(out, "coraft_datagrams_dropped_total", "counter", "Datagrams dropped, by reason");
  for (int r = 0; r < kDropReasons; ++r) {
    actors::append_sample(out, "coraft_datagrams_dropped_total",
                          fmt::format("{},reason=\"{}\"", id, drop_reason_name(static_cast<DropReason>(r))),
                          static_cast<double>(stats_.dropped[static_cast<std::size_t>(r)]));
  }
  const std::pair<const char*, std::uint64_t> more[] = {
      {"not_member", stats_.not_member}, {"unauthenticated", stats_.unauthenticated}, {"replayed", stats_.replayed},
      {"too_old", stats_.too_old},       {"unauthorized", stats_.unauthorized},       {"inbox_full", stats_.inbox_full},
      {"other_cluster", stats_.other_cluster}};
  for (const auto& [reason, count] : more) {
    actors::append_sample(out, "coraft_datagrams_dropped_total", fmt::format("{},reason=\"{}\"", id, reason),
                          static_cast<double>(count));
  }
  actors::append_header(out, "coraft_send_errors_total", "counter", "Datagrams the socket refused to send");
  actors::append_sample(out, "coraft_send_errors_total", id, static_cast<double>(stats_.send_errors));
}

}  // namespace coraft::net
