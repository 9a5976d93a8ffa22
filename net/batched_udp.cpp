#include "net/batched_udp.hpp"

#include "net/codec.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <sys/socket.h>
#include <sys/uio.h>

namespace coraft::net {
namespace {

// sendmmsg takes at most UIO_MAXIOV (1024) headers per call; bursts are far smaller.
constexpr std::size_t kMaxPerSend = 256;

bool would_block(int error) { return error == EAGAIN || error == EWOULDBLOCK; }

}  // namespace

BatchReceiver::BatchReceiver(std::size_t slots, std::size_t max_bytes)
    : slots_(std::max<std::size_t>(slots, 1)),
      max_bytes_(max_bytes),
      buffers_(slots_ * max_bytes_),
      sources_(slots_),
      iovecs_(slots_),
      headers_(slots_) {
  for (std::size_t i = 0; i < slots_; ++i) {
    iovecs_[i] = iovec{buffers_.data() + i * max_bytes_, max_bytes_};
    std::memset(&headers_[i], 0, sizeof(mmsghdr));
    headers_[i].msg_hdr.msg_iov = &iovecs_[i];
    headers_[i].msg_hdr.msg_iovlen = 1;
    headers_[i].msg_hdr.msg_name = sources_[i].data();
  }
}

BatchReceiver::~BatchReceiver() = default;

BatchReceiver::Taken BatchReceiver::receive(int fd, const Each& each) {
  // The kernel shortens each address length it fills in: room for any address again.
  for (std::size_t i = 0; i < slots_; ++i) {
    headers_[i].msg_hdr.msg_namelen = static_cast<socklen_t>(sources_[i].capacity());
  }
  Taken taken;
  int n;
  do {
    n = ::recvmmsg(fd, headers_.data(), static_cast<unsigned>(slots_), MSG_DONTWAIT, nullptr);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    if (!would_block(errno)) taken.error = std::error_code(errno, std::system_category());
    return taken;
  }
  taken.datagrams = static_cast<std::size_t>(n);
  taken.full = taken.datagrams == slots_;
  for (std::size_t i = 0; i < taken.datagrams; ++i) {
    sources_[i].resize(headers_[i].msg_hdr.msg_namelen);
    const std::size_t length = std::min<std::size_t>(headers_[i].msg_len, max_bytes_);
    each(std::string_view(buffers_.data() + i * max_bytes_, length), sources_[i]);
  }
  return taken;
}

void BatchSender::add(std::string datagram, const asio::ip::udp::endpoint& to) {
  datagrams_.push_back(std::move(datagram));
  targets_.push_back(to);
}

std::size_t BatchSender::flush(int fd, const Refused& refused) {
  const std::size_t total = datagrams_.size();
  iovecs_.resize(total);
  headers_.resize(total);
  for (std::size_t i = 0; i < total; ++i) {
    iovecs_[i] = iovec{datagrams_[i].data(), datagrams_[i].size()};
    std::memset(&headers_[i], 0, sizeof(mmsghdr));
    headers_[i].msg_hdr.msg_iov = &iovecs_[i];
    headers_[i].msg_hdr.msg_iovlen = 1;
    headers_[i].msg_hdr.msg_name = targets_[i].data();
    headers_[i].msg_hdr.msg_namelen = static_cast<socklen_t>(targets_[i].size());
  }
  std::size_t sent = 0;
  for (std::size_t next = 0; next < total;) {
    const std::size_t count = std::min(total - next, kMaxPerSend);
    const int n = ::sendmmsg(fd, headers_.data() + next, static_cast<unsigned>(count), 0);
    if (n > 0) {
      sent += static_cast<std::size_t>(n);
      next += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    // sendmmsg reports an error only for the first datagram of a call (later ones end the call early, and the next
    // call starts with them): that one is refused, the others get their own try.
    refused(datagrams_[next], targets_[next], std::error_code(n < 0 ? errno : EIO, std::system_category()));
    ++next;
  }
  datagrams_.clear();
  targets_.clear();
  return sent;
}

std::size_t LineBundles::limit_for(const asio::ip::udp::endpoint& to) {
  // Loopback carries a datagram of any size whole. Elsewhere one Ethernet frame's worth: a datagram split into IP
  // fragments is lost whole when any fragment is, and every message in it with it.
  return to.address().is_loopback() ? kMaxDatagramBytes : 1400;
}

void LineBundles::add(std::string message, const asio::ip::udp::endpoint& to) {
  auto open = std::find_if(open_.begin(), open_.end(), [&](const auto& bundle) { return bundle.first == to; });
  if (open != open_.end() && open->second.size() + 1 + message.size() <= limit_for(to)) {
    open->second += '\n';
    open->second += message;
    return;
  }
  if (open != open_.end()) {
    closed_.push_back(std::move(*open));  // full: it goes as it is, and this message starts the next
    open->second = std::move(message);
    return;
  }
  open_.emplace_back(to, std::move(message));
}

}  // namespace coraft::net
