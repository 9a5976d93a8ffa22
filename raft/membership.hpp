#pragma once
// Cluster membership as Raft replicates it (the dissertation's chapter 4, as etcd-io/raft does it): who receives the
// log, who votes, and — while the voters change — the joint configuration in which every decision needs a majority
// of the old voters and a majority of the new ones. Pure C++.
//
// A configuration travels as the data of a kConfig log entry and inside snapshots. A replica uses the newest one in
// its log (or its snapshot) from the moment it holds it, committed or not (§4.1); a leader starts no change while
// another is uncommitted, nor before an entry of its own term has committed (the single-server bug reported on
// raft-dev in 2015 applies to joint consensus as much). Each member is pinned to the incarnation of its data
// directory once known, so a replica whose directory was wiped cannot come back under its old id; ids of removed
// members are never reused.

#include "raft/types.hpp"

#include <algorithm>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace coraft::raft {

struct Member {
  NodeId id;
  std::string address;            // where it listens ("host:port"); empty where addressing is done elsewhere
  bool voter = true;              // false: a learner, which receives the log but neither votes nor counts
  std::uint64_t incarnation = 0;  // its data directory's identity; 0: not known yet
  bool operator==(const Member&) const = default;
};

class Membership {
 public:
  Membership() = default;
  // Everyone a voter: the configuration a new cluster starts from.
  static Membership of_voters(const std::vector<Member>& members);

  const std::vector<Member>& members() const { return members_; }
  const Member* find(NodeId id) const;
  bool contains(NodeId id) const { return find(id) != nullptr; }
  bool is_voter(NodeId id) const;  // in the (incoming) voters, or the outgoing ones while joint
  bool joint() const { return !outgoing_.empty(); }
  std::vector<NodeId> voters() const;                    // incoming
  const std::vector<NodeId>& outgoing_voters() const { return outgoing_; }
  const std::vector<NodeId>& removed() const { return removed_; }
  bool was_removed(NodeId id) const;

  // Quorum decisions. `has(id)` says whether that voter counts (granted its vote, acknowledged, is active...).
  template <class Has>
  bool majority(Has has) const {
    return majority_of(voters(), has) && (outgoing_.empty() || majority_of(outgoing_, has));
  }
  // The highest index a quorum has reached, given each voter's `index_of(id)`.
  template <class IndexOf>
  auto quorum_index(IndexOf index_of) const;

  // Changes, each returning the configuration after it (no validation here: see RaftCore).
  Membership with_learner(Member member) const;
  // Joint configuration: the current voters become outgoing, `incoming` the new voter set. Promoted learners become
  // voters; removed members are dropped from the members (and remembered as removed) once the joint one is left.
  Membership entering_joint(std::vector<NodeId> incoming) const;
  Membership leaving_joint() const;  // the incoming voters alone; members no longer voting nor learning go
  Membership without_learner(NodeId id) const;
  Membership with_incarnation(NodeId id, std::uint64_t incarnation) const;

  std::string encode() const;
  static std::optional<Membership> decode(std::string_view bytes);
  std::string describe() const;  // "voters 0000,0001 (joint: was 0000,0002) learners 0003"
  bool operator==(const Membership&) const = default;

 private:
  template <class Has>
  static bool majority_of(const std::vector<NodeId>& voters, Has has) {
    std::size_t yes = 0;
    for (NodeId id : voters) yes += has(id) ? 1 : 0;
    return yes >= voters.size() / 2 + 1;
  }
  void sort();

  std::vector<Member> members_;   // sorted by id; voter flags mark the incoming voters
  std::vector<NodeId> outgoing_;  // while joint: the old voters (sorted)
  std::vector<NodeId> removed_;   // sorted; never members again
};

template <class IndexOf>
auto Membership::quorum_index(IndexOf index_of) const {
  using Value = decltype(index_of(NodeId{}));
  auto of = [&](const std::vector<NodeId>& voters) {
    std::vector<Value> values;
    for (NodeId id : voters) values.push_back(index_of(id));
    std::sort(values.begin(), values.end(), std::greater<Value>());
    return values.empty() ? Value{} : values[values.size() / 2];
  };
  const Value incoming = of(voters());
  return outgoing_.empty() ? incoming : std::min(incoming, of(outgoing_));
}

}  // namespace coraft::raft
