#include "process.hpp"

#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/ip/udp.hpp>
#include <fmt/format.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <sys/file.h>
#include <stdexcept>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace coraft::chaos {

ChildProcess::ChildProcess(const std::vector<std::string>& argv, const std::string& log_path) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t parent = getpid();
  pid_ = fork();
  if (pid_ < 0) throw std::runtime_error(fmt::format("fork failed: {}", std::strerror(errno)));
  if (pid_ == 0) {
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);  // the parent died before prctl took effect
    const int fd = open(log_path.empty() ? "/dev/null" : log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      dup2(fd, STDOUT_FILENO);
      dup2(fd, STDERR_FILENO);
      close(fd);
    }
    execv(args[0], args.data());
    _exit(127);
  }
  setpgid(pid_, pid_);  // also from the parent, so the group exists before anyone signals it
}

ChildProcess::~ChildProcess() {
  if (!exited_) kill_and_wait(SIGKILL);
}

bool ChildProcess::running() {
  if (exited_) return false;
  int status = 0;
  const pid_t r = waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    exited_ = true;
    status_ = status;
    return false;
  }
  return true;
}

void ChildProcess::signal(int sig) {
  if (exited_) return;
  if (sig == SIGKILL || sig == SIGTERM) killed_ = true;
  ::kill(-pid_, sig);
}

void ChildProcess::kill_and_wait(int sig) {
  if (exited_) return;
  signal(sig);
  if (sig == SIGSTOP) return;
  ::kill(-pid_, SIGCONT);  // a stopped process cannot act on SIGTERM
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(1);
  while (running()) {
    if (std::chrono::steady_clock::now() > give_up) {
      ::kill(-pid_, SIGKILL);
      waitpid(pid_, &status_, 0);
      exited_ = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

namespace {

// The ports tests may use: the larger of the spans below and above the kernel's ephemeral range
// (net.ipv4.ip_local_port_range, 32768-60999 by default), from 10000 up. A machine whose ephemeral range leaves neither
// span usable gets 10000-60999 and only the locks' protection.
std::pair<int, int> test_port_span() {
  std::ifstream range("/proc/sys/net/ipv4/ip_local_port_range");
  int low = 32768, high = 60999;
  if (!(range >> low >> high) || low > high) low = 32768, high = 60999;
  const std::pair<int, int> below{10000, low - 1}, above{std::max(10000, high + 1), 65535};
  const auto width = [](const std::pair<int, int>& span) { return span.second - span.first; };
  const auto& wider = width(below) >= width(above) ? below : above;
  return width(wider) >= 1000 ? wider : std::pair<int, int>{10000, 60999};
}

bool bindable(std::uint16_t port) {
  asio::io_context io;
  asio::error_code error;
  const auto address = asio::ip::make_address("127.0.0.1");
  asio::ip::udp::socket udp(io);
  udp.open(asio::ip::udp::v4(), error);
  if (!error) udp.bind({address, port}, error);
  if (error) return false;
  asio::ip::tcp::acceptor tcp(io);
  tcp.open(asio::ip::tcp::v4(), error);
  if (!error) tcp.bind({address, port}, error);
  return !error;
}

// Takes the lock file of `port`; the descriptor stays open (and the lock held) until this process exits.
bool lock_port(const std::filesystem::path& folder, std::uint16_t port, std::vector<int>& held) {
  const int fd = ::open((folder / fmt::format("{}.lock", port)).c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0666);
  if (fd < 0) return false;
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd);
    return false;
  }
  held.push_back(fd);
  return true;
}

}  // namespace

std::uint16_t reserve_test_ports(int count) {
  static std::mutex mutex;
  const std::lock_guard lock(mutex);
  const auto folder = std::filesystem::temp_directory_path() / "coraft-test-ports";
  std::error_code ignored;
  std::filesystem::create_directories(folder, ignored);
  // Shared by every user's tests on this machine, as /tmp is.
  std::filesystem::permissions(folder, std::filesystem::perms::all | std::filesystem::perms::sticky_bit, ignored);

  const auto [low, last] = test_port_span();
  const int high = last - count + 1;
  static std::mt19937 pick(std::random_device{}());
  std::uniform_int_distribution<int> first_port(low, high);
  for (int attempt = 0; attempt < 1000; ++attempt) {
    const auto base = static_cast<std::uint16_t>(first_port(pick));
    std::vector<int> held;
    bool ok = true;
    for (int i = 0; i < count && ok; ++i) {
      const auto port = static_cast<std::uint16_t>(base + i);
      ok = lock_port(folder, port, held) && bindable(port);
    }
    if (ok) return base;  // the descriptors in `held` are deliberately left open
    for (int fd : held) ::close(fd);
  }
  throw std::runtime_error(fmt::format("no {} free consecutive loopback port(s) between {} and {}", count, low, high));
}

}  // namespace coraft::chaos
