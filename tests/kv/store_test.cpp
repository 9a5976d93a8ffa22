#include "actors/rng.hpp"
#include "kv/command.hpp"
#include "kv/store.hpp"
#include "raft/bytes.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

using namespace coraft::kv;

TEST_CASE("commands survive encoding, malformed ones are refused", "[kv][command]") {
  Command put{Op::kPut, "k ey:1", "v|al 2:", std::nullopt, SessionRef{7, 3}};
  CHECK(decode(encode(put)) == put);
  Command cas{Op::kCas, "k", "new", std::string("old"), SessionRef{1, 1}};
  CHECK(decode(encode(cas)) == cas);
  Command cas_absent{Op::kCas, "k", "new", std::nullopt, SessionRef{}};
  CHECK(decode(encode(cas_absent)) == cas_absent);
  Command del{Op::kDelete, "gone", "", std::nullopt, SessionRef{2, 9}};
  CHECK(decode(encode(del)) == del);
  for (const char* bad : {"", "X 0 0 1:k", "P 0 0 5:k", "P 0 0 1:k1:v trailing", "P x 0 1:k1:v", "C 0 0 1:k1:vQ"}) {
    CHECK_FALSE(decode(bad));
  }
}

TEST_CASE("put, get, delete and compare-and-swap", "[kv][store]") {
  Store s;
  CHECK(s.apply(1, Command{Op::kPut, "a", "1"}).status == Status::kOk);
  CHECK(s.get("a") == "1");
  CHECK(s.apply(2, Command{Op::kCas, "a", "2", std::string("9")}) == Result{Status::kCasMismatch, "1"});
  CHECK(s.apply(3, Command{Op::kCas, "a", "2", std::string("1")}).status == Status::kOk);
  CHECK(s.get("a") == "2");
  CHECK(s.apply(4, Command{Op::kCas, "b", "x", std::nullopt}).status == Status::kOk);  // absent expected absent
  CHECK(s.apply(5, Command{Op::kDelete, "a"}).status == Status::kOk);
  CHECK(s.apply(6, Command{Op::kDelete, "a"}).status == Status::kNotFound);
  CHECK_FALSE(s.get("a"));
}

TEST_CASE("a retried request is applied once and answered with its first result", "[kv][sessions]") {
  Store s;
  Command cas{Op::kCas, "k", "v1", std::nullopt, SessionRef{42, 1}};
  CHECK(s.apply(1, cas).status == Status::kOk);
  // Someone else changes the key; the retry of the cas must not run again (it would now mismatch).
  s.apply(2, Command{Op::kPut, "k", "other"});
  CHECK(s.apply(3, cas).status == Status::kOk);
  CHECK(s.get("k") == "other");
  CHECK(s.session_result(42, 1) == Result{Status::kOk, std::nullopt});
  CHECK(s.apply(4, Command{Op::kPut, "k", "v2", std::nullopt, SessionRef{42, 2}}).status == Status::kOk);
  CHECK(s.apply(5, cas).status == Status::kStaleSession);  // older than the session's newest
  CHECK(s.get("k") == "v2");
}

TEST_CASE("the session table is bounded, evicting the least recently used", "[kv][sessions]") {
  Store s(2);
  s.apply(1, Command{Op::kPut, "a", "1", std::nullopt, SessionRef{1, 1}});
  s.apply(2, Command{Op::kPut, "a", "2", std::nullopt, SessionRef{2, 1}});
  s.apply(3, Command{Op::kPut, "a", "3", std::nullopt, SessionRef{1, 2}});  // session 1 used again
  s.apply(4, Command{Op::kPut, "a", "4", std::nullopt, SessionRef{3, 1}});  // evicts session 2
  CHECK(s.sessions() == 2);
  CHECK(s.session_seq(2) == 0);
  CHECK(s.session_seq(1) == 2);
  CHECK(s.session_seq(3) == 1);
}

