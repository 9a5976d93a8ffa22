#pragma once
// Datagrams in batches: recvmmsg and sendmmsg take or give many datagrams in one system call. On the virtual
// machines we measure on, a system call costs about a microsecond (getppid: ~950 ns), more than a small datagram's
// trip through loopback; a leader under load receives and answers its clients' datagrams in bursts.
//   BatchReceiver: reads what a non-blocking socket holds, up to `slots` datagrams per call.
//   BatchSender: queues datagrams while a burst is handled, then sends them all, in order.
// Both work on the socket's native handle; nothing here blocks.

#include <asio/ip/udp.hpp>

#include <algorithm>
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <sys/socket.h>
#include <sys/uio.h>
#include <system_error>
#include <vector>

namespace coraft::net {

class BatchReceiver {
 public:
  // Each datagram gets `max_bytes` of buffer; a longer one arrives cut to that length (callers pass one byte more
  // than they accept, so that what was cut is seen as too long).
  BatchReceiver(std::size_t slots, std::size_t max_bytes);
  ~BatchReceiver();
  BatchReceiver(const BatchReceiver&) = delete;
  BatchReceiver& operator=(const BatchReceiver&) = delete;

  using Each = std::function<void(std::string_view datagram, const asio::ip::udp::endpoint& from)>;
  struct Taken {
    std::size_t datagrams = 0;  // 0 with no error: the socket was empty
    std::error_code error;      // other than "would block"
    bool full = false;          // every slot was used: more may be waiting
  };
  // One recvmmsg; `each` runs for every datagram taken, in arrival order (the views last until the next receive).
  Taken receive(int fd, const Each& each);

 private:
  std::size_t slots_, max_bytes_;
  std::vector<char> buffers_;
  std::vector<asio::ip::udp::endpoint> sources_;
  std::vector<iovec> iovecs_;
  std::vector<mmsghdr> headers_;
};

class BatchSender {
 public:
  void add(std::string datagram, const asio::ip::udp::endpoint& to);
  bool empty() const { return datagrams_.empty(); }

  using Refused =
      std::function<void(std::string_view datagram, const asio::ip::udp::endpoint& to, std::error_code error)>;
  // Sends everything added, in the order added, and forgets it. A datagram the socket refuses (its buffer is full,
  // the address is unreachable) is reported to `refused` and skipped; the rest still go. Returns how many went.
  std::size_t flush(int fd, const Refused& refused);

 private:
  std::vector<std::string> datagrams_;
  std::vector<asio::ip::udp::endpoint> targets_;
  std::vector<iovec> iovecs_;
  std::vector<mmsghdr> headers_;
};

// Messages bound for one socket packed into as few datagrams as fit, one message per line (JSON holds no raw
// newline). A leader's replies to a load generator's sessions sharing a socket, and those sessions' requests to the
// leader, come dozens at a time; each in a datagram of its own costs the sender a loopback delivery in `sendmmsg`
// and the receiver a datagram to take in. Only for a peer that said it reads them so (ARCHITECTURE.md: Clients).
class LineBundles {
 public:
  void add(std::string message, const asio::ip::udp::endpoint& to);
  bool empty() const { return open_.empty() && closed_.empty(); }
  // Hands over every datagram, each destination's in the order its messages came, and starts afresh.
  template <class Send>
  void drain(Send send) {
    for (auto& [to, datagram] : closed_) send(std::move(datagram), to);
    for (auto& [to, datagram] : open_) send(std::move(datagram), to);
    closed_.clear();
    open_.clear();
  }
  static std::size_t limit_for(const asio::ip::udp::endpoint& to);

  // The receiving side: each message of a datagram, bundled or not, in order (empty lines skipped).
  template <class Take>
  static void for_each(std::string_view datagram, Take take) {
    while (!datagram.empty()) {
      const std::size_t end = std::min(datagram.find('\n'), datagram.size());
      if (end != 0) take(datagram.substr(0, end));
      datagram.remove_prefix(std::min(end + 1, datagram.size()));
    }
  }

 private:
  std::vector<std::pair<asio::ip::udp::endpoint, std::string>> open_, closed_;
};

}  // namespace coraft::net
