// The KV API actor inside the simulated cluster, under simulated time: calls through every replica (a follower
// forwards to the leader), linearizable and stale reads, blocking queries that wake at a change or at the end of their
// wait, and a write that stays exactly-once when the leader dies with it.
// The HTTP edge is played by EdgeDouble: it delivers calls, collects answers, and carries forwards to the leader's KV
// API as calls marked forwarded (a forward to a crashed replica gets no answer, as a broken TCP connection).

#include "seed.hpp"
#include "sim_cluster.hpp"

#include "actors/spawn.hpp"
#include "raft/overloaded.hpp"

#include <catch2/catch.hpp>

using namespace coraft;
using namespace coraft::test;
using namespace std::chrono_literals;

namespace {

class EdgeDouble {
 public:
  explicit EdgeDouble(SimCluster& cluster) : cluster_(cluster) {
    for (int slot = 0; slot < cluster.size(); ++slot) attach(slot);
  }

  // Drains the replica's HTTP outbox (again after a restart: the old outbox went with the old replica).
  void attach(int slot) {
    actors::Replica* replica = cluster_.replica(slot);
    actors::spawn(replica->http_outbox().executor(), "edge-double", [this, slot, replica]() -> asio::awaitable<void> {
      while (auto message = co_await replica->http_outbox().receive()) {
        std::visit(Overloaded{
                       [&](actors::AnswerCall& m) { on_answer(m); },
                       [&](actors::ForwardCall& m) { on_forward(slot, m); },
                       [&](actors::ReportMetrics&) {},  // never asked: this double does not attach as an edge
                   },
                   *message);
      }
    });
  }

  // A client's call to `slot`; returns the call id under which its answer shows in answers().
  std::uint64_t call(int slot, actors::ApiCall api_call) {
    const std::uint64_t id = next_id_++;
    REQUIRE(cluster_.replica(slot)->deliver(actors::ApiCallReceived{id, std::move(api_call), false}));
    return id;
  }
  bool answered(std::uint64_t id) const { return answers_.count(id) > 0; }
  const actors::ApiAnswer& answer(std::uint64_t id) const { return answers_.at(id); }
  int forwards() const { return forwards_; }

  // The replica went down: forwards it held get no answer, as their connections would break.
  void crashed(int slot) {
    for (auto it = pending_forwards_.begin(); it != pending_forwards_.end();) {
      if (it->second.to != slot) {
        ++it;
        continue;
      }
      if (auto* from = cluster_.replica(it->second.from)) {
        from->deliver(actors::ForwardAnswered{it->second.origin_id, std::nullopt, "connection reset"});
      }
      it = pending_forwards_.erase(it);
    }
  }

 private:
  struct Forward {
    int from;
    std::uint64_t origin_id;
    int to;
  };

  void on_answer(actors::AnswerCall& answered) {
    auto forward = pending_forwards_.find(answered.call_id);
    if (forward == pending_forwards_.end()) {
      answers_[answered.call_id] = std::move(answered.answer);
      return;
    }
    // The leader answered a forwarded call: back to the forwarding replica, as its HTTP edge would pass it on.
    const Forward f = forward->second;
    pending_forwards_.erase(forward);
    actors::ForwardedResponse response{200, {}, {}};
    if (auto* failure = std::get_if<actors::ApiFailure>(&answered.answer);
        failure && failure->error == actors::ApiError::kNotLeader) {
      response = actors::ForwardedResponse{503, {{"X-Coraft-Not-Leader", "1"}}, {}};
    } else {
      forwarded_answers_[f.origin_id] = answered.answer;
    }
    if (auto* from = cluster_.replica(f.from)) from->deliver(actors::ForwardAnswered{f.origin_id, response, {}});
  }

  void on_forward(int from, actors::ForwardCall& forward) {
    ++forwards_;
    const int to = cluster_.slot_of(forward.leader);
    if (!cluster_.up(to)) {
      cluster_.replica(from)->deliver(actors::ForwardAnswered{forward.call_id, std::nullopt, "connection refused"});
      return;
    }
    const std::uint64_t id = next_id_++;
    pending_forwards_[id] = Forward{from, forward.call_id, to};
    cluster_.replica(to)->deliver(actors::ApiCallReceived{id, std::move(forward.call), true});
  }

  SimCluster& cluster_;
  std::uint64_t next_id_ = 1;
  int forwards_ = 0;
  std::map<std::uint64_t, actors::ApiAnswer> answers_;
  std::map<std::uint64_t, Forward> pending_forwards_;  // the id the leader knows it by -> where it came from

