// The README's tour, run as written: what a newcomer types, in the terminals the README names, compared with what it
// says they will see. The tour's ```console blocks are read from README.md itself: every "$ " line is typed into a
// shell on a pseudo-terminal and what it prints must match the lines after it ("..." stands for text that varies).
// Terminal 1 runs examples/cluster.sh, the last step of `make run` (the Makefile's run target runs it after the
// build, which the test has already), and is checked for what the README says appears there: each replica's start
// line, the death of the killed leader, the election, the restart, the clean stop. The chat is typed into kvchat in
// two more shells, with the leader killed from a fourth. All in a scratch folder laid out like the repository
// (build/bin and examples/cluster.sh linked), on free ports. Every wait reads a terminal until what it waits for
// appears or a deadline passes.

#include "process_helpers.hpp"
#include "pty_child.hpp"

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <filesystem>
#include <regex>
#include <set>

using namespace coraft;
using namespace std::chrono_literals;
using testing::PtyChild;
using Clock = std::chrono::steady_clock;

namespace {

struct Step {
  std::string command;
  std::vector<std::string> expected;  // a line "..." stands for any number of lines; "..." in a line for any text
};
using Block = std::vector<Step>;

std::string tour_of(const std::string& readme) {
  const auto start = readme.find("## A fifteen-minute tour");
  REQUIRE(start != std::string::npos);
  return readme.substr(start, readme.find("\n## ", start + 1) - start);
}

// The lines of every fenced block of `language`, block by block.
std::vector<std::vector<std::string>> fenced(const std::string& text, const std::string& language) {
  std::vector<std::vector<std::string>> blocks;
  std::istringstream in(text);
  std::string line;
  bool inside = false, wanted = false;
  while (std::getline(in, line)) {
    if (line.rfind("```", 0) == 0) {
      if (!inside) {
        wanted = line == "```" + language;
        if (wanted) blocks.emplace_back();
      }
      inside = !inside;
    } else if (inside && wanted) {
      blocks.back().push_back(line);
    }
  }
  return blocks;
}

std::vector<Block> console_blocks(const std::string& tour) {
  std::vector<Block> blocks;
  for (const auto& lines : fenced(tour, "console")) {
    Block block;
    for (const auto& line : lines) {
      if (line.rfind("$ ", 0) == 0) block.push_back(Step{line.substr(2), {}});
      else block.back().expected.push_back(line);
    }
    blocks.push_back(block);
  }
  return blocks;
}

bool line_matches(const std::string& pattern, const std::string& line) {
  std::string regex;
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    if (pattern.compare(i, 3, "...") == 0) {
      regex += ".*";
      i += 2;
    } else {
      if (std::string("\\^$.|?*+()[]{}").find(pattern[i]) != std::string::npos) regex += '\\';
      regex += pattern[i];
    }
  }
  return std::regex_match(line, std::regex(regex));
}

bool lines_match(const std::vector<std::string>& expected, std::size_t e, const std::vector<std::string>& lines,
                 std::size_t l) {
  if (e == expected.size()) return l == lines.size();
  if (expected[e] == "...") {
    for (std::size_t skip = l; skip <= lines.size(); ++skip)
      if (lines_match(expected, e + 1, lines, skip)) return true;
    return false;
  }
  return l < lines.size() && line_matches(expected[e], lines[l]) && lines_match(expected, e + 1, lines, l + 1);
}

// An interactive bash on its own terminal, as a second (third, fourth) terminal would be.
class Shell {
 public:
  Shell(const std::filesystem::path& dir, std::vector<std::pair<std::string, std::string>> env)
      : terminal_({"/bin/bash", "--norc", "--noprofile", "--noediting", "-i"},
                  PtyChild::Options{"", dir.string(), with_marker_prompt(std::move(env))}) {}

