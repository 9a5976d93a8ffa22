#pragma once
// A history of client operations on the key-value store, as Jepsen records them: when each was invoked, when (if
// ever) it completed, and what it returned. Operations that never got a definite answer are "unknown": they may or
// may not have taken effect, at any time after their invocation.

#include "kv/command.hpp"

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

namespace coraft::net {

enum class OpKind : std::uint8_t { kGet, kPut, kDelete, kCas };

struct Operation {
  std::uint64_t client = 0;
  OpKind kind = OpKind::kGet;
  std::string key;
  std::string value;                    // put, cas: new value
  std::optional<std::string> expected;  // cas: required current value (nullopt: key absent)
  std::int64_t invoked_us = 0;
  std::int64_t completed_us = std::numeric_limits<std::int64_t>::max();
  bool completed = false;  // false: outcome unknown
  // Results of a completed operation.
  kv::Status status = kv::Status::kOk;  // delete: kOk (existed) / kNotFound; cas: kOk / kCasMismatch
  std::optional<std::string> read;      // get: the value read (nullopt: absent)
};

using History = std::vector<Operation>;

}  // namespace coraft::net