 public:
  // The typed answer a forwarded call got from the leader (the double passes only its status on).
  std::map<std::uint64_t, actors::ApiAnswer> forwarded_answers_;
};

actors::ApiCall put(std::string key, std::string value, std::optional<std::uint64_t> cas = std::nullopt) {
  actors::ApiWrite write;
  write.key = std::move(key);
  write.value = std::move(value);
  write.expected_index = cas;
  return write;
}

actors::ApiCall read(std::string key, bool prefix, actors::ReadConsistency consistency =
                                                        actors::ReadConsistency::kLinearizable,
                     std::uint64_t after_index = 0, std::chrono::milliseconds wait = 0ms) {
  actors::ApiRead r;
  r.range = kv::KeyRange{std::move(key), prefix};
  r.consistency = consistency;
  r.after_index = after_index;
  r.wait = wait;
  return r;
}

// The answer to a call, as the client sees it: the leader's, for a call its replica forwarded.
const actors::ApiAnswer& seen(const EdgeDouble& edge, std::uint64_t id) {
  auto forwarded = edge.forwarded_answers_.find(id);
  return forwarded != edge.forwarded_answers_.end() ? forwarded->second : edge.answer(id);
}

const kv::RangeRead& range_of(const EdgeDouble& edge, std::uint64_t id) {
  const auto* range = std::get_if<actors::ApiRangeAnswer>(&seen(edge, id));
  if (!range) FAIL("call " << id << " did not get a range");
  return range->read;
}

kv::Status status_of(const EdgeDouble& edge, std::uint64_t id) {
  const auto* write = std::get_if<actors::ApiWriteAnswer>(&seen(edge, id));
  if (!write) FAIL("call " << id << " did not get a write answer");
  return write->status;
}

}  // namespace

TEST_CASE("kv api: every replica serves every call; followers forward to the leader", "[kv-api][sim]") {
  const auto seed = test_seed(301);
  INFO("reproduce with CORAFT_SEED=" << seed);
  SimCluster c({.replicas = 3, .seed = seed});
  EdgeDouble edge(c);
  REQUIRE(c.run_until([&] { return c.leader().has_value(); }, us(5000ms)));
  const int leader = *c.leader();

  std::vector<std::uint64_t> writes;
  for (int slot = 0; slot < 3; ++slot) writes.push_back(edge.call(slot, put("dir/" + std::to_string(slot), "v")));
  REQUIRE(c.run_until([&] { return std::all_of(writes.begin(), writes.end(), [&](auto id) { return edge.answered(id); }); },
                      us(3000ms)));
  for (auto id : writes) CHECK(status_of(edge, id) == kv::Status::kOk);
  CHECK(edge.forwards() == 2);  // the two followers'

  // A linearizable read through a follower sees every acknowledged write, with indexes.
  const int follower = (leader + 1) % 3;
  const auto all = edge.call(follower, read("dir/", true));
  REQUIRE(c.run_until([&] { return edge.answered(all); }, us(3000ms)));
  const kv::RangeRead& entries = range_of(edge, all);
  REQUIRE(entries.entries.size() == 3);
  CHECK(entries.entries[0].key == "dir/0");
  CHECK(entries.entries[0].create_index > 0);
  CHECK(entries.index == std::max({entries.entries[0].modify_index, entries.entries[1].modify_index,
                                   entries.entries[2].modify_index}));

  // A put-if-absent on an existing key loses; leader and status questions are answered where they arrive.
  const auto lost = edge.call(follower, put("dir/0", "again", 0));
  const auto peers = edge.call(follower, actors::ApiStatusQuery::kPeers);
  const auto who = edge.call(follower, actors::ApiStatusQuery::kLeader);
  REQUIRE(c.run_until([&] { return edge.answered(lost) && edge.answered(peers) && edge.answered(who); }, us(3000ms)));
  CHECK(status_of(edge, lost) == kv::Status::kCasMismatch);
  CHECK(std::get<actors::ApiStatusAnswer>(edge.answer(peers)).members.size() == 3);
  CHECK(std::get<actors::ApiStatusAnswer>(edge.answer(who)).leader == c.id(leader));
}

