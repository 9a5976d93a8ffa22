// Unit tests of the linearizability checker: hand-built histories that are linearizable and ones that are not,
// operations of unknown outcome, the time budget, per-key independence, and the speed on a long history.

#include "linearizability.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <limits>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

using namespace coraft;
using namespace coraft::test;
using namespace std::chrono_literals;

namespace Catch {
template <>
struct StringMaker<Verdict> {
  static std::string convert(Verdict v) { return std::string(verdict_name(v)); }
};
}  // namespace Catch

namespace {

constexpr std::int64_t kNever = std::numeric_limits<std::int64_t>::max();

Operation base(std::uint64_t client, OpKind kind, std::string key, std::int64_t invoked, std::int64_t completed) {
  Operation op;
  op.client = client;
  op.kind = kind;
  op.key = std::move(key);
  op.invoked_us = invoked;
  op.completed_us = completed;
  op.completed = true;
  return op;
}

Operation put(std::uint64_t client, std::string key, std::string value, std::int64_t invoked, std::int64_t completed) {
  Operation op = base(client, OpKind::kPut, std::move(key), invoked, completed);
  op.value = std::move(value);
  return op;
}

Operation get(std::uint64_t client, std::string key, std::optional<std::string> read, std::int64_t invoked,
              std::int64_t completed) {
  Operation op = base(client, OpKind::kGet, std::move(key), invoked, completed);
  op.status = read ? kv::Status::kOk : kv::Status::kNotFound;
  op.read = std::move(read);
  return op;
}

Operation del(std::uint64_t client, std::string key, bool existed, std::int64_t invoked, std::int64_t completed) {
  Operation op = base(client, OpKind::kDelete, std::move(key), invoked, completed);
  op.status = existed ? kv::Status::kOk : kv::Status::kNotFound;
  return op;
}

Operation cas(std::uint64_t client, std::string key, std::optional<std::string> expected, std::string value,
              bool succeeded, std::int64_t invoked, std::int64_t completed) {
  Operation op = base(client, OpKind::kCas, std::move(key), invoked, completed);
  op.expected = std::move(expected);
  op.value = std::move(value);
  op.status = succeeded ? kv::Status::kOk : kv::Status::kCasMismatch;
  return op;
}

// The same operation, but its client never learned the outcome.
Operation unknown(Operation op) {
  op.completed = false;
  op.completed_us = kNever;
  op.status = kv::Status::kOk;
  op.read.reset();
  return op;
}

LinearizabilityResult check(const History& history) { return check_linearizability(history, 10s); }

// A sequential execution of random operations on a few keys, replayed on a model; each operation's interval is
// jittered around its point in the sequence, so that about `clients` operations overlap at any time while each
// client's own operations stay sequential. Linearizable by construction. A fraction of the writes lose their answer
// (unknown outcome); of those, half took effect.
History sequential_history(std::uint64_t seed, int operations, int clients, int keys, double unknown_fraction) {
  std::mt19937_64 rng(seed);
  const auto below = [&](std::uint64_t n) { return rng() % n; };
  const auto chance = [&](double p) { return std::uniform_real_distribution<double>(0, 1)(rng) < p; };
  constexpr std::int64_t kSpacing = 100;  // between consecutive linearization points
  const std::int64_t jitter = kSpacing * clients / 2 - 10;  // a client's consecutive operations never overlap
  std::map<std::string, std::optional<std::string>> model;
  History history;
  for (int i = 0; i < operations; ++i) {
    const std::string key = "k" + std::to_string(below(static_cast<std::uint64_t>(keys)));
    std::optional<std::string>& current = model[key];
    const std::int64_t point = 1'000'000 + i * kSpacing;
    const std::int64_t invoked = point - static_cast<std::int64_t>(below(static_cast<std::uint64_t>(jitter) + 1));
    const std::int64_t completed = point + static_cast<std::int64_t>(below(static_cast<std::uint64_t>(jitter) + 1));
    const auto client = static_cast<std::uint64_t>(i % clients) + 1;
    const std::string fresh = "v" + std::to_string(i);
    const auto dice = below(10);
    Operation op;
    if (dice < 4) {
      op = get(client, key, current, invoked, completed);
    } else if (dice < 7) {
      op = put(client, key, fresh, invoked, completed);
    } else if (dice < 8) {
      op = del(client, key, current.has_value(), invoked, completed);
    } else {
      // Half the time the value we last wrote or read might be stale: use an arbitrary older one.
      std::optional<std::string> expected = current;
      if (chance(0.5)) {
        expected.reset();
        if (i > 0 && chance(0.7)) expected = "v" + std::to_string(below(static_cast<std::uint64_t>(i)));
      }
      op = cas(client, key, expected, fresh, expected == current, invoked, completed);
      if (expected != current) op.read = current;
    }
    const bool lost = op.kind != OpKind::kGet && chance(unknown_fraction);
    const bool takes_effect = !lost || chance(0.5);
    if (takes_effect) {
      if (op.kind == OpKind::kPut) current = fresh;
      if (op.kind == OpKind::kDelete) current.reset();
      if (op.kind == OpKind::kCas && op.status == kv::Status::kOk) current = fresh;
    }
    history.push_back(lost ? unknown(op) : op);
  }
  return history;
}

// The definition, by brute force, for small single-key histories: some subset of the unknown operations plus all
// the completed ones, in some order that respects real time, replays on the register with every recorded result.
bool brute_force_linearizable(const History& history) {
  std::vector<std::size_t> unknown_ops;
  for (std::size_t i = 0; i < history.size(); ++i) {
    if (!history[i].completed) unknown_ops.push_back(i);
  }
  const auto precedes = [&](std::size_t a, std::size_t b) {
    return history[a].completed && history[a].completed_us < history[b].invoked_us;
  };
  for (std::uint64_t subset = 0; subset < (std::uint64_t{1} << unknown_ops.size()); ++subset) {
    std::vector<std::size_t> order;
    for (std::size_t i = 0; i < history.size(); ++i) order.push_back(i);
    for (std::size_t u = 0; u < unknown_ops.size(); ++u) {
      if ((subset >> u & 1) == 0) std::erase(order, unknown_ops[u]);
    }
    do {
      bool ok = true;
      for (std::size_t i = 0; i < order.size() && ok; ++i) {
        for (std::size_t j = i + 1; j < order.size() && ok; ++j) ok = !precedes(order[j], order[i]);
      }
      std::optional<std::string> state;
      for (std::size_t i = 0; i < order.size() && ok; ++i) {
        const Operation& op = history[order[i]];
        const bool known = op.completed;
        switch (op.kind) {
          case OpKind::kGet: ok = !known || op.read == state; break;
          case OpKind::kPut: state = op.value; break;
          case OpKind::kDelete:
            ok = !known || op.status == (state ? kv::Status::kOk : kv::Status::kNotFound);
            state.reset();
            break;
          case OpKind::kCas:
            if (state == op.expected) {
              ok = !known || op.status == kv::Status::kOk;
              state = op.value;
            } else {
              ok = !known || (op.status == kv::Status::kCasMismatch && (!op.read || op.read == state));
            }
            break;
        }
      }
      if (ok) return true;
    } while (std::next_permutation(order.begin(), order.end()));
  }
  return false;
}

// A small random single-key history: a sequential execution at random points inside random intervals, with some
// answers lost and some results corrupted, so that both verdicts come up.
History small_random_history(std::mt19937_64& rng) {
  const auto below = [&](std::uint64_t n) { return static_cast<std::int64_t>(rng() % n); };
  const auto value = [&]() -> std::optional<std::string> {
    const auto v = below(4);
    return v == 0 ? std::nullopt : std::optional(std::to_string(v));
  };
  struct Timed {
    std::int64_t point;
    Operation op;
  };
  std::vector<Timed> ops;
  const auto n = 1 + below(6);
  for (std::int64_t i = 0; i < n; ++i) {
    const std::int64_t invoked = below(40);
    const std::int64_t completed = invoked + below(25);
    Operation op = get(static_cast<std::uint64_t>(i), "x", std::nullopt, invoked, completed);
    op.kind = static_cast<OpKind>(below(4));
    op.value = std::to_string(1 + below(3));
    if (op.kind == OpKind::kCas) op.expected = value();
    ops.push_back({invoked + below(completed - invoked + 1), op});
  }
  std::sort(ops.begin(), ops.end(), [](const Timed& a, const Timed& b) { return a.point < b.point; });
  std::optional<std::string> state;
  History history;
  for (auto& [point, op] : ops) {
    const bool lost = below(5) == 0;
    const bool takes_effect = !lost || below(2) == 0;
    std::optional<std::string> next = state;
    op.read.reset();
    op.status = kv::Status::kOk;
    switch (op.kind) {
      case OpKind::kGet:
        op.read = state;
        op.status = state ? kv::Status::kOk : kv::Status::kNotFound;
        break;
      case OpKind::kPut: next = op.value; break;
      case OpKind::kDelete:
        op.status = state ? kv::Status::kOk : kv::Status::kNotFound;
        next.reset();
        break;
      case OpKind::kCas:
        if (state == op.expected) {
          next = op.value;
        } else {
          op.status = kv::Status::kCasMismatch;
          op.read = state;
        }
        break;
    }
    if (takes_effect) state = next;
    if (below(6) == 0) {  // corrupt the answer
      op.read = value();
      if (op.kind == OpKind::kDelete) op.status = below(2) == 0 ? kv::Status::kOk : kv::Status::kNotFound;
      if (op.kind == OpKind::kCas) op.status = below(2) == 0 ? kv::Status::kOk : kv::Status::kCasMismatch;
    }
    history.push_back(lost ? unknown(op) : op);
  }
  return history;
}

}  // namespace

