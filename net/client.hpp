#pragma once
// The coraft client library (kvctl, kvbench, kvchat and the real-process tests use it). One Client is one session:
// one operation at a time, numbered, so a write retried after a lost answer or a change of leader is applied once.
// It finds the leader by following redirects, retries with back-off, and gives up at a deadline, or sooner when no
// replica is listening at all (the socket asks the kernel for ICMP errors, which say so at once on a local host).
// Several operations in flight: one Client each, all over one ClientSocket (below).

#include "actors/client_protocol.hpp"
#include "actors/clock.hpp"
#include "actors/rng.hpp"
#include "net/cluster_config.hpp"

#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/udp.hpp>
#include <asio/steady_timer.hpp>

#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>

namespace coraft::net {

struct ClientSettings {
  actors::Millis attempt_timeout{300};  // wait this long for an answer before trying another replica
  actors::Millis deadline{10000};       // give up on an operation after this long
  actors::Millis max_backoff{200};
  std::string token;  // the cluster's client token (hex; see client_token()), sent with every request; empty: none
  // Give up before the deadline once every replica has refused for this long (CallResult::nothing_listens), for a
  // person who asks a cluster that is not running. nullopt: wait out the deadline, for programs that start a cluster
  // and talk to it at once (replicas refuse until they have opened their sockets).
  std::optional<actors::Millis> give_up_when_refused_for;
};

// give_up_when_refused_for for the programs a person runs (kvctl, kvchat): they hear within a few seconds that
// nothing is running, and a supervisor has time to restart a replica that just died.
inline constexpr actors::Millis kInteractiveRefusalGrace{2000};

enum class Outcome : std::uint8_t {
  kOk,           // done; see reply.status / reply.value
  kRejected,     // the cluster refused it for good (reply.reason says why: too large, stale session, unauthorized)
  kUnavailable,  // no definite answer before the deadline: a write may or may not have been applied
};

struct CallResult {
  Outcome outcome = Outcome::kUnavailable;
  actors::ClientReply reply;
  int attempts = 0;
  int redirects = 0;
  std::vector<raft::NodeId> tried;  // the replicas this operation was sent to, in the order first tried
  raft::NodeId answered_by;         // kOk: the replica that answered
  // kUnavailable because every replica refused the datagrams for ClientSettings::give_up_when_refused_for (ICMP port
  // unreachable): nothing listens at any replica's address, so the cluster is not running there. Only a refusal
  // counts; a replica that stays silent may be alive and slow.
  bool nothing_listens = false;
};

// Resolves every replica's host:port (numeric or by name). Throws ConfigError for an unknown host.
// Two replicas that resolve to one address are refused too.
std::map<raft::NodeId, asio::ip::udp::endpoint> resolve(asio::io_context& io, const ClusterConfig& config);

// What a client needs from a cluster file: every replica's address and the client token.
struct ClusterAccess {
  std::map<raft::NodeId, asio::ip::udp::endpoint> replicas;
  std::string token;
  ClusterConfig config;  // the file as loaded (the HTTP API's addresses, for one)
};
// Loads `path` for a client. Throws ConfigFileMissing (with a hint when `path` is kLocalClusterFile, the default) or
// ConfigError.
ClusterAccess open_cluster(asio::io_context& io, const std::string& path);

// The exit code for a cluster file a program cannot use (net/exit_codes.hpp): kNoInput when it cannot be read,
// kConfig when what it says is wrong.
int exit_code_for(const ConfigError& error);

// The client token named by the cluster file's client_token_file, as sent on the wire (hex); empty when the cluster
// needs none. Throws ConfigError (missing file, readable by others, too short: see net/secret_file.hpp).
std::string client_token(const ClusterConfig& config);

class BatchReceiver;
class BatchSender;
class LineBundles;
class Client;

// One UDP socket for many sessions (Clients), for a program that keeps many operations in flight (kvbench's clients,
// each a session of its own). A reply reaches its session by its MID, which starts with the session's id; what the
// sessions send in one turn of the event loop leaves in one sendmmsg, and replies come in up to 16 a recvmmsg. A
// system call costs about a microsecond on the machines we measure on: with a socket per session, each operation
// cost one send, one receive and, half the time, a receive that found nothing.
// It waits for datagrams from the start, so the io_context keeps running until it is closed (or destroyed). It must
// outlive every Client made over it.
class ClientSocket {
 public:
  ClientSocket(asio::io_context& io, bool v6);
  ~ClientSocket();
  ClientSocket(const ClientSocket&) = delete;
  ClientSocket& operator=(const ClientSocket&) = delete;
  // Sends what is queued, then stops listening: the sessions over it can do nothing more.
  void close();

  struct Stats {
    std::uint64_t sent = 0, received = 0;  // datagrams
    std::uint64_t replies = 0;     // routed to a session (a datagram may bundle several)
    std::uint64_t send_calls = 0;  // batches sent (one sendmmsg each, up to its limit of datagrams a call)
    std::uint64_t unrouted = 0;    // replies naming no session here (one that has ended, say), or not an answer
  };
  const Stats& stats() const { return stats_; }

 private:
  friend class Client;
  void attach(Client& session);
  void detach(const Client& session);
  raft::NodeId next_client_id();
  void send(std::string datagram, const asio::ip::udp::endpoint& to);  // queued until this turn's handlers ran
  void flush();
  void wait_readable();
  void take_in();
  void note_refusals();  // tells every session of each refused destination