  // Types one command line once bash waits at its prompt, and returns what the command printed, up to the next
  // prompt. Nothing is typed ahead: a line typed while a command still runs sits in the terminal's input queue, where
  // the command or bash's own terminal handling between commands can take from it (one run lost a character so).
  std::vector<std::string> run(const std::string& command, Clock::time_point deadline) {
    INFO("$ " << command);
    REQUIRE(terminal_.read_until([&] { return prompt_at(consumed_) != std::string::npos; }, deadline));
    const std::size_t from = prompt_at(consumed_) + 1;
    terminal_.type(command);
    REQUIRE(terminal_.read_until([&] { return prompt_at(from) != std::string::npos; }, deadline));
    consumed_ = prompt_at(from);
    return {terminal_.lines().begin() + static_cast<long>(from), terminal_.lines().begin() + static_cast<long>(consumed_)};
  }
  // Types a line that starts a program which reads the terminal itself (kvchat), once bash waits at its prompt.
  void start(const std::string& command, Clock::time_point deadline) {
    REQUIRE(terminal_.read_until([&] { return prompt_at(consumed_) != std::string::npos; }, deadline));
    consumed_ = prompt_at(consumed_) + 1;
    terminal_.type(command);
  }
  PtyChild& terminal() { return terminal_; }

 private:
  // bash prints its prompt when it is ready for a line: one line of its own here, so a command's output ends at it.
  static constexpr const char* kPrompt = "@@ tour: bash waits for a command";
  static std::vector<std::pair<std::string, std::string>> with_marker_prompt(
      std::vector<std::pair<std::string, std::string>> env) {
    env.insert(env.end(), {{"PS1", std::string(kPrompt) + "\\n"}, {"PS2", ""}, {"HISTFILE", ""}});
    return env;
  }
  // The first prompt line at or after `from`, or npos.
  std::size_t prompt_at(std::size_t from) const {
    for (std::size_t i = from; i < terminal_.lines().size(); ++i)
      if (terminal_.lines()[i] == kPrompt) return i;
    return std::string::npos;
  }
  std::size_t consumed_ = 0;  // lines up to here belong to commands already run
  PtyChild terminal_;
};

// Runs one step and checks it printed what the README says; on a mismatch the report shows both, and the last lines
// of terminal 1 (the cluster), where the reason usually is.
void run_step(Shell& shell, const Step& step, Clock::time_point deadline, const PtyChild* cluster = nullptr) {
  const auto printed = shell.run(step.command, deadline);
  std::string cluster_tail;
  if (cluster != nullptr) {
    const auto& lines = cluster->lines();
    const std::size_t from = lines.size() > 30 ? lines.size() - 30 : 0;
    cluster_tail = fmt::format("{}", fmt::join(lines.begin() + static_cast<long>(from), lines.end(), "\n"));
  }
  INFO("$ " << step.command << "\nprinted:\n" << fmt::format("{}", fmt::join(printed, "\n")) << "\nthe README says:\n"
            << fmt::format("{}", fmt::join(step.expected, "\n")) << "\nterminal 1's last lines:\n" << cluster_tail);
  CHECK(lines_match(step.expected, 0, printed, 0));
}

void run_block(Shell& shell, const Block& block, Clock::time_point deadline, const PtyChild* cluster = nullptr) {
  for (const Step& step : block) run_step(shell, step, deadline, cluster);
}

// The first line at or after `from` that matches `pattern` (searched), or npos.
std::size_t find_line(const std::vector<std::string>& lines, std::size_t from, const std::regex& pattern,
                      std::smatch* match = nullptr) {
  for (std::size_t i = from; i < lines.size(); ++i) {
    std::smatch m;
    if (std::regex_search(lines[i], m, pattern)) {
      if (match) *match = m;
      return i;
    }
  }
  return std::string::npos;
}

