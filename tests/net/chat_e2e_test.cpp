// The chat demo end to end, with real processes: three kvstore replicas, and two kvchat clients (alice, bob), each on
// its own pseudo-terminal as a person would run it. Alice talks first; bob joins and must see that history. Then
// both type at once, the leader is killed (SIGKILL) while their messages are on their way, and they type more. Both
// leave with /quit. Their transcripts must be equal, list every message exactly once in slots 0..n-1, keep each
// sender's order, and match what the store holds. Every wait reads a terminal until a condition holds or a deadline
// passes; nothing sleeps and hopes.

#include "actors/spawn.hpp"
#include "chat/chat_room.hpp"
#include "net/client.hpp"
#include "process.hpp"
#include "process_helpers.hpp"
#include "pty_child.hpp"

#include <asio/io_context.hpp>
#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sys/wait.h>

using namespace coraft;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

template <class Body>
void run(asio::io_context& io, Body body) {
  actors::spawn(io.get_executor(), "chat-e2e-test", std::move(body));
  io.restart();
  io.run();
}

struct Line {
  std::uint64_t slot = 0;
  std::string nick;
  std::string text;
  bool operator==(const Line&) const = default;
};

// Every printed line must be a transcript line "[n] nick: text".
std::vector<Line> parse_transcript(const std::vector<std::string>& lines) {
  static const std::regex pattern(R"(^\[(\d+)\] ([^:]+): (.*)$)");
  std::vector<Line> out;
  for (const auto& line : lines) {
    std::smatch m;
    INFO("printed: " << line);
    REQUIRE(std::regex_match(line, m, pattern));
    out.push_back(Line{std::stoull(m[1].str()), m[2].str(), m[3].str()});
  }
  return out;
}

}  // namespace

TEST_CASE("two chat clients on terminals see the same complete conversation across a leader crash",
          "[examples][chat][process]") {
  const auto dir = testing::fresh_test_dir("chat-e2e");
  INFO("logs (kept if the test fails): " << dir.string());
  const std::string config_path = testing::write_test_cluster(dir);
  auto replicas = testing::start_test_replicas(CORAFT_KVSTORE_PATH, dir, config_path);

  const std::string room = "lobby";
  auto start_chat = [&](const std::string& nick) {
    return std::make_unique<testing::PtyChild>(
        std::vector<std::string>{CORAFT_KVCHAT_PATH, "--cluster", config_path, "--room", room, "--nick", nick,
                                 "--timeout", "10", "--poll-ms", "50"},
        testing::PtyChild::Options{.stderr_path = (dir / (nick + ".stderr")).string()});
  };
  auto has_lines = [](const testing::PtyChild& chat, std::size_t n) { return [&chat, n] { return chat.lines().size() >= n; }; };
  std::map<std::string, std::vector<std::string>> sent;  // nick -> texts, in the order typed
  auto say = [&](testing::PtyChild& chat, const std::string& nick) {
    const std::string text = fmt::format("{} says {}", nick, sent[nick].size());
    chat.type(text);
    sent[nick].push_back(text);
  };
  const auto deadline = Clock::now() + 18s;  // for the whole conversation; it normally takes a few seconds

  // Alice talks alone; bob joins and sees what she said.
  auto alice = start_chat("alice");
  say(*alice, "alice");
  say(*alice, "alice");
  REQUIRE(alice->read_until(has_lines(*alice, 2), deadline));
  auto bob = start_chat("bob");
  REQUIRE(bob->read_until(has_lines(*bob, 2), deadline));
  CHECK(bob->lines() == alice->lines());

  // Both type at once; once a few messages are through, the leader dies with the rest on their way.
  constexpr int kBurst = 6;
  for (int i = 0; i < kBurst; ++i) {
    say(*alice, "alice");
    say(*bob, "bob");
  }
  REQUIRE(alice->read_until(has_lines(*alice, 4), deadline));

  asio::io_context io;
  const auto endpoints = net::resolve(io, net::load_cluster_config(config_path));
  net::Client probe(io, endpoints, actors::Rng(7));
  std::optional<raft::NodeId> leader;
  while (!leader && Clock::now() < deadline) {
    run(io, [&]() -> asio::awaitable<void> {
      raft::Term newest = 0;
      for (const auto& [id, endpoint] : endpoints) {
        auto status = co_await probe.status(id, 200ms);
        if (status && status->role == raft::Role::kLeader && status->term >= newest) {
          leader = id;
          newest = status->term;
        }
      }
    });
  }
  REQUIRE(leader.has_value());
  replicas.at(*leader)->kill_and_wait(SIGKILL);
  const std::size_t shown_at_kill = alice->lines().size();

  // More from both after the crash.
  for (int i = 0; i < kBurst; ++i) {
    say(*bob, "bob");
    say(*alice, "alice");
  }
  const std::size_t total = sent["alice"].size() + sent["bob"].size();
  REQUIRE(alice->read_until(has_lines(*alice, total), deadline));
  REQUIRE(bob->read_until(has_lines(*bob, total), deadline));
  alice->type("/quit");
  bob->type("/quit");
  const auto alice_status = alice->wait_exit(deadline);
  const auto bob_status = bob->wait_exit(deadline);
  REQUIRE(alice_status.has_value());
  REQUIRE(bob_status.has_value());
  CHECK(WIFEXITED(*alice_status));
  CHECK(WEXITSTATUS(*alice_status) == 0);
  CHECK(WIFEXITED(*bob_status));
  CHECK(WEXITSTATUS(*bob_status) == 0);

  // Both transcripts are the same, complete, and hold each message once; each sender's messages keep their order.
  INFO("messages shown when the leader " << leader->str() << " was killed: " << shown_at_kill << " of " << total);
  const auto alice_transcript = parse_transcript(alice->lines());
  const auto bob_transcript = parse_transcript(bob->lines());
  CHECK(alice_transcript == bob_transcript);
  REQUIRE(alice_transcript.size() == total);
  std::map<std::string, std::vector<std::string>> received;
  for (std::size_t i = 0; i < alice_transcript.size(); ++i) {
    CHECK(alice_transcript[i].slot == i);
    received[alice_transcript[i].nick].push_back(alice_transcript[i].text);
  }
  CHECK(received == sent);

  // The store holds exactly these messages: slots 0..total-1, and nothing after.
  std::vector<Line> stored;
  bool end_empty = false;
  run(io, [&]() -> asio::awaitable<void> {
    for (std::uint64_t slot = 0; slot <= total; ++slot) {
      const chat::Fetched f = co_await chat::fetch(probe, room, slot);
      if (f.status == chat::FetchStatus::kMessage) {
        stored.push_back(Line{slot, f.message.nick, f.message.text});
      } else {
        end_empty = f.status == chat::FetchStatus::kEmpty && slot == total;
        co_return;
      }
    }
  });
  CHECK(stored == alice_transcript);
  CHECK(end_empty);

  alice.reset();
  bob.reset();
  replicas.clear();
  std::filesystem::remove_all(dir);
}
