#pragma once
// Histories as JSON lines, one operation per line, so that separate processes (kvbench runs, kvcheck's final reads)
// can record what they did and kvcheck can check it all together:
//   {"client":"2f1c0a9e4b7d3e51","kind":"put","key":"k07","value":"2f1c0a9e4b7d3e51-17","invoked_us":81234567,
//    "completed_us":81236012,"status":"ok"}
//   {"client":"...","kind":"get","key":"k07","invoked_us":...,"completed_us":...,"status":"ok","read":"..."}
//   {"client":"...","kind":"put","key":"k03","value":"...","invoked_us":...,"completed_us":null}   outcome unknown
// `read` is null for a get that found no value; `expected` (cas) is null for "must be absent". `completed_us` null
// means the client never learned the outcome: the operation may have taken effect at any time after its invocation.
// `client` is the client's session in hex, unique across processes without any coordination.
// Times are microseconds of CLOCK_MONOTONIC (std::chrono::steady_clock on Linux). Every process on one host reads
// the same clock, whatever network namespace it runs in, so histories recorded by different processes merge;
// histories from different hosts do not.

#include "net/history.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace coraft::net {

class HistoryFormatError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

nlohmann::json operation_to_json(const Operation& op);
Operation operation_from_json(const nlohmann::json& line);  // throws HistoryFormatError saying which field

// Parses JSON lines (blank lines skipped). Errors name `source` and the line number.
History parse_history(const std::string& text, const std::string& source);
History load_history(const std::string& path);  // throws HistoryFormatError, also when the file cannot be read

// Now, on the clock histories use.
inline std::int64_t history_now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace coraft::net