// Waits until terminal 1 shows `pattern` at or after line `from`; returns its line, and its groups in `groups`
// (copied: reading more output may move the lines).
std::size_t wait_for_line(PtyChild& terminal, std::size_t from, const std::string& pattern, Clock::time_point deadline,
                          std::vector<std::string>* groups = nullptr) {
  const std::regex re(pattern);
  terminal.read_until([&] { return find_line(terminal.lines(), from, re) != std::string::npos; }, deadline);
  std::smatch match;
  const std::size_t at = find_line(terminal.lines(), from, re, &match);
  INFO("terminal 1 so far:\n" << fmt::format("{}", fmt::join(terminal.lines(), "\n")));
  INFO("waited for: " << pattern);
  REQUIRE(at != std::string::npos);
  if (groups) groups->assign(match.begin(), match.end());
  return at;
}

// Processes whose working directory is `dir` and whose program is kvstore.
std::vector<std::string> replicas_running_in(const std::filesystem::path& dir) {
  std::vector<std::string> found;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", error)) {
    std::error_code ignored;
    if (std::filesystem::read_symlink(entry.path() / "cwd", ignored) != dir) continue;
    const std::string command = testing::read_file((entry.path() / "cmdline").string());
    if (command.find("kvstore") != std::string::npos) found.push_back(entry.path().filename().string());
  }
  return found;
}

// Consecutive free loopback ports for the cluster's replicas: 0000-0002 and the ones the tour adds.
std::uint16_t free_port_range() { return chaos::reserve_test_ports(6); }

// Presses Ctrl-C in terminal 1 and checks that the cluster stops as the README says.
void stop_cluster(PtyChild& cluster, const std::filesystem::path& dir, Clock::time_point deadline) {
  const std::size_t from = cluster.lines().size();
  cluster.interrupt();
  const auto status = cluster.wait_exit(deadline);
  INFO("terminal 1 after Ctrl-C:\n"
       << fmt::format("{}", fmt::join(cluster.lines().begin() + static_cast<long>(from), cluster.lines().end(), "\n")));
  REQUIRE(status.has_value());
  CHECK(WIFEXITED(*status));
  CHECK(WEXITSTATUS(*status) == 0);
  const std::regex stopped_replica(R"(^coraft: replica \d{4} exited with status 0$)");
  std::size_t reported = 0;
  for (std::size_t i = from; i < cluster.lines().size(); ++i) {
    reported += std::regex_match(cluster.lines()[i], stopped_replica);
  }
  CHECK(reported == 3);
  CHECK(find_line(cluster.lines(), from, std::regex("^coraft: stopped")) != std::string::npos);
  CHECK(replicas_running_in(dir).empty());
}

}  // namespace

