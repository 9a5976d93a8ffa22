#pragma once
// Raft's safety properties, checked on every replica after every simulation step (LogCabin's
// RaftConsensusInvariants, for a whole cluster):
//   * Election Safety: at most one leader per term;
//   * a replica's term never goes back within one life, nor its commit index;
//   * a restarted replica still holds what it told its peers before it went down: a term at least as high as any it
//     sent, the vote it granted in that term, and a log at least as long as its last acknowledgement (Raft Figure 2:
//     persisted "before responding to RPCs"). It may legitimately lose more than that: state it never spoke of;
//   * Log Matching: an entry (index, term) follows the same term on every replica that holds it;
//   * committed prefixes are identical on every replica (State Machine Safety), and commit never passes the log's end;
//   * replicas that applied the same index hold the same state machine (nobody applied a different command);
//   * Leader Completeness: a leader holds every entry committed in its term or earlier;
//   * what a leader of the highest term believes a follower holds (its match index), the follower holds.

#include <algorithm>
#include "raft/core.hpp"
#include "raft/membership.hpp"
#include "raft/types.hpp"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace coraft::test {

// What a replica has told its peers, as seen leaving it: the state it must still hold after a crash.
struct Claims {
  raft::Term term = 0;                      // the highest term it spoke in (PreVote's future terms aside)
  raft::Term vote_term = 0;                 // its latest granted vote: in this term,
  raft::NodeId voted_for = raft::kNoNode;   // for this candidate
  raft::Index acknowledged = 0;             // its latest acknowledgement: it holds the log up to here
  // Updates the claims with one message the replica sent.
  void sent(const raft::PeerMessage& message);
  // A newer leader replaced its log from `index` on: entries it acknowledged there are no longer claimed (they were
  // not committed, or the leader could not have replaced them; other invariants check that).
  void truncated(raft::Index index) { acknowledged = std::min(acknowledged, index - 1); }
};

class InvariantChecker {
 public:
  explicit InvariantChecker(int replicas);

  // One live replica's state. `life` counts restarts.
  void observe(int slot, int life, const raft::RaftCore& core, raft::Index applied_index, std::uint64_t store_digest);
  // A replica just recovered from its disk, before it has run: does it still hold what it told its peers?
  void restarted(const raft::RaftCore& core, const Claims& claims);
  // Across the live replicas: a leader of the highest term counts a follower as holding entry `match` only if the
  // follower's log holds that very entry (nothing of a term above the leader's could have replaced it).
  void check_matches(const std::vector<const raft::RaftCore*>& live);

  const std::vector<std::string>& violations() const { return violations_; }
  raft::Index committed() const { return static_cast<raft::Index>(committed_.size()); }
  std::map<raft::Term, raft::NodeId> leaders() const { return leader_of_term_; }

 private:
  struct CommittedEntry {
    raft::Term term;
    std::string data;
    raft::Term observed_in_term;  // the observer's term when it was first seen committed
    bool known = true;            // false: committed and compacted before any replica was observed holding it
  };
  struct Replica {
    int life = -1;
    raft::Term term = 0;
    raft::Index commit = 0;
    raft::Index verified_upto = 0;         // committed prefix compared up to here (this life)
    raft::Index leader_verified_upto = 0;  // as leader in leader_term: committed entries found up to here
    raft::Term leader_term = 0;
    raft::Index linked_upto = 0;  // log matching checked up to here (this life), where the log held linked_term
    raft::Term linked_term = 0;
    std::pair<raft::Index, raft::Term> linked_base{0, 0};  // the log's base when linked_upto was reached
    // As leader in membership_term (this life): the configuration it last used, at membership_index.
    raft::Term membership_term = 0;
    raft::Index membership_index = 0;
    raft::Membership membership;
  };

  void violation(std::string text);
  void check_log_matching(Replica& r, const raft::RaftCore& core);
  void check_configuration_change(Replica& r, const raft::RaftCore& core);

  std::vector<Replica> replicas_;
  std::map<raft::Term, raft::NodeId> leader_of_term_;
  std::vector<CommittedEntry> committed_;           // index i+1 at [i]
  std::map<raft::Index, std::uint64_t> digest_at_;  // applied index -> state machine digest
  std::map<std::pair<raft::Index, raft::Term>, raft::Term> previous_term_of_;  // (index, term) -> term before it
  std::vector<std::string> violations_;
};

}  // namespace coraft::test
