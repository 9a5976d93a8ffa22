#include "chat/chat_terminal.hpp"

#include "actors/logger.hpp"
#include "actors/spawn.hpp"
#include "chat/chat_room.hpp"
#include "net/client.hpp"
#include "net/cluster_config.hpp"
#include "version/version.hpp"
#include "net/exit_codes.hpp"

#include <asio/experimental/as_tuple.hpp>
#include <asio/io_context.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <asio/signal_set.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <random>
#include <unistd.h>


namespace coraft::chat {

std::string default_nick() {
  const char* user = std::getenv("USER");
  if (user && !chat::invalid_nick(user)) return user;
  return "anon";
}

namespace {

using Options = ChatOptions;



// A descriptor for reading stdin that asio may switch to non-blocking mode. A terminal is opened afresh: stdin and
// stdout of a terminal usually share one open file, and non-blocking writes to stdout would fail when the terminal
// is slow. Anything else is duplicated (main() restores its flags on the way out). -1 when stdin is closed.
int open_input() {
  if (isatty(STDIN_FILENO)) {
    if (const char* name = ttyname(STDIN_FILENO)) {
      const int fd = open(name, O_RDONLY | O_NOCTTY | O_CLOEXEC);
      if (fd >= 0) return fd;
    }
  }
  return fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 0);
}

class Chat {
 public:
  Chat(asio::io_context& io, const std::map<raft::NodeId, asio::ip::udp::endpoint>& replicas, Options options,
       std::uint64_t seed)
      : io_(io),
        options_(std::move(options)),
        settings_{.deadline = std::chrono::milliseconds(static_cast<std::int64_t>(options_.timeout_s * 1000)),
                  .token = options_.token,
                  .give_up_when_refused_for = net::kInteractiveRefusalGrace},
        reader_(io, replicas, actors::Rng(seed), settings_),
        writer_(io, replicas, actors::Rng(seed ^ 0x9e3779b97f4a7c15ULL), settings_),
        reader_wait_(io) {
    for (const auto& [id, endpoint] : replicas) replica_ids_.push_back(id);
  }

  int exit_code() const { return exit_code_; }

  // Joins (prints the history), starts the writer, then polls for new messages until the writer leaves.
  asio::awaitable<void> read_room() {
    if (co_await show_new() == Progress::kNoAnswer && next_unseen_ == 0) {
      if (std::all_of(replica_ids_.begin(), replica_ids_.end(), [this](raft::NodeId id) { return reader_.refusing(id); })) {
        fmt::print(stderr, "kvchat: no replica is running: nothing listens at {} (`make run` starts a local "
                           "cluster)\n", reader_.addresses(replica_ids_));
      } else {
        fmt::print(stderr, "kvchat: the cluster in {} did not answer within {} s (is a majority of {} running?)\n",
                   options_.cluster_path, options_.timeout_s, reader_.addresses(replica_ids_));
      }
      stop(exit_code::kNoAnswer);
      co_return;
    }
    fmt::print(stderr, "kvchat: joined room {} as {} ({} earlier messages). Type a message and press Enter; /quit "
                       "leaves, /help lists the commands.\n",
               options_.room, options_.nick, next_unseen_);
    joined_ = true;
    actors::spawn(io_.get_executor(), "kvchat-writer", [this]() -> asio::awaitable<void> { co_await read_input(); });
    const auto period = std::chrono::milliseconds(options_.poll_ms);
    for (;;) {
      if (!wake_pending_) {
        reader_wait_.expires_after(period);
        co_await reader_wait_.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
      }
      wake_pending_ = false;
      // Read the flag before reading the room: the writer's last message is stored before it sets the flag, so a
      // pass that starts after the flag is set is sure to show it.
      const bool leaving = leaving_;
      co_await show_new();
      if (leaving) {
        fmt::print(stderr, "kvchat: left room {}\n", options_.room);
        stop(exit_code::kDone);
        co_return;
      }
    }
  }

 private:
  enum class Progress : std::uint8_t { kCaughtUp, kNoAnswer };

  // Prints every message from the first unseen slot up to the first empty one.
  asio::awaitable<Progress> show_new() {
    for (;;) {
      const chat::Fetched fetched = co_await chat::fetch(reader_, options_.room, next_unseen_);
      switch (fetched.status) {
        case chat::FetchStatus::kMessage:
          fmt::print("{}\n", chat::format_line(next_unseen_, fetched.message));
          std::fflush(stdout);
          ++next_unseen_;
          break;
        case chat::FetchStatus::kEmpty:
          if (reader_warned_) fmt::print(stderr, "kvchat: the cluster answers again\n");
          reader_warned_ = false;
          co_return Progress::kCaughtUp;
        case chat::FetchStatus::kUnavailable:
          if (!reader_warned_ && joined_) {
            fmt::print(stderr, "kvchat: the cluster is not answering{}; still trying\n",
                       fetched.reason.empty() ? "" : " (" + fetched.reason + ")");
          }
          reader_warned_ = true;
          co_return Progress::kNoAnswer;
      }
    }
  }