TEST_CASE("the README's tour runs as written and shows what it says", "[net][process][tour][readme]") {
  const std::string readme = testing::read_file(CORAFT_SOURCE_DIR "/README.md");
  const std::string tour = tour_of(readme);
  const std::vector<Block> blocks = console_blocks(tour);
  // Put and get; kill the leader and bring it back; replace a replica; ask a stopped cluster; ask it again after
  // `make run`.
  REQUIRE(blocks.size() == 5);
  CHECK(tour.find("(terminal 1): `make run`") != std::string::npos);
  // `make run` builds, then runs the same script as terminal 1 does here.
  CHECK(testing::read_file(CORAFT_SOURCE_DIR "/Makefile").find("\t@examples/cluster.sh\n") != std::string::npos);
  std::string alice_command, bob_command;
  for (const auto& block : fenced(tour, "sh")) {
    for (const auto& line : block) {
      const std::string command = line.substr(0, line.find("  #"));
      if (command.find("--nick alice") != std::string::npos) alice_command = command;
      if (command.find("--nick bob") != std::string::npos) bob_command = command;
    }
  }
  REQUIRE(!alice_command.empty());
  REQUIRE(!bob_command.empty());

  // A folder laid out like the repository, where the README's relative paths work.
  const auto dir = testing::fresh_test_dir("tour");
  INFO("scratch folder (kept if the test fails): " << dir.string());
  std::filesystem::create_directories(dir / "build");
  std::filesystem::create_directories(dir / "examples");
  std::filesystem::create_directory_symlink(CORAFT_BIN_DIR, dir / "build" / "bin");
  std::filesystem::create_symlink(CORAFT_SOURCE_DIR "/examples/cluster.sh", dir / "examples" / "cluster.sh");
  const std::vector<std::pair<std::string, std::string>> env = {
      {"CORAFT_BASE_PORT", std::to_string(free_port_range())}, {"CORAFT_LOG", "info"}};
  auto start_cluster = [&] {
    return std::make_unique<PtyChild>(std::vector<std::string>{"examples/cluster.sh"},
                                      PtyChild::Options{"", dir.string(), env});
  };
  auto deadline = [](auto seconds) { return Clock::now() + seconds; };

  // Terminal 1: the cluster comes up, each replica saying one line as it starts, then the banner.
  auto cluster = start_cluster();
  const std::size_t banner = wait_for_line(*cluster, 0, R"(^coraft: a 3-replica cluster is running)", deadline(60s));
  wait_for_line(*cluster, banner, R"(^Press Ctrl-C to stop every replica\.$)", deadline(5s));
  for (const std::string id : {"0000", "0001", "0002"}) {
    const std::size_t start_line = wait_for_line(
        *cluster, 0,
        fmt::format(R"(\[{0}\] info {0} listening on 127\.0\.0\.1:\d+ \(cluster mode, peers [0-9,]+\); storage in )"
                    R"(data/local-cluster/{0} \(.*\); term \d+, log \d+ entries)",
                    id),
        deadline(1s));
    CHECK(start_line < banner);
  }

  Shell second(dir, env);
  run_block(second, blocks[0], deadline(60s), cluster.get());

  // Kill the leader, read, start it again: terminal 1 tells the story.
  const std::size_t before_kill = cluster->lines().size();
  run_block(second, blocks[1], deadline(60s), cluster.get());
  std::vector<std::string> killed, pre;
  const std::size_t death = wait_for_line(*cluster, before_kill, R"(^coraft: replica (\d{4}) was killed by signal KILL)",
                                          deadline(10s), &killed);
  const std::string victim = killed[1];
  // PreVote first (the term does not move), then a real election in the next term.
  const std::size_t pre_vote =
      wait_for_line(*cluster, death, R"(\[(\d{4})\] info pre-candidate in term (\d+))", deadline(10s), &pre);
  CHECK(pre[1] != victim);
  // Usually in the next term; after a split vote (two replicas that time out within a millisecond) in a later one.
  const std::string next_term = std::to_string(std::stoull(pre[2]) + 1);
  const std::size_t candidate = wait_for_line(*cluster, pre_vote, "info candidate in term " + next_term, deadline(10s));
  std::vector<std::string> elected;
  wait_for_line(*cluster, candidate, R"(info leader in term (\d+))", deadline(10s), &elected);
  CHECK(std::stoull(elected[1]) >= std::stoull(next_term));
  // Started again inside the supervision: its start line (with the term it kept), then the supervisor's word.
  const std::size_t restarted = wait_for_line(*cluster, death, "^coraft: started replica " + victim, deadline(10s));
  const std::size_t again =
      wait_for_line(*cluster, death, fmt::format(R"(\[{0}\] info {0} listening on .*; term [1-9])", victim), deadline(10s));
  CHECK(again < restarted);

  // Chat in terminals 2 and 3, the leader killed from a fourth mid-conversation.
  Shell third(dir, env), fourth(dir, env);
  auto has = [](PtyChild& terminal, const std::string& text) {
    return [&terminal, text] {
      return std::find(terminal.lines().begin(), terminal.lines().end(), text) != terminal.lines().end();
    };
  };
  auto joined = [](PtyChild& terminal, const std::string& nick) {
    return [&terminal, nick] {
      return std::any_of(terminal.lines().begin(), terminal.lines().end(), [&](const std::string& line) {
        return line.rfind("kvchat: joined room lobby as " + nick, 0) == 0;
      });
    };
  };
  PtyChild& alice = second.terminal();
  PtyChild& bob = third.terminal();
  const std::size_t alice_from = alice.lines().size(), bob_from = bob.lines().size();
  second.start(alice_command, deadline(10s));
  REQUIRE(alice.read_until(joined(alice, "alice"), deadline(10s)));
  alice.type("hello, anyone here?");
  REQUIRE(alice.read_until(has(alice, "[0] alice: hello, anyone here?"), deadline(10s)));
  third.start(bob_command, deadline(10s));
  REQUIRE(bob.read_until(joined(bob, "bob"), deadline(10s)));
  REQUIRE(bob.read_until(has(bob, "[0] alice: hello, anyone here?"), deadline(10s)));
  const Step& kill_leader = blocks[1][0];
  const Step& start_again = blocks[1][2];
  run_step(fourth, kill_leader, deadline(30s), cluster.get());
  bob.type("hi alice");
  alice.type("still here");
  for (PtyChild* chat : {&alice, &bob}) {
    REQUIRE(chat->read_until(
        [chat, from = chat == &alice ? alice_from : bob_from] {
          const std::regex message(R"(^\[2\] )");
          return find_line(chat->lines(), from, message) != std::string::npos;
        },
        deadline(20s)));
  }
  run_step(fourth, start_again, deadline(30s), cluster.get());
  alice.type("/quit");
  bob.type("/quit");
  REQUIRE(alice.read_until(has(alice, "kvchat: left room lobby"), deadline(10s)));
  REQUIRE(bob.read_until(has(bob, "kvchat: left room lobby"), deadline(10s)));
  auto transcript = [](const PtyChild& chat, std::size_t from) {
    std::vector<std::string> lines;
    for (std::size_t i = from; i < chat.lines().size(); ++i)
      if (std::regex_search(chat.lines()[i], std::regex(R"(^\[\d+\] )"))) lines.push_back(chat.lines()[i]);
    return lines;
  };
  // Both saw the same three messages in the same slots, each once; who got slot 1 depends on who was first.
  const auto alice_saw = transcript(alice, alice_from);
  CHECK(alice_saw == transcript(bob, bob_from));
  REQUIRE(alice_saw.size() == 3);
  CHECK(alice_saw[0] == "[0] alice: hello, anyone here?");
  const std::set<std::string> later{alice_saw[1].substr(4), alice_saw[2].substr(4)};
  CHECK(later == std::set<std::string>{"bob: hi alice", "alice: still here"});
  CHECK(alice_saw[1].rfind("[1] ", 0) == 0);
  CHECK(alice_saw[2].rfind("[2] ", 0) == 0);

  // Replace 0002 by a new replica: it starts, joins, votes; 0002 is removed and stops with status 77.
  const std::size_t before_replace = cluster->lines().size();
  run_block(fourth, blocks[2], deadline(60s), cluster.get());
  wait_for_line(*cluster, before_replace, R"(\[0003\] info 0003 listening on .*; term \d+)", deadline(10s));
  wait_for_line(*cluster, before_replace, R"(^coraft: replica 0002 exited with status 77 \(it was removed from the cluster\)$)",
                deadline(15s));

  // Ctrl-C: every replica stops cleanly and nothing is left running; a client then says nothing listens.
  stop_cluster(*cluster, dir, deadline(30s));
  run_block(second, blocks[3], deadline(30s));

  // `make run` again: the data is still there, on the replicas the cluster now has.
  cluster = start_cluster();
  const std::size_t banner_again = wait_for_line(
      *cluster, 0, R"(^coraft: a 3-replica cluster is running on 127\.0\.0\.1 ports \d+, \d+, \d+ )", deadline(60s));
  for (const std::string id : {"0000", "0001", "0003"}) {
    CHECK(wait_for_line(*cluster, 0, fmt::format(R"(\[{0}\] info {0} listening on )", id), deadline(1s)) < banner_again);
  }
  wait_for_line(*cluster, banner_again, R"(^Press Ctrl-C to stop every replica\.$)", deadline(5s));
  run_block(second, blocks[4], deadline(30s));
  stop_cluster(*cluster, dir, deadline(30s));

  cluster.reset();
  std::filesystem::remove_all(dir);
}