TEST_CASE("verdict names", "[linearizability]") {
  CHECK(verdict_name(Verdict::kLinearizable) == "linearizable");
  CHECK(verdict_name(Verdict::kViolation) == "VIOLATION");
  CHECK(verdict_name(Verdict::kUnknown) == "unknown");
}

TEST_CASE("an empty history is linearizable", "[linearizability]") {
  const auto r = check({});
  CHECK(r.verdict == Verdict::kLinearizable);
  CHECK(r.keys == 0);
  CHECK(r.operations == 0);
}

TEST_CASE("linearizable histories pass", "[linearizability]") {
  History h;
  SECTION("sequential puts and gets") {
    h = {get(1, "x", std::nullopt, 0, 10), put(1, "x", "1", 20, 30), get(2, "x", "1", 40, 50),
         put(2, "x", "2", 60, 70), get(1, "x", "2", 80, 90)};
  }
  SECTION("concurrent puts, then a get that sees the first to be invoked") {
    h = {put(1, "x", "1", 0, 100), put(2, "x", "2", 10, 90), get(3, "x", "1", 200, 210)};
  }
  SECTION("concurrent puts, then a get that sees the second to be invoked") {
    h = {put(1, "x", "1", 0, 100), put(2, "x", "2", 10, 90), get(3, "x", "2", 200, 210)};
  }
  SECTION("a get during two concurrent puts sees either, a later one sees the winner") {
    h = {put(1, "x", "1", 0, 100), put(2, "x", "2", 10, 90), get(3, "x", "2", 20, 30), get(3, "x", "1", 40, 50),
         get(4, "x", "1", 200, 210)};
  }
  SECTION("a get overlapping a put sees the old value") {
    h = {put(1, "x", "1", 0, 10), put(1, "x", "2", 20, 40), get(2, "x", "1", 25, 30)};
  }
  SECTION("a get overlapping a put sees the new value, and a later overlapping get too") {
    h = {put(1, "x", "1", 0, 10), put(1, "x", "2", 20, 60), get(2, "x", "2", 25, 30), get(2, "x", "2", 35, 40)};
  }
  SECTION("delete, then get absent; a second delete finds nothing") {
    h = {put(1, "x", "1", 0, 10), del(1, "x", true, 20, 30), get(2, "x", std::nullopt, 40, 50),
         del(2, "x", false, 60, 70)};
  }
  SECTION("cas success and cas mismatch") {
    h = {cas(1, "x", std::nullopt, "1", true, 0, 10), cas(1, "x", std::nullopt, "9", false, 20, 30),
         cas(2, "x", "1", "2", true, 40, 50), cas(2, "x", "1", "3", false, 60, 70), get(1, "x", "2", 80, 90)};
  }
  SECTION("a cas mismatch that reports the value it found") {
    Operation mismatch = cas(2, "x", "0", "3", false, 20, 30);
    mismatch.read = "1";
    h = {put(1, "x", "1", 0, 10), mismatch};
  }
  SECTION("two concurrent cas from the same value: one wins") {
    h = {put(1, "x", "0", 0, 10), cas(1, "x", "0", "1", false, 20, 100), cas(2, "x", "0", "2", true, 30, 90),
         get(3, "x", "2", 200, 210)};
  }
  SECTION("operations at the same instant count as concurrent") {
    h = {put(1, "x", "1", 0, 10), get(2, "x", std::nullopt, 10, 20)};
  }
  const auto r = check(h);
  INFO(r.explanation);
  CHECK(r.verdict == Verdict::kLinearizable);
  CHECK(r.keys == 1);
  CHECK(r.operations == h.size());
}

