#pragma once
// A tiny harness for scripted tests of RaftCore alone: no actors, no asio. Cores step in the order the script says;
// every Send and Transmit lands in a queue the script delivers, drops or inspects. Persist and SaveSnapshot effects
// go to the real write-ahead log over an in-memory file system per replica (synced at once), and DurableThrough is fed
// back as the node actor would.

#include "raft/core.hpp"
#include "raft/disk_storage.hpp"
#include "raft/memory_file_system.hpp"

#include <algorithm>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <vector>

namespace coraft::test {

class PureCluster {
 public:
  explicit PureCluster(int replicas, std::function<void(raft::RaftConfig&)> tweak = {}) : tweak_(std::move(tweak)) {
    for (int i = 0; i < replicas; ++i) ids_.push_back(raft::NodeId{static_cast<std::uint16_t>(i)});
    initial_ = replicas;
    for (int i = 0; i < replicas; ++i) {
      disks_.push_back(std::make_unique<raft::MemoryFileSystem>());
      storage_.push_back(nullptr);
      cores_.push_back(nullptr);
      incarnations_.push_back(0);
      restart(i);
    }
  }

  // Starts a replica that is not a member yet (kvstore --join): it waits for a leader to add it. Returns its index.
  int add_joining(std::uint64_t incarnation = 0) {
    const int i = static_cast<int>(ids_.size());
    ids_.push_back(raft::NodeId{static_cast<std::uint16_t>(i)});
    joining_.push_back(i);
    disks_.push_back(std::make_unique<raft::MemoryFileSystem>());
    storage_.push_back(nullptr);
    cores_.push_back(nullptr);
    incarnations_.push_back(incarnation);
    restart(i);
    return i;
  }

  // Every replica stamps its messages with its data directory's identity, as kvstore does in cluster mode.
  void set_incarnation(int i, std::uint64_t incarnation) {
    incarnations_[static_cast<std::size_t>(i)] = incarnation;
  }

  // Its disk replaced by an empty one under a new identity, then started as if nothing happened.
  void wipe(int i, std::uint64_t new_incarnation) {
    storage_[static_cast<std::size_t>(i)].reset();
    disks_[static_cast<std::size_t>(i)] = std::make_unique<raft::MemoryFileSystem>();
    incarnations_[static_cast<std::size_t>(i)] = new_incarnation;
    restart(i);
  }

  raft::RaftCore& at(int i) { return *cores_[static_cast<std::size_t>(i)]; }
  raft::NodeId id(int i) const { return ids_[static_cast<std::size_t>(i)]; }
  raft::DiskStorage& storage(int i) { return *storage_[static_cast<std::size_t>(i)]; }
  std::deque<raft::PeerMessage>& queue() { return queue_; }
  std::vector<raft::Effect>& effects(int i) { return effects_[i]; }

  void restart(int i) {
    raft::RaftConfig config;
    config.self = ids_[static_cast<std::size_t>(i)];
    config.incarnation = incarnations_[static_cast<std::size_t>(i)];
    if (std::find(joining_.begin(), joining_.end(), i) != joining_.end()) {
      config.join = true;
    } else {
      for (int k = 0; k < initial_; ++k)
        if (ids_[static_cast<std::size_t>(k)] != config.self) config.peers.push_back(ids_[static_cast<std::size_t>(k)]);
    }
    if (tweak_) tweak_(config);
    auto& storage = storage_[static_cast<std::size_t>(i)];
    storage.reset();  // a process restart: what was written stays
    storage = std::make_unique<raft::DiskStorage>(*disks_[static_cast<std::size_t>(i)],
                                                  raft::DiskStorageOptions{"data", raft::FsyncPolicy::kAlways, 4096});
    cores_[static_cast<std::size_t>(i)] = std::make_unique<raft::RaftCore>(config, storage->recover());
  }

  // Steps replica i and carries out its effects; returns them.
  std::vector<raft::Effect> step(int i, const raft::Input& input) {
    auto out = at(i).step(input, now_us);
    std::vector<raft::Effect> all;
    for (std::size_t k = 0; k < out.size(); ++k) {
      raft::Effect effect = out[k];  // a copy: out grows below
      if (auto* p = std::get_if<raft::Persist>(&effect)) {
        storage(i).persist(*p);
        if (!p->entries.empty()) {
          auto more = at(i).step(raft::DurableThrough{p->entries.back()->index, p->entries.back()->term}, now_us);
          for (auto& m : more) out.push_back(std::move(m));
        }
      } else if (auto* save = std::get_if<raft::SaveSnapshot>(&effect)) {
        storage(i).adopt_snapshot(storage(i).prepare_snapshot(save->snapshot));
      } else if (auto* s = std::get_if<raft::Send>(&effect)) {
        queue_.push_back(s->message);
        queue_.back().incarnation = incarnations_[static_cast<std::size_t>(i)];
      } else if (auto* t = std::get_if<raft::Transmit>(&effect)) {
        queue_.push_back(raft::PeerMessage{id(i), t->to, t->message, incarnations_[static_cast<std::size_t>(i)]});
      }
      all.push_back(effect);
    }
    auto& log = effects_[i];
    log.insert(log.end(), all.begin(), all.end());
    return all;
  }

  int index_of(raft::NodeId id) const {
    for (std::size_t i = 0; i < ids_.size(); ++i)
      if (ids_[i] == id) return static_cast<int>(i);
    return -1;
  }

  // Delivers queued messages until the queue is empty; `filter` may drop some (return false).
  void deliver_all(const std::function<bool(const raft::PeerMessage&)>& filter = {}) {
    for (int guard = 0; guard < 100000 && !queue_.empty(); ++guard) {
      raft::PeerMessage m = queue_.front();
      queue_.pop_front();
      if (filter && !filter(m)) continue;
      if (index_of(m.to) < 0) continue;  // to a replica that was never started
      step(index_of(m.to), raft::Receive{m});
    }
  }

  // Times out replica i and lets every message through: it becomes leader if it can.
  void elect(int i) {
    step(i, raft::ElectionTimeout{});
    deliver_all();
  }

  std::int64_t now_us = 0;

 private:
  std::function<void(raft::RaftConfig&)> tweak_;
  int initial_ = 0;           // replicas named in the first configuration (cluster.json's)
  std::vector<int> joining_;  // replicas started with --join
  std::vector<std::uint64_t> incarnations_;
  std::vector<raft::NodeId> ids_;
  std::vector<std::unique_ptr<raft::MemoryFileSystem>> disks_;
  std::vector<std::unique_ptr<raft::DiskStorage>> storage_;
  std::vector<std::unique_ptr<raft::RaftCore>> cores_;
  std::deque<raft::PeerMessage> queue_;
  std::map<int, std::vector<raft::Effect>> effects_;
};

template <class T>
std::vector<T> effects_of(const std::vector<raft::Effect>& effects) {
  std::vector<T> out;
  for (const auto& e : effects)
    if (auto* x = std::get_if<T>(&e)) out.push_back(*x);
  return out;
}

}  // namespace coraft::test
