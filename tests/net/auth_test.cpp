// Peer authentication: the MAC, the replay window, sealing and opening datagrams, secret files, and the cluster file's
// refusals (unknown keys, duplicates, secret file names). Pure: no sockets, no clock (time is a parameter).

#include "actors/rng.hpp"
#include "net/client.hpp"
#include "net/cluster_config.hpp"
#include "net/codec.hpp"
#include "net/peer_auth.hpp"
#include "net/secret_file.hpp"

#include <asio/io_context.hpp>
#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sys/stat.h>
#include <unistd.h>

using namespace coraft;
using namespace coraft::net;
using raft::NodeId;

namespace {

const NodeId kA{0x0000}, kB{0x0001}, kC{0x0002}, kOutsider{0x0009};
const std::vector<NodeId> kMembers{kA, kB, kC};
const std::string kKey(32, 'k');
constexpr std::uint64_t kStart = 1'700'000'000'000'000;  // "now" at start-up, in µs since the epoch

std::string hex_of(const HmacSha256::Tag& tag) {
  return to_hex(std::string_view(reinterpret_cast<const char*>(tag.data()), tag.size()));
}

// A peer message as the codec writes it, sealed by `from` for `to` at wall-clock time `now`.
std::string sealed(PeerAuth& from_auth, NodeId from, NodeId to, std::uint64_t now, raft::Term term = 3) {
  const std::string body = encode_peer({from, to, raft::RequestVoteReply{term, false, false}}, raft::kNoNode)[0];
  std::string out;
  from_auth.seal(body, to, now, out);
  return out;
}

std::optional<AuthFailure> failure_of(PeerAuth& receiver, std::string_view datagram) {
  auto opened = receiver.open(datagram);
  if (auto* f = std::get_if<AuthFailure>(&opened)) return *f;
  return std::nullopt;
}

// A scratch directory, removed afterwards.
struct TempDir {
  std::filesystem::path path;
  TempDir() : path(std::filesystem::temp_directory_path() / fmt::format("coraft-auth-test-{}", getpid())) {
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  std::string write(const std::string& name, const std::string& text, mode_t mode) const {
    const std::string file = (path / name).string();
    std::ofstream(file) << text;
    REQUIRE(::chmod(file.c_str(), mode) == 0);
    return file;
  }
};

std::string load_error(const std::string& path) {
  try {
    load_secret_file(path, "key_file");
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("HMAC-SHA256 matches RFC 4231 and stays right when its keyed context is reused", "[net][auth]") {
  HmacSha256 case1(std::string(20, '\x0b'));
  HmacSha256 case2("Jefe");
  for (int round = 0; round < 3; ++round) {
    CHECK(hex_of(case1.mac("Hi There")) == "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
    CHECK(hex_of(case2.mac("what do ya want for nothing?")) ==
          "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  }
}

TEST_CASE("the replay window accepts each counter once and refuses what is older than the window", "[net][auth]") {
  ReplayWindow w(1000);
  using V = ReplayWindow::Verdict;
  CHECK(w.check(1000) == V::kTooOld);  // at the floor: from before this receiver started
  CHECK(w.check(999) == V::kTooOld);
  REQUIRE(w.check(5000) == V::kFresh);
  w.accept(5000);
  CHECK(w.check(5000) == V::kReplayed);
  // Out of order, within the window: accepted once.
  REQUIRE(w.check(4990) == V::kFresh);
  w.accept(4990);
  CHECK(w.check(4990) == V::kReplayed);
  CHECK(w.check(1001) == V::kFresh);  // above the floor, in the window, never seen
  // The window slides: far below the newest is too old even if never seen.
  const std::uint64_t far = 5000 + ReplayWindow::kWidth + 100;
  w.accept(far);
  CHECK(w.check(4990) == V::kTooOld);
  CHECK(w.check(far - ReplayWindow::kWidth) == V::kTooOld);
  CHECK(w.check(far - ReplayWindow::kWidth + 1) == V::kFresh);
  CHECK(w.check(far) == V::kReplayed);
}

TEST_CASE("the replay window agrees with a set of everything accepted on random counters", "[net][auth]") {
  // Differential: the ring of bitmaps against the obvious model (the newest, the floor and a set of all accepted),
  // with jumps short and long so that ring words are reused and cleared.
  actors::Rng rng(77);
  const std::uint64_t floor = 1'000'000;
  ReplayWindow w(floor);
  std::set<std::uint64_t> accepted;
  std::uint64_t newest = floor;
  int mismatches = 0;
  for (int i = 0; i < 200000; ++i) {
    std::uint64_t counter;
    switch (rng.between(0, 5)) {
      case 0: counter = newest + rng.between(1, 3); break;                                  // next
      case 1: counter = newest + rng.between(1, 3 * ReplayWindow::kWidth); break;            // a jump
      case 2: counter = newest - std::min(newest, rng.between(0, ReplayWindow::kWidth + 200)); break;  // near the edge
      case 3: counter = accepted.empty() ? newest : *accepted.lower_bound(rng.between(floor, newest)); break;
      default: counter = newest - std::min(newest, rng.between(0, 300)); break;  // recent, often seen
    }
    ReplayWindow::Verdict expected = ReplayWindow::Verdict::kFresh;
    if (counter <= floor) expected = ReplayWindow::Verdict::kTooOld;
    else if (counter > newest) expected = ReplayWindow::Verdict::kFresh;
    else if (newest - counter >= ReplayWindow::kWidth) expected = ReplayWindow::Verdict::kTooOld;
    else if (accepted.count(counter)) expected = ReplayWindow::Verdict::kReplayed;
    const ReplayWindow::Verdict got = w.check(counter);
    if (got != expected) {
      ++mismatches;
      UNSCOPED_INFO("counter " << counter << " newest " << newest << ": got " << int(got) << " expected "
                               << int(expected));
    }
    if (expected == ReplayWindow::Verdict::kFresh) {
      w.accept(counter);
      accepted.insert(counter);
      newest = std::max(newest, counter);
    }
  }
  CHECK(mismatches == 0);
}

TEST_CASE("a sealed peer datagram opens at its receiver exactly once", "[net][auth]") {
  PeerAuth a(kKey, kA, kMembers, kStart), b(kKey, kB, kMembers, kStart);
  const std::string body = encode_peer({kA, kB, raft::RequestVote{7, 100, 6, false}}, kA)[0];
  std::string datagram;
  a.seal(body, kB, kStart + 10, datagram);
  CHECK(datagram.size() == body.size() + kSealOverheadBytes);
  CHECK(PeerAuth::is_sealed(datagram));
  CHECK_FALSE(PeerAuth::is_sealed(body));
  auto opened = b.open(datagram);
  REQUIRE(std::holds_alternative<OpenedDatagram>(opened));
  CHECK(std::get<OpenedDatagram>(opened).sender == kA);
  CHECK(std::get<OpenedDatagram>(opened).body == body);
  CHECK(failure_of(b, datagram) == AuthFailure::kReplayed);
}

TEST_CASE("a tampered, truncated, unsealed or re-attributed datagram is unauthenticated", "[net][auth]") {
  PeerAuth a(kKey, kA, kMembers, kStart), b(kKey, kB, kMembers, kStart);
  const std::string good = sealed(a, kA, kB, kStart + 10);
  // Every byte matters: header, body and tag. (Failures leave the window alone: the original still opens after.)
  for (std::size_t i = 0; i < good.size(); ++i) {
    std::string bad = good;
    bad[i] = static_cast<char>(bad[i] ^ 0x20);
    CHECK(failure_of(b, bad) == AuthFailure::kUnauthenticated);
  }
  for (std::size_t n = 0; n < good.size(); ++n) CHECK(failure_of(b, good.substr(0, n)) == AuthFailure::kUnauthenticated);
  CHECK(failure_of(b, good.substr(kSealHeaderBytes, good.size() - kSealOverheadBytes)) == AuthFailure::kUnauthenticated);
  // Another member's id in the header, the rest untouched: the tag covers the sender.
  std::string other_sender = good;
  other_sender[5] = static_cast<char>(kC.value & 0xFF);
  CHECK(failure_of(b, other_sender) == AuthFailure::kUnauthenticated);
  CHECK_FALSE(failure_of(b, good).has_value());
}

TEST_CASE("a datagram sealed under another key is unauthenticated", "[net][auth]") {
  PeerAuth stranger(std::string(32, 'x'), kA, kMembers, kStart), b(kKey, kB, kMembers, kStart);
  CHECK(failure_of(b, sealed(stranger, kA, kB, kStart + 10)) == AuthFailure::kUnauthenticated);
}

TEST_CASE("authentic datagrams from a non-member or for another replica are refused", "[net][auth]") {
  PeerAuth outsider(kKey, kOutsider, kMembers, kStart), a(kKey, kA, kMembers, kStart), b(kKey, kB, kMembers, kStart);
  CHECK(failure_of(b, sealed(outsider, kOutsider, kB, kStart + 10)) == AuthFailure::kNotMember);
  CHECK(failure_of(b, sealed(a, kA, kC, kStart + 20)) == AuthFailure::kNotMember);  // for C, sent to B
  PeerAuth b_itself(kKey, kB, kMembers, kStart);
  CHECK(failure_of(b, sealed(b_itself, kB, kB, kStart + 30)) == AuthFailure::kNotMember);  // "from" ourselves
}

TEST_CASE("counters: out of order within the window once, older than the window never", "[net][auth]") {
  PeerAuth a(kKey, kA, kMembers, kStart), b(kKey, kB, kMembers, kStart);
  const std::string first = sealed(a, kA, kB, kStart + 100);
  const std::string second = sealed(a, kA, kB, kStart + 200);
  const std::string much_later = sealed(a, kA, kB, kStart + 200 + ReplayWindow::kWidth + 1);
  CHECK_FALSE(failure_of(b, second).has_value());
  CHECK_FALSE(failure_of(b, first).has_value());  // overtaken by 100 µs: still in the window
  CHECK(failure_of(b, first) == AuthFailure::kReplayed);
  CHECK(failure_of(b, second) == AuthFailure::kReplayed);
  CHECK_FALSE(failure_of(b, much_later).has_value());
  CHECK(failure_of(b, first) == AuthFailure::kTooOld);
  CHECK(failure_of(b, second) == AuthFailure::kTooOld);
}

TEST_CASE("a sender's counters keep increasing when its clock steps back", "[net][auth]") {
  PeerAuth a(kKey, kA, kMembers, kStart), b(kKey, kB, kMembers, kStart);
  std::uint64_t previous = 0;
  for (std::uint64_t now : {kStart + 1000, kStart + 500, kStart + 500, kStart + 2000, kStart + 10}) {
    const std::string d = sealed(a, kA, kB, now);
    CHECK(PeerAuth::counter_of(d) > previous);
    previous = PeerAuth::counter_of(d);
    CHECK_FALSE(failure_of(b, d).has_value());
  }
}

TEST_CASE("restarts: a restarted sender is accepted, a restarted receiver refuses what was recorded before",
          "[net][auth]") {
  PeerAuth a(kKey, kA, kMembers, kStart), b(kKey, kB, kMembers, kStart);
  const std::string early = sealed(a, kA, kB, kStart + 1'000'000);
  CHECK_FALSE(failure_of(b, early).has_value());
  const std::string later = sealed(a, kA, kB, kStart + 2'000'000);
  CHECK_FALSE(failure_of(b, later).has_value());

  // The sender restarts ten seconds on: its counters start at its clock, above all it sent before.
  PeerAuth a_again(kKey, kA, kMembers, kStart + 10'000'000);
  CHECK_FALSE(failure_of(b, sealed(a_again, kA, kB, kStart + 10'000'000)).has_value());

  // The receiver restarts at kStart + 20 s, remembering nothing: datagrams recorded more than the start-up slack
  // before that are refused; fresh ones pass.
  PeerAuth b_again(kKey, kB, kMembers, kStart + 20'000'000);
  CHECK(failure_of(b_again, early) == AuthFailure::kTooOld);
  CHECK(failure_of(b_again, later) == AuthFailure::kTooOld);
  const std::string recent = sealed(a_again, kA, kB, kStart + 20'000'000 - kStartupSlackUs + 1);
  CHECK_FALSE(failure_of(b_again, recent).has_value());
  CHECK(failure_of(b_again, recent) == AuthFailure::kReplayed);
}

TEST_CASE("secret files: missing, short, not hex, or open to others are refused with the fix", "[net][auth][config]") {
  TempDir dir;
  const std::string hex32 = std::string(32, 'a');  // 16 bytes: the minimum
  const std::string missing = (dir.path / "missing.key").string();
  CHECK_THAT(load_error(missing), Catch::Contains(missing) && Catch::Contains("kvctl keygen"));
  CHECK_THAT(load_error(dir.write("short.key", std::string(30, 'a'), 0600)), Catch::Contains("too short"));
  CHECK_THAT(load_error(dir.write("odd.key", std::string(33, 'a'), 0600)), Catch::Contains("hex digits"));
  CHECK_THAT(load_error(dir.write("text.key", "correct horse battery staple, quite long", 0600)),
             Catch::Contains("hex digits"));
  for (mode_t mode : {0644, 0640, 0604, 0620, 0602, 0610}) {
    const std::string path = dir.write(fmt::format("open-{:o}.key", mode), hex32, mode);
    CHECK_THAT(load_error(path), Catch::Contains("chmod 600 " + path) && Catch::Contains(fmt::format("{:04o}", mode)));
  }
  CHECK_THAT(load_error(dir.path.string()), Catch::Contains("not a regular file"));
  CHECK(load_secret_file(dir.write("good.key", hex32 + "\n", 0600), "key_file") == std::string(16, '\xaa'));
  CHECK(load_secret_file(dir.write("owner-only.key", "00112233445566778899AABBCCDDEEFF", 0400), "key_file").size() == 16);
}

TEST_CASE("kvctl keygen's secret files are private, random and never replaced", "[net][auth][config]") {
  TempDir dir;
  const std::string path = (dir.path / "cluster.key").string();
  create_secret_file(path);
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0600);
  const std::string secret = load_secret_file(path, "key_file");
  CHECK(secret.size() == kNewSecretBytes);
  CHECK_THROWS_WITH(create_secret_file(path), Catch::Contains("refusing to replace"));
  CHECK(load_secret_file(path, "key_file") == secret);
  const std::string other = (dir.path / "other.key").string();
  create_secret_file(other);
  CHECK(load_secret_file(other, "key_file") != secret);
}

TEST_CASE("the cluster file names secret files relative to itself and refuses duplicates", "[net][auth][config]") {
  TempDir dir;
  std::filesystem::create_directories(dir.path / "conf");
  const std::string config_path = dir.write(
      "conf/cluster.json",
      R"({"replicas": {"0000": "127.0.0.1:7000"}, "key_file": "secrets/cluster.key", "client_token_file": "/abs/token"})",
      0644);
  const ClusterConfig config = load_cluster_config(config_path);
  CHECK(config.key_file == (dir.path / "conf" / "secrets" / "cluster.key").string());
  CHECK(config.client_token_file == "/abs/token");
  CHECK(parse_cluster_config(R"({"replicas": {"0000": "a:1"}})").key_file.empty());

  auto error_of = [](const std::string& text) -> std::string {
    try {
      parse_cluster_config(text);
    } catch (const ConfigError& e) {
      return e.what();
    }
    return "";
  };
  CHECK_THAT(error_of(R"({"replicas": {"0000": "a:1"}, "key_file": ""})"), Catch::Contains("key_file"));
  CHECK_THAT(error_of(R"({"replicas": {"0000": "a:1"}, "key_file": 7})"), Catch::Contains("key_file"));
  CHECK_THAT(error_of(R"({"replicas": {"0000": "a:1"}, "client_token_file": null})"),
             Catch::Contains("client_token_file"));
  CHECK_THAT(error_of(R"({"replicas": {"0000": "a:1", "0001": "b:1", "0000": "c:1"}})"),
             Catch::Contains("replica id 0000 appears more than once"));
  CHECK_THAT(error_of(R"({"replicas": {"0000": "a:1"}, "replicas": {"0001": "b:1"}})"),
             Catch::Contains("key \"replicas\" appears more than once"));
  CHECK_THAT(error_of(R"({"replicas": {"0000": "a:1"}, "key_file": "a", "key_file": "b"})"),
             Catch::Contains("key \"key_file\" appears more than once"));
  CHECK_THAT(error_of(R"({"replicas": {"0000": "a:1", "0001": "a:1"}})"), Catch::Contains("used twice"));
  // The same key in different objects is no duplicate.
  CHECK(error_of(R"({"replicas": {"0000": "a:1", "0001": "b:1"}, "election_timeout_ms": [300, 600]})").empty());
}

TEST_CASE("two replicas at one address under different names are refused", "[net][config]") {
  asio::io_context io;
  // Whatever "localhost" means here, named once by number and once by name.
  asio::ip::udp::resolver resolver(io);
  const asio::ip::address local = resolver.resolve("localhost", "7000").begin()->endpoint().address();
  const std::string numeric = local.is_v6() ? "[" + local.to_string() + "]" : local.to_string();
  const ClusterConfig config = parse_cluster_config(
      fmt::format(R"({{"replicas": {{"0000": "{}:7000", "0001": "localhost:7000"}}}})", numeric));
  CHECK_THROWS_WITH(resolve(io, config), Catch::Contains("0000 and 0001 both resolve to"));
}
