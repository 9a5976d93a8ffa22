// What the programs say, and with which exit code, when something is wrong: a typo in the cluster file, no cluster
// running, a cluster that does not answer, an id that is not in the file, a bad command line, a missing file. Each
// case runs the real program (from a scratch folder, so that the default cluster file is absent unless written) and
// checks the exit code of net/exit_codes.hpp and the words that tell the user what to do.

#include "net/exit_codes.hpp"
#include "process.hpp"
#include "process_helpers.hpp"

#include <asio/io_context.hpp>
#include <asio/ip/udp.hpp>
#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <sys/wait.h>

using namespace coraft;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

struct Ran {
  int code = -1;
  std::string output;  // stdout and stderr
  double seconds = 0;
};

// Runs a program of build/bin in `cwd` to its end.
Ran run_program(const std::string& program, const std::vector<std::string>& args, const fs::path& cwd) {
  static int runs = 0;
  std::string command = fmt::format("cd '{}' && exec '{}/{}'", cwd.string(), CORAFT_BIN_DIR, program);
  for (const auto& a : args) command += " '" + a + "'";
  const fs::path log = cwd / fmt::format("run-{}.log", ++runs);
  const auto started = std::chrono::steady_clock::now();
  chaos::ChildProcess child({"/bin/sh", "-c", command}, log.string());
  INFO(command);
  REQUIRE(testing::wait_until([&] { return !child.running(); }, 60s));
  Ran ran;
  ran.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  REQUIRE(WIFEXITED(child.exit_status()));
  ran.code = WEXITSTATUS(child.exit_status());
  ran.output = testing::read_file(log.string());
  return ran;
}

void write(const fs::path& path, const std::string& text) { std::ofstream(path) << text; }

// A cluster file for three replicas on loopback ports nobody listens on (nothing running there).
std::string absent_cluster(const fs::path& dir, std::vector<std::uint16_t>& ports) {
  ports = {testing::free_udp_port(), testing::free_udp_port(), testing::free_udp_port()};
  const fs::path path = dir / "absent.json";
  write(path, fmt::format(R"({{"replicas": {{"0000": "127.0.0.1:{}", "0001": "127.0.0.1:{}", "0002": "127.0.0.1:{}"}}}})",
                          ports[0], ports[1], ports[2]));
  return path.string();
}

}  // namespace

TEST_CASE("a JSON mistake in the cluster file is named by line and column", "[net][cli][config]") {
  const auto dir = testing::fresh_test_dir("cli-json");
  write(dir / "missing-comma.json", "{\"replicas\": {\n  \"0000\": \"127.0.0.1:7000\"\n  \"0001\": \"127.0.0.1:7001\"}}\n");
  write(dir / "trailing-comma.json", "{\"replicas\": {\n  \"0000\": \"127.0.0.1:7000\",\n}}\n");
  Ran r = run_program("kvctl", {"--cluster", "missing-comma.json", "get", "k"}, dir);
  CHECK(r.code == exit_code::kConfig);
  CHECK_THAT(r.output, Catch::Contains("missing-comma.json: line 3, column 8: not valid JSON") &&
                           Catch::Contains("(a comma missing before it?)"));
  r = run_program("kvctl", {"--cluster", "trailing-comma.json", "status"}, dir);
  CHECK(r.code == exit_code::kConfig);
  CHECK_THAT(r.output, Catch::Contains("trailing-comma.json: line 3, column 1: not valid JSON") &&
                           Catch::Contains("(a comma after the last member?)"));
  // The replica reads the same file the same way.
  r = run_program("kvstore", {"--config", "missing-comma.json", "--id", "0000", "--data-dir", "data"}, dir);
  CHECK(r.code == exit_code::kConfig);
  CHECK_THAT(r.output, Catch::Contains("line 3, column 8"));
  fs::remove_all(dir);
}

TEST_CASE("with no cluster running, clients say so within seconds and name the addresses they tried",
          "[net][cli][unavailable]") {
  const auto dir = testing::fresh_test_dir("cli-absent");
  std::vector<std::uint16_t> ports;
  const std::string cluster = absent_cluster(dir, ports);
  for (const auto& operation : std::vector<std::vector<std::string>>{{"get", "k"}, {"put", "k", "v"}}) {
    std::vector<std::string> args{"--cluster", cluster};
    args.insert(args.end(), operation.begin(), operation.end());
    const Ran r = run_program("kvctl", args, dir);
    INFO(r.output);
    CHECK(r.code == exit_code::kNoAnswer);
    CHECK(r.seconds < 5);  // not the 10 s deadline
    CHECK_THAT(r.output, Catch::Contains(fmt::format("kvctl: {} k: no replica is running: nothing listens at", operation[0])));
    for (std::uint16_t port : ports) CHECK_THAT(r.output, Catch::Contains(fmt::format("127.0.0.1:{}", port)));
  }
  Ran r = run_program("kvctl", {"--cluster", cluster, "status"}, dir);
  CHECK(r.code == exit_code::kNoAnswer);
  CHECK_THAT(r.output, Catch::Contains(fmt::format("0001   unknown     not running (nothing listens at 127.0.0.1:{})", ports[1])));
  r = run_program("kvchat", {"--cluster", cluster, "--nick", "alice"}, dir);
  CHECK(r.code == exit_code::kNoAnswer);
  CHECK(r.seconds < 5);
  CHECK_THAT(r.output, Catch::Contains("kvchat: no replica is running: nothing listens at"));
  fs::remove_all(dir);
}

