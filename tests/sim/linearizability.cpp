// The linearizability checker (see linearizability.hpp). Each key's search walks a doubly linked list of its
// operations' call and return events in time order, as Porcupine does: linearizing an operation unlinks its two
// events and backtracking relinks them (dancing links), so the depth-first search needs only an explicit stack of the
// operations linearized so far, whatever the history's length. Lowe's cache of (linearized set, state) pairs already
// explored keeps the search from re-exploring the same configuration reached through different orders.

#include "linearizability.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

namespace coraft::test {

std::string_view verdict_name(Verdict v) {
  switch (v) {
    case Verdict::kLinearizable: return "linearizable";
    case Verdict::kViolation: return "VIOLATION";
    case Verdict::kUnknown: return "unknown";
  }
  return "?";
}

namespace {

using Clock = std::chrono::steady_clock;

// The register's states are interned values, so that states compare and hash as integers.
constexpr int kAbsent = -1;
constexpr int kNeverWritten = -2;  // a value no operation on the key writes: equal to no state

class Budget {
 public:
  explicit Budget(std::chrono::milliseconds budget) : deadline_(Clock::now() + budget) {}

  // Reading the clock costs more than a search step, so it is read only every few thousand steps.
  bool exhausted() {
    if ((++steps_ & 0xFFFu) != 0) return false;
    return Clock::now() > deadline_;
  }

 private:
  Clock::time_point deadline_;
  std::uint64_t steps_ = 0;
};

std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// One operation of the key, with its values interned.
struct KeyOp {
  const Operation* op = nullptr;
  int value = kAbsent;      // put, cas: the state it writes
  int expected = kAbsent;   // cas: the state it requires
  int read = kAbsent;       // get: the state it saw; cas mismatch: the state it found, if it says
  bool read_known = false;  // cas mismatch: `read` holds what it found (nullopt is ambiguous, so it proves nothing)
};

struct Step {
  bool ok = false;  // the operation's recorded result is what the model gives from this state
  int next = kAbsent;
};

// The register model. An operation of unknown outcome accepts any result: only its effect matters.
Step apply(const KeyOp& k, int state) {
  const Operation& op = *k.op;
  const bool known = op.completed;
  switch (op.kind) {
    case OpKind::kGet: return {!known || k.read == state, state};
    case OpKind::kPut: return {!known || op.status == kv::Status::kOk, k.value};
    case OpKind::kDelete: {
      const kv::Status expected_status = state != kAbsent ? kv::Status::kOk : kv::Status::kNotFound;
      return {!known || op.status == expected_status, kAbsent};
    }
    case OpKind::kCas:
      if (state == k.expected) return {!known || op.status == kv::Status::kOk, k.value};
      return {!known || (op.status == kv::Status::kCasMismatch && (!k.read_known || k.read == state)), state};
  }
  return {false, state};
}

class KeySearch {
 public:
  KeySearch(std::string_view key, const std::vector<const Operation*>& ops);
  // The cache's equality functor points at arena_.
  KeySearch(const KeySearch&) = delete;
  KeySearch& operator=(const KeySearch&) = delete;

  Verdict run(Budget& budget);
  std::string explain_violation() const;
  std::string explain_unknown(std::chrono::milliseconds budget) const;

 private:
  // An event in the time-ordered list; nodes 0 and 1 are the head and tail sentinels.
  struct Node {
    int op = -1;
    bool is_call = false;
    int match = -1;  // a call's return node; -1 for an operation of unknown outcome, which never returns
    int prev = -1;
    int next = -1;
  };
  struct Frame {
    int call = 0;   // the call node of the operation linearized
    int state = 0;  // the state before it
  };
  // A configuration already explored, its linearized set stored in arena_ at `offset`.
  struct CacheEntry {
    std::uint64_t hash = 0;
    std::size_t offset = 0;
    int state = 0;
  };
  struct CacheHash {
    std::size_t operator()(const CacheEntry& e) const { return static_cast<std::size_t>(e.hash); }
  };
  struct CacheEqual {
    const std::vector<std::uint64_t>* arena;
    std::size_t words;
    bool operator()(const CacheEntry& a, const CacheEntry& b) const {
      if (a.hash != b.hash || a.state != b.state) return false;
      const auto* base = arena->data();
      return std::equal(base + a.offset, base + a.offset + words, base + b.offset);
    }
  };
  // Where the search got furthest, for the explanation of a violation.
  struct DeadEnd {
    std::size_t depth = 0;  // completed operations linearized
    int state = kAbsent;
    std::vector<int> last;        // the last operations linearized, oldest first
    std::vector<int> candidates;  // the operations that could have come next
    std::size_t more_candidates = 0;
    int blocking = -1;  // the pending operation that completes first
  };

