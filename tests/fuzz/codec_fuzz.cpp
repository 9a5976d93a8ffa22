// Fuzz target: the datagram codec (net/codec, net/json_reader), as a replica's UDP bridge and a client see what
// arrives: any bytes, in either mode's messages (the course simulator's get/put/hello and our replies; cluster mode's
// del/cas/status, sessions and replica-to-replica messages). The whole input is one datagram.
// Properties: decode never throws or crashes; what decodes re-encodes to datagrams that decode again and re-encode
// to the same bytes; the strict JSON reader accepts exactly what nlohmann accepts (below its depth limit); commands
// inside AppendEntries and snapshot chunks in InstallSnapshot survive their own round trips.

#include "fuzz_target.hpp"

#include "kv/command.hpp"
#include "net/codec.hpp"
#include "net/json_reader.hpp"
#include "raft/overloaded.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <optional>
#include <string_view>

using namespace coraft;

namespace {

std::vector<std::string> encode_again(const net::Datagram& datagram) {
  return std::visit(
      Overloaded{
          [](const net::PeerDatagram& d) { return net::encode_peer(d.message, d.envelope.leader); },
          [](const net::RequestDatagram& d) {
            return std::vector<std::string>{net::encode_request(d.request, d.envelope.dst, d.envelope.leader)};
          },
          [](const net::ReplyDatagram& d) { return std::vector<std::string>{net::encode_reply(d.reply, d.envelope.src)}; },
          [](const net::HelloDatagram& d) { return std::vector<std::string>{net::encode_hello(d.envelope.src)}; },
      },
      datagram);
}

void check_contents(const net::Datagram& datagram) {
  const auto* peer = std::get_if<net::PeerDatagram>(&datagram);
  if (!peer) return;
  (void)raft::describe(peer->message);
  if (const auto* ae = std::get_if<raft::AppendEntries>(&peer->message.payload)) {
    for (const raft::EntryPtr& e : ae->entries) {
      if (e->kind != raft::EntryKind::kCommand) continue;
      if (auto command = kv::decode(e->data)) FUZZ_CHECK(kv::decode(kv::encode(*command)) == command);
    }
  } else if (const auto* is = std::get_if<raft::InstallSnapshot>(&peer->message.payload)) {
    FUZZ_CHECK(net::base64_decode(net::base64_encode(is->chunk)) == is->chunk);
  }
}

// Nesting depth by brackets, ignoring those inside strings (an upper bound is all that is needed).
int max_depth(std::string_view text) {
  int depth = 0, deepest = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      deepest = std::max(deepest, ++depth);
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return deepest;
}

// Whether nlohmann takes `text` for JSON; nullopt when it cannot tell: it stops at the first number beyond a double's
// range ("number overflow", out_of_range.406), a limit of its own, not JSON's.
std::optional<bool> nlohmann_accepts(std::string_view text) {
  try {
    return !nlohmann::json::parse(text).is_discarded();  // throws if refused
  } catch (const nlohmann::json::out_of_range& e) {
    if (e.id == 406) return std::nullopt;
    return false;
  } catch (const nlohmann::json::parse_error&) {
    return false;
  }
}

}  // namespace

CORAFT_FUZZ_TARGET(codec) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  // The strict reader and nlohmann agree on what is JSON, where nlohmann is strict too: it skips a UTF-8 byte-order
  // mark, takes a NUL byte for the end of the input (ignoring whatever follows), and has no depth limit.
  if (size <= 4096 && max_depth(text) < 32 && !text.starts_with("\xEF\xBB\xBF") &&
      text.find('\0') == std::string_view::npos) {
    net::JsonReader reader(text);
    const bool strict = reader.skip() && reader.at_end();
    const std::optional<bool> reference = nlohmann_accepts(text);
    if (reference) FUZZ_CHECK(strict == *reference);
  }

  const auto decoded = net::decode(text);
  const auto* datagram = std::get_if<net::Datagram>(&decoded);
  if (!datagram) {
    (void)net::drop_reason_name(std::get<net::DropReason>(decoded));
    return 0;
  }
  check_contents(*datagram);

  // Canonical form: encoding what was decoded gives datagrams that decode to the same message (same bytes again).
  for (const std::string& once : encode_again(*datagram)) {
    if (once.size() > net::kMaxDatagramBytes) continue;  // defaults filled in (e.g. "expected":null) can add bytes
    const auto again = net::decode(once);
    const auto* datagram2 = std::get_if<net::Datagram>(&again);
    FUZZ_CHECK(datagram2 != nullptr);
    FUZZ_CHECK(datagram2->index() == datagram->index());
    const std::vector<std::string> twice = encode_again(*datagram2);
    FUZZ_CHECK(twice.size() == 1);
    FUZZ_CHECK(twice.front() == once);
  }
  return 0;
}
