#pragma once
// Quorum arithmetic: majorities of a fixed voter set.

#include <algorithm>
#include <cstddef>
#include <functional>
#include <vector>

namespace coraft::raft {

// The smallest majority of `voters`.
constexpr std::size_t quorum_size(std::size_t voters) { return voters / 2 + 1; }

// The largest value that a majority of `values` (one per voter) has reached: the quorum-th largest.
// Used for the commit index (values = match indexes) and the read lease (values = acknowledged send times).
template <class T>
T quorum_value(std::vector<T> values) {
  const std::size_t q = quorum_size(values.size());
  std::nth_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(q - 1), values.end(),
                   std::greater<T>());
  return values[q - 1];
}

}  // namespace coraft::raft
