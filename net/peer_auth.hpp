#pragma once
// Peer authentication in cluster mode: every replica-to-replica datagram is sealed under the cluster's secret key so
// that nobody without the key can forge Raft traffic, and each sealed datagram is accepted at most once.
//
// Wire format (a sealed datagram; 48 bytes more than the JSON body, all integers big-endian):
//   offset  0  4 bytes  magic "CRA1" (coraft authenticated, version 1; never the start of a JSON datagram)
//   offset  4  2 bytes  sender id
//   offset  6  2 bytes  receiver id
//   offset  8  8 bytes  counter (see below)
//   offset 16  n bytes  body: the cluster-mode JSON datagram, unchanged (its src/dst must equal the ids above)
//   last 32 bytes       tag = HMAC-SHA256(key, every byte before the tag)
// The tag covers the ids and the counter, so a datagram cannot be re-addressed, re-attributed or renumbered.
// Client traffic is never sealed (clients hold no peer key; see client_token_file), and course mode seals nothing:
// the course simulator relays the classic unauthenticated datagrams and cannot sign.
//
// Why HMAC-SHA256 from OpenSSL: Debian's libssl-dev is already a build dependency (cmake/install-deps.sh), HMAC-SHA256
// is the most widely reviewed MAC there is, and OpenSSL 3's EVP_MAC lets a context keep the keyed inner and outer
// hash states, so a datagram costs its SHA-256 passes without redoing the key setup: about half the cost of copying
// a keyed context per datagram for small ones (tests/tools/authbench measures it).
// libsodium's crypto_auth would do as well but would be one more dependency for no gain here.
//
// Counters and the replay window. A sender's counter is max(previous + 1, its wall clock in microseconds): strictly
// increasing, and close to the wall clock whenever it sends fewer than a million datagrams a second. Every replica
// keeps, per other member, the newest counter accepted and a bitmap of the ~65 ms (ReplayWindow::kWidth counter
// values, i.e. microseconds) below it, as IPsec and WireGuard do: a counter seen before is dropped as replayed, one
// below the window as too old. Tying counters to the wall clock (rather than counting from 0, or from the start-up
// time plus one per datagram, which falls ever further behind the clock) is what makes two cases safe without
// writing anything to disk:
//   - a sender restarts: its new counters start at its clock, above everything it sent before;
//   - a receiver restarts and has forgotten every window: it refuses counters from before its own start-up time
//     minus kStartupSlackUs, so datagrams recorded earlier than that cannot be replayed to the new incarnation.
// Limits, stated plainly:
//   - Datagrams recorded in the kStartupSlackUs before a receiver restarts, and not yet superseded by a newer one
//     from the same sender, can be replayed to it once. Raft tolerates duplicated and delayed messages, so a replay
//     is harmless to safety; the window is defence in depth, the MAC is the protection.
//   - Clock skew: when a sender's clock is behind a restarted receiver's by more than kStartupSlackUs, the receiver
//     drops that sender's datagrams as too old for the difference. A sender whose clock was stepped back, or stepped
//     forward and then back, and which then restarts, is dropped by its peers until its clock passes its old
//     counters; restarting the receivers also clears it. Both are logged as "too old" with the gap. Run NTP.
//   - Reordering: a datagram overtaken by one sent more than kWidth microseconds (~65 ms) later is dropped as too
//     old; Raft retransmits.
//   - There is no confidentiality: the body travels in the clear. Nor is the key rotated online: change key_file on
//     every replica and restart them.
// Pure: no sockets, no clocks (time is a parameter). One thread.

#include "raft/types.hpp"

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

struct evp_mac_st;
struct evp_mac_ctx_st;

namespace coraft::net {

inline constexpr std::string_view kSealMagic = "CRA1";
inline constexpr std::size_t kSealHeaderBytes = 16;
inline constexpr std::size_t kSealTagBytes = 32;
inline constexpr std::size_t kSealOverheadBytes = kSealHeaderBytes + kSealTagBytes;
inline constexpr std::uint64_t kStartupSlackUs = 5'000'000;

// HMAC-SHA256 with the key set up once: each mac() re-initialises the context from the stored keyed state.
class HmacSha256 {
 public:
  using Tag = std::array<unsigned char, kSealTagBytes>;
  explicit HmacSha256(std::string_view key);
  ~HmacSha256();
  HmacSha256(const HmacSha256&) = delete;
  HmacSha256& operator=(const HmacSha256&) = delete;

