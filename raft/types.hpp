#pragma once
// Raft's vocabulary: terms, indexes, replica ids and log entries. Pure C++: no asio, no clocks, no sockets.

#include <compare>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace coraft::raft {

using Term = std::uint64_t;
using Index = std::uint64_t;

// A replica (or client) id: 4 upper-case hex digits on the wire ("0000".."FFFE"); FFFF means "none"/"broadcast".
struct NodeId {
  std::uint16_t value = 0xFFFF;

  constexpr bool valid() const { return value != 0xFFFF; }
  std::string str() const;
  static std::optional<NodeId> parse(std::string_view text);
  constexpr auto operator<=>(const NodeId&) const = default;
};
inline constexpr NodeId kNoNode{0xFFFF};

enum class EntryKind : std::uint8_t {
  kNoop = 0,     // appended by every new leader so entries of earlier terms can commit (Raft §5.4.2, §8)
  kCommand = 1,  // an opaque state-machine command (kv/ decodes it)
  kConfig = 2,   // a cluster configuration (raft/membership.hpp: Membership::encode)
};

// Entries are immutable once created and shared between actors (and, in simulation, replicas) by pointer.
struct Entry {
  Term term = 0;
  Index index = 0;
  EntryKind kind = EntryKind::kCommand;
  std::string data;

  // Bytes this entry adds to an AppendEntries datagram, used to bound batches and in-flight windows.
  std::size_t wire_bytes() const { return data.size() + 48; }
};
using EntryPtr = std::shared_ptr<const Entry>;

// A snapshot of the state machine after applying everything up to `index` (whose entry had `term`). The bytes are
// opaque to Raft (kv::Store::serialize) and shared, never copied, between the actors that hold them. `checksum`
// (CRC-32C of the bytes) travels with every chunk sent to a follower and is checked on the whole at the end.
struct Snapshot {
  Index index = 0;
  Term term = 0;
  std::shared_ptr<const std::string> data;
  std::uint32_t checksum = 0;
  std::string membership;  // the cluster configuration at `index` (Membership::encode); empty: none recorded
};
// A snapshot of `bytes`, its checksum computed.
Snapshot make_snapshot(Index index, Term term, std::string bytes);

enum class Role : std::uint8_t { kFollower, kPreCandidate, kCandidate, kLeader };
std::string_view role_name(Role role);

// The state Raft must persist before answering (Figure 2: currentTerm, votedFor; the log is persisted separately).
struct HardState {
  Term term = 0;
  NodeId voted_for = kNoNode;
  bool operator==(const HardState&) const = default;
};

}  // namespace coraft::raft

template <>
struct std::hash<coraft::raft::NodeId> {
  std::size_t operator()(const coraft::raft::NodeId& id) const noexcept { return id.value; }
};