TEST_CASE("violations are found and explained", "[linearizability]") {
  History h;
  std::string culprit;  // an operation the explanation must name
  SECTION("a stale read after a newer write completed") {
    h = {put(1, "x", "1", 0, 10), put(1, "x", "2", 20, 30), get(2, "x", "1", 40, 50)};
    culprit = describe(h[2]);
  }
  SECTION("a lost acknowledged write") {
    h = {put(1, "x", "1", 0, 10), get(2, "x", std::nullopt, 20, 30)};
    culprit = describe(h[1]);
  }
  SECTION("a read of a value never written") {
    h = {put(1, "x", "1", 0, 10), get(2, "x", "7", 5, 15)};
    culprit = describe(h[1]);
  }
  SECTION("two readers observe two concurrent writes in opposite orders") {
    // Both writes overlap all four reads. A's reads order w1 before w2; B's order w2 before w1; no single order
    // of the writes explains both, since nothing writes after them.
    h = {put(1, "x", "1", 0, 100), put(2, "x", "2", 0, 100), get(3, "x", "1", 10, 20), get(3, "x", "2", 30, 40),
         get(4, "x", "2", 10, 20), get(4, "x", "1", 30, 40)};
  }
  SECTION("a cas succeeds although the value could not have matched") {
    h = {put(1, "x", "1", 0, 10), cas(2, "x", "2", "3", true, 20, 30)};
    culprit = describe(h[1]);
  }
  SECTION("a cas on an absent key succeeds after a write completed") {
    h = {put(1, "x", "1", 0, 10), cas(2, "x", std::nullopt, "3", true, 20, 30)};
    culprit = describe(h[1]);
  }
  SECTION("a cas mismatch when the value did match") {
    h = {put(1, "x", "1", 0, 10), cas(2, "x", "1", "3", false, 20, 30)};
    culprit = describe(h[1]);
  }
  SECTION("a cas mismatch reporting a value the key did not hold") {
    Operation mismatch = cas(2, "x", "0", "3", false, 20, 30);
    mismatch.read = "2";
    h = {put(1, "x", "1", 0, 10), put(1, "x", "2", 40, 50), mismatch};
    culprit = describe(h[2]);
  }
  SECTION("a delete reports the key existed when it could not have") {
    h = {del(1, "x", true, 0, 10)};
    culprit = describe(h[0]);
  }
  SECTION("a delete reports the key absent after a write completed") {
    h = {put(1, "x", "1", 0, 10), del(2, "x", false, 20, 30)};
    culprit = describe(h[1]);
  }
  SECTION("a write comes back after a delete") {
    h = {put(1, "x", "1", 0, 10), del(1, "x", true, 20, 30), get(2, "x", "1", 40, 50)};
    culprit = describe(h[2]);
  }
  const auto r = check(h);
  INFO(r.explanation);
  CHECK(r.verdict == Verdict::kViolation);
  CHECK_THAT(r.explanation, Catch::Contains("key \"x\""));
  if (!culprit.empty()) CHECK_THAT(r.explanation, Catch::Contains(culprit));
}

