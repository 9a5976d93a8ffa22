#pragma once
// The UDP bridge: the replica's edge to the network. Two coroutines, one wait point each:
//   receive loop: socket -> decode -> Replica::deliver (peer messages to the node, requests to the gateway);
//                 malformed, oversized, unknown or foreign datagrams are counted by reason and dropped (debug log);
//                 peer messages of another cluster (raft/backup_file.hpp) or of another wire format (net/codec.hpp)
//                 too, with a warning at most every 10 s that says which;
//   send loop:    replica outbox -> encode (leader stamped on every message; AppendEntries split to fit) -> socket;
//                 in course mode, a burst with an append waits for what the next turn of the event loop adds,
//                 answers to clients go first, and one AppendEntries that every other replica is sent in the burst
//                 goes once, addressed to FFFF (the simulator relays it to all in one pass, where copies take one each).
// Course mode sends every datagram to the simulator's port; cluster mode sends to peers' configured addresses and
// answers clients at their source address.
// Security (cluster mode only; course mode's simulator cannot sign): with a peer key, every peer datagram is sealed
// on the way out and must open on the way in (net/peer_auth.hpp); unsealed, forged, replayed or too old peer
// datagrams and those from non-members are counted and dropped, with a warning at most every 10 s per reason. With a
// client token, a request without it is answered `fail` with reason "unauthorized" and counted.
// Shutdown: the send loop ends when the outbox closes; the receive loop when the socket closes.

#include "actors/logger.hpp"
#include "actors/replica.hpp"
#include "net/batched_udp.hpp"
#include "net/codec.hpp"
#include "net/peer_auth.hpp"

#include <asio/ip/udp.hpp>
#include <asio/steady_timer.hpp>

#include <array>
#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>

namespace coraft::net {

struct Addressing {
  bool course_mode = false;
  asio::ip::udp::endpoint simulator;                         // course mode: everything goes here
  std::map<raft::NodeId, asio::ip::udp::endpoint> replicas;  // cluster mode: every member, self included
};

struct BridgeSecurity {
  std::string peer_key;      // the cluster's secret (key_file); empty: peer datagrams are neither sealed nor checked
  std::string client_token;  // hex (client_token_file); empty: clients need no token
};

struct BridgeStats {
  std::uint64_t received = 0;
  std::uint64_t sent = 0;
  std::uint64_t bundles = 0;  // received datagrams that carried several requests, one per line
  std::array<std::uint64_t, kDropReasons> dropped{};
  std::uint64_t not_member = 0;       // peer messages from ids outside the cluster, or not addressed to us
  std::uint64_t unauthenticated = 0;  // peer datagrams not sealed, or whose tag does not verify (with a peer key); or
                                      // sealed ones while this replica has no key
  std::uint64_t replayed = 0;         // sealed peer datagrams accepted before
  std::uint64_t too_old = 0;          // sealed peer datagrams below the replay window (see net/peer_auth.hpp)
  std::uint64_t unauthorized = 0;     // client requests without the cluster's client token
  std::uint64_t other_cluster = 0;    // peer messages stamped with another cluster's identity
  std::uint64_t inbox_full = 0;     // dropped because an actor's mailbox was full
  std::uint64_t send_errors = 0;
};

actors::ReplyAddress to_reply_address(const asio::ip::udp::endpoint& endpoint);
asio::ip::udp::endpoint to_endpoint(const actors::ReplyAddress& address);

// Course mode: the simulator takes one datagram per replica per pass, so what leaves together, and in which order,
// sets how many passes a request waits. Adds to `burst` what `outbox` holds and, while the burst holds an append,
// what the next turns of the event loop bring, until a turn brings nothing: a replicator that had a timer notice
// queued hands over its copy of a heartbeat a turn after the others (four datagrams, four passes, where one FFFF
// datagram takes one), and a read's answer comes a turn after the append of a write that arrived with it. Then
// answers to clients go first: each ends a request and costs the relay one datagram, where an append costs it a
// forward per follower; behind one they wait a whole pass.
// With `peers` (the number of other replicas), it also waits, a few turns more, for the missing copies of an append
// not every peer has a copy of yet.
asio::awaitable<void> gather_course_burst(actors::BridgeMailbox& outbox, std::vector<actors::BridgeInbox>& burst,
                                          std::size_t peers = 0);

// Course mode: what becomes of a burst while the bridge may hold back a heartbeat's acknowledgement (the answer to an
// AppendEntries without entries that repeats the last successful one: same term, same match), `holding` one already.
// See UdpBridge::holds_back.
enum class CourseHold {
  kSend,          // as it is
  kHoldThis,      // the burst is such an acknowledgement: held (it replaces one held before)
  kSendThenHeld,  // the burst, then the held acknowledgement
  kSendDropHeld,  // the burst, whose successful acknowledgement makes the held one say nothing more
};
CourseHold course_hold(const std::vector<actors::BridgeInbox>& burst, bool holding, raft::Term answered_term,
                       raft::Index answered_match);

class UdpBridge {
 public:
  // Security settings are for cluster mode; course mode must pass none.
  UdpBridge(asio::ip::udp::socket& socket, actors::Replica& replica, Addressing addressing, actors::Logger log,
            const BridgeSecurity& security = {});

