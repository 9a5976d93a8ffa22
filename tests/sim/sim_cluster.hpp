#pragma once
// A whole coraft cluster in one process under simulated time: every replica is the real set of actors on its own
// io_context, its storage an in-memory disk that survives crashes, joined by a SimNetwork. Clients are simulated
// actors that talk to the gateways and record a history. An InvariantChecker runs after every step.

#include "actors/replica.hpp"
#include "actors/sim_world.hpp"
#include "history.hpp"
#include "invariants.hpp"
#include "raft/storage.hpp"
#include "sim_network.hpp"

#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace coraft::test {

struct SimOptions {
  int replicas = 3;
  std::uint64_t seed = 1;
  actors::Timing timing;  // replica timing (defaults: ReplicaOptions')
  NetworkFaults faults;
  bool lease_reads = true;
  bool check_invariants = true;
  std::uint64_t snapshot_every = 0;  // entries between snapshots (0: never compact)
};

struct ClientOptions {
  int clients = 3;
  int keys = 4;
  double read_fraction = 0.3;
  double cas_fraction = 0.1;
  double delete_fraction = 0.05;
  actors::Micros think_time{20000};      // pause between a client's operations
  actors::Micros attempt_timeout{500000};  // a silent replica is given up after this
};

class SimClient;

class SimCluster {
 public:
  explicit SimCluster(SimOptions options);
  ~SimCluster();
  SimCluster(const SimCluster&) = delete;
  SimCluster& operator=(const SimCluster&) = delete;

  actors::SimWorld& world() { return world_; }
  SimNetwork& network() { return *network_; }
  const SimOptions& options() const { return options_; }
  int size() const { return static_cast<int>(slots_.size()); }
  raft::NodeId id(int slot) const;
  int slot_of(raft::NodeId id) const;

  bool up(int slot) const;
  void crash(int slot);
  void restart(int slot);
  // The replica's disk is lost: it comes back empty (an operator rebuilding it from its peers).
  void wipe(int slot);
  void pause(int slot);
  void resume(int slot);
  bool paused(int slot) const;
  actors::Replica* replica(int slot);
  raft::MemoryStorage& storage(int slot);

  // The live, unpaused replica that leads in the highest term, if any.
  std::optional<int> leader();
  // Runs until `done()` or until `limit` of simulated time passed. Returns whether `done()` held.
  bool run_until(const std::function<bool()>& done, actors::Micros limit);
  void run_for(actors::Micros duration) { world_.run_for(duration); }

  // Clients: start them; each performs operations until stopped (or until `max_ops_each` is reached).
  void start_clients(const ClientOptions& options, std::uint64_t max_ops_each = UINT64_MAX);
  // Asks clients to stop after their current operation; all_clients_idle() tells when they have.
  void stop_clients();
  bool all_clients_idle() const;
  std::uint64_t completed_ops() const;
  // Clients whose current operation is still outstanding, with what it is (for error messages).
  std::vector<std::string> outstanding_ops() const;
  History history() const;

  // Sends one request to a replica's gateway as client `client` and returns the first reply (for gateway tests).
  std::vector<actors::ClientReply>& replies_to(raft::NodeId client) { return stray_replies_[client.value]; }
  void send_request(int slot, actors::ClientRequest request);

  const InvariantChecker& invariants() const { return invariants_; }
  // Requests (client, MID) that were answered more than once: must stay empty.
  const std::vector<std::string>& double_answers() const { return double_answers_; }
  void check_invariants();
  // Called after every simulation step (after the invariant check): the timeline samples roles and commits here.
  void set_step_observer(std::function<void()> observer) { step_observer_ = std::move(observer); }

 private:
  struct Slot;
  friend class SimClient;

  void spawn_bridge(int slot);
  void deliver_reply(actors::ClientReply reply);

  SimOptions options_;
  actors::SimWorld world_;
  std::unique_ptr<asio::io_context> control_;
  std::unique_ptr<asio::io_context> clients_io_;
  std::unique_ptr<actors::Clock> clients_clock_;
  actors::Rng rng_;
  std::unique_ptr<SimNetwork> network_;
  std::vector<std::unique_ptr<Slot>> slots_;
  std::vector<std::unique_ptr<ClientOptions>> client_options_;
  std::vector<std::unique_ptr<SimClient>> clients_;
  std::map<std::uint16_t, std::vector<actors::ClientReply>> stray_replies_;
  std::set<std::pair<std::uint16_t, std::string>> answered_;
  std::vector<std::string> double_answers_;
  InvariantChecker invariants_;
  std::function<void()> step_observer_;
};

}  // namespace coraft::test
