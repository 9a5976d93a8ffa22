// Real processes with peer authentication: three kvstore replicas sealing their traffic under a key file and
// requiring a client token. A socket of the test's own plays the attacker. Every wait is on a condition with a
// deadline, never a sleep: a forged datagram's drop is proved by sending a genuine one after it on the same socket
// (loopback keeps one socket's datagrams in order and the replica reads them in order) and waiting for the genuine
// one's effect; then the forged one's effect must be absent and the replica's log must name the reason.

#include "net/client.hpp"
#include "net/codec.hpp"
#include "net/exit_codes.hpp"
#include "net/peer_auth.hpp"
#include "net/secret_file.hpp"
#include "process_helpers.hpp"

#include <asio/io_context.hpp>
#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <csignal>
#include <filesystem>
#include <fstream>

using namespace coraft;
using namespace std::chrono_literals;
using testing::free_udp_port;
using testing::read_file;
using testing::run;
using testing::wait_until;

namespace {

std::uint64_t wall_clock_us() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch()).count());
}

std::size_t count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// A RequestVoteReply with a higher term: any replica that accepts it adopts the term (Raft §5.1), which a status
// request shows. Harmless otherwise (a refused vote).
std::string vote_reply(raft::NodeId from, raft::NodeId to, raft::Term term) {
  return net::encode_peer({from, to, raft::RequestVoteReply{term, false, false}}, raft::kNoNode)[0];
}

struct ScratchDir {
  std::filesystem::path path;
  explicit ScratchDir(const std::string& name) : path(testing::fresh_test_dir(name)) {}
  ~ScratchDir() { std::filesystem::remove_all(path); }
};

}  // namespace

