// Histories as JSON lines (history_io.hpp): what kvbench writes reads back as the same operations, malformed lines
// are refused with their line number, and a recorded history that loses an acknowledged write fails the check.

#include "history.hpp"
#include "linearizability.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <string>

using namespace coraft;
using namespace coraft::test;
using namespace std::chrono_literals;

namespace {

bool same(const Operation& a, const Operation& b) {
  return a.client == b.client && a.kind == b.kind && a.key == b.key && a.value == b.value && a.expected == b.expected &&
         a.invoked_us == b.invoked_us && a.completed_us == b.completed_us && a.completed == b.completed &&
         a.status == b.status && a.read == b.read;
}

Operation op(OpKind kind, std::string key, std::int64_t invoked, std::int64_t completed) {
  Operation o;
  o.client = 0x2f1c0a9e4b7d3e51;
  o.kind = kind;
  o.key = std::move(key);
  o.invoked_us = invoked;
  o.completed_us = completed;
  o.completed = true;
  return o;
}

}  // namespace

TEST_CASE("operations written as JSON lines read back unchanged", "[history]") {
  Operation put = op(OpKind::kPut, "k07", 10, 20);
  put.value = "2f1c0a9e4b7d3e51-17";
  Operation get_absent = op(OpKind::kGet, "k07", 30, 40);
  get_absent.status = kv::Status::kNotFound;
  Operation get_value = op(OpKind::kGet, "k07", 50, 60);
  get_value.read = "x";
  Operation cas_mismatch = op(OpKind::kCas, "k", 70, 80);
  cas_mismatch.expected = std::nullopt;
  cas_mismatch.value = "new";
  cas_mismatch.status = kv::Status::kCasMismatch;
  cas_mismatch.read = "old";
  Operation del = op(OpKind::kDelete, "k", 90, 95);
  del.status = kv::Status::kNotFound;
  Operation unknown = op(OpKind::kPut, "k", 100, 0);
  unknown.value = "lost?";
  unknown.completed = false;
  unknown.completed_us = std::numeric_limits<std::int64_t>::max();

  std::string text;
  for (const Operation& o : {put, get_absent, get_value, cas_mismatch, del, unknown}) {
    text += operation_to_json(o).dump() + "\n";
  }
  const History back = parse_history(text, "test");
  REQUIRE(back.size() == 6);
  CHECK(same(back[0], put));
  CHECK(same(back[1], get_absent));
  CHECK(same(back[2], get_value));
  CHECK(same(back[3], cas_mismatch));
  CHECK(same(back[4], del));
  CHECK(same(back[5], unknown));
  CHECK(operation_to_json(unknown).at("completed_us").is_null());
}

TEST_CASE("a malformed history line is refused with its line number and field", "[history]") {
  const std::string good = R"({"client":"a","kind":"get","key":"k","invoked_us":1,"completed_us":null})";
  CHECK(parse_history(good + "\n\n" + good + "\n", "h").size() == 2);
  CHECK_THROWS_WITH(parse_history(good + "\n{\"client\":\"a\"", "h.jsonl"), Catch::StartsWith("h.jsonl:2: not JSON"));
  CHECK_THROWS_WITH(parse_history(R"({"client":"zz","kind":"get","key":"k","invoked_us":1,"completed_us":null})", "h"),
                    Catch::Contains("h:1:") && Catch::Contains("not hex"));
  CHECK_THROWS_WITH(parse_history(R"({"client":"a","kind":"get","key":"k","invoked_us":1,"completed_us":2})", "h"),
                    Catch::Contains("no \"status\""));
  CHECK_THROWS_WITH(parse_history(R"({"client":"a","kind":"put","key":"k","invoked_us":1,"completed_us":null})", "h"),
                    Catch::Contains("no \"value\""));
  CHECK_THROWS_WITH(parse_history(R"({"client":"a","kind":"get","key":"k","invoked_us":5,"completed_us":2,"status":"ok"})", "h"),
                    Catch::Contains("before"));
}

TEST_CASE("a final read that misses an acknowledged write is a violation", "[history][linearizability]") {
  // Key k1: a1-1 then b2-1 acknowledged one after the other (and b2-1 read back), yet the read after the run finds
  // a1-1. Key k2: the final read finds a write whose outcome was unknown, which is allowed.
  History h = load_history(CORAFT_NETNS_DIR "/lost-write.jsonl");
  REQUIRE(h.size() == 7);
  auto r = check_linearizability(h, 10s);
  CHECK(r.verdict == Verdict::kViolation);
  CHECK_THAT(r.explanation, Catch::Contains("key \"k1\""));

  // The same history with the final read finding the last acknowledged write passes.
  for (Operation& o : h) {
    if (o.kind == OpKind::kGet && o.key == "k1" && o.invoked_us == 9000) o.read = "b2-1";
  }
  r = check_linearizability(h, 10s);
  INFO(r.explanation);
  CHECK(r.verdict == Verdict::kLinearizable);
  CHECK(r.keys == 2);
}
