#pragma once
// A program on its own pseudo-terminal, as a person would run it (canonical mode, echo off so the output is only what
// it prints): type lines into it, read what it prints with a deadline, press Ctrl-C. Killed, with its process group,
// when the object goes away, and when the test process dies. The chat and tour tests drive programs with it.

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <functional>
#include <optional>
#include <poll.h>
#include <pty.h>
#include <stdexcept>
#include <string>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>
#include <utility>
#include <vector>

namespace coraft::testing {

class PtyChild {
 public:
  using Clock = std::chrono::steady_clock;
  struct Options {
    std::string stderr_path;  // empty: stderr goes to the terminal too
    std::string cwd;          // empty: this process's
    std::vector<std::pair<std::string, std::string>> env;  // set in the program's environment
  };

  PtyChild(const std::vector<std::string>& argv, const Options& options) {
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    const pid_t parent = getpid();
    pid_ = forkpty(&master_, nullptr, nullptr, nullptr);
    if (pid_ < 0) throw std::runtime_error(fmt::format("forkpty failed: {}", std::strerror(errno)));
    if (pid_ == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (getppid() != parent) _exit(127);
      if (!options.stderr_path.empty()) {
        const int fd = open(options.stderr_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) dup2(fd, STDERR_FILENO);
      }
      if (!options.cwd.empty() && chdir(options.cwd.c_str()) != 0) _exit(127);
      for (const auto& [name, value] : options.env) setenv(name.c_str(), value.c_str(), 1);
      execv(args[0], args.data());
      _exit(127);
    }
    // Terminal settings made through the master apply to the program's side. Done before anything is typed, so no
    // typed line is ever echoed into the output.
    termios settings{};
    REQUIRE(tcgetattr(master_, &settings) == 0);
    settings.c_lflag &= ~static_cast<tcflag_t>(ECHO | ECHONL);
    REQUIRE(tcsetattr(master_, TCSANOW, &settings) == 0);
  }
  ~PtyChild() {
    if (!exited_) {
      ::kill(-pid_, SIGKILL);  // the program is a session leader: its group is its pid
      ::kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    close(master_);
  }
  PtyChild(const PtyChild&) = delete;
  PtyChild& operator=(const PtyChild&) = delete;

  void type(const std::string& line) {
    const std::string bytes = line + "\n";
    REQUIRE(write(master_, bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size()));
  }
  // Ctrl-C: the terminal sends SIGINT to its foreground process group.
  void interrupt() { REQUIRE(write(master_, "\x03", 1) == 1); }

  // Complete lines printed so far, without the terminal's carriage returns.
  const std::vector<std::string>& lines() const { return lines_; }

  // Reads output until `done()` holds or `deadline` passes (or the program's side closes); returns done().
  bool read_until(const std::function<bool()>& done, Clock::time_point deadline) {
    while (!done()) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      if (left <= 0 || closed_) return done();
      pollfd p{master_, POLLIN, 0};
      if (poll(&p, 1, static_cast<int>(left)) <= 0) continue;
      char chunk[4096];
      const ssize_t n = read(master_, chunk, sizeof chunk);
      if (n <= 0) {
        closed_ = true;  // EIO: every descriptor of the terminal's other side is closed
        continue;
      }
      pending_.append(chunk, static_cast<std::size_t>(n));
      for (std::size_t end; (end = pending_.find('\n')) != std::string::npos;) {
        std::string line = pending_.substr(0, end);
        if (!line.empty() && line.back() == '\r') line.pop_back();
        lines_.push_back(line);
        pending_.erase(0, end + 1);
      }
    }
    return true;
  }

  // Reads what is left and reaps the program; its wait status, or nullopt if it is still running at `deadline`.
  std::optional<int> wait_exit(Clock::time_point deadline) {
    read_until([this] { return closed_; }, deadline);
    while (Clock::now() < deadline) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        exited_ = true;
        return status;
      }
      pollfd none{-1, 0, 0};
      poll(&none, 0, 5);  // the terminal is closed; only the exit status is missing, and it is a moment away
    }
    return std::nullopt;
  }

 private:
  pid_t pid_ = -1;
  int master_ = -1;
  bool closed_ = false;
  bool exited_ = false;
  std::string pending_;
  std::vector<std::string> lines_;
};

}  // namespace coraft::testing