TEST_CASE("operations of unknown outcome may take effect any time after their invocation, or never",
          "[linearizability]") {
  History h;
  Verdict expected = Verdict::kLinearizable;
  SECTION("an unknown put that a later get observes") {
    h = {unknown(put(1, "x", "1", 0, 0)), get(2, "x", "1", 1000, 1010), get(2, "x", "1", 2000, 2010)};
  }
  SECTION("an unknown put observed long after a later write was overwritten") {
    h = {unknown(put(1, "x", "1", 0, 0)), put(2, "x", "2", 10, 20), get(2, "x", "2", 30, 40),
         get(3, "x", "1", 5000, 5010)};
  }
  SECTION("an unknown put that is never observed") {
    h = {unknown(put(1, "x", "9", 0, 0)), put(2, "x", "1", 10, 20), get(2, "x", "1", 30, 40),
         get(3, "x", "1", 50, 60)};
  }
  SECTION("an unknown put never observed, the key staying absent") {
    h = {unknown(put(1, "x", "9", 0, 0)), get(2, "x", std::nullopt, 30, 40), get(3, "x", std::nullopt, 50, 60)};
  }
  SECTION("an unknown delete that took effect") {
    h = {put(1, "x", "1", 0, 10), unknown(del(1, "x", true, 20, 0)), get(2, "x", "1", 30, 40),
         get(2, "x", std::nullopt, 50, 60)};
  }
  SECTION("an unknown cas that took effect") {
    h = {put(1, "x", "1", 0, 10), unknown(cas(1, "x", "1", "2", true, 20, 0)), get(2, "x", "2", 30, 40)};
  }
  SECTION("an unanswered get is ignored") {
    h = {unknown(get(1, "x", "7", 0, 0)), put(2, "x", "1", 10, 20)};
  }
  SECTION("a get observes an unknown put, then a later get does not, with no write between") {
    h = {unknown(put(1, "x", "1", 0, 0)), get(2, "x", "1", 10, 20), get(2, "x", std::nullopt, 30, 40)};
    expected = Verdict::kViolation;
  }
  SECTION("a get observes an unknown put, then a later get sees the value from before it") {
    h = {put(1, "x", "0", 0, 5), unknown(put(1, "x", "1", 10, 0)), get(2, "x", "1", 20, 30),
         get(3, "x", "0", 40, 50)};
    expected = Verdict::kViolation;
  }
  SECTION("an unknown put cannot explain a read that completed before it was invoked") {
    h = {get(2, "x", "1", 0, 10), unknown(put(1, "x", "1", 20, 0))};
    expected = Verdict::kViolation;
  }
  SECTION("an unknown put takes effect at most once") {
    h = {unknown(put(1, "x", "1", 0, 0)), get(2, "x", "1", 10, 20), put(3, "x", "2", 30, 40),
         get(2, "x", "1", 50, 60)};
    expected = Verdict::kViolation;
  }
  const auto r = check(h);
  INFO(r.explanation);
  CHECK(r.verdict == expected);
}