  Tag mac(std::string_view data);

 private:
  evp_mac_st* mac_ = nullptr;
  evp_mac_ctx_st* ctx_ = nullptr;
};

// One sender's replay window at one receiver.
class ReplayWindow {
 public:
  static constexpr std::size_t kWords = 1024;
  // Counters up to this far below the newest accepted one are remembered (one word short of the ring, so advancing
  // clears whole words, as WireGuard does).
  static constexpr std::uint64_t kWidth = (kWords - 1) * 64;

  enum class Verdict : std::uint8_t { kFresh, kReplayed, kTooOld };

  // Counters at or below `floor` are too old: this receiver cannot know whether it saw them before it started.
  explicit ReplayWindow(std::uint64_t floor);

  Verdict check(std::uint64_t counter) const;
  // Records `counter` as seen; call only after check() said kFresh and the tag verified.
  void accept(std::uint64_t counter);
  std::uint64_t newest() const { return newest_; }

 private:
  std::uint64_t floor_;
  std::uint64_t newest_;  // invariant: >= floor_; every accepted counter is <= newest_
  // A ring of bitmaps: bit (c % 64) of word (c / 64) % kWords is set iff counter c was accepted, for every c in
  // (newest_ - kWidth, newest_].
  std::vector<std::uint64_t> seen_;
};

enum class AuthFailure : std::uint8_t {
  kUnauthenticated,  // not sealed, truncated, or the tag does not verify (wrong key, or altered in transit)
  kNotMember,        // authentic, but the sender is not another member, or it is addressed to another replica
  kReplayed,         // authentic, and this counter was accepted before
  kTooOld,           // authentic, but below the replay window (or from before this replica started)
};
std::string_view auth_failure_name(AuthFailure failure);

struct OpenedDatagram {
  raft::NodeId sender;
  std::uint64_t counter = 0;
  std::string_view body;  // points into the datagram given to open()
};

class PeerAuth {
 public:
  // `members`: every replica of the cluster (self may be included). `now_us`: the wall clock now, in microseconds
  // since the Unix epoch; it sets the floor of every replay window (see above).
  PeerAuth(std::string_view key, raft::NodeId self, const std::vector<raft::NodeId>& members, std::uint64_t now_us);

  static bool is_sealed(std::string_view datagram) { return datagram.substr(0, kSealMagic.size()) == kSealMagic; }
  // A member joined the cluster: its datagrams are accepted from now on (from its counter at `now_us` less the
  // start-up slack, as for members at start).
  void admit(raft::NodeId member, std::uint64_t now_us);

  // Seals `body` for `to` into `out` (replacing its contents, keeping its capacity). `now_us`: the wall clock.
  void seal(std::string_view body, raft::NodeId to, std::uint64_t now_us, std::string& out);
  // Checks the tag, then the ids, then the window; a datagram that passes is recorded and never accepted again.
  std::variant<OpenedDatagram, AuthFailure> open(std::string_view datagram);

  // The newest counter accepted from `sender` (for log messages about too-old datagrams); 0 if not a member.
  std::uint64_t newest_from(raft::NodeId sender) const;
  // A sealed datagram's header fields, read without verifying anything (for log messages). `sealed` must be
  // is_sealed() and at least kSealOverheadBytes long.
  static raft::NodeId sender_of(std::string_view sealed);
  static raft::NodeId receiver_of(std::string_view sealed);
  static std::uint64_t counter_of(std::string_view sealed);

 private:
  HmacSha256 hmac_;
  raft::NodeId self_;
  std::uint64_t counter_ = 0;  // the last counter this replica sealed
  std::map<raft::NodeId, ReplayWindow> windows_;  // one per other member
};

}  // namespace coraft::net
