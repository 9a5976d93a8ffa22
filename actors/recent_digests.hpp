#pragma once
// The last `capacity` 64-bit digests seen, to tell a first sighting from a repeat (the gateway's duplicate-datagram
// check, which runs for every request). Two flat arrays allocated once: the digests in arrival order (a ring), and an
// open-addressing table of twice as many slots with linear probing. A std::unordered_set plus a deque did the same
// with a node allocated and freed per request and a cache miss per node.

#include <cstddef>
#include <cstdint>
#include <vector>

namespace coraft::actors {

class RecentDigests {
 public:
  // `capacity` is rounded up to a power of two.
  explicit RecentDigests(std::size_t capacity) {
    std::size_t size = 1;
    while (size < capacity) size <<= 1;
    ring_.assign(size, 0);
    slots_.assign(size * 2, kEmpty);
    mask_ = slots_.size() - 1;
  }

  // True if `digest` is not among the last `capacity` inserted ones (it is remembered from now on).
  bool insert(std::uint64_t digest) {
    if (digest == kEmpty) digest = 1;  // a stand-in: a collision only makes a client retry
    std::size_t i = home(digest);
    for (; slots_[i] != kEmpty; i = (i + 1) & mask_) {
      if (slots_[i] == digest) return false;
    }
    if (count_ == ring_.size()) forget(ring_[oldest_]);
    else ++count_;
    // forget() may have moved entries; find the free slot again.
    for (i = home(digest); slots_[i] != kEmpty; i = (i + 1) & mask_) {
    }
    slots_[i] = digest;
    ring_[oldest_] = digest;
    oldest_ = (oldest_ + 1) & (ring_.size() - 1);
    return true;
  }

  std::size_t size() const { return count_; }

 private:
  static constexpr std::uint64_t kEmpty = 0;

  std::size_t home(std::uint64_t digest) const {
    return static_cast<std::size_t>((digest * 0x9E3779B97F4A7C15ull) >> 32) & mask_;
  }

  // Removes `digest` and closes the gap behind it (backward shift), so that no probe sequence is cut short.
  void forget(std::uint64_t digest) {
    std::size_t hole = home(digest);
    while (slots_[hole] != digest) hole = (hole + 1) & mask_;
    for (std::size_t next = (hole + 1) & mask_; slots_[next] != kEmpty; next = (next + 1) & mask_) {
      // The entry at `next` may fill the hole if the hole lies on its probe path: between its home and `next`.
      const std::size_t from_home = (next - home(slots_[next])) & mask_;
      if (from_home >= ((next - hole) & mask_)) {
        slots_[hole] = slots_[next];
        hole = next;
      }
    }
    slots_[hole] = kEmpty;
  }

  std::vector<std::uint64_t> ring_;   // the digests in arrival order; ring_[oldest_] is the next to go
  std::vector<std::uint64_t> slots_;  // the table: kEmpty or a digest
  std::size_t mask_ = 0;
  std::size_t oldest_ = 0;
  std::size_t count_ = 0;
};

}  // namespace coraft::actors