TEST_CASE("operations refused as stale-session replays are ignored", "[linearizability]") {
  Operation stale = put(1, "x", "1", 0, 10);
  stale.status = kv::Status::kStaleSession;
  const History h = {stale, get(2, "x", std::nullopt, 20, 30)};
  const auto r = check(h);
  INFO(r.explanation);
  CHECK(r.verdict == Verdict::kLinearizable);
  CHECK(r.operations == 1);
}

TEST_CASE("a search that outlasts its budget is unknown, never linearizable", "[linearizability]") {
  // Many concurrent unknown writes, then reads no subset and order of them explains (v0 would have to be written
  // twice): proving it means exploring every subset of the writes.
  History h;
  for (int i = 0; i < 24; ++i) {
    h.push_back(unknown(put(static_cast<std::uint64_t>(i), "x", "v" + std::to_string(i), 0, 0)));
  }
  h.push_back(get(100, "x", "v0", 1000, 1010));
  h.push_back(get(100, "x", "v1", 1020, 1030));
  h.push_back(get(100, "x", "v0", 1040, 1050));
  h.push_back(get(100, "x", "v1", 1060, 1070));
  const auto budget = GENERATE(0ms, 1ms, 20ms);
  INFO("budget " << budget.count() << " ms");
  const auto start = std::chrono::steady_clock::now();
  const auto r = check_linearizability(h, budget);
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  INFO("took " << ms << " ms");
  INFO(r.explanation);
  CHECK(r.verdict == Verdict::kUnknown);
  CHECK_THAT(r.explanation, Catch::Contains("key \"x\""));
}

