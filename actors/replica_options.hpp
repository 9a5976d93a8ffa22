#pragma once
// Everything that shapes one replica's behaviour, with defaults that suit a LAN cluster. Pure C++.

#include "actors/clock.hpp"
#include "raft/membership.hpp"
#include "raft/progress.hpp"
#include "raft/types.hpp"

#include <functional>
#include <vector>

namespace coraft::actors {

struct Timing {
  Millis election_timeout_min{300};
  Millis election_timeout_max{600};
  Millis heartbeat_interval{100};  // only when a follower got nothing else for this long
  Millis request_timeout{3000};    // a request not answered by then: fail (leader) or redirect
  Millis hold_timeout{1000};       // a request that arrives while no leader is known waits this long for one
};

struct ReplicaOptions {
  raft::NodeId self;
  std::vector<raft::NodeId> peers;
  // The configuration a new cluster starts from (with each member's address); empty: self and peers, all voters.
  // A replica that joins an existing cluster starts from an empty one and learns the configuration from the leader.
  raft::Membership initial_membership;
  // Called once when this replica learns it is out of the cluster for good (removed, or refused under its id because
  // its data directory was replaced), with the reason. Unset: it stays up, silent, following no one.
  std::function<void(const std::string&)> on_retired;
  // Called once a hand_over() has ended: `done` when another replica leads now; otherwise `why` not (not the leader,
  // no voter to take over, timed out). Unset: nobody is told.
  std::function<void(bool done, const std::string& why)> on_handover_done;
  // This replica's data directory identity (net/identity.hpp), sent with every peer message; 0 where nothing checks
  // it (course mode, and simulations that do not wipe disks).
  std::uint64_t incarnation = 0;
  // The cluster's identity (raft/backup_file.hpp): 0 unless the cluster was restored from a backup. Stamped on peer
  // messages (which the UDP bridge checks) and on backups.
  std::uint64_t cluster_id = 0;
  // Started with --join: not a member yet; it waits for the leader to add it (and learns the configuration then).
  bool join = false;
  Timing timing;
  raft::ReplicationLimits limits;
  bool pre_vote = true;
  bool check_quorum = true;
  // The transport sends one datagram to every follower at the cost of one (course mode's FFFF): see
  // raft::RaftConfig::uniform_appends.
  bool uniform_appends = false;
  // With uniform appends, followers the majority does not need leave them unanswered: raft::RaftConfig::quiet_acks.
  bool quiet_acks = false;
  // Followers a commit does not need catch up with their heartbeats: raft::RaftConfig::defer_spare_followers. Off in
  // course mode (its shared appends go to every follower at the cost of one).
  bool defer_spare_followers = true;
  // Serve reads under a leader lease (no message round while a majority acknowledged the leader within the lease);
  // otherwise every read batch waits for a fresh ReadIndex round. See ARCHITECTURE.md, "Reads".
  bool lease_reads = true;
  std::size_t max_key_bytes = 1024;
  std::size_t max_value_bytes = 16 * 1024;
  std::size_t mailbox_capacity = 4096;
  std::size_t max_commands_per_proposal = 512;
  // Snapshot the state machine and compact the log every this many applied entries (0: never).
  std::uint64_t snapshot_every_entries = 100000;
  // Serialize snapshots on a thread of their own (the applier stops applying meanwhile, so the store holds still,
  // but the replica keeps answering heartbeats and votes). Off in simulation, which has no threads.
  bool background_snapshots = false;

  // The read lease (with lease_reads): as long as a confirmation of leadership serves reads at all.
  std::int64_t read_lease_us() const { return lease_reads ? read_fresh_us() : 0; }
  // How long a confirmation of leadership serves reads (raft::RaftConfig::read_fresh_us): the minimum election
  // timeout less 10 % for clock-rate differences between replicas and a millisecond for scheduling delays.
  std::int64_t read_fresh_us() const {
    const auto min_us = std::chrono::duration_cast<Micros>(timing.election_timeout_min).count();
    return std::max<std::int64_t>(0, min_us * 9 / 10 - 1000);
  }
};

}  // namespace coraft::actors