TEST_CASE("replicas that applied the same commands have the same digest", "[kv][store]") {
  Store a, b;
  for (Store* s : {&a, &b}) {
    s->apply(1, Command{Op::kPut, "x", "1", std::nullopt, SessionRef{5, 1}});
    s->apply(2, Command{Op::kPut, "y", "2"});
    s->apply(3, Command{Op::kDelete, "x"});
  }
  CHECK(a.digest() == b.digest());
  Store restored;
  REQUIRE(restored.restore(a.serialize()));
  CHECK(restored.digest() == a.digest());
  b.apply(4, Command{Op::kPut, "x", "3"});
  CHECK(a.digest() != b.digest());
  // The same keys and values written at other indexes are another state.
  Store c, d;
  c.apply(1, Command{Op::kPut, "x", "1"});
  c.apply(2, Command{Op::kPut, "y", "2"});
  d.apply(1, Command{Op::kPut, "y", "2"});
  d.apply(2, Command{Op::kPut, "x", "1"});
  CHECK(c.digest() != d.digest());
}

TEST_CASE("a store survives serialization with its sessions; malformed bytes are refused", "[kv][snapshot]") {
  Store s;
  s.apply(1, Command{Op::kPut, "a", "1", std::nullopt, SessionRef{9, 1}});
  s.apply(2, Command{Op::kPut, std::string("b\0b", 3), std::string(1000, 'x')});
  s.apply(3, Command{Op::kCas, "a", "2", std::string("nope"), SessionRef{10, 4}});
  const std::string bytes = s.serialize();
  Store copy;
  REQUIRE(copy.restore(bytes));
  CHECK(copy.digest() == s.digest());
  CHECK(copy.last_index() == 3);
  CHECK(copy.get(std::string("b\0b", 3)) == std::string(1000, 'x'));
  CHECK(copy.session_result(10, 4) == Result{Status::kCasMismatch, "1"});
  // A retry after a restore is still answered from the session table.
  CHECK(copy.apply(4, Command{Op::kPut, "a", "1", std::nullopt, SessionRef{9, 1}}).status == Status::kOk);
  CHECK(copy.get("a") == "1");
  for (std::size_t cut : {std::size_t{0}, std::size_t{7}, bytes.size() / 2, bytes.size() - 1}) {
    Store broken;
    CHECK_FALSE(broken.restore(std::string_view(bytes).substr(0, cut)));
    CHECK(broken.size() == 0);
  }
  CHECK_FALSE(Store().restore(bytes + "trailing"));
}

namespace {

// Hand-made snapshot images, written with the store's own codec (raft/bytes.hpp).
void put_u64(std::string& out, std::uint64_t v) { coraft::raft::ByteWriter(out).u64(v); }
void put_bytes(std::string& out, std::string_view bytes) { coraft::raft::ByteWriter(out).bytes(bytes); }

struct RawSession {
  std::uint64_t id, seq, last_used_index;
};

// Store::serialize's format, written by hand so that it can say what serialize never would.
std::string snapshot_bytes(std::uint64_t last_index, const std::vector<std::pair<std::string, std::string>>& keys,
                           const std::vector<RawSession>& sessions) {
  std::string out;
  put_u64(out, 1);  // format
  put_u64(out, last_index);
  put_u64(out, keys.size());
  for (const auto& [key, value] : keys) {
    put_bytes(out, key);
    put_bytes(out, value);
  }
  put_u64(out, sessions.size());
  for (const RawSession& s : sessions) {
    put_u64(out, s.id);
    put_u64(out, s.seq);
    put_u64(out, s.last_used_index);
    put_u64(out, 0);  // status ok
    put_u64(out, 0);  // no value
    put_bytes(out, "");
  }
  return out;
}

}  // namespace