  asio::io_context& io_;
  asio::ip::udp::socket socket_;
  std::unique_ptr<BatchReceiver> receiver_;
  std::unique_ptr<BatchSender> sender_;
  bool flush_posted_ = false;
  std::vector<asio::ip::udp::endpoint> bundling_;  // replicas that sent a bundle of replies here: they read bundles
  std::unique_ptr<LineBundles> bundles_;            // this turn's requests to them
  std::unordered_map<std::uint64_t, Client*> sessions_;  // session id -> the Client whose operations it numbers
  std::uint16_t next_client_id_;
  Stats stats_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);  // handlers still queued when it is gone do nothing
};

class Client {
 public:
  Client(asio::io_context& io, std::map<raft::NodeId, asio::ip::udp::endpoint> replicas, actors::Rng rng,
         ClientSettings settings = {});
  // A session over a shared socket (which must outlive it).
  Client(ClientSocket& shared, std::map<raft::NodeId, asio::ip::udp::endpoint> replicas, actors::Rng rng,
         ClientSettings settings = {});
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Arguments are taken by reference and must outlive the co_await. Pass named variables, never temporaries built in
  // the co_await expression: GCC 12 destroys such temporaries twice (see actors/mailbox.hpp).
  asio::awaitable<CallResult> put(const std::string& key, const std::string& value);
  asio::awaitable<CallResult> get(const std::string& key);
  asio::awaitable<CallResult> del(const std::string& key);
  asio::awaitable<CallResult> cas(const std::string& key, const std::optional<std::string>& expected,
                                  const std::string& value);
  // Membership changes and leadership transfer (RequestKind::kAddLearner ... kTransferLeader; `id` and `value` as in
  // actors/client_protocol.hpp). A refusal is final (Outcome::kRejected, reply.reason says why).
  asio::awaitable<CallResult> change(actors::RequestKind kind, const std::string& id, const std::string& value);
  // Deletes every key that starts with `prefix` (all of them for ""); the reply's value is how many, in decimal.
  // Reading a prefix and watching go over the HTTP API instead (net/http_client.hpp): their answers do not fit a
  // datagram.
  asio::awaitable<CallResult> del_prefix(const std::string& prefix);
  // Backups (net/backup_client.hpp saves one to a file): `id` 0 asks the leader for a new backup of the committed
  // state, and the reply carries its first chunk; later chunks are read by id from `holder`, the replica that
  // answered the first (a refusal: it no longer holds it).
  asio::awaitable<CallResult> backup_chunk(std::uint64_t id, std::uint64_t offset, raft::NodeId holder);
  // Asks one replica about itself (no redirects, no retries beyond the deadline). nullopt at once when the replica
  // refuses (see refusing()), else after `timeout` of silence. Members the answer names that this client did not know
  // are added to the replicas it talks to.
  asio::awaitable<std::optional<actors::ReplicaStatus>> status(raft::NodeId replica, actors::Millis timeout);
  // Every replica this client knows of: the cluster file's, and members it learned of since.
  const std::map<raft::NodeId, asio::ip::udp::endpoint>& replicas() const { return replicas_; }

  raft::NodeId leader_guess() const { return target_; }
  std::uint64_t session() const { return session_; }
  // Replicas whose latest datagram from this client was refused (nothing listens there), until one answers again.
  bool refusing(raft::NodeId replica) const { return refusing_.count(replica) > 0; }
  // "127.0.0.1:7000"; and "0000 at 127.0.0.1:7000, 0001 at 127.0.0.1:7001" (in id order), for messages that say
  // where it looked.
  std::string address(raft::NodeId replica) const;
  std::string addresses(const std::vector<raft::NodeId>& ids) const;

 private:
  friend class ClientSocket;
  enum class Heard : std::uint8_t { kDatagram, kSilence, kRefused };
  asio::awaitable<CallResult> call(actors::ClientRequest& request);  // by reference: see Mailbox::send
  asio::awaitable<CallResult> on_key(actors::RequestKind kind, const std::string& key);  // get, del, del_prefix
  // Waits until `deadline` for a datagram (into `datagram`) or a refusal (refusing_ then names the replicas).
  asio::awaitable<Heard> receive_until(std::chrono::steady_clock::time_point deadline, std::string& datagram);
  void send(const actors::ClientRequest& request, raft::NodeId to);
  // Reads the socket's error queue: every ICMP "port unreachable" names a replica that is not listening.
  void note_refusals();
  raft::NodeId random_replica(raft::NodeId other_than);
  void learn_members(const actors::ReplicaStatus& status);

  asio::io_context& io_;
  asio::ip::udp::socket socket_;
  asio::steady_timer timer_;
  std::uint64_t receive_generation_ = 0;
  std::uint64_t timed_out_generation_ = 0;
  std::map<raft::NodeId, asio::ip::udp::endpoint> replicas_;
  actors::Rng rng_;
  ClientSettings settings_;
  raft::NodeId client_id_;
  std::uint64_t session_;
  std::uint64_t seq_ = 0;
  std::uint64_t attempt_ = 0;
  raft::NodeId target_;
  std::set<raft::NodeId> refusing_;
  std::vector<char> buffer_;
  // Over a shared socket: what it routed here, not yet read (the timer wakes the reader), and whether a refusal came.
  ClientSocket* shared_ = nullptr;
  std::deque<std::string> delivered_;
  bool refusal_delivered_ = false;
  void deliver(std::string_view datagram);
  void refused(const asio::ip::udp::endpoint& destination);
  void set_up_session();
};

}  // namespace coraft::net
