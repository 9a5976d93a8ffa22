#pragma once
// A linearizability checker for key-value histories (Wing & Gong's search with Lowe's memoization, as Porcupine and
// Knossos do it). Every key is an independent register that starts absent, so each key's sub-history is checked on
// its own: a history is linearizable iff every key's is.

#include "history.hpp"

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>

namespace coraft::test {

enum class Verdict { kLinearizable, kViolation, kUnknown };  // kUnknown: the time budget ran out; never a pass

struct LinearizabilityResult {
  Verdict verdict = Verdict::kLinearizable;
  // A violation: the key, how far the longest linearization got and the operations none of which could come next.
  // Unknown: the key whose search ran out of budget.
  std::string explanation;
  std::size_t keys = 0;        // keys checked (a violation or unknown stops at the key concerned)
  std::size_t operations = 0;  // operations considered on those keys (stale-session ops and unknown gets are not)
};

std::string_view verdict_name(Verdict v);  // "linearizable", "VIOLATION", "unknown"

// `budget` bounds the whole check (all keys together); it is polled every few thousand search steps.
LinearizabilityResult check_linearizability(const History& history, std::chrono::milliseconds budget);

}  // namespace coraft::test
