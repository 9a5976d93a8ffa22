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

// Loopback ports for tests that start real processes: `count` consecutive ports, free for both UDP and TCP, that no
// other test running on this machine is handed until this process exits. They come from outside the kernel's ephemeral
// range: a port the kernel picked for us would be free to hand to any client socket bound to port 0 (by this test or
// one running beside it) between our check and the replica's bind, and a replica that then cannot bind leaves the
// test with a cluster one member short. A lock file per port (flock, released when this process dies) keeps two
// tests from choosing the same port; the ports stay reserved while replicas are restarted on them.
std::uint16_t reserve_test_ports(int count);
inline std::uint16_t free_udp_port() { return reserve_test_ports(1); }
inline std::uint16_t free_tcp_port() { return reserve_test_ports(1); }

}  // namespace coraft::chaos
