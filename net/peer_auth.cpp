#include "net/peer_auth.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <algorithm>
#include <stdexcept>

namespace coraft::net {
namespace {

void put_u16(std::string& out, std::uint16_t v) {
  out += static_cast<char>(v >> 8);
  out += static_cast<char>(v & 0xFF);
}

void put_u64(std::string& out, std::uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out += static_cast<char>((v >> shift) & 0xFF);
}

std::uint64_t get_be(std::string_view bytes, std::size_t offset, std::size_t count) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < count; ++i) v = (v << 8) | static_cast<unsigned char>(bytes[offset + i]);
  return v;
}

}  // namespace

// ---- HmacSha256 ----

HmacSha256::HmacSha256(std::string_view key) {
  mac_ = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  if (mac_) ctx_ = EVP_MAC_CTX_new(mac_);
  char digest[] = "SHA256";
  const OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                               OSSL_PARAM_construct_end()};
  if (!ctx_ || EVP_MAC_init(ctx_, reinterpret_cast<const unsigned char*>(key.data()), key.size(), params) != 1) {
    EVP_MAC_CTX_free(ctx_);
    EVP_MAC_free(mac_);
    throw std::runtime_error("OpenSSL cannot set up HMAC-SHA256");
  }
}

HmacSha256::~HmacSha256() {
  EVP_MAC_CTX_free(ctx_);
  EVP_MAC_free(mac_);
}

HmacSha256::Tag HmacSha256::mac(std::string_view data) {
  // A null key re-initialises from the keyed state kept since the constructor: no key schedule, no allocation.
  Tag tag{};
  std::size_t length = 0;
  if (EVP_MAC_init(ctx_, nullptr, 0, nullptr) != 1 ||
      EVP_MAC_update(ctx_, reinterpret_cast<const unsigned char*>(data.data()), data.size()) != 1 ||
      EVP_MAC_final(ctx_, tag.data(), &length, tag.size()) != 1 || length != tag.size()) {
    throw std::runtime_error("OpenSSL HMAC-SHA256 failed");
  }
  return tag;
}

// ---- ReplayWindow ----

ReplayWindow::ReplayWindow(std::uint64_t floor) : floor_(floor), newest_(floor), seen_(kWords, 0) {}

ReplayWindow::Verdict ReplayWindow::check(std::uint64_t counter) const {
  if (counter <= floor_) return Verdict::kTooOld;
  if (counter > newest_) return Verdict::kFresh;
  if (newest_ - counter >= kWidth) return Verdict::kTooOld;
  const std::uint64_t word = seen_[(counter / 64) % kWords];
  return (word >> (counter % 64)) & 1 ? Verdict::kReplayed : Verdict::kFresh;
}

void ReplayWindow::accept(std::uint64_t counter) {
  if (counter > newest_) {
    // The words the window slides over now stand for newer counters: clear them (all of them after a long jump).
    const std::uint64_t from = newest_ / 64, to = counter / 64;
    const std::uint64_t words = std::min<std::uint64_t>(to - from, kWords);
    for (std::uint64_t i = 1; i <= words; ++i) seen_[(from + i) % kWords] = 0;
    newest_ = counter;
  }
  seen_[(counter / 64) % kWords] |= std::uint64_t{1} << (counter % 64);
}

// ---- PeerAuth ----

std::string_view auth_failure_name(AuthFailure failure) {
  switch (failure) {
    case AuthFailure::kUnauthenticated: return "unauthenticated";
    case AuthFailure::kNotMember: return "not_member";
    case AuthFailure::kReplayed: return "replayed";
    case AuthFailure::kTooOld: return "too_old";
  }
  return "?";
}

PeerAuth::PeerAuth(std::string_view key, raft::NodeId self, const std::vector<raft::NodeId>& members,
                   std::uint64_t now_us)
    : hmac_(key), self_(self) {
  const std::uint64_t floor = now_us > kStartupSlackUs ? now_us - kStartupSlackUs : 0;
  for (raft::NodeId member : members)
    if (member != self) windows_.emplace(member, ReplayWindow(floor));
}

void PeerAuth::admit(raft::NodeId member, std::uint64_t now_us) {
  if (member == self_ || windows_.contains(member)) return;
  windows_.emplace(member, ReplayWindow(now_us > kStartupSlackUs ? now_us - kStartupSlackUs : 0));
}

void PeerAuth::seal(std::string_view body, raft::NodeId to, std::uint64_t now_us, std::string& out) {
  counter_ = std::max(counter_ + 1, now_us);
  out.clear();
  out.reserve(kSealOverheadBytes + body.size());
  out += kSealMagic;
  put_u16(out, self_.value);
  put_u16(out, to.value);
  put_u64(out, counter_);
  out += body;
  const HmacSha256::Tag tag = hmac_.mac(out);
  out.append(reinterpret_cast<const char*>(tag.data()), tag.size());
}

std::variant<OpenedDatagram, AuthFailure> PeerAuth::open(std::string_view datagram) {
  if (datagram.size() < kSealOverheadBytes || !is_sealed(datagram)) return AuthFailure::kUnauthenticated;
  // The tag first: ids and counters of a datagram that does not verify mean nothing, so every other verdict below is
  // about authentic datagrams only.
  const std::string_view covered = datagram.substr(0, datagram.size() - kSealTagBytes);
  const HmacSha256::Tag expected = hmac_.mac(covered);
  if (CRYPTO_memcmp(expected.data(), datagram.data() + covered.size(), kSealTagBytes) != 0) {
    return AuthFailure::kUnauthenticated;
  }
  const raft::NodeId sender = sender_of(datagram), receiver = receiver_of(datagram);
  const std::uint64_t counter = counter_of(datagram);
  auto window = windows_.find(sender);
  if (receiver != self_ || window == windows_.end()) return AuthFailure::kNotMember;
  switch (window->second.check(counter)) {
    case ReplayWindow::Verdict::kReplayed: return AuthFailure::kReplayed;
    case ReplayWindow::Verdict::kTooOld: return AuthFailure::kTooOld;
    case ReplayWindow::Verdict::kFresh: break;
  }
  window->second.accept(counter);
  return OpenedDatagram{sender, counter, covered.substr(kSealHeaderBytes)};
}

std::uint64_t PeerAuth::newest_from(raft::NodeId sender) const {
  auto window = windows_.find(sender);
  return window == windows_.end() ? 0 : window->second.newest();
}

raft::NodeId PeerAuth::sender_of(std::string_view sealed) {
  return raft::NodeId{static_cast<std::uint16_t>(get_be(sealed, 4, 2))};
}

raft::NodeId PeerAuth::receiver_of(std::string_view sealed) {
  return raft::NodeId{static_cast<std::uint16_t>(get_be(sealed, 6, 2))};
}

std::uint64_t PeerAuth::counter_of(std::string_view sealed) { return get_be(sealed, 8, 8); }

}  // namespace coraft::net
