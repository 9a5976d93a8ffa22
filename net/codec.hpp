#pragma once
// The wire format: one JSON object per UDP datagram, with the course simulator's envelope (src, dst, leader, type;
// ids as 4 hex digits) on every message. Client messages follow the course protocol (get/put with MID; ok, fail,
// redirect), extended with del, cas, status and optional exactly-once sessions. Replica-to-replica messages are ours:
//   rv   RequestVote / PreVote      {term, lli, llt, pre}
//   rvr  RequestVoteReply           {term, granted, pre}
//   ae   AppendEntries              {term, prev, pterm, commit, sent, entries: [[term, data] | [term] (no-op)]}
//   aer  AppendEntriesReply         {term, ok, match, rprev, ci, ct, sent}
//   is   InstallSnapshot            {term, idx, iterm, off, total, done, data (base64)}
//   isr  InstallSnapshotReply       {term, idx, next, done}
// Cluster mode stamps replica-to-replica messages with "cid", the cluster's identity (16 hex digits; absent: 0, a
// cluster never restored from a backup; see raft/backup_file.hpp). A replica drops messages of another cluster.
// Wire format: these messages are wire format 1. A replica that speaks another format says so with "wire": N on every
// datagram (absent: 1); decode() drops a datagram of another format before reading anything else of it.
// In cluster mode with a key_file, replica-to-replica datagrams travel sealed (net/peer_auth.hpp: a binary header and
// an HMAC-SHA256 tag around this same JSON), and client requests may carry "token" (client_token_file). Course mode
// keeps the classic unauthenticated format: the course simulator cannot sign.
// Pure: no sockets. Decoding never throws: anything malformed comes back as a DropReason.

#include "actors/client_protocol.hpp"
#include "raft/messages.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace coraft::net {

inline constexpr std::size_t kMaxDatagramBytes = 65507;       // what one UDP datagram can carry
inline constexpr std::size_t kMaxAppendDatagramBytes = 60000;  // AppendEntries batches are split below this
// A replica's `fail` reason for a client request without the cluster's client token.
inline constexpr std::string_view kUnauthorizedReason = "unauthorized";

enum class DropReason : std::uint8_t {
  kOversized,     // longer than a datagram can be
  kMalformedJson, // not JSON (including a truncated datagram)
  kBadEnvelope,   // not an object, or src/dst/leader/type missing or not 4-hex ids
  kUnknownType,   // a type we do not speak
  kBadField,      // a known type with a missing or mistyped field
  kWireFormat,    // "wire" names a format other than kWireFormat: another version of coraft
};
inline constexpr int kDropReasons = 6;
inline constexpr std::uint64_t kWireFormat = 1;
// The "wire" a datagram declares (1 when it declares none); nullopt when it is not a JSON object.
std::optional<std::uint64_t> wire_format_of(std::string_view datagram);
std::string_view drop_reason_name(DropReason reason);

struct Envelope {
  raft::NodeId src;
  raft::NodeId dst;
  raft::NodeId leader;
  std::uint64_t cluster_id = 0;  // "cid": replica-to-replica messages only
};

struct PeerDatagram {  // replica -> replica
  Envelope envelope;
  raft::PeerMessage message;
};
struct RequestDatagram {  // client -> replica
  Envelope envelope;
  actors::ClientRequest request;
  std::string token;  // "token": the client token (hex), when the cluster requires one; stays at the UDP bridge
};
struct ReplyDatagram {  // replica -> client
  Envelope envelope;
  actors::ClientReply reply;
};
struct HelloDatagram {
  Envelope envelope;
};
using Datagram = std::variant<PeerDatagram, RequestDatagram, ReplyDatagram, HelloDatagram>;

std::variant<Datagram, DropReason> decode(std::string_view datagram);

// One datagram per message, except AppendEntries, which is split into consecutive AppendEntries (each a valid
// message of its own) so that none exceeds `max_bytes`.
// `cluster_id`: stamped as "cid" when not 0.
std::vector<std::string> encode_peer(const raft::PeerMessage& message, raft::NodeId leader,
                                     std::size_t max_bytes = kMaxAppendDatagramBytes, std::uint64_t cluster_id = 0);

std::string encode_reply(const actors::ClientReply& reply, raft::NodeId src);
// `token`: the cluster's client token (hex), when it requires one (client_token_file); empty: none.
std::string encode_request(const actors::ClientRequest& request, raft::NodeId dst, raft::NodeId leader,
                           std::string_view token = {});
std::string encode_hello(raft::NodeId self);

std::string base64_encode(std::string_view bytes);
std::optional<std::string> base64_decode(std::string_view text);

// Appends `text` as a JSON string literal (quotes included); kv::json_quoted_size() tells its length.
void append_json_string(std::string& out, std::string_view text);

// Numbers as text, for the codec's hot paths (every request, reply and append goes through them): what
// fmt::format_to writes for "{}", "{:0Nx}" and "{:0NX}", without parsing a format string each time.
void append_number(std::string& out, std::uint64_t value);
void append_number(std::string& out, std::int64_t value);
void append_hex(std::string& out, std::uint64_t value, int width, bool upper = false);  // zero-padded to width

}  // namespace coraft::net
