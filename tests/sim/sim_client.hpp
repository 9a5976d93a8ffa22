#pragma once
// A simulated client actor: performs random operations one at a time against the cluster's gateways, follows
// redirects, retries on fail or silence with the same session sequence number (so a retried write applies once),
// and records every operation in a history. Without sessions it behaves as the course simulator's clients do (see
// ClientOptions::sessions).
//   Inbox: replies (delivered by the simulated network) and its own timer.

#include "actors/client_protocol.hpp"
#include "actors/clock.hpp"
#include "actors/mailbox.hpp"
#include "actors/rng.hpp"
#include "history.hpp"

#include <variant>

namespace coraft::test {

class SimCluster;
struct ClientOptions;

class SimClient {
 public:
  SimClient(SimCluster& cluster, raft::NodeId id, const ClientOptions& options, actors::Rng rng,
            std::uint64_t max_ops);
  void start();
  void stop() { stopping_ = true; }
  // The next `reads` operations are reads, without thinking in between.
  void read_burst(int reads) { burst_reads_ = reads; }
  // Talk to this replica from now on (as a client told of it by someone else would), with writes, not a read burst.
  // A client with sessions re-sends the operation under way there at once (harmless: the session dedups it).
  void retarget(int slot);
  bool idle() const { return finished_ || (stopping_ && !in_operation_); }
  void on_reply(actors::ClientReply reply) { inbox_.try_send(std::move(reply)); }

  raft::NodeId id() const { return id_; }
  const History& history() const { return history_; }
  std::uint64_t completed() const { return completed_; }
  bool in_operation() const { return in_operation_; }
  const Operation& current() const { return history_.back(); }

 private:
  struct TimerFired {
    std::uint64_t generation;
  };
  struct Resend {};
  using Inbox = std::variant<actors::ClientReply, TimerFired, Resend>;

  asio::awaitable<void> run();
  Operation random_operation();
  void send_attempt(const Operation& op);
  int random_replica();

  SimCluster& cluster_;
  raft::NodeId id_;
  const ClientOptions& options_;
  actors::Rng rng_;
  std::uint64_t max_ops_;
  actors::Mailbox<Inbox> inbox_;
  actors::Timer timer_;
  History history_;
  std::uint64_t seq_ = 0;
  std::uint64_t attempt_ = 0;
  std::uint64_t value_counter_ = 0;
  std::uint64_t completed_ = 0;
  int burst_reads_ = 0;
  int target_ = 0;
  bool stopping_ = false;
  bool in_operation_ = false;
  bool finished_ = false;
};

}  // namespace coraft::test
