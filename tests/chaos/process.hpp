#pragma once
// A child process in its own process group, killed (the whole group) when the object goes away, and also when this
// process dies: the child asks the kernel for SIGKILL on its parent's death. No exit path leaves orphans.

#include <cstdint>
#include <string>
#include <sys/types.h>
#include <vector>

namespace coraft::chaos {

class ChildProcess {
 public:
  // Starts `argv[0]` with `argv`; stdout and stderr go to `log_path` (or /dev/null when empty).
  ChildProcess(const std::vector<std::string>& argv, const std::string& log_path);
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  bool running();                 // reaps it if it has exited
  void signal(int sig);           // to the whole group
  void kill_and_wait(int sig);    // signal, then wait (escalating to SIGKILL after a second)
  int exit_status() const { return status_; }
  bool exited_by_itself() const { return exited_ && !killed_; }

 private:
  pid_t pid_ = -1;
  bool exited_ = false;
  bool killed_ = false;
  int status_ = 0;
};

// A loopback port nobody is bound to right now (the kernel's pick), for tests that start real processes.
std::uint16_t free_udp_port();
std::uint16_t free_tcp_port();

}  // namespace coraft::chaos