// Found by the snapshot fuzz target (tests/fuzz/regressions/snapshot/): restore() took bytes that serialize() never
// writes, and the session table then evicted a new session at once (breaking exactly-once) or could evict from an
// empty order.
TEST_CASE("restore refuses snapshot bytes that no store could have written", "[kv][snapshot]") {
  Store ok(2);
  REQUIRE(ok.restore(snapshot_bytes(10, {{"a", "1"}, {"b", "2"}}, {{1, 1, 4}, {2, 3, 10}})));
  CHECK(ok.sessions() == 2);

  const auto refused = [](const std::string& bytes) {
    Store s(2);
    const bool restored = s.restore(bytes);
    CHECK(s.size() == 0);
    CHECK(s.sessions() == 0);
    return !restored;
  };
  CHECK(refused(snapshot_bytes(10, {{"a", "1"}, {"a", "2"}}, {})));               // a key twice
  CHECK(refused(snapshot_bytes(10, {}, {{1, 1, 4}, {1, 2, 5}})));                 // a session twice
  CHECK(refused(snapshot_bytes(10, {}, {{1, 1, 4}, {2, 1, 4}})));                 // two sessions last used at one index
  CHECK(refused(snapshot_bytes(10, {}, {{1, 1, 11}})));                           // used after the snapshot's index

  // What restores goes on soundly: a new session is kept, the least recently used one goes.
  CHECK(ok.apply(11, Command{Op::kPut, "c", "3", std::nullopt, SessionRef{3, 1}}).status == Status::kOk);
  CHECK(ok.session_seq(3) == 1);
  CHECK(ok.session_seq(1) == 0);
  CHECK(ok.session_seq(2) == 3);
}

// ---------------------------------------------------------------------------------------------------------------
// Ordered keys, indexes, flags and tombstones (what the HTTP API reads)

TEST_CASE("flags and expected indexes survive encoding; commands without them encode as before", "[kv][command]") {
  Command put{Op::kPut, "k", "v", std::nullopt, SessionRef{7, 3}};
  CHECK(encode(put) == "P 7 3 1:k1:v");
  put.flags = 42;
  put.expected_index = 0;
  CHECK(encode(put) == "P 7 3 1:k1:vF42;I0;");
  CHECK(decode(encode(put)) == put);
  Command del{Op::kDelete, "k", "", std::nullopt, SessionRef{}, 0, 17};
  CHECK(decode(encode(del)) == del);
  Command prefix{Op::kDeletePrefix, "dir/", "", std::nullopt, SessionRef{1, 2}};
  CHECK(encode(prefix) == "R 1 2 4:dir/");
  CHECK(decode(encode(prefix)) == prefix);
  Command cas{Op::kCas, "k", "new", std::string("old"), SessionRef{}, 5};
  CHECK(decode(encode(cas)) == cas);
  // Only what encode() writes: no zero flags, no flags on a delete, no index on a cas, parts in order and once.
  for (const char* bad : {"P 0 0 1:k1:vF0;", "D 0 0 1:kF1;", "C 0 0 1:k1:vNI3;", "P 0 0 1:k1:vI3;F1;",
                          "P 0 0 1:k1:vF1;F1;", "R 0 0 1:k1:v", "P 0 0 1:k1:vI;", "P 0 0 1:k1:vF1"}) {
    INFO(bad);
    CHECK_FALSE(decode(bad));
  }
}

TEST_CASE("keys keep the index that created them and the one that last modified them, and flags", "[kv][store]") {
  Store s;
  s.apply(3, Command{Op::kPut, "a", "1", std::nullopt, {}, 9});
  s.apply(5, Command{Op::kPut, "a", "2"});
  s.apply(6, Command{Op::kCas, "b", "x", std::nullopt, {}, 4});
  CHECK(s.entry("a") == KeyValue{"a", "2", 3, 5, 0});
  CHECK(s.entry("b") == KeyValue{"b", "x", 6, 6, 4});
  CHECK(s.last_change_index() == 6);
  // A failed cas changes nothing, not even the index of the last change.
  CHECK(s.apply(7, Command{Op::kCas, "b", "y", std::string("nope")}).status == Status::kCasMismatch);
  CHECK(s.last_change_index() == 6);
}