  asio::awaitable<void> receive_loop();
  asio::awaitable<void> send_loop();
  // Sends one datagram: at the end of the burst being sent (one system call for all of them), or now outside one (the
  // course mode's hello).
  void send_raw(std::string datagram, const asio::ip::udp::endpoint& to);

  const BridgeStats& stats() const { return stats_; }
  // A replica that joins with an empty data directory belongs to no cluster yet: it takes the identity of the first
  // member that talks to it, and `persist` records it (the CLUSTER file) before the message is delivered.
  void adopt_cluster_on_first_contact(std::function<void(std::uint64_t)> persist) { adopt_cluster_ = std::move(persist); }
  std::uint64_t cluster_id() const { return cluster_id_; }
  // Appends the datagram counters in Prometheus text format (part of the replica's metrics).
  void render_metrics(std::string& out) const;

 private:
  void on_datagram(std::string_view datagram, const asio::ip::udp::endpoint& from);
  void on_sealed(std::string_view datagram, const asio::ip::udp::endpoint& from);
  void on_peer(PeerDatagram& datagram);
  void on_request(RequestDatagram& datagram, const asio::ip::udp::endpoint& from);
  void send_message(actors::BridgeInbox& message);
  // Course mode: sends a burst, the same AppendEntries for every other replica going as one `dst: FFFF` datagram.
  void send_burst(std::vector<actors::BridgeInbox>& burst);
  void send_peer(raft::PeerMessage& message);
  void learn_addresses(const std::vector<raft::Member>& members);
  bool is_member(raft::NodeId id) const;
  // Counts a dropped peer datagram and says so: at warn level at most every 10 s per reason, else at debug level.
  void drop_peer(AuthFailure reason, const asio::ip::udp::endpoint& from, std::string_view datagram);
  std::vector<std::string> members_text() const;
  // Whether a message stamped with `cluster_id` may be delivered; says why not (at most every 10 s).
  bool same_cluster(const PeerDatagram& datagram);
  void drop_other_wire_format(std::string_view datagram, const asio::ip::udp::endpoint& from);
  void flush_sends();
  // Course mode: an acknowledgement that tells the leader nothing new (a heartbeat's) is held back a moment (see
  // send_loop); these keep it and send it.
  bool holds_back(std::vector<actors::BridgeInbox>& burst);
  void send_held_answer();

  asio::ip::udp::socket& socket_;
  actors::Replica& replica_;
  Addressing addressing_;
  actors::Logger log_;
  raft::NodeId self_;
  raft::NodeId leader_;
  BridgeStats stats_;
  std::optional<PeerAuth> auth_;  // set iff peer datagrams are sealed and checked
  std::string client_token_;
  BatchReceiver receiver_;
  BatchSender outgoing_;  // what the burst in hand sends
  LineBundles reply_bundles_;  // the burst's replies to clients that take them bundled: into `outgoing_` at its end
  bool in_burst_ = false;
  std::optional<raft::PeerMessage> held_answer_;  // course mode: a heartbeat's acknowledgement, held back
  std::chrono::steady_clock::time_point held_since_;
  asio::steady_timer hold_timer_;
  raft::Term answered_term_ = 0;  // what our last successful acknowledgement said
  raft::Index answered_match_ = 0;
  std::array<std::uint64_t, 4> last_warning_us_{};  // per AuthFailure
  std::uint64_t last_cluster_warning_us_ = 0, last_wire_warning_us_ = 0;
  std::uint64_t cluster_id_;
  std::function<void(std::uint64_t)> adopt_cluster_;
};

}  // namespace coraft::net
