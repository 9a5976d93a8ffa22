#pragma once
// Timestamps of writes on their way through a replica, for taking a put's latency apart (kvstore --trace-hops FILE;
// tests/bench/trace-put.sh runs a cluster with it and merges the replicas' files into a breakdown per hop). One line
// per hop: steady-clock nanoseconds (the same clock in every process of a machine), the replica, the hop, and the
// log index it concerns (0 where none is known yet).
//
// Off unless a file was opened, and then a check of one pointer per hop. Process-wide like a log sink, since a
// kvstore process runs one replica; the simulator never opens it. Marks come from the replica's thread and the disk
// thread, so writing takes a lock: a diagnostic, not for production load.

#include <atomic>
#include <cstdint>
#include <string>

namespace coraft::actors::hop_trace {

// False (and tracing stays off) when the file cannot be written.
bool open(const std::string& path, std::uint16_t replica);
// Writes out what is buffered; tracing is off afterwards.
void close();

namespace detail {
extern std::atomic<bool> enabled;
void mark(const char* hop, std::uint64_t index);
}  // namespace detail

inline bool enabled() { return detail::enabled.load(std::memory_order_relaxed); }

// `hop`: a string literal naming the point (see tests/bench/trace-put.sh for the list and their order).
inline void mark(const char* hop, std::uint64_t index = 0) {
  if (enabled()) detail::mark(hop, index);
}

}  // namespace coraft::actors::hop_trace
