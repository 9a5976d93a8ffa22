#pragma once
// One randomized fault schedule, driven entirely by a seed (TigerBeetle's VOPR in miniature): a safety phase with
// faults (drops, duplicates, delays, symmetric and one-way partitions, crashes, power cuts of one replica or all of
// them that lose unsynced writes, restarts, pauses) while clients
// run, then a liveness phase without faults in which a leader must stand and every client operation must complete.
// Invariants are checked after every step.

#include "linearizability.hpp"
#include "timeline.hpp"

#include <memory>

#include <cstdint>
#include <string>
#include <vector>

namespace coraft::test {

struct CampaignOptions {
  int replicas = 0;               // 0: chosen by the seed among 3, 5 and 7
  double max_drop = 0.30;         // the safety phase draws its drop rate from [0, max_drop]
  double safety_seconds = 12;     // simulated length of the fault phase
  double liveness_seconds = 40;   // bound for the liveness phase
  bool record_timeline = false;   // fill SeedResult::timeline (costs a sample per step)
  // Each replica's clock runs up to this many ppm fast or slow; -1: chosen by the seed within the read lease's bound
  // (under ±45,000 ppm, so no two clocks differ by 10 %). Beyond the bound lease reads may be stale, and must be
  // caught.
  std::int64_t clock_skew_ppm = -1;
  bool membership_changes = true;  // half the seeds add, promote, remove and replace replicas and transfer leadership
};

struct SeedResult {
  std::uint64_t seed = 0;
  int replicas = 0;
  double simulated_seconds = 0;
  std::uint64_t committed = 0;    // log entries committed (cluster-wide record)
  std::uint64_t operations = 0;   // client operations completed
  std::uint64_t faults = 0;       // fault events injected
  std::uint64_t power_cuts = 0;   // of one replica or of all at once
  std::uint64_t unsynced_writes_lost = 0;  // writes a power cut took from a disk (dropped or torn) before their sync
  std::uint64_t membership_changes = 0;  // membership changes and leadership transfers the cluster carried out
  std::uint64_t messages = 0;  // replica-to-replica messages sent (before drops)
  std::vector<std::int64_t> latencies_us;  // simulated invocation-to-answer time of each completed client operation
  Verdict linearizable = Verdict::kUnknown;  // over every client operation of the run
  std::vector<std::string> violations;  // safety, liveness or linearizability
  std::vector<std::string> schedule;    // what happened, for a failing seed's report
  std::shared_ptr<Timeline> timeline;   // with CampaignOptions::record_timeline
};

SeedResult run_seed(std::uint64_t seed, const CampaignOptions& options);

}  // namespace coraft::test