  // Reads stdin line by line and acts on each line before reading the next.
  asio::awaitable<void> read_input() {
    const int fd = open_input();
    if (fd >= 0) {
      asio::posix::stream_descriptor input(io_, fd);
      std::array<char, 4096> chunk;
      std::string pending;
      bool more = true;
      while (more) {
        auto [error, bytes] = co_await input.async_read_some(asio::buffer(chunk),
                                                             asio::experimental::as_tuple(asio::use_awaitable));
        pending.append(chunk.data(), bytes);
        if (error) pending += '\n';  // end of input: a last line without a line break still counts
        std::size_t end;
        while (more && (end = pending.find('\n')) != std::string::npos) {
          std::string line = pending.substr(0, end);
          pending.erase(0, end + 1);
          more = co_await handle_line(line);
        }
        if (error) more = false;
      }
    }
    leaving_ = true;
    wake_reader();
  }

  // False when the line asks to leave.
  asio::awaitable<bool> handle_line(std::string& line) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) co_return true;
    if (line == "/quit") co_return false;
    if (line == "/help") {
      fmt::print(stderr, "kvchat: type a line and press Enter to post it. /quit (or end of input) leaves; a line "
                         "starting with // posts it with one / removed.\n");
      co_return true;
    }
    if (line.starts_with("//")) {
      line.erase(0, 1);
    } else if (line.starts_with("/")) {
      fmt::print(stderr, "kvchat: unknown command {}; /help lists them\n", line);
      co_return true;
    }
    co_await send(line);
    co_return true;
  }

  // Posts one message, retrying while the cluster does not answer (safe: see chat::post).
  asio::awaitable<void> send(const std::string& text) {
    chat::Outgoing out{chat::ChatMessage{options_.nick, text, fmt::format("{:016x}-{}", writer_.session(), ++sent_)},
                       std::max(first_free_known_, next_unseen_)};
    bool warned = false;
    for (;;) {
      const chat::PostResult result = co_await chat::post(writer_, options_.room, out);
      switch (result.status) {
        case chat::PostStatus::kPosted:
          if (warned) fmt::print(stderr, "kvchat: sent\n");
          first_free_known_ = std::max(first_free_known_, result.slot + 1);
          wake_reader();
          co_return;
        case chat::PostStatus::kRejected:
          fmt::print(stderr, "kvchat: message not sent: {}\n", result.reason);
          co_return;
        case chat::PostStatus::kUnavailable:
          if (!warned) fmt::print(stderr, "kvchat: the cluster is not answering; still sending your message\n");
          warned = true;
          break;
      }
    }
  }

  void wake_reader() {
    wake_pending_ = true;
    reader_wait_.cancel();
  }

  void stop(int exit_code) {
    exit_code_ = exit_code;
    io_.stop();
  }

  asio::io_context& io_;
  const Options options_;
  std::vector<raft::NodeId> replica_ids_;
  const net::ClientSettings settings_;
  net::Client reader_;
  net::Client writer_;
  asio::steady_timer reader_wait_;
  bool wake_pending_ = false;    // the writer posted since the reader last looked
  bool leaving_ = false;         // the writer is done: one more look at the room, then stop
  bool joined_ = false;          // the history is shown (before, read_room reports a silent cluster itself)
  bool reader_warned_ = false;   // the reader said the cluster is not answering, and has not seen it answer since
  std::uint64_t next_unseen_ = 0;       // every slot below is taken and printed
  std::uint64_t first_free_known_ = 0;  // every slot below is taken (this writer posted at first_free_known_ - 1)
  std::uint64_t sent_ = 0;
  int exit_code_ = exit_code::kDone;
};

}  // namespace

int run_chat(ChatOptions options) {
  for (const auto& problem : {chat::invalid_room(options.room), chat::invalid_nick(options.nick)}) {
    if (problem) {
      fmt::print(stderr, "kvchat: {}\n", *problem);
      return exit_code::kUsage;
    }
  }

  actors::configure_logging(std::nullopt);
  asio::io_context io(1);
  net::ClusterAccess cluster;
  try {
    cluster = net::open_cluster(io, options.cluster_path);
  } catch (const net::ConfigError& e) {
    fmt::print(stderr, "kvchat: {}\n", e.what());
    return net::exit_code_for(e);
  }
  const auto& replicas = cluster.replicas;
  options.token = cluster.token;

  const int stdin_flags = fcntl(STDIN_FILENO, F_GETFL);
  const std::uint64_t seed = std::random_device{}() ^
                             static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  int code = exit_code::kDone;
  {
    Chat chat(io, replicas, options, seed);
    asio::signal_set signals(io, SIGINT, SIGTERM, SIGHUP);
    signals.async_wait([&io](const asio::error_code& error, int) {
      if (!error) io.stop();
    });
    actors::spawn(io.get_executor(), "kvchat-reader", [&chat]() -> asio::awaitable<void> { co_await chat.read_room(); });
    try {
      io.run();
      code = chat.exit_code();
    } catch (const std::exception& e) {
      fmt::print(stderr, "kvchat: {}\n", e.what());
      code = exit_code::kInternal;
    }
  }
  if (stdin_flags >= 0) fcntl(STDIN_FILENO, F_SETFL, stdin_flags);
  return code;
}

}  // namespace coraft::chat
