// authbench: what peer authentication costs per datagram (net/peer_auth.hpp), next to what decoding one costs.
//   authbench [--ms 300]
// For typical peer datagrams (a heartbeat, a reply, AppendEntries of 1, 16 and 60 KB) it prints ns per datagram for
// sealing, for sealing plus opening (sign + verify + replay window: the cost a datagram adds across the cluster), and,
// to justify the keyed-context design, for an HMAC that copies a keyed context per message (EVP_MAC_CTX_dup) and for
// OpenSSL's one-shot HMAC(), which redoes the key schedule each time.

#include "net/codec.hpp"
#include "net/command_line.hpp"
#include "net/peer_auth.hpp"
#include "ns_per_call.hpp"

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/params.h>

using namespace coraft;

namespace {

std::string append_entries(std::size_t payload_bytes) {
  raft::AppendEntries ae{7, 1000, 7, {}, 999, 123456};
  raft::Index index = 1000;
  std::size_t bytes = 0;
  while (bytes < payload_bytes) {
    const std::size_t n = std::min<std::size_t>(200, payload_bytes - bytes);
    ae.entries.push_back(std::make_shared<raft::Entry>(raft::Entry{7, ++index, raft::EntryKind::kCommand,
                                                                   std::string(n, 'v')}));
    bytes += n;
  }
  return net::encode_peer({raft::NodeId{0}, raft::NodeId{1}, ae}, raft::NodeId{0})[0];
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"authbench: the cost of sealing and opening peer datagrams.\n  authbench [--ms MS]"};
  app.option_defaults()->always_capture_default();
  int ms = 300;
  app.add_option("--ms", ms, "Milliseconds per measurement")->check(CLI::PositiveNumber);
  app.footer(exit_code::help_footer({{exit_code::kDone, "measured"}, {exit_code::kUsage, "a bad command line"}}));
  if (auto code = exit_code::parse_command_line(app, argc, argv)) return *code;

  const std::string key(32, 'k');
  const raft::NodeId a{0}, b{1};
  const std::vector<raft::NodeId> members{a, b};
  struct Case {
    const char* name;
    std::string body;
  };
  const std::vector<Case> cases = {
      {"heartbeat (ae, no entries)", append_entries(0)},
      {"reply (aer)", net::encode_peer({b, a, raft::AppendEntriesReply{7, true, 1000, 0, 0, 0, 123456}}, a)[0]},
      {"ae, 1 KB of entries", append_entries(1024)},
      {"ae, 16 KB of entries", append_entries(16 * 1024)},
      {"ae, 60 KB of entries", append_entries(58 * 1024)},
  };

  EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  EVP_MAC_CTX* keyed = EVP_MAC_CTX_new(mac);
  char digest[] = "SHA256";
  const OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                               OSSL_PARAM_construct_end()};
  EVP_MAC_init(keyed, reinterpret_cast<const unsigned char*>(key.data()), key.size(), params);

  fmt::print("{:<28} {:>7} {:>10} {:>12} {:>10} {:>12} {:>10}\n", "datagram", "bytes", "seal ns", "seal+open ns",
             "dup ns", "one-shot ns", "decode ns");
  std::uint64_t now = 1'700'000'000'000'000;
  std::size_t sink = 0;
  for (const Case& c : cases) {
    net::PeerAuth sender(key, a, members, now), receiver(key, b, members, now);
    std::string sealed;
    const double seal_ns = bench::ns_per_call(ms, [&] { sender.seal(c.body, b, ++now, sealed); });
    const double round_trip_ns = bench::ns_per_call(ms, [&] {
      sender.seal(c.body, b, ++now, sealed);
      auto opened = receiver.open(sealed);
      if (!std::holds_alternative<net::OpenedDatagram>(opened)) throw std::runtime_error("a datagram did not open");
    });
    const double dup_ns = bench::ns_per_call(ms, [&] {
      EVP_MAC_CTX* ctx = EVP_MAC_CTX_dup(keyed);
      unsigned char tag[32];
      std::size_t length = 0;
      EVP_MAC_update(ctx, reinterpret_cast<const unsigned char*>(c.body.data()), c.body.size());
      EVP_MAC_final(ctx, tag, &length, sizeof tag);
      EVP_MAC_CTX_free(ctx);
      sink += tag[0];
    });
    const double one_shot_ns = bench::ns_per_call(ms, [&] {
      unsigned char tag[32];
      unsigned int length = 0;
      HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(c.body.data()), c.body.size(), tag, &length);
      sink += tag[0];
    });
    const double decode_ns = bench::ns_per_call(ms, [&] { sink += net::decode(c.body).index(); });
    fmt::print("{:<28} {:>7} {:>10.0f} {:>12.0f} {:>10.0f} {:>12.0f} {:>10.0f}\n", c.name, c.body.size(), seal_ns,
               round_trip_ns, dup_ns, one_shot_ns, decode_ns);
  }
  EVP_MAC_CTX_free(keyed);
  EVP_MAC_free(mac);
  return sink == 42 ? 1 : 0;  // keep the results alive
}