TEST_CASE("put and delete with an expected modify index (Consul's ?cas)", "[kv][store]") {
  Store s;
  auto put_if = [&](std::uint64_t index, const char* value, std::uint64_t expected) {
    return s.apply(index, Command{Op::kPut, "k", value, std::nullopt, {}, 0, expected}).status;
  };
  CHECK(put_if(2, "a", 5) == Status::kCasMismatch);  // absent, but an index was expected
  CHECK(put_if(3, "a", 0) == Status::kOk);           // 0: only if absent
  CHECK(put_if(4, "b", 0) == Status::kCasMismatch);
  CHECK(put_if(5, "b", 2) == Status::kCasMismatch);
  CHECK(put_if(6, "b", 3) == Status::kOk);
  CHECK(s.entry("k") == KeyValue{"k", "b", 3, 6, 0});
  auto delete_if = [&](std::uint64_t index, std::uint64_t expected) {
    return s.apply(index, Command{Op::kDelete, "k", "", std::nullopt, {}, 0, expected}).status;
  };
  CHECK(delete_if(7, 3) == Status::kCasMismatch);
  CHECK(delete_if(8, 6) == Status::kOk);
  CHECK(delete_if(9, 6) == Status::kNotFound);
}

TEST_CASE("a prefix is one range: read, listed by key, deleted at once", "[kv][store]") {
  Store s;
  std::uint64_t index = 0;
  for (const std::string key : {"app/b", "app/a", "apple", "app", "b", "ap", "app\xff"}) {
    s.apply(++index, Command{Op::kPut, key, "v-" + key});
  }
  auto keys = [](const RangeRead& read) {
    std::vector<std::string> out;
    for (const auto& e : read.entries) out.push_back(e.key);
    return out;
  };
  CHECK(keys(s.read(KeyRange{"app", true}, false)) ==
        std::vector<std::string>{"app", "app/a", "app/b", "apple", "app\xff"});  // bytes compare unsigned
  CHECK(keys(s.read(KeyRange{"app/", true}, true)) == std::vector<std::string>{"app/a", "app/b"});
  CHECK(s.read(KeyRange{"app/", true}, true).entries[0].value.empty());  // keys only
  CHECK(keys(s.read(KeyRange{"", true}, true)).size() == 7);
  CHECK(keys(s.read(KeyRange{"app", false}, false)) == std::vector<std::string>{"app"});
  CHECK(s.read(KeyRange{"zzz", true}, false).entries.empty());
  CHECK(s.read(KeyRange{"app", true}, false, RangeLimits{4, 1 << 20}).too_large);
  CHECK(s.read(KeyRange{"app", true}, false, RangeLimits{100, 20}).too_large);

  const Result deleted = s.apply(++index, Command{Op::kDeletePrefix, "app/"});
  CHECK(deleted == Result{Status::kOk, "2"});
  CHECK(s.size() == 5);
  CHECK(s.tombstones() == 2);
  CHECK(s.apply(++index, Command{Op::kDeletePrefix, "nothing/"}) == Result{Status::kOk, "0"});
  CHECK(s.last_change_index() == index - 1);  // deleting nothing changes nothing
}

TEST_CASE("a range's index is the newest change inside it, deletions included", "[kv][store]") {
  Store s;
  s.apply(2, Command{Op::kPut, "dir/a", "1"});
  s.apply(3, Command{Op::kPut, "dir/b", "1"});
  s.apply(4, Command{Op::kPut, "other", "1"});
  CHECK(s.index_of(KeyRange{"dir/", true}) == 3);
  CHECK(s.index_of(KeyRange{"dir/a", false}) == 2);
  // A range that never held a key reads as the store's newest change (Consul's table index).
  CHECK(s.index_of(KeyRange{"never", false}) == 4);
  CHECK(s.index_of(KeyRange{"never/", true}) == 4);
  s.apply(5, Command{Op::kDelete, "dir/a"});
  CHECK(s.index_of(KeyRange{"dir/", true}) == 5);      // the tombstone
  CHECK(s.index_of(KeyRange{"dir/a", false}) == 5);
  CHECK(s.index_of(KeyRange{"other", false}) == 4);   // unchanged
  s.apply(6, Command{Op::kPut, "dir/a", "2"});          // created again: the tombstone goes
  CHECK(s.tombstones() == 0);
  CHECK(s.entry("dir/a")->create_index == 6);
  CHECK(s.read(KeyRange{"dir/", true}, false).index == 6);
  CHECK(Store().index_of(KeyRange{"x", false}) == 1);  // never 0: Consul's clients take 0 as "no index"
}

