#include "raft/types.hpp"

#include "raft/crc32.hpp"

#include <fmt/format.h>

namespace coraft::raft {

std::string NodeId::str() const { return fmt::format("{:04X}", value); }

std::optional<NodeId> NodeId::parse(std::string_view text) {
  if (text.size() != 4) return std::nullopt;
  std::uint16_t value = 0;
  for (char c : text) {
    int digit;
    if (c >= '0' && c <= '9') digit = c - '0';
    else if (c >= 'A' && c <= 'F') digit = c - 'A' + 10;
    else if (c >= 'a' && c <= 'f') digit = c - 'a' + 10;
    else return std::nullopt;
    value = static_cast<std::uint16_t>(value * 16 + digit);
  }
  return NodeId{value};
}

std::string_view role_name(Role role) {
  switch (role) {
    case Role::kFollower: return "follower";
    case Role::kPreCandidate: return "pre-candidate";
    case Role::kCandidate: return "candidate";
    case Role::kLeader: return "leader";
  }
  return "?";
}

Snapshot make_snapshot(Index index, Term term, std::string bytes) {
  const std::uint32_t checksum = crc32c(bytes);
  return Snapshot{index, term, std::make_shared<const std::string>(std::move(bytes)), checksum};
}

}  // namespace coraft::raft
