#pragma once
// A whole coraft cluster in one process under simulated time: every replica is the real set of actors on its own
// io_context, joined by a SimNetwork. Its disk is the real write-ahead log over a MemoryFileSystem (a disk behind a
// page cache, which survives the replica), written by simulated disk workers with their own latency. A crash kills
// the process (the page cache survives); a power cut also loses what was not synced, at random a torn part of it,
// and cuts short the disk job under way. Clients are simulated actors that talk to the gateways and record a
// history. An InvariantChecker runs after every step.

#include "actors/replica.hpp"
#include "actors/sim_world.hpp"
#include "history.hpp"
#include "invariants.hpp"
#include "raft/memory_file_system.hpp"
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
  // Each disk job (a write and its sync, a snapshot file) takes a random time in this range.
  actors::Micros disk_latency_min{20};
  actors::Micros disk_latency_max{500};
  std::size_t segment_bytes = 16 * 1024;  // small, so segments roll over and compaction deletes them
  raft::ReplicationLimits limits;
  // Each replica's clock runs fast or slow by up to this many parts per million (chosen per replica by the seed).
  std::int64_t clock_skew_ppm = 0;
  // Slots after the first `replicas` for replicas that join later (kvstore --join): down until join().
  int spares = 0;
  // raft::RaftConfig::uniform_appends (course mode's), on every replica.
  bool uniform_appends = false;
  bool quiet_acks = false;  // raft::RaftConfig::quiet_acks (course mode's, with uniform_appends)
  // raft::RaftConfig::defer_spare_followers (cluster mode's default; never with uniform_appends, as in course mode).
  bool defer_spare_followers = true;
};

struct ClientOptions {
  int clients = 3;
  int keys = 4;
  double read_fraction = 0.3;
  double cas_fraction = 0.1;
  double delete_fraction = 0.05;
  actors::Micros think_time{20000};      // pause between a client's operations
  actors::Micros attempt_timeout{500000};  // a silent replica is given up after this
  // With sessions a client retries a write under the same session number, and after silence tries another replica.
  // Without (the course simulator's clients) it retries a failed or redirected request with a new MID, and gives an
  // unanswered one up: its outcome stays unknown.
  bool sessions = true;
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
  // The process dies (SIGKILL): a disk job under way stops part way, but the page cache keeps what it wrote.
  void crash(int slot);
  // The machine loses power: like crash(), and what was not synced is lost, at random a torn prefix of it kept.
  void power_cut(int slot);
  // Every machine at once.
  void power_cut_all();
  // Is the replica's disk writing the log right now (a crash would land in the middle of it)?
  bool disk_busy(int slot) const;
  void restart(int slot);  // a spare slot that has not joined stays down
  // Starts a spare slot's replica, not yet a member: it waits for a leader to add it.
  void join(int slot);
  bool joined(int slot) const;
  // Asks the leader (or, with none, some live replica) for a membership change, as kvctl does; the answers count in
  // membership_changes() when they say done.
  void change_membership(actors::RequestKind kind, raft::NodeId id, raft::NodeId other = {});
  std::uint64_t membership_changes() const { return membership_changes_; }
  void pause(int slot);
  void resume(int slot);
  bool paused(int slot) const;
  actors::Replica* replica(int slot);
  raft::MemoryFileSystem& disk(int slot);
  std::uint64_t power_cuts() const { return power_cuts_; }
  std::uint64_t unsynced_writes_lost() const { return unsynced_writes_lost_; }

  // The live, unpaused replica that leads in the highest term, if any.
  std::optional<int> leader();
  // Runs until `done()` or until `limit` of simulated time passed. Returns whether `done()` held.
  bool run_until(const std::function<bool()>& done, actors::Micros limit);
  void run_for(actors::Micros duration) { world_.run_for(duration); }

  // Clients: start them; each performs operations until stopped (or until `max_ops_each` is reached).
  void start_clients(const ClientOptions& options, std::uint64_t max_ops_each = UINT64_MAX);
  // Every client's next `reads` operations are reads, one right after another.
  void read_burst(int reads);
  // Clients (each with probability `fraction`) send their next attempts to this replica.
  void point_clients_at(int slot, double fraction);
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
  // Called as a replica hands a client reply to the network (tests look at that replica's state at that moment).
  using ReplyObserver = std::function<void(int from, const actors::ClientReply&)>;
  void set_reply_observer(ReplyObserver observer) { reply_observer_ = std::move(observer); }

 private:
  struct Slot;
  friend class SimClient;

  void spawn_bridge(int slot);
  void stop_replica(int slot, bool power_lost);
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
  ReplyObserver reply_observer_;
  std::uint64_t power_cuts_ = 0;
  std::uint64_t membership_changes_ = 0;
  std::uint64_t admin_requests_ = 0;
  std::uint64_t unsynced_writes_lost_ = 0;
};

}  // namespace coraft::test
