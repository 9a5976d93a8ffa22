#pragma once
// The one place that decides when the core's effects may be carried out, given writes that are still on their way to
// the disk (the ordering contract in raft/core.hpp). Pure: the raft node feeds it each burst's effects and every
// "durable up to" notice from the storage actor, and carries out what it hands back.
//
// Rules, applied effect by effect:
//   * Persist: merged into the burst's one write (group commit), which gets the next write number.
//   * Send: goes now only if every write issued so far is durable — writes of earlier bursts included, however long
//     they take (a snapshot file, a leader's batch after it stepped down). Otherwise it waits for the newest write,
//     behind the Sends already waiting. Raft Figure 2: "updated on stable storage before responding to RPCs".
//   * Everything else goes now: a Transmit (a leader's own AppendEntries: it counts itself only after DurableThrough,
//     thesis §10.2.1), commits, role news, outcomes, snapshot work.
// Effects only ever move later, never earlier, and Sends stay in the order they were made.

#include "raft/core.hpp"

#include <cstdint>
#include <deque>
#include <optional>
#include <utility>
#include <vector>

namespace coraft::actors {

class DurabilityGate {
 public:
  struct Plan {
    std::optional<raft::Persist> write;  // this burst's changes, as write number `write_seq`
    std::uint64_t write_seq = 0;
    std::vector<raft::Effect> now;  // to carry out at once, in order
  };

  Plan plan(std::vector<raft::Effect> effects);
  // Every write up to `seq` is durable: returns the Sends that were waiting for them, in order.
  std::vector<raft::Send> durable(std::uint64_t seq);

  std::uint64_t issued() const { return issued_; }
  std::uint64_t durable_seq() const { return durable_; }
  std::size_t held() const { return held_.size(); }

 private:
  std::uint64_t issued_ = 0;   // writes handed to storage so far (numbered 1, 2, ...)
  std::uint64_t durable_ = 0;  // the highest write known to be durable (storage writes in order)
  std::deque<std::pair<std::uint64_t, raft::Send>> held_;  // (write it waits for, send), in the order made
};

}  // namespace coraft::actors