  static constexpr int kHead = 0;
  static constexpr int kTail = 1;

  void toggle(int op);
  bool remember(int state);  // false: this configuration was explored before
  void lift(int call);
  void unlift(int call);
  void note_dead_end(int entry, int state);
  std::string state_text(int state) const;

  std::string key_;
  std::vector<KeyOp> ops_;
  std::vector<std::string> values_;  // interned: state i holds values_[i]
  std::size_t completed_ = 0;
  std::size_t pending_ = 0;  // completed operations not linearized yet

  std::vector<Node> nodes_;
  std::vector<Frame> stack_;
  std::vector<std::uint64_t> linearized_;  // bitset over ops_
  std::vector<std::uint64_t> zobrist_;     // per operation: the linearized set's hash is the xor of its members'
  std::uint64_t set_hash_ = 0;
  std::vector<std::uint64_t> arena_;
  std::unordered_set<CacheEntry, CacheHash, CacheEqual> cache_;

  bool have_dead_end_ = false;
  DeadEnd dead_end_;
};

KeySearch::KeySearch(std::string_view key, const std::vector<const Operation*>& ops)
    : key_(key),
      linearized_((ops.size() + 63) / 64, 0),
      cache_(1024, CacheHash{}, CacheEqual{&arena_, (ops.size() + 63) / 64}) {
  std::unordered_map<std::string, int> ids;
  const auto intern = [&](const std::string& value) {
    auto [it, inserted] = ids.emplace(value, static_cast<int>(values_.size()));
    if (inserted) values_.push_back(value);
    return it->second;
  };
  for (const Operation* op : ops) {
    if (op->kind == OpKind::kPut || op->kind == OpKind::kCas) intern(op->value);
  }
  const auto lookup = [&](const std::optional<std::string>& value) {
    if (!value) return kAbsent;
    auto it = ids.find(*value);
    return it == ids.end() ? kNeverWritten : it->second;
  };

  ops_.reserve(ops.size());
  for (const Operation* op : ops) {
    KeyOp k;
    k.op = op;
    if (op->kind == OpKind::kPut || op->kind == OpKind::kCas) k.value = ids.at(op->value);
    if (op->kind == OpKind::kCas) k.expected = lookup(op->expected);
    if (op->kind == OpKind::kGet) k.read = lookup(op->read);
    if (op->kind == OpKind::kCas && op->read) {
      k.read = lookup(op->read);
      k.read_known = true;
    }
    if (op->completed) ++completed_;
    ops_.push_back(k);
  }
  pending_ = completed_;

  zobrist_.reserve(ops_.size());
  for (std::size_t i = 0; i < ops_.size(); ++i) zobrist_.push_back(splitmix64(i));

  // Calls sort before returns at the same instant: treating the two operations as concurrent is the lenient reading.
  struct Event {
    std::int64_t time;
    int is_return;
    int op;
  };
  std::vector<Event> events;
  events.reserve(2 * ops_.size());
  for (std::size_t i = 0; i < ops_.size(); ++i) {
    const Operation& op = *ops_[i].op;
    events.push_back({op.invoked_us, 0, static_cast<int>(i)});
    // A completion recorded before the invocation is a clock glitch, not a constraint nobody could meet.
    if (op.completed) events.push_back({std::max(op.completed_us, op.invoked_us), 1, static_cast<int>(i)});
  }
  std::sort(events.begin(), events.end(), [](const Event& a, const Event& b) {
    return std::tie(a.time, a.is_return, a.op) < std::tie(b.time, b.is_return, b.op);
  });

  nodes_.resize(2 + events.size());
  std::vector<int> call_node(ops_.size(), -1);
  int prev = kHead;
  for (std::size_t e = 0; e < events.size(); ++e) {
    const int index = static_cast<int>(e) + 2;
    Node& node = nodes_[static_cast<std::size_t>(index)];
    node.op = events[e].op;
    node.is_call = events[e].is_return == 0;
    if (node.is_call) {
      call_node[static_cast<std::size_t>(node.op)] = index;
    } else {
      nodes_[static_cast<std::size_t>(call_node[static_cast<std::size_t>(node.op)])].match = index;
    }
    node.prev = prev;
    nodes_[static_cast<std::size_t>(prev)].next = index;
    prev = index;
  }
  nodes_[static_cast<std::size_t>(prev)].next = kTail;
  nodes_[kTail].prev = prev;
}

void KeySearch::toggle(int op) {
  const auto bit = static_cast<std::size_t>(op);
  linearized_[bit / 64] ^= std::uint64_t{1} << (bit % 64);
  set_hash_ ^= zobrist_[bit];
}

bool KeySearch::remember(int state) {
  const std::size_t offset = arena_.size();
  arena_.insert(arena_.end(), linearized_.begin(), linearized_.end());
  const std::uint64_t hash = set_hash_ ^ splitmix64(static_cast<std::uint64_t>(static_cast<std::int64_t>(state)));
  if (cache_.insert(CacheEntry{hash, offset, state}).second) return true;
  arena_.resize(offset);
  return false;
}

void KeySearch::lift(int call) {
  auto unlink = [this](int index) {
    const Node& n = nodes_[static_cast<std::size_t>(index)];
    nodes_[static_cast<std::size_t>(n.prev)].next = n.next;
    nodes_[static_cast<std::size_t>(n.next)].prev = n.prev;
  };
  unlink(call);
  if (const int ret = nodes_[static_cast<std::size_t>(call)].match; ret >= 0) unlink(ret);
}

void KeySearch::unlift(int call) {
  // Relinking in the reverse order of unlinking restores the list exactly, since lifts are undone last-in first-out.
  auto relink = [this](int index) {
    const Node& n = nodes_[static_cast<std::size_t>(index)];
    nodes_[static_cast<std::size_t>(n.prev)].next = index;
    nodes_[static_cast<std::size_t>(n.next)].prev = index;
  };
  if (const int ret = nodes_[static_cast<std::size_t>(call)].match; ret >= 0) relink(ret);
  relink(call);
}

Verdict KeySearch::run(Budget& budget) {
  int entry = nodes_[kHead].next;
  int state = kAbsent;
  for (;;) {
    if (pending_ == 0) return Verdict::kLinearizable;  // unknown operations left over simply never took effect
    if (budget.exhausted()) return Verdict::kUnknown;
    const Node& node = nodes_[static_cast<std::size_t>(entry)];
    if (node.is_call) {
      const KeyOp& k = ops_[static_cast<std::size_t>(node.op)];
      const Step step = apply(k, state);
      // An unknown operation that would change nothing is no different from one that never happened, which the
      // search allows anyway: skipping it prunes a branch that cannot find anything new.
      if (step.ok && (k.op->completed || step.next != state)) {
        toggle(node.op);
        if (remember(step.next)) {
          stack_.push_back({entry, state});
          state = step.next;
          lift(entry);
          if (k.op->completed) --pending_;
          entry = nodes_[kHead].next;
          continue;
        }
        toggle(node.op);
      }
      entry = node.next;
    } else {
      // A return: that operation must have been linearized by now, and was not. Backtrack.
      note_dead_end(entry, state);
      if (stack_.empty()) return Verdict::kViolation;
      const Frame frame = stack_.back();
      stack_.pop_back();
      const int op = nodes_[static_cast<std::size_t>(frame.call)].op;
      toggle(op);
      unlift(frame.call);
      state = frame.state;
      if (ops_[static_cast<std::size_t>(op)].op->completed) ++pending_;
      entry = nodes_[static_cast<std::size_t>(frame.call)].next;
    }
  }
}

void KeySearch::note_dead_end(int entry, int state) {
  const std::size_t depth = completed_ - pending_;
  if (have_dead_end_ && depth <= dead_end_.depth) return;
  have_dead_end_ = true;
  constexpr std::size_t kShown = 8;
  DeadEnd d;
  d.depth = depth;
  d.state = state;
  for (std::size_t i = stack_.size() >= 4 ? stack_.size() - 4 : 0; i < stack_.size(); ++i) {
    d.last.push_back(nodes_[static_cast<std::size_t>(stack_[i].call)].op);
  }
  for (int i = nodes_[kHead].next; i != entry; i = nodes_[static_cast<std::size_t>(i)].next) {
    const Node& n = nodes_[static_cast<std::size_t>(i)];
    if (!n.is_call) continue;
    if (d.candidates.size() < kShown) {
      d.candidates.push_back(n.op);
    } else {
      ++d.more_candidates;
    }
  }
  d.blocking = nodes_[static_cast<std::size_t>(entry)].op;
  dead_end_ = std::move(d);
}

std::string KeySearch::state_text(int state) const {
  if (state == kAbsent) return "absent";
  return fmt::format("holding \"{}\"", values_[static_cast<std::size_t>(state)]);
}

std::string KeySearch::explain_violation() const {
  std::string text = fmt::format("key \"{}\": no linearization explains its {} operations ({} completed, {} unknown).",
                                 key_, ops_.size(), completed_, ops_.size() - completed_);
  const DeadEnd& d = dead_end_;
  if (d.last.empty()) {
    text += "\nNot even the first operation fits the initial state (key absent).";
  } else {
    text += fmt::format("\nThe longest partial linearization covers {} of the completed operations, ending with:",
                        d.depth);
    for (int op : d.last) text += "\n  " + describe(*ops_[static_cast<std::size_t>(op)].op);
    text += fmt::format("\nwhich leaves the key {}.", state_text(d.state));
  }
  if (d.blocking >= 0) {
    text += fmt::format("\nThen nothing fits, yet one of these, invoked before [{}] completed, must come next:",
                        describe(*ops_[static_cast<std::size_t>(d.blocking)].op));
  } else {
    text += "\nThen none of these fits:";
  }
  for (int op : d.candidates) text += "\n  " + describe(*ops_[static_cast<std::size_t>(op)].op);
  if (d.more_candidates > 0) text += fmt::format("\n  ... and {} more", d.more_candidates);
  return text;
}

std::string KeySearch::explain_unknown(std::chrono::milliseconds budget) const {
  return fmt::format("key \"{}\": the search ran out of its {} ms budget ({} operations, {} completed; it got as far "
                     "as {} linearized)",
                     key_, budget.count(), ops_.size(), completed_, have_dead_end_ ? dead_end_.depth : 0);
}

}  // namespace

LinearizabilityResult check_linearizability(const History& history, std::chrono::milliseconds budget) {
  // Keys in sorted order, so that which key is reported first does not depend on the history's order.
  std::map<std::string_view, std::vector<const Operation*>> by_key;
  for (const Operation& op : history) {
    if (op.status == kv::Status::kStaleSession) continue;    // never took effect
    if (!op.completed && op.kind == OpKind::kGet) continue;  // an unanswered read constrains nothing
    by_key[op.key].push_back(&op);
  }

  LinearizabilityResult result;
  Budget clock(budget);
  for (const auto& [key, ops] : by_key) {
    ++result.keys;
    result.operations += ops.size();
    KeySearch search(key, ops);
    switch (search.run(clock)) {
      case Verdict::kLinearizable: break;
      case Verdict::kViolation:
        result.verdict = Verdict::kViolation;
        result.explanation = search.explain_violation();
        return result;
      case Verdict::kUnknown:
        result.verdict = Verdict::kUnknown;
        result.explanation = search.explain_unknown(budget);
        return result;
    }
  }
  return result;
}

}  // namespace coraft::test