TEST_CASE("a read and a write that time out say what that means for each", "[net][cli][unavailable]") {
  // Replicas that receive but never answer: bound sockets that nobody reads.
  const auto dir = testing::fresh_test_dir("cli-silent");
  asio::io_context io;
  std::vector<asio::ip::udp::socket> silent;
  for (int i = 0; i < 3; ++i) silent.emplace_back(io, asio::ip::udp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  write(dir / "silent.json",
        fmt::format(R"({{"replicas": {{"0000": "127.0.0.1:{}", "0001": "127.0.0.1:{}", "0002": "127.0.0.1:{}"}}}})",
                    silent[0].local_endpoint().port(), silent[1].local_endpoint().port(), silent[2].local_endpoint().port()));
  Ran r = run_program("kvctl", {"--cluster", "silent.json", "--timeout", "1", "get", "k"}, dir);
  CHECK(r.code == exit_code::kNoAnswer);
  CHECK_THAT(r.output, Catch::Contains("kvctl: get k: no answer within 1 s from") &&
                           Catch::Contains("nothing was changed") && !Catch::Contains("write"));
  r = run_program("kvctl", {"--cluster", "silent.json", "--timeout", "1", "put", "k", "v"}, dir);
  CHECK(r.code == exit_code::kNoAnswer);
  CHECK_THAT(r.output, Catch::Contains("kvctl: put k: no answer within 1 s from") &&
                           Catch::Contains("the write may or may not have been applied"));
  fs::remove_all(dir);
}

TEST_CASE("an id that is not in the cluster file is an error", "[net][cli][usage]") {
  const auto dir = testing::fresh_test_dir("cli-ids");
  std::vector<std::uint16_t> ports;
  const std::string cluster = absent_cluster(dir, ports);
  Ran r = run_program("kvctl", {"--cluster", cluster, "metrics", "0009"}, dir);
  CHECK(r.code == exit_code::kUsage);
  CHECK_THAT(r.output, Catch::Contains("there is no replica 0009 in") && Catch::Contains("0000, 0001, 0002"));
  r = run_program("kvctl", {"--cluster", cluster, "metrics", "xyz"}, dir);
  CHECK(r.code == exit_code::kUsage);
  CHECK_THAT(r.output, Catch::Contains("\"xyz\" is not a replica id"));
  r = run_program("kvstore", {"--config", cluster, "--id", "0007", "--data-dir", "data"}, dir);
  CHECK(r.code == exit_code::kUsage);
  CHECK_THAT(r.output, Catch::Contains("id 0007 is not a replica in"));
  fs::remove_all(dir);
}

TEST_CASE("without --cluster, clients look where make run writes the cluster file, and say so", "[net][cli][input]") {
  const auto dir = testing::fresh_test_dir("cli-default");
  for (const std::string program : {"kvctl", "kvchat"}) {
    const Ran r = run_program(program, program == "kvctl" ? std::vector<std::string>{"get", "k"}
                                                          : std::vector<std::string>{"--nick", "alice"}, dir);
    INFO(program << ": " << r.output);
    CHECK(r.code == exit_code::kNoInput);
    CHECK_THAT(r.output, Catch::Contains("data/local-cluster/cluster.json: cannot read the file") &&
                             Catch::Contains("`make run` writes it there"));
  }
  const Ran r = run_program("kvctl", {"--cluster", "elsewhere.json", "get", "k"}, dir);
  CHECK(r.code == exit_code::kNoInput);
  CHECK_THAT(r.output, Catch::Contains("elsewhere.json: cannot read the file: No such file or directory"));
  fs::remove_all(dir);
}

TEST_CASE("bad command lines exit with the usage code, and --help lists arguments, defaults and exit codes",
          "[net][cli][usage]") {
  const auto dir = testing::fresh_test_dir("cli-usage");
  const std::vector<std::pair<std::string, std::vector<std::string>>> misuses = {
      {"kvctl", {"get"}},
      {"kvctl", {"frobnicate"}},
      {"kvctl", {"cas", "k", "only-one"}},
      {"kvstore", {}},
      {"kvstore", {"7000", "zz"}},
      {"kvchat", {"--poll-ms", "1"}},
      {"kvbench", {}},
      {"kvsim", {"--seeds", "0"}},
      {"kvchaos", {}},
      {"kvcheck", {}},
      {"authbench", {"--ms", "-1"}},
      {"storebench", {"--keys", "0"}},
  };
  for (const auto& [program, args] : misuses) {
    const Ran r = run_program(program, args, dir);
    INFO(program << " " << fmt::format("{}", fmt::join(args, " ")) << ": " << r.output);
    CHECK(r.code == exit_code::kUsage);
  }
  for (const std::string program : {"kvstore", "kvctl", "kvchat", "kvbench", "kvsim", "kvchaos", "kvcheck", "authbench",
                                     "storebench"}) {
    const Ran r = run_program(program, {"--help"}, dir);
    INFO(program << " --help:\n" << r.output);
    CHECK(r.code == exit_code::kDone);
    CHECK_THAT(r.output, Catch::Contains("Exit codes (the same table for every coraft program"));
    CHECK_THAT(r.output, Catch::Contains(fmt::format("{:>5}  ", exit_code::kUsage)));
  }
  const Ran kvctl = run_program("kvctl", {"--help"}, dir);
  CHECK_THAT(kvctl.output, Catch::Contains("KEY EXPECTED NEW") && Catch::Contains("--timeout FLOAT:POSITIVE=10") &&
                               Catch::Contains("--cluster TEXT=data/local-cluster/cluster.json"));
  const Ran kvbench = run_program("kvbench", {"--help"}, dir);
  CHECK_THAT(kvbench.output, Catch::Contains("=64") && Catch::Contains("--keys UINT:POSITIVE=100000"));
  fs::remove_all(dir);
}

TEST_CASE("missing and malformed input files have codes of their own", "[net][cli][input]") {
  const auto dir = testing::fresh_test_dir("cli-files");
  write(dir / "bad-history.jsonl", "{\"kind\": \"get\"}\n");
  write(dir / "bad-config.json", "[1, 2]");
  Ran r = run_program("kvcheck", {"history", "absent.jsonl"}, dir);
  CHECK(r.code == exit_code::kNoInput);
  r = run_program("kvcheck", {"history", "bad-history.jsonl"}, dir);
  CHECK(r.code == exit_code::kDataError);
  CHECK_THAT(r.output, Catch::Contains("bad-history.jsonl:1:"));
  r = run_program("kvchaos", {"absent.json"}, dir);
  CHECK(r.code == exit_code::kNoInput);
  CHECK_THAT(r.output, Catch::Contains("tests/chaos/configs"));
  r = run_program("kvchaos", {"bad-config.json"}, dir);
  CHECK(r.code == exit_code::kDataError);
  r = run_program("kvstore", {"--config", "absent.json", "--id", "0000"}, dir);
  CHECK(r.code == exit_code::kNoInput);
  fs::remove_all(dir);
}

TEST_CASE("a replica that cannot listen on its address says so and exits with the unavailable code",
          "[net][cli][kvstore]") {
  const auto dir = testing::fresh_test_dir("cli-taken");
  asio::io_context io;
  asio::ip::udp::socket taken(io, asio::ip::udp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  write(dir / "cluster.json", fmt::format(R"({{"replicas": {{"0000": "127.0.0.1:{}", "0001": "127.0.0.1:{}"}}}})",
                                          taken.local_endpoint().port(), testing::free_udp_port()));
  const Ran r = run_program("kvstore", {"--config", "cluster.json", "--id", "0000", "--data-dir", "data"}, dir);
  CHECK(r.code == exit_code::kUnavailable);
  CHECK_THAT(r.output, Catch::Contains(fmt::format("cannot listen on 127.0.0.1:{}: Address already in use",
                                                   taken.local_endpoint().port())));
  fs::remove_all(dir);
}

TEST_CASE("a replica says one line as it starts, at the default log level", "[net][cli][kvstore]") {
  const auto dir = testing::fresh_test_dir("cli-start-line");
  const std::string config = testing::write_test_cluster(dir);
  const std::string log = (dir / "0001.log").string();
  chaos::ChildProcess replica({fmt::format("{}/kvstore", CORAFT_BIN_DIR), "--config", config, "--id", "0001",
                               "--data-dir", (dir / "0001").string()},
                              log);
  REQUIRE(testing::wait_until([&] { return testing::read_file(log).find("listening on") != std::string::npos; }, 10s));
  const std::string text = testing::read_file(log);
  CHECK_THAT(text, Catch::Matches(fmt::format(R"([\s\S]* \[0001\] info 0001 listening on 127\.0\.0\.1:\d+ \(cluster mode, )"
                                              R"(peers 0000,0002\); storage in {} \(fsync always; [^)]*\); term 0, log 0 )"
                                              R"(entries; kvstore \(coraft\) [^\n]*\n[\s\S]*)",
                                              (dir / "0001").string())));
  CHECK(text.find("starting: term") == std::string::npos);  // the other info lines stay at info
  replica.kill_and_wait(SIGTERM);
  CHECK(WIFEXITED(replica.exit_status()));
  CHECK(WEXITSTATUS(replica.exit_status()) == exit_code::kDone);
  fs::remove_all(dir);
}
