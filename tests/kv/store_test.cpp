#include "kv/command.hpp"
#include "kv/store.hpp"

#include <catch2/catch.hpp>

#include <cstdint>
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
  a.apply(1, Command{Op::kPut, "x", "1"});
  a.apply(2, Command{Op::kPut, "y", "2"});
  b.apply(1, Command{Op::kPut, "y", "2"});
  b.apply(2, Command{Op::kPut, "x", "1"});
  CHECK(a.digest() == b.digest());
  b.apply(3, Command{Op::kPut, "x", "3"});
  CHECK(a.digest() != b.digest());
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

void put_u64(std::string& out, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}
void put_bytes(std::string& out, std::string_view bytes) {
  put_u64(out, bytes.size());
  out += bytes;
}

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
