#include "actors/durability_gate.hpp"

namespace coraft::actors {

DurabilityGate::Plan DurabilityGate::plan(std::vector<raft::Effect> effects) {
  Plan plan;
  for (auto& effect : effects) {
    if (auto* persist = std::get_if<raft::Persist>(&effect)) {
      if (!plan.write) {
        plan.write.emplace();
        plan.write_seq = ++issued_;
      }
      raft::merge_persist(*plan.write, std::move(*persist));
    } else if (auto* send = std::get_if<raft::Send>(&effect)) {
      if (issued_ > durable_) held_.emplace_back(issued_, std::move(*send));
      else plan.now.push_back(std::move(effect));
    } else {
      plan.now.push_back(std::move(effect));
    }
  }
  return plan;
}

std::vector<raft::Send> DurabilityGate::durable(std::uint64_t seq) {
  std::vector<raft::Send> released;
  if (seq <= durable_) return released;  // an older notice, overtaken by a newer one
  durable_ = std::min(seq, issued_);
  while (!held_.empty() && held_.front().first <= durable_) {
    released.push_back(std::move(held_.front().second));
    held_.pop_front();
  }
  return released;
}

}  // namespace coraft::actors