TEST_CASE("an authenticated cluster serves token holders and drops forged and replayed peer datagrams",
          "[net][process][auth]") {
  ScratchDir dir("auth");
  net::create_secret_file((dir.path / "cluster.key").string());
  net::create_secret_file((dir.path / "client.token").string());
  const std::string config_path = testing::write_test_cluster(
      dir.path, R"(, "key_file": "cluster.key", "client_token_file": "client.token")");
  std::map<raft::NodeId, std::unique_ptr<chaos::ChildProcess>> replicas;
  auto log_of = [&](raft::NodeId id) { return (dir.path / (id.str() + ".log")).string(); };
  for (int i = 0; i < 3; ++i) {
    const raft::NodeId id{static_cast<std::uint16_t>(i)};
    replicas[id] = std::make_unique<chaos::ChildProcess>(
        std::vector<std::string>{CORAFT_KVSTORE_PATH, "--config", config_path, "--id", id.str(), "--data-dir",
                                 (dir.path / id.str()).string(), "--log-level", "debug"},
        log_of(id));
  }

  asio::io_context io;
  const net::ClusterConfig config = net::load_cluster_config(config_path);
  auto endpoints = net::resolve(io, config);
  net::ClientSettings settings;
  settings.deadline = 10s;
  settings.token = net::client_token(config);
  REQUIRE_FALSE(settings.token.empty());
  net::Client client(io, endpoints, actors::Rng(42), settings);

  // Token holders are served; the replicas' own traffic, sealed, forms the cluster.
  const std::string a = "a", b = "b", one = "1", two = "2";
  net::CallResult put_a, get_a;
  run(io, [&]() -> asio::awaitable<void> {
    put_a = co_await client.put(a, one);
    get_a = co_await client.get(a);
  });
  REQUIRE(put_a.outcome == net::Outcome::kOk);
  REQUIRE(get_a.outcome == net::Outcome::kOk);
  CHECK(get_a.reply.value == one);

  // Clients without the token, or with a wrong one, are told so at once.
  for (const std::string& token : {std::string{}, std::string(64, '0')}) {
    net::ClientSettings other = settings;
    other.token = token;
    net::Client outsider(io, endpoints, actors::Rng(7), other);
    net::CallResult refused;
    run(io, [&]() -> asio::awaitable<void> { refused = co_await outsider.put(a, two); });
    CHECK(refused.outcome == net::Outcome::kRejected);
    CHECK(refused.reply.reason == net::kUnauthorizedReason);
  }

  // The attacker. It is given the key only to build what an attacker could record off the wire (a genuine datagram,
  // for the replay) and what a key holder with the wrong identity would send.
  const raft::NodeId target{0x0000}, member{0x0001}, other_member{0x0002}, outsider_id{0x0009};
  const std::vector<raft::NodeId> members{target, member, other_member};
  const std::string key = net::load_secret_file(config.key_file, "key_file");
  net::PeerAuth as_member(key, member, members, wall_clock_us());
  net::PeerAuth wrong_key(std::string(32, 'x'), member, members, wall_clock_us());
  net::PeerAuth as_outsider(key, outsider_id, members, wall_clock_us());
  asio::ip::udp::socket attacker(io, asio::ip::udp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  const std::string attacker_address = fmt::format("127.0.0.1:{}", attacker.local_endpoint().port());
  auto send = [&](const std::string& datagram) { attacker.send_to(asio::buffer(datagram), endpoints.at(target)); };
  auto term_of_target = [&]() -> raft::Term {
    std::optional<actors::ReplicaStatus> status;
    run(io, [&]() -> asio::awaitable<void> { status = co_await client.status(target, 300ms); });
    return status ? status->term : 0;
  };
  auto wait_for_term = [&](raft::Term at_least) {
    return wait_until([&] { return term_of_target() >= at_least; }, 10s);
  };

  const raft::Term start_term = term_of_target();
  REQUIRE(start_term > 0);
  const raft::Term forged_term = start_term + 1000;
  std::string datagram;
  send(vote_reply(member, target, forged_term));  // the classic format, unsealed
  wrong_key.seal(vote_reply(member, target, forged_term), target, wall_clock_us(), datagram);
  send(datagram);
  as_member.seal(vote_reply(member, target, forged_term), target, wall_clock_us(), datagram);
  datagram[net::kSealHeaderBytes + 3] ^= 0x01;  // altered in transit
  send(datagram);
  as_outsider.seal(vote_reply(outsider_id, target, forged_term), target, wall_clock_us(), datagram);
  send(datagram);
  as_member.seal(vote_reply(member, other_member, forged_term), other_member, wall_clock_us(), datagram);
  send(datagram);  // for another replica
  std::string genuine;
  as_member.seal(vote_reply(member, target, start_term + 500), target, wall_clock_us(), genuine);
  send(genuine);

  // The genuine datagram, sent last, takes effect: so every forgery before it was read, and none took effect.
  REQUIRE(wait_for_term(start_term + 500));
  CHECK(term_of_target() < forged_term);

  // Replay the genuine datagram, recorded: dropped. Another genuine one after it proves it was read.
  send(genuine);
  const raft::Term now_term = term_of_target();
  std::string later;
  as_member.seal(vote_reply(member, target, now_term + 500), target, wall_clock_us(), later);
  send(later);
  REQUIRE(wait_for_term(now_term + 500));

  const std::string log = read_file(log_of(target));
  const std::string from = "dropped a peer datagram from " + attacker_address + ": ";
  CHECK(count(log, from + "unauthenticated: not sealed") == 1);
  CHECK(count(log, from + "unauthenticated: its tag does not verify") == 2);
  CHECK(count(log, from + "not_member: sealed by 0009 for 0000") == 1);
  CHECK(count(log, from + "not_member: sealed by 0001 for 0002") == 1);
  CHECK(count(log, fmt::format("{}replayed: sealed by 0001, counter {} accepted before", from,
                               net::PeerAuth::counter_of(genuine))) == 1);
  CHECK(count(log, "peer datagrams sealed with HMAC-SHA256") == 1);

  // The cluster, disturbed by the genuine higher terms, serves again.
  net::CallResult put_b, get_b;
  run(io, [&]() -> asio::awaitable<void> {
    put_b = co_await client.put(b, two);
    get_b = co_await client.get(b);
  });
  CHECK(put_b.outcome == net::Outcome::kOk);
  CHECK(get_b.reply.value == two);

  for (auto& [id, process] : replicas) {
    CHECK(process->running());
    process->kill_and_wait(SIGTERM);
    CHECK(WIFEXITED(process->exit_status()));
    CHECK(WEXITSTATUS(process->exit_status()) == 0);
  }
}

TEST_CASE("kvstore refuses to start with an unknown id, duplicates, or a bad secret file, and says why",
          "[net][process][config]") {
  ScratchDir dir("refusals");
  const std::uint16_t p0 = free_udp_port(), p1 = free_udp_port();
  const std::string replicas = fmt::format(R"("replicas": {{"0000": "127.0.0.1:{}", "0001": "127.0.0.1:{}"}})", p0, p1);
  const std::string short_token = (dir.path / "short.token").string();
  std::ofstream(short_token) << std::string(30, 'a');
  std::filesystem::permissions(short_token, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  const std::string open_key = (dir.path / "open.key").string();
  net::create_secret_file(open_key);
  std::filesystem::permissions(open_key, std::filesystem::perms::group_read | std::filesystem::perms::others_read,
                               std::filesystem::perm_options::add);
  struct Case {
    std::string name, config, id, expected;
    int exit_code;
  };
  const std::vector<Case> cases = {
      {"unknown-id", fmt::format("{{{}}}", replicas), "0007", "id 0007 is not a replica", exit_code::kUsage},
      {"duplicate-id",
       fmt::format(R"({{"replicas": {{"0000": "127.0.0.1:{}", "0001": "127.0.0.1:{}", "0000": "127.0.0.1:1"}}}})", p0, p1),
       "0000", "replica id 0000 appears more than once", exit_code::kConfig},
      {"duplicate-address", fmt::format(R"({{"replicas": {{"0000": "127.0.0.1:{}", "0001": "127.0.0.1:{}"}}}})", p0, p0),
       "0000", fmt::format("address 127.0.0.1:{} is used twice", p0), exit_code::kConfig},
      {"missing-key", fmt::format(R"({{{}, "key_file": "absent.key"}})", replicas), "0000",
       "absent.key: No such file or directory (create one with: kvctl keygen", exit_code::kConfig},
      {"open-key", fmt::format(R"({{{}, "key_file": "open.key"}})", replicas), "0000",
       fmt::format("(mode 0644); a secret must be private to its owner: chmod 600 {}", open_key), exit_code::kConfig},
      {"short-token", fmt::format(R"({{{}, "client_token_file": "short.token"}})", replicas), "0000",
       "client_token_file " + short_token + ": 15 bytes is too short", exit_code::kConfig},
  };
  for (const Case& c : cases) {
    INFO(c.name);
    const std::string config_path = (dir.path / (c.name + ".json")).string();
    const std::string log_path = (dir.path / (c.name + ".log")).string();
    std::ofstream(config_path) << c.config;
    chaos::ChildProcess kvstore({CORAFT_KVSTORE_PATH, "--config", config_path, "--id", c.id, "--data-dir",
                                 (dir.path / ("data-" + c.name)).string()},
                                log_path);
    REQUIRE(wait_until([&] { return !kvstore.running(); }, 10s));
    CHECK(WIFEXITED(kvstore.exit_status()));
    CHECK(WEXITSTATUS(kvstore.exit_status()) == c.exit_code);
    CHECK_THAT(read_file(log_path), Catch::Contains(c.expected));
  }
}

TEST_CASE("kvstore says at start-up when peer traffic is not authenticated", "[net][process][auth]") {
  ScratchDir dir("unauthenticated");
  const std::string config_path = (dir.path / "cluster.json").string();
  std::ofstream(config_path) << fmt::format(R"({{"replicas": {{"0000": "127.0.0.1:{}"}}}})", free_udp_port());
  struct Case {
    std::vector<std::string> argv;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {{CORAFT_KVSTORE_PATH, "--config", config_path, "--id", "0000", "--data-dir", (dir.path / "data").string()},
       "warning no key_file in " + config_path + ": peer datagrams are not authenticated"},
      {{CORAFT_KVSTORE_PATH, std::to_string(free_udp_port()), "0000", "0001", "--log-level", "info"},
       "course mode is unauthenticated: the course simulator relays the classic datagrams and cannot sign them"},
  };
  for (const Case& c : cases) {
    const std::string log_path = (dir.path / "kvstore.log").string();
    std::filesystem::remove(log_path);
    chaos::ChildProcess kvstore(c.argv, log_path);
    CHECK(wait_until([&] { return read_file(log_path).find(c.expected) != std::string::npos; }, 10s));
    CHECK(kvstore.running());
    kvstore.kill_and_wait(SIGTERM);
  }
}