TEST_CASE("tombstones are bounded; a range's index never goes back when the oldest go", "[kv][store]") {
  Store s(16, 2);
  s.apply(1, Command{Op::kPut, "a", "1"});
  s.apply(2, Command{Op::kPut, "b", "1"});
  s.apply(3, Command{Op::kPut, "c", "1"});
  s.apply(4, Command{Op::kPut, "keep", "1"});
  s.apply(5, Command{Op::kDelete, "a"});
  s.apply(6, Command{Op::kDelete, "b"});
  CHECK(s.index_of(KeyRange{"a", false}) == 5);
  s.apply(7, Command{Op::kDelete, "c"});  // a's tombstone goes, the floor rises to 5
  CHECK(s.tombstones() == 2);
  CHECK(s.tombstone_floor() == 5);
  CHECK(s.index_of(KeyRange{"a", false}) == 7);     // no key, no tombstone: the newest change
  CHECK(s.index_of(KeyRange{"keep", false}) == 5);  // at least the floor: a dropped tombstone may have been here
  CHECK(s.index_of(KeyRange{"b", false}) == 6);
}

namespace {

struct RawKey {
  std::string key, value;
  std::uint64_t create, modify, flags;
};

// Store::serialize's format 2, written by hand so that it can say what serialize never would.
std::string snapshot_v2(std::uint64_t last_index, std::uint64_t last_change, std::uint64_t floor,
                        const std::vector<RawKey>& keys,
                        const std::vector<std::pair<std::string, std::uint64_t>>& tombstones) {
  std::string out;
  put_u64(out, 2);
  put_u64(out, last_index);
  put_u64(out, last_change);
  put_u64(out, floor);
  put_u64(out, keys.size());
  for (const RawKey& k : keys) {
    put_bytes(out, k.key);
    put_bytes(out, k.value);
    put_u64(out, k.create);
    put_u64(out, k.modify);
    put_u64(out, k.flags);
  }
  put_u64(out, tombstones.size());
  for (const auto& [key, index] : tombstones) {
    put_bytes(out, key);
    put_u64(out, index);
  }
  put_u64(out, 0);  // sessions
  return out;
}

}  // namespace

TEST_CASE("snapshots keep indexes, flags and tombstones, and refuse what serialize never writes", "[kv][snapshot]") {
  Store s(16, 4);
  s.apply(1, Command{Op::kPut, "a", "1", std::nullopt, {}, 3});
  s.apply(2, Command{Op::kPut, "b", "2"});
  s.apply(3, Command{Op::kPut, "a", "x"});
  s.apply(4, Command{Op::kDelete, "b"});
  Store copy(16, 4);
  REQUIRE(copy.restore(s.serialize()));
  CHECK(copy.digest() == s.digest());
  CHECK(copy.entry("a") == KeyValue{"a", "x", 1, 3, 0});
  CHECK(copy.index_of(KeyRange{"b", false}) == 4);
  CHECK(copy.serialize() == s.serialize());

  REQUIRE(Store().restore(snapshot_v2(9, 7, 2, {{"a", "1", 3, 7, 0}}, {{"b", 5}})));
  const auto refused = [](const std::string& bytes) {
    Store st(16, 1);
    const bool restored = st.restore(bytes);
    CHECK(st.size() == 0);
    CHECK(st.tombstones() == 0);
    return !restored;
  };
  CHECK(refused(snapshot_v2(9, 7, 2, {{"b", "1", 3, 7, 0}, {"a", "1", 3, 3, 0}}, {})));  // keys out of order
  CHECK(refused(snapshot_v2(9, 7, 2, {{"a", "1", 3, 7, 0}, {"a", "1", 3, 3, 0}}, {})));  // a key twice
  CHECK(refused(snapshot_v2(9, 7, 2, {{"a", "1", 0, 7, 0}}, {})));                       // created at 0
  CHECK(refused(snapshot_v2(9, 7, 2, {{"a", "1", 5, 4, 0}}, {})));                       // modified before created
  CHECK(refused(snapshot_v2(9, 7, 2, {{"a", "1", 3, 8, 0}}, {})));                       // past the last change
  CHECK(refused(snapshot_v2(9, 8, 2, {{"a", "1", 3, 7, 0}}, {})));                       // the last change is none
  CHECK(refused(snapshot_v2(6, 7, 2, {{"a", "1", 3, 7, 0}}, {})));                       // change after last index
  CHECK(refused(snapshot_v2(9, 7, 2, {{"a", "1", 3, 7, 0}}, {{"a", 5}})));               // a key and its tombstone
  CHECK(refused(snapshot_v2(9, 7, 6, {{"a", "1", 3, 7, 0}}, {{"b", 5}})));               // tombstone below the floor
  CHECK(refused(snapshot_v2(9, 7, 2, {}, {{"b", 5}, {"c", 7}})));                        // more tombstones than kept
  CHECK(refused(snapshot_v2(9, 7, 2, {}, {{"c", 5}, {"b", 7}})));                        // tombstones out of order
}