TEST_CASE("keys are checked independently", "[linearizability]") {
  SECTION("interleaved keys holding the same values are fine") {
    const History h = {put(1, "a", "1", 0, 10), put(2, "b", "2", 0, 10), get(1, "b", "2", 20, 30),
                       get(2, "a", "1", 20, 30), del(1, "a", true, 40, 50), get(2, "b", "2", 60, 70),
                       get(1, "a", std::nullopt, 60, 70)};
    const auto r = check(h);
    INFO(r.explanation);
    CHECK(r.verdict == Verdict::kLinearizable);
    CHECK(r.keys == 2);
    CHECK(r.operations == h.size());
  }
  SECTION("a value written to one key cannot be read from another") {
    const History h = {put(1, "a", "1", 0, 10), get(2, "b", "1", 20, 30)};
    const auto r = check(h);
    INFO(r.explanation);
    CHECK(r.verdict == Verdict::kViolation);
    CHECK_THAT(r.explanation, Catch::Contains("key \"b\""));
  }
  SECTION("a violation on one key is reported naming that key") {
    // The bad key sorts last and its operations come first: neither order decides what is reported.
    const History h = {put(1, "zz", "1", 0, 10), put(1, "zz", "2", 20, 30), get(2, "zz", "1", 40, 50),
                       put(3, "aa", "1", 0, 10), get(3, "aa", "1", 20, 30), put(4, "mm", "1", 0, 10),
                       get(4, "mm", "1", 40, 50)};
    const auto r = check(h);
    INFO(r.explanation);
    CHECK(r.verdict == Verdict::kViolation);
    CHECK_THAT(r.explanation, Catch::Contains("key \"zz\""));
    CHECK_THAT(r.explanation, !Catch::Contains("key \"aa\"") && !Catch::Contains("key \"mm\""));
    CHECK_THAT(r.explanation, Catch::Contains(describe(h[2])));
    CHECK(r.keys == 3);
  }
}

TEST_CASE("a long history of concurrent clients checks quickly", "[linearizability][performance]") {
  const double unknown_fraction = GENERATE(0.0, 0.02);
  const History h = sequential_history(42, 5000, 5, 5, unknown_fraction);
  const auto start = std::chrono::steady_clock::now();
  const auto r = check(h);
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  INFO("5000 operations, 5 clients, 5 keys, unknown fraction " << unknown_fraction << ": checked in " << ms << " ms");
  INFO(r.explanation);
  CHECK(r.verdict == Verdict::kLinearizable);
  CHECK(r.keys == 5);
  CHECK(r.operations == h.size());
}

TEST_CASE("a stale read deep in a long history is found", "[linearizability][performance]") {
  History h = sequential_history(7, 5000, 5, 5, 0.0);
  // A get late in the history is made to return the key's first value, which a later write provably replaced
  // before the get was invoked.
  std::size_t late_get = h.size();
  for (std::size_t i = h.size() / 2; i < h.size(); ++i) {
    if (h[i].kind == OpKind::kGet) {
      late_get = i;
      break;
    }
  }
  REQUIRE(late_get < h.size());
  const std::string& key = h[late_get].key;
  std::size_t first_put = h.size();
  for (std::size_t i = 0; i < h.size(); ++i) {
    if (h[i].key == key && h[i].kind == OpKind::kPut) {
      first_put = i;
      break;
    }
  }
  REQUIRE(first_put < late_get);
  bool replaced = false;
  for (std::size_t i = first_put + 1; i < late_get; ++i) {
    const Operation& w = h[i];
    const bool writes = w.kind == OpKind::kPut || (w.kind != OpKind::kGet && w.status == kv::Status::kOk);
    const bool between = w.invoked_us > h[first_put].completed_us && w.completed_us < h[late_get].invoked_us;
    if (w.key == key && writes && between) replaced = true;
  }
  REQUIRE(replaced);
  h[late_get].read = h[first_put].value;
  h[late_get].status = kv::Status::kOk;

  const auto start = std::chrono::steady_clock::now();
  const auto r = check(h);
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  INFO("checked in " << ms << " ms");
  INFO(r.explanation);
  CHECK(r.verdict == Verdict::kViolation);
  CHECK_THAT(r.explanation, Catch::Contains("key \"" + key + "\""));
  CHECK_THAT(r.explanation, Catch::Contains(describe(h[late_get])));
}

TEST_CASE("the checker agrees with a brute-force search on small random histories", "[linearizability]") {
  std::mt19937_64 rng(2024);
  int linearizable = 0;
  int violations = 0;
  for (int i = 0; i < 3000; ++i) {
    const History h = small_random_history(rng);
    const bool expected = brute_force_linearizable(h);
    const auto r = check(h);
    if (r.verdict != (expected ? Verdict::kLinearizable : Verdict::kViolation)) {
      std::string text;
      for (const Operation& op : h) text += describe(op) + "\n";
      INFO("history " << i << ":\n" << text << r.explanation);
      CHECK(r.verdict == (expected ? Verdict::kLinearizable : Verdict::kViolation));
    }
    ++(expected ? linearizable : violations);
  }
  INFO(linearizable << " linearizable, " << violations << " violations");
  CHECK(linearizable > 500);
  CHECK(violations > 500);
}
