#pragma once
// What clients ask a replica and what it answers, as typed values. net/codec turns them into the course
// simulator's JSON envelope and back. Pure C++.

#include "kv/command.hpp"
#include "raft/membership.hpp"
#include "raft/types.hpp"

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace coraft::actors {

// Where an answer goes in cluster mode: the request's source address, opaque to everything but the UDP bridge.
// Course mode routes by client id and leaves it empty.
struct ReplyAddress {
  std::array<std::uint8_t, 16> bytes{};
  std::uint16_t port = 0;
  bool v6 = false;
  bool valid = false;
  // The client reads several replies from one datagram, one per line (it said so with "bundle": a load generator's
  // sessions sharing one socket): the bridge may pack the replies of a burst bound for that socket together.
  bool bundles = false;
  bool operator==(const ReplyAddress&) const = default;
};

// Membership requests name the member in `key` (its id) and, to add one, its address in `value`. kDeletePrefix
// deletes every key that starts with `key`.
enum class RequestKind : std::uint8_t {
  kGet,
  kPut,
  kDelete,
  kCas,
  kStatus,
  kDeletePrefix,
  kAddLearner,
  kPromote,
  kRemoveMember,
  kReplaceMember,   // `key` the learner that becomes a voter, `value` the voter that leaves
  kTransferLeader,  // `key` the replica to hand over to, empty: the most up-to-date voter
  kBackup,          // backup_id 0: take a backup of the committed state; else read one this replica holds at offset
};

// Where the gateway sends a request's answer: to the UDP bridge (a client datagram) or to the KV API actor (a request
// the HTTP API made on a client's behalf).
enum class ReplyVia : std::uint8_t { kBridge, kKvApi };

struct ClientRequest {
  raft::NodeId client;
  std::string mid;  // unique per request; answered at most once
  RequestKind kind = RequestKind::kGet;
  std::string key;
  std::string value;
  std::optional<std::string> expected;  // cas
  kv::SessionRef session;
  ReplyAddress reply_to;
  std::uint64_t flags = 0;                      // put: kv::Command::flags
  std::optional<std::uint64_t> expected_index;  // put, delete: kv::Command::expected_index
  ReplyVia reply_via = ReplyVia::kBridge;
  std::uint64_t backup_id = 0;  // backup
  std::uint64_t offset = 0;     // backup: where the chunk asked for starts in the backup file
};

enum class ReplyKind : std::uint8_t { kOk, kFail, kRedirect };

// One replica's view of itself, for `kvctl status` and tests.
struct ReplicaStatus {
  raft::NodeId id;
  raft::Role role = raft::Role::kFollower;
  raft::Term term = 0;
  raft::NodeId leader;
  raft::Index commit_index = 0;
  raft::Index applied_index = 0;
  raft::Index last_log_index = 0;
  std::int64_t last_leader_contact_ms = -1;  // ms since the leader was last heard from (-1: never; 0 on the leader)
  std::uint64_t keys = 0;
  raft::Index snapshot_index = 0;  // the log starts after it
  struct Follower {
    raft::NodeId id;
    raft::Index match_index = 0;
  };
  std::vector<Follower> followers;  // leader only
  std::string metrics;  // every counter, as Prometheus text (actors/metrics.hpp); empty when not asked for
  // The configuration in effect: members with their addresses, voter or learner, and while joint the voters leaving.
  std::vector<raft::Member> members;
  std::vector<raft::NodeId> outgoing_voters;
  raft::Index membership_index = 0;
};

// A piece of a backup file (raft/backup_file.hpp) as a replica streams it. Every chunk names the whole: a client
// that reads them in order writes the file and checks it against `crc` at the end.
// The most backup bytes one reply carries: base64 makes 4 of every 3, and a reply must fit one datagram.
inline constexpr std::size_t kBackupChunkBytes = 32u << 10;
struct BackupChunk {
  std::uint64_t id = 0;      // ask for the next chunk under this id, from the same replica
  raft::Index index = 0;     // the log position the backup holds
  raft::Term term = 0;
  std::uint64_t total = 0;   // the file's size in bytes
  std::uint32_t crc = 0;     // the file's checksum: crc32c of all but its last 4 bytes, which hold it too
  std::uint64_t offset = 0;  // where `data` starts in the file
  std::string data;
};

struct ClientReply {
  raft::NodeId client;
  std::string mid;
  ReplyAddress reply_to;
  ReplyKind kind = ReplyKind::kOk;
  raft::NodeId leader;  // the answering replica's belief; a redirect's target
  kv::Status status = kv::Status::kOk;
  std::optional<std::string> value;  // get: the value (absent: no such key); cas mismatch: what was there
  std::string reason;                // fail: why
  std::optional<ReplicaStatus> replica_status;
  std::optional<BackupChunk> backup;
  raft::Index applied_index = 0;  // the answering replica's applied index when it answered (not sent over UDP)
};

}  // namespace coraft::actors