TEST_CASE("a snapshot from before indexes restores with every key changed at its index", "[kv][snapshot]") {
  Store s;
  REQUIRE(s.restore(snapshot_bytes(10, {{"b", "2"}, {"a", "1"}}, {})));
  CHECK(s.entry("a") == KeyValue{"a", "1", 10, 10, 0});
  CHECK(s.tombstone_floor() == 10);
  CHECK(s.index_of(KeyRange{"zzz", false}) == 10);
  CHECK(s.apply(11, Command{Op::kPut, "a", "3"}).status == Status::kOk);
  CHECK(s.index_of(KeyRange{"a", false}) == 11);
  Store copy;
  REQUIRE(copy.restore(s.serialize()));  // and it is written in the new format
  CHECK(copy.digest() == s.digest());
}

TEST_CASE("every read of one key agrees with a plain map, through deletes, prefixes, copies, moves and restores",
          "[kv][store]") {
  // A reference std::map says what every key should hold after each step. Any index the store keeps beside its
  // ordered tree (kv/key_index.hpp: a hash index for single-key reads and writes) must follow every path that changes
  // keys: a deleted key still found, or a restored, copied or moved store that lost track of its keys, shows up here.
  const std::uint64_t seed = GENERATE(1u, 2u, 3u, 4u);
  INFO("seed " << seed);
  coraft::actors::Rng rng(seed);
  auto next = [&](std::uint64_t bound) { return rng.between(0, bound - 1); };
  std::vector<std::string> universe;
  for (const char* group : {"a", "ab", "b"})
    for (int i = 0; i < 12; ++i) universe.push_back(std::string(group) + "/" + std::to_string(i));
  // Keys on both sides of the length the store keeps inside its tree's nodes (23 bytes), and far beyond it.
  for (std::size_t length : {22u, 23u, 24u, 25u, 60u}) universe.push_back("ab/" + std::string(length - 3, 'x'));
  Store store;
  std::map<std::string, std::string> model;
  for (std::uint64_t index = 1; index <= 3000; ++index) {
    const std::string& key = universe[next(universe.size())];
    const std::string value = "v" + std::to_string(index);
    switch (next(10)) {
      case 0: case 1: case 2: case 3:
        store.apply(index, Command{Op::kPut, key, value});
        model[key] = value;
        break;
      case 4: case 5:
        CHECK((store.apply(index, Command{Op::kDelete, key}).status == Status::kOk) == (model.erase(key) == 1));
        break;
      case 6: {
        const auto current = model.count(key) ? std::optional(model[key]) : std::nullopt;
        CHECK(store.apply(index, Command{Op::kCas, key, value, current}).status == Status::kOk);
        model[key] = value;
        break;
      }
      case 7: {
        const std::string prefix = std::vector<std::string>{"a", "ab/1", "ab/xxxxxxxxxxxxxxxxxxxx"}[next(3)];
        store.apply(index, Command{Op::kDeletePrefix, prefix});
        for (auto it = model.lower_bound(prefix); it != model.end() && it->first.rfind(prefix, 0) == 0;) it = model.erase(it);
        break;
      }
      case 8: {
        Store restored;
        REQUIRE(restored.restore(store.serialize()));
        store = next(2) ? Store(restored) : std::move(restored);
        break;
      }
      default: {
        Store copy = store;
        if (next(2)) {
          Store assigned;
          assigned = copy;  // copy assignment, over an empty store
          copy = std::move(assigned);
        }
        store = std::move(copy);
        store.apply(index, Command{Op::kPut, key, value});
        model[key] = value;
      }
    }
    for (const auto& k : universe) {
      const auto expected = model.count(k) ? std::optional(model.at(k)) : std::nullopt;
      if (store.get(k) != expected) FAIL("key " << k << " at index " << index << ": " << store.get(k).value_or("(none)")
                                                 << ", expected " << expected.value_or("(none)"));
      if (store.entry(k).has_value() != expected.has_value()) FAIL("entry of " << k << " at index " << index);
    }
    for (const std::string prefix : {"a", "ab/", "b"}) {
      std::vector<std::string> listed, expected;
      for (const auto& kv : store.read(KeyRange{prefix, true}, false).entries)
        listed.push_back(kv.key + "=" + kv.value);
      for (auto it = model.lower_bound(prefix); it != model.end() && it->first.rfind(prefix, 0) == 0; ++it)
        expected.push_back(it->first + "=" + it->second);
      if (listed != expected) FAIL("prefix " << prefix << " at index " << index << " lists other keys than the model");
    }
  }
  CHECK(store.size() == model.size());
}

