// kvchat: a terminal chat room (the session: examples/chat/chat_terminal.hpp) kept in a coraft cluster (chat_room.hpp says how a room is stored).
//   kvchat --cluster cluster.json --room lobby --nick alice
// Joining prints the room's history; from then on every message anyone posts appears on stdout as "[n] nick: text",
// in the same order for everyone. Type a line and press Enter to post it; /quit or the end of input leaves, once what
// was typed before is posted and shown. Notices go to stderr, so stdout is the transcript. When the leader dies,
// posting and reading carry on with the next one: nothing is lost or doubled.
// Without --cluster it uses data/local-cluster/cluster.json, the file `make run` writes.
// Exit codes (net/exit_codes.hpp): 0 left the room (also on SIGINT, SIGTERM, SIGHUP); 2 the cluster did not answer on
// joining; 64 bad arguments; 66 no cluster file; 70 an internal error; 78 the cluster file is invalid.
//
// Two coroutines share one thread. The reader prints the next unseen slots, then waits for the poll period or for
// the writer to say it posted something. The writer reads lines from stdin and posts them one at a time. Each has its
// own Client, because a Client runs one operation at a time.

#include "chat/chat_terminal.hpp"
#include "net/command_line.hpp"
#include "net/exit_codes.hpp"
#include "version/version.hpp"

#include <CLI/CLI.hpp>

using namespace coraft;

int main(int argc, char** argv) {
  CLI::App app{"kvchat: a terminal chat room kept in a coraft cluster. Type a line to post it, /quit to leave.\n"
               "  kvchat [--cluster FILE] [--room NAME] [--nick NAME]"};
  chat::ChatOptions options;
  options.nick = chat::default_nick();
  app.option_defaults()->always_capture_default();
  app.add_option("--cluster", options.cluster_path, "The cluster file (as given to kvstore --config; `make run` "
                                                    "writes the default)");
  app.add_option("--room", options.room, "The room to join");
  app.add_option("--nick", options.nick, "Your name in the room (default: $USER)");
  app.add_option("--timeout", options.timeout_s, "Seconds to wait for the cluster before saying it does not answer")
      ->check(CLI::PositiveNumber);
  app.add_option("--poll-ms", options.poll_ms, "Look for new messages this often, in milliseconds")
      ->check(CLI::Range(10, 60000))
      ->capture_default_str();
  app.set_version_flag("--version", version_line("kvchat"));
  app.footer(exit_code::help_footer({
      {exit_code::kDone, "left the room (/quit, end of input, SIGINT, SIGTERM or SIGHUP)"},
      {exit_code::kNoAnswer, "the cluster did not answer on joining, or no replica is running"},
      {exit_code::kUsage, "a bad command line (also: a room or nick it cannot use)"},
      {exit_code::kNoInput, "the cluster file does not exist or cannot be read"},
      {exit_code::kInternal, "an unexpected failure"},
      {exit_code::kConfig, "the cluster file, or the client token file it names, is invalid"},
  }));
  if (auto code = exit_code::parse_command_line(app, argc, argv)) return *code;
  return chat::run_chat(std::move(options));
}