TEST_CASE("kv api: a blocking query wakes at a change in its range, or answers at the end of its wait",
          "[kv-api][sim]") {
  const auto seed = test_seed(302);
  INFO("reproduce with CORAFT_SEED=" << seed);
  SimCluster c({.replicas = 3, .seed = seed});
  EdgeDouble edge(c);
  REQUIRE(c.run_until([&] { return c.leader().has_value(); }, us(5000ms)));
  const int leader = *c.leader(), follower = (leader + 1) % 3;
  const auto first = edge.call(leader, put("cfg/a", "1"));
  REQUIRE(c.run_until([&] { return edge.answered(first); }, us(3000ms)));
  const auto before = edge.call(follower, read("cfg/", true));
  REQUIRE(c.run_until([&] { return edge.answered(before); }, us(3000ms)));
  const std::uint64_t index = range_of(edge, before).index;

  // Three watchers: on the prefix (through a follower), on another prefix, and stale on a follower's own state.
  const auto on_cfg = edge.call(follower, read("cfg/", true, actors::ReadConsistency::kLinearizable, index, 60000ms));
  const auto on_other = edge.call(leader, read("other/", true, actors::ReadConsistency::kLinearizable, index, 2000ms));
  const auto stale = edge.call(follower, read("cfg/a", false, actors::ReadConsistency::kStale, index, 60000ms));
  c.run_for(us(500ms));
  CHECK_FALSE(edge.answered(on_cfg));
  CHECK_FALSE(edge.answered(on_other));
  CHECK_FALSE(edge.answered(stale));

  const auto change_at = c.world().now();
  const auto change = edge.call(follower, put("cfg/a", "2"));
  REQUIRE(c.run_until([&] { return edge.answered(change) && edge.answered(on_cfg) && edge.answered(stale); },
                      us(3000ms)));
  CHECK(c.world().now() - change_at < us(1000ms));
  CHECK(range_of(edge, on_cfg).index > index);
  CHECK(range_of(edge, on_cfg).entries.at(0).value == "2");
  CHECK(range_of(edge, stale).entries.at(0).value == "2");
  CHECK_FALSE(edge.answered(on_other));  // a change elsewhere does not wake it

  // Its wait ends: answered with what is there (the index has not passed), within Consul's 1/16 of jitter.
  REQUIRE(c.run_until([&] { return edge.answered(on_other); }, us(3000ms)));
  CHECK(range_of(edge, on_other).entries.empty());
  CHECK(c.replica(leader)->applier().watching() == 0);

  // Deleting a prefix wakes a watcher of one key inside it.
  const auto now_index = range_of(edge, on_cfg).index;
  const auto on_key = edge.call(leader, read("cfg/a", false, actors::ReadConsistency::kLinearizable, now_index, 60000ms));
  c.run_for(us(100ms));
  actors::ApiWrite wipe;
  wipe.kind = actors::RequestKind::kDeletePrefix;
  wipe.key = "cfg/";
  const auto wiped = edge.call(follower, wipe);
  REQUIRE(c.run_until([&] { return edge.answered(wiped) && edge.answered(on_key); }, us(3000ms)));
  CHECK(range_of(edge, on_key).entries.empty());
  CHECK(range_of(edge, on_key).index > now_index);
}

TEST_CASE("kv api: a write whose leader dies is retried through the next one and applied once", "[kv-api][sim]") {
  const auto seed = test_seed(303);
  INFO("reproduce with CORAFT_SEED=" << seed);
  SimCluster c({.replicas = 3, .seed = seed});
  EdgeDouble edge(c);
  REQUIRE(c.run_until([&] { return c.leader().has_value(); }, us(5000ms)));
  c.run_for(us(200ms));
  const int leader = *c.leader(), follower = (leader + 1) % 3;

  // Put-if-absent through a follower; the leader dies once the write is in flight to it (perhaps applied, perhaps
  // not). Retried under the same session through the next leader, it must answer true: applied exactly once (a
  // second application would find the key and answer false).
  const auto write = edge.call(follower, put("once", "v", 0));
  REQUIRE(c.run_until([&] { return edge.forwards() == 1; }, us(1000ms)));
  c.run_for(us(1ms));
  c.crash(leader);
  edge.crashed(leader);
  REQUIRE(c.run_until([&] { return edge.answered(write); }, us(10000ms)));
  INFO("the answer's variant index: " << seen(edge, write).index());
  CHECK(status_of(edge, write) == kv::Status::kOk);
  // (The dying leader may have answered before it died; the cluster then elects the next one afterwards.)
  REQUIRE(c.run_until([&] { return c.leader().has_value() && *c.leader() != leader; }, us(5000ms)));

  const auto check = edge.call(follower, read("once", false));
  REQUIRE(c.run_until([&] { return edge.answered(check); }, us(3000ms)));
  REQUIRE(range_of(edge, check).entries.size() == 1);
  CHECK(range_of(edge, check).entries[0].value == "v");
}