TEST_CASE("a stored key holds its bytes whether they fit inside it or not", "[kv][store]") {
  for (std::size_t length : {0u, 1u, 22u, 23u, 24u, 100u}) {
    for (std::size_t other_length : {0u, 23u, 24u, 100u}) {
      INFO("lengths " << length << " and " << other_length);
      const std::string bytes(length, 'k'), other_bytes(other_length, 'o');
      StoredKey key(bytes);
      CHECK(key.view() == bytes);
      StoredKey copy(key);
      CHECK(copy.view() == bytes);
      StoredKey other(other_bytes);
      other = copy;
      CHECK(other.view() == bytes);
      StoredKey moved(std::move(copy));
      CHECK(moved.view() == bytes);
      StoredKey target(other_bytes);
      target = std::move(moved);
      CHECK(target.view() == bytes);
      target = target;
      CHECK(target.view() == bytes);
      CHECK(KeyLess{}(StoredKey(bytes + "a"), StoredKey(bytes + "b")));
      CHECK(KeyLess{}(key, bytes + '\0'));
      CHECK_FALSE(KeyLess{}(key, key));
    }
  }
}

TEST_CASE("the key index finds exactly the keys inserted and not erased, through growth and shared home slots",
          "[kv][store]") {
  // Hashes are chosen from a small range, so that many keys share a home slot and erasures happen inside long probe
  // runs: an erasure that leaves a gap in a run loses the keys behind it.
  using Element = std::pair<const std::string, int>;
  const std::uint64_t seed = GENERATE(1u, 2u, 3u);
  const std::uint64_t hash_range = GENERATE(1u, 7u, 1000u);
  INFO("seed " << seed << ", hashes in [0, " << hash_range << ")");
  coraft::actors::Rng rng(seed);
  auto next = [&](std::uint64_t bound) { return rng.between(0, bound - 1); };
  std::vector<std::unique_ptr<Element>> elements;
  std::vector<std::uint64_t> hashes;
  for (int i = 0; i < 200; ++i) {
    elements.push_back(std::make_unique<Element>("key" + std::to_string(i), i));
    hashes.push_back(next(hash_range));
  }
  KeyIndex<Element> index;
  std::vector<bool> present(elements.size(), false);
  for (int step = 0; step < 5000; ++step) {
    const std::size_t i = next(elements.size());
    if (present[i]) index.erase(elements[i].get(), hashes[i]);
    else index.insert(elements[i].get(), hashes[i]);
    present[i] = !present[i];
    if (step % 7 == 0) {
      for (std::size_t k = 0; k < elements.size(); ++k) {
        Element* found = index.find(elements[k]->first, hashes[k]);
        if (found != (present[k] ? elements[k].get() : nullptr)) FAIL("step " << step << ": key " << k << " misfound");
      }
    }
  }
  CHECK(index.size() == static_cast<std::size_t>(std::count(present.begin(), present.end(), true)));
}
