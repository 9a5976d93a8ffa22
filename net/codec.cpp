#include "net/codec.hpp"

#include "net/json_reader.hpp"
#include "raft/overloaded.hpp"

#include <fmt/format.h>

#include <charconv>
#include <optional>

namespace coraft::net {
namespace {

// ---- writing ----

void append_id(std::string& out, std::string_view key, raft::NodeId id) {
  out += '"';
  out += key;
  out += "\":\"";
  append_hex(out, id.value, 4, true);
  out += '"';
}

void append_bool(std::string& out, bool value) { out += value ? "true" : "false"; }

// ,"name":number
template <typename Number>
void append_field(std::string& out, std::string_view name, Number value) {
  out += ",\"";
  out += name;
  out += "\":";
  if constexpr (std::is_same_v<Number, bool>) append_bool(out, value);
  else if constexpr (std::is_signed_v<Number>) append_number(out, static_cast<std::int64_t>(value));
  else append_number(out, static_cast<std::uint64_t>(value));
}

std::string envelope(raft::NodeId src, raft::NodeId dst, raft::NodeId leader, std::string_view type) {
  std::string out;
  out.reserve(128);
  out += '{';
  append_id(out, "src", src);
  out += ',';
  append_id(out, "dst", dst);
  out += ',';
  append_id(out, "leader", leader);
  out += ",\"type\":\"";
  out += type;
  out += '"';
  return out;
}

std::string_view kind_name(actors::RequestKind kind) {
  switch (kind) {
    case actors::RequestKind::kGet: return "get";
    case actors::RequestKind::kPut: return "put";
    case actors::RequestKind::kDelete: return "del";
    case actors::RequestKind::kCas: return "cas";
    case actors::RequestKind::kStatus: return "status";
    case actors::RequestKind::kAddLearner: return "member_add";
    case actors::RequestKind::kPromote: return "member_promote";
    case actors::RequestKind::kRemoveMember: return "member_remove";
    case actors::RequestKind::kReplaceMember: return "member_replace";
    case actors::RequestKind::kTransferLeader: return "transfer";
    case actors::RequestKind::kDeletePrefix: return "del_prefix";
    case actors::RequestKind::kBackup: return "backup";
  }
  return "?";
}

std::optional<kv::Status> parse_status(std::string_view name) {
  for (auto s : {kv::Status::kOk, kv::Status::kNotFound, kv::Status::kCasMismatch, kv::Status::kStaleSession})
    if (kv::status_name(s) == name) return s;
  return std::nullopt;
}

// ---- decoding ----

// Every field any datagram may carry, read in one pass over the object (fields may come in any order).
struct Fields {
  std::optional<std::string> src, dst, leader, type, mid, key, value, data, status, reason, token, cid, quiet;
  std::optional<std::string> expected;
  std::optional<std::uint64_t> term, lli, llt, prev, pterm, commit, match, rprev, ci, ct, idx, iterm, off, total, crc, next,
      session, seq, inc, bid, wire;
  std::optional<std::string> conf;
  std::optional<std::int64_t> sent, held;
  std::optional<bool> pre, granted, ok, done, xfer, bundle;
  bool has_entries = false;
  // (term, data, config?): no data is a no-op; a configuration entry's data is base64 and marked by a third element
  struct WireEntry {
    raft::Term term;
    std::optional<std::string> data;
    bool config;
  };
  std::vector<WireEntry> entries;
  std::optional<actors::ReplicaStatus> replica;
  bool bad = false;  // a known field had the wrong type
};

void read_string(JsonReader& in, std::optional<std::string>& out, bool& bad) {
  if (!in.is_string()) {
    bad = true;
    in.skip();
    return;
  }
  out.emplace();
  in.string(*out);
}

void read_uint(JsonReader& in, std::optional<std::uint64_t>& out, bool& bad) {
  std::int64_t signed_value = 0;
  std::uint64_t value = 0;
  if (in.is_string() || in.is_null()) {
    bad = true;
    in.skip();
  } else if (JsonReader probe = in; probe.uint(value)) {
    in = probe;
    out = value;
  } else if (JsonReader probe2 = in; probe2.int64(signed_value)) {
    in = probe2;
    bad = true;  // negative
  } else {
    bad = true;
    in.skip();
  }
}

void read_int(JsonReader& in, std::optional<std::int64_t>& out, bool& bad) {
  std::int64_t value = 0;
  if (JsonReader probe = in; probe.int64(value)) {
    in = probe;
    out = value;
  } else {
    bad = true;
    in.skip();
  }
}

void read_bool(JsonReader& in, std::optional<bool>& out, bool& bad) {
  bool value = false;
  if (JsonReader probe = in; probe.boolean(value)) {
    in = probe;
    out = value;
  } else {
    bad = true;
    in.skip();
  }
}

void read_entries(JsonReader& in, Fields& f) {
  f.has_entries = true;
  if (in.is_string() || in.is_null()) {
    f.bad = true;
    in.skip();
    return;
  }
  in.array([&] {
    std::optional<std::uint64_t> term, kind;
    std::optional<std::string> data;
    int position = 0;
    in.array([&] {
      if (position == 0) read_uint(in, term, f.bad);
      else if (position == 1) read_string(in, data, f.bad);
      else if (position == 2) read_uint(in, kind, f.bad);
      else {
        f.bad = true;
        in.skip();
      }
      ++position;
    });
    const bool config = kind == std::uint64_t{2};
    if (!term || (kind && !config) || (config && !data)) f.bad = true;
    else f.entries.push_back({*term, std::move(data), config});
  });
}

void read_replica(JsonReader& in, Fields& f) {
  actors::ReplicaStatus s;
  std::optional<std::string> role, leader;
  std::optional<std::uint64_t> term, commit, applied, last, keys, snapshot, config_index;
  std::optional<std::int64_t> contact;
  std::optional<std::string> metrics;
  in.object([&](std::string_view key) {
    if (key == "role") read_string(in, role, f.bad);
    else if (key == "leader") read_string(in, leader, f.bad);
    else if (key == "term") read_uint(in, term, f.bad);
    else if (key == "commit") read_uint(in, commit, f.bad);
    else if (key == "applied") read_uint(in, applied, f.bad);
    else if (key == "last_log") read_uint(in, last, f.bad);
    else if (key == "keys") read_uint(in, keys, f.bad);
    else if (key == "snapshot") read_uint(in, snapshot, f.bad);
    else if (key == "metrics") read_string(in, metrics, f.bad);
    else if (key == "config_index") read_uint(in, config_index, f.bad);
    else if (key == "members") {
      in.array([&] {
        std::optional<std::string> id_text, member_role, address;
        in.object([&](std::string_view field) {
          if (field == "id") read_string(in, id_text, f.bad);
          else if (field == "role") read_string(in, member_role, f.bad);
          else if (field == "address") read_string(in, address, f.bad);
          else in.skip();
        });
        auto id = id_text ? raft::NodeId::parse(*id_text) : std::nullopt;
        if (!id || !member_role || !address) {
          f.bad = true;
          return;
        }
        s.members.push_back(raft::Member{*id, std::move(*address), *member_role == "voter", 0});
        if (*member_role == "leaving") s.outgoing_voters.push_back(*id);
      });
    }
    else if (key == "last_leader_contact_ms") read_int(in, contact, f.bad);
    else if (key == "followers") {
      in.object([&](std::string_view id_text) {
        std::optional<std::uint64_t> match;
        read_uint(in, match, f.bad);
        auto id = raft::NodeId::parse(id_text);
        if (!id || !match) f.bad = true;
        else s.followers.push_back({*id, *match});
      });
    } else {
      in.skip();
    }
  });
  auto leader_id = leader ? raft::NodeId::parse(*leader) : std::nullopt;
  if (!role || !term || !leader_id || !commit || !applied || !last || !contact || !keys) {
    f.bad = true;
    return;
  }
  s.role = *role == "leader"          ? raft::Role::kLeader
           : *role == "candidate"     ? raft::Role::kCandidate
           : *role == "pre-candidate" ? raft::Role::kPreCandidate
                                      : raft::Role::kFollower;
  s.term = *term;
  s.leader = *leader_id;
  s.commit_index = *commit;
  s.applied_index = *applied;
  s.last_log_index = *last;
  s.last_leader_contact_ms = *contact;
  s.keys = *keys;
  s.snapshot_index = snapshot.value_or(0);
  s.membership_index = config_index.value_or(0);
  if (metrics) s.metrics = std::move(*metrics);
  f.replica = std::move(s);
}

void read_field(JsonReader& in, std::string_view key, Fields& f) {
  bool& bad = f.bad;
  if (key == "src") read_string(in, f.src, bad);
  else if (key == "dst") read_string(in, f.dst, bad);
  else if (key == "leader") read_string(in, f.leader, bad);
  else if (key == "type") read_string(in, f.type, bad);
  else if (key == "term") read_uint(in, f.term, bad);
  else if (key == "entries") read_entries(in, f);
  else if (key == "prev") read_uint(in, f.prev, bad);
  else if (key == "pterm") read_uint(in, f.pterm, bad);
  else if (key == "commit") read_uint(in, f.commit, bad);
  else if (key == "sent") read_int(in, f.sent, bad);
  else if (key == "held") read_int(in, f.held, bad);
  else if (key == "ok") read_bool(in, f.ok, bad);
  else if (key == "match") read_uint(in, f.match, bad);
  else if (key == "rprev") read_uint(in, f.rprev, bad);
  else if (key == "ci") read_uint(in, f.ci, bad);
  else if (key == "ct") read_uint(in, f.ct, bad);
  else if (key == "MID") read_string(in, f.mid, bad);
  else if (key == "key") read_string(in, f.key, bad);
  else if (key == "value") read_string(in, f.value, bad);
  else if (key == "status") read_string(in, f.status, bad);
  else if (key == "session") read_uint(in, f.session, bad);
  else if (key == "seq") read_uint(in, f.seq, bad);
  else if (key == "expected") {
    if (in.null()) f.expected.reset();
    else read_string(in, f.expected, bad);
  } else if (key == "lli") read_uint(in, f.lli, bad);
  else if (key == "llt") read_uint(in, f.llt, bad);
  else if (key == "pre") read_bool(in, f.pre, bad);
  else if (key == "granted") read_bool(in, f.granted, bad);
  else if (key == "idx") read_uint(in, f.idx, bad);
  else if (key == "iterm") read_uint(in, f.iterm, bad);
  else if (key == "off") read_uint(in, f.off, bad);
  else if (key == "total") read_uint(in, f.total, bad);
  else if (key == "crc") read_uint(in, f.crc, bad);
  else if (key == "inc") read_uint(in, f.inc, bad);
  else if (key == "xfer") read_bool(in, f.xfer, bad);
  else if (key == "conf") read_string(in, f.conf, bad);
  else if (key == "next") read_uint(in, f.next, bad);
  else if (key == "done") read_bool(in, f.done, bad);
  else if (key == "data") read_string(in, f.data, bad);
  else if (key == "reason") read_string(in, f.reason, bad);
  else if (key == "token") read_string(in, f.token, bad);
  else if (key == "replica") read_replica(in, f);
  else if (key == "cid") read_string(in, f.cid, bad);
  else if (key == "quiet") read_string(in, f.quiet, bad);
  else if (key == "bid") read_uint(in, f.bid, bad);
  else if (key == "wire") read_uint(in, f.wire, bad);
  else if (key == "bundle") read_bool(in, f.bundle, bad);
  else in.skip();
}

using Decoded = std::variant<Datagram, DropReason>;

Decoded decode_peer(Fields& f, const Envelope& env, std::string_view type) {
  raft::PeerMessage message{env.src, env.dst, {}, f.inc.value_or(0)};
  if (!f.term) return DropReason::kBadField;
  const raft::Term term = *f.term;
  if (type == "rv") {
    if (!f.lli || !f.llt || !f.pre) return DropReason::kBadField;
    message.payload = raft::RequestVote{term, *f.lli, *f.llt, *f.pre, f.xfer.value_or(false)};
  } else if (type == "tn") {
    message.payload = raft::TimeoutNow{term};
  } else if (type == "ref") {
    message.payload = raft::Refused{term, f.reason.value_or("")};
  } else if (type == "rvr") {
    if (!f.granted || !f.pre) return DropReason::kBadField;
    message.payload = raft::RequestVoteReply{term, *f.granted, *f.pre};
  } else if (type == "ae") {
    if (!f.prev || !f.pterm || !f.commit || !f.sent || !f.has_entries) return DropReason::kBadField;
    raft::AppendEntries ae{term, *f.prev, *f.pterm, {}, *f.commit, *f.sent};
    if (f.quiet) {  // ids of four hex digits, one after another
      if (f.quiet->size() % 4 != 0) return DropReason::kBadField;
      for (std::size_t at = 0; at < f.quiet->size(); at += 4) {
        auto id = raft::NodeId::parse(std::string_view(*f.quiet).substr(at, 4));
        if (!id) return DropReason::kBadField;
        ae.quiet.push_back(*id);
      }
    }
    ae.entries.reserve(f.entries.size());
    raft::Index index = *f.prev;
    for (auto& wire : f.entries) {
      auto entry = std::make_shared<raft::Entry>();
      entry->term = wire.term;
      entry->index = ++index;
      if (wire.config) {
        auto bytes = base64_decode(*wire.data);
        if (!bytes) return DropReason::kBadField;
        entry->kind = raft::EntryKind::kConfig;
        entry->data = std::move(*bytes);
      } else if (wire.data) {
        entry->kind = raft::EntryKind::kCommand;
        entry->data = std::move(*wire.data);
      } else {
        entry->kind = raft::EntryKind::kNoop;
      }
      ae.entries.push_back(std::move(entry));
    }
    message.payload = std::move(ae);
  } else if (type == "is") {
    if (!f.idx || !f.iterm || !f.off || !f.total || !f.crc || *f.crc > UINT32_MAX || !f.done || !f.data) {
      return DropReason::kBadField;
    }
    auto chunk = base64_decode(*f.data);
    if (!chunk) return DropReason::kBadField;
    std::optional<std::string> membership = f.conf ? base64_decode(*f.conf) : std::optional<std::string>("");
    if (!membership) return DropReason::kBadField;
    message.payload = raft::InstallSnapshot{term,     *f.idx, *f.iterm, *f.off, *f.total, static_cast<std::uint32_t>(*f.crc),
                                            std::move(*chunk), *f.done, std::move(*membership)};
  } else if (type == "isr") {
    if (!f.idx || !f.next || !f.done) return DropReason::kBadField;
    message.payload = raft::InstallSnapshotReply{term, *f.idx, *f.next, *f.done};
  } else {  // "aer"
    if (!f.ok || !f.match || !f.rprev || !f.ci || !f.ct || !f.sent) return DropReason::kBadField;
    if (f.held && *f.held < 0) return DropReason::kBadField;
    message.payload =
        raft::AppendEntriesReply{term, *f.ok, *f.match, *f.rprev, *f.ci, *f.ct, *f.sent, f.held.value_or(0)};
  }
  return Datagram{PeerDatagram{env, std::move(message)}};
}

Decoded decode_request(Fields& f, const Envelope& env, std::string_view type) {
  actors::ClientRequest r;
  r.client = env.src;
  r.reply_to.bundles = f.bundle.value_or(false);
  if (!f.mid) return DropReason::kBadField;
  r.mid = std::move(*f.mid);
  if (type == "status") {
    r.kind = actors::RequestKind::kStatus;
    return Datagram{RequestDatagram{env, std::move(r), f.token.value_or("")}};
  }
  if (type == "backup") {
    r.kind = actors::RequestKind::kBackup;
    r.backup_id = f.bid.value_or(0);
    r.offset = f.off.value_or(0);
    return Datagram{RequestDatagram{env, std::move(r), f.token.value_or("")}};
  }
  if (!f.key) return DropReason::kBadField;
  r.key = std::move(*f.key);
  if (type == "member_add" || type == "member_replace") {
    if (!f.value) return DropReason::kBadField;
    r.kind = type == "member_add" ? actors::RequestKind::kAddLearner : actors::RequestKind::kReplaceMember;
    r.value = std::move(*f.value);
    return Datagram{RequestDatagram{env, std::move(r), f.token.value_or("")}};
  }
  if (type == "member_promote" || type == "member_remove" || type == "transfer") {
    r.kind = type == "member_promote"  ? actors::RequestKind::kPromote
             : type == "member_remove" ? actors::RequestKind::kRemoveMember
                                       : actors::RequestKind::kTransferLeader;
    return Datagram{RequestDatagram{env, std::move(r), f.token.value_or("")}};
  }
  if (type == "get") {
    r.kind = actors::RequestKind::kGet;
  } else if (type == "put") {
    r.kind = actors::RequestKind::kPut;
    if (!f.value) return DropReason::kBadField;
    r.value = std::move(*f.value);
  } else if (type == "del" || type == "delete") {
    r.kind = actors::RequestKind::kDelete;
  } else if (type == "del_prefix") {
    r.kind = actors::RequestKind::kDeletePrefix;
  } else {  // cas
    r.kind = actors::RequestKind::kCas;
    if (!f.value) return DropReason::kBadField;
    r.value = std::move(*f.value);
    r.expected = std::move(f.expected);
  }
  if (f.session || f.seq) {
    if (!f.session || !f.seq) return DropReason::kBadField;
    r.session = kv::SessionRef{*f.session, *f.seq};
  }
  return Datagram{RequestDatagram{env, std::move(r), f.token.value_or("")}};
}

Decoded decode_reply(Fields& f, const Envelope& env, std::string_view type) {
  actors::ClientReply r;
  r.client = env.dst;
  r.leader = env.leader;
  if (!f.mid) return DropReason::kBadField;
  r.mid = std::move(*f.mid);
  r.kind = type == "ok" ? actors::ReplyKind::kOk : type == "fail" ? actors::ReplyKind::kFail : actors::ReplyKind::kRedirect;
  if (f.value) r.value = std::move(*f.value);
  if (f.status) {
    auto parsed = parse_status(*f.status);
    if (!parsed) return DropReason::kBadField;
    r.status = *parsed;
  }
  if (r.status == kv::Status::kNotFound) r.value.reset();
  if (f.reason) r.reason = std::move(*f.reason);
  if (f.replica) {
    r.replica_status = std::move(f.replica);
    r.replica_status->id = env.src;
  }
  if (f.bid) {
    if (!f.idx || !f.iterm || !f.total || !f.crc || !f.off || !f.data || *f.crc > 0xFFFFFFFFu) {
      return DropReason::kBadField;
    }
    auto bytes = base64_decode(*f.data);
    if (!bytes || *f.off > *f.total || bytes->size() > *f.total - *f.off) return DropReason::kBadField;
    r.backup = actors::BackupChunk{*f.bid, *f.idx, *f.iterm, *f.total, static_cast<std::uint32_t>(*f.crc), *f.off,
                                   std::move(*bytes)};
  }
  return Datagram{ReplyDatagram{env, std::move(r)}};
}

void append_entry(std::string& out, const raft::Entry& entry) {
  out += '[';
  append_number(out, entry.term);
  if (entry.kind == raft::EntryKind::kCommand) {
    out += ',';
    append_json_string(out, entry.data);
  } else if (entry.kind == raft::EntryKind::kConfig) {
    out += ",\"";
    out += base64_encode(entry.data);
    out += "\",2";
  }
  out += ']';
}

}  // namespace

std::string_view drop_reason_name(DropReason reason) {
  switch (reason) {
    case DropReason::kOversized: return "oversized";
    case DropReason::kMalformedJson: return "malformed_json";
    case DropReason::kBadEnvelope: return "bad_envelope";
    case DropReason::kUnknownType: return "unknown_type";
    case DropReason::kBadField: return "bad_field";
    case DropReason::kWireFormat: return "wire_format";
  }
  return "?";
}

std::optional<std::uint64_t> wire_format_of(std::string_view datagram) {
  std::optional<std::uint64_t> wire;
  bool bad = false;
  JsonReader in(datagram);
  if (!in.object([&](std::string_view key) {
        if (key == "wire") read_uint(in, wire, bad);
        else in.skip();
      })) {
    return std::nullopt;
  }
  return wire.value_or(kWireFormat);
}

std::variant<Datagram, DropReason> decode(std::string_view datagram) {
  if (datagram.size() > kMaxDatagramBytes) return DropReason::kOversized;
  Fields f;
  JsonReader in(datagram);
  if (!in.object([&](std::string_view key) { read_field(in, key, f); }) || !in.at_end()) {
    // Valid JSON of another shape is a bad envelope; anything else, malformed.
    JsonReader again(datagram);
    return again.skip() && again.at_end() ? DropReason::kBadEnvelope : DropReason::kMalformedJson;
  }
  auto id = [](const std::optional<std::string>& text) {
    return text ? raft::NodeId::parse(*text) : std::nullopt;
  };
  const auto src = id(f.src), dst = id(f.dst), leader = id(f.leader);
  if (f.wire.value_or(kWireFormat) != kWireFormat) return DropReason::kWireFormat;
  if (!src || !dst || !leader || !f.type) return DropReason::kBadEnvelope;
  Envelope env{*src, *dst, *leader};
  if (f.cid) {
    std::uint64_t cluster_id = 0;
    const auto [end, error] = std::from_chars(f.cid->data(), f.cid->data() + f.cid->size(), cluster_id, 16);
    if (error != std::errc{} || end != f.cid->data() + f.cid->size() || f.cid->size() != 16) {
      return DropReason::kBadEnvelope;
    }
    env.cluster_id = cluster_id;
  }
  const std::string& t = *f.type;
  const bool peer =
      t == "rv" || t == "rvr" || t == "ae" || t == "aer" || t == "is" || t == "isr" || t == "tn" || t == "ref";
  const bool request = t == "get" || t == "put" || t == "del" || t == "delete" || t == "cas" || t == "status" ||
                       t == "del_prefix" || t == "member_add" || t == "member_promote" || t == "member_remove" ||
                       t == "member_replace" || t == "transfer" || t == "backup";
  const bool reply = t == "ok" || t == "fail" || t == "redirect";
  if (t == "hello") return Datagram{HelloDatagram{env}};
  if (!peer && !request && !reply) return DropReason::kUnknownType;
  if (f.bad) return DropReason::kBadField;
  if (peer) return decode_peer(f, env, t);
  if (request) return decode_request(f, env, t);
  return decode_reply(f, env, t);
}

std::vector<std::string> encode_peer(const raft::PeerMessage& message, raft::NodeId leader, std::size_t max_bytes,
                                     std::uint64_t cluster_id) {
  std::vector<std::string> out;
  // The envelope of a replica's message, and (cluster mode) the identity of its data directory and of its cluster.
  auto envelope = [&](raft::NodeId from, raft::NodeId to, raft::NodeId stamped, std::string_view type) {
    std::string s = coraft::net::envelope(from, to, stamped, type);
    if (message.incarnation != 0) append_field(s, "inc", message.incarnation);
    if (cluster_id != 0) {
      s += ",\"cid\":\"";
      append_hex(s, cluster_id, 16);
      s += '"';
    }
    return s;
  };
  std::visit(
      Overloaded{
          [&](const raft::RequestVote& m) {
            std::string s = envelope(message.from, message.to, leader, "rv");
            fmt::format_to(std::back_inserter(s), ",\"term\":{},\"lli\":{},\"llt\":{},\"pre\":{}{}}}", m.term,
                           m.last_log_index, m.last_log_term, m.pre_vote, m.transfer ? ",\"xfer\":true" : "");
            out.push_back(std::move(s));
          },
          [&](const raft::RequestVoteReply& m) {
            std::string s = envelope(message.from, message.to, leader, "rvr");
            fmt::format_to(std::back_inserter(s), ",\"term\":{},\"granted\":{},\"pre\":{}}}", m.term, m.granted,
                           m.pre_vote);
            out.push_back(std::move(s));
          },
          [&](const raft::AppendEntriesReply& m) {
            std::string s = envelope(message.from, message.to, leader, "aer");
            append_field(s, "term", m.term);
            append_field(s, "ok", m.success);
            append_field(s, "match", m.match_index);
            append_field(s, "rprev", m.rejected_prev);
            append_field(s, "ci", m.conflict_index);
            append_field(s, "ct", m.conflict_term);
            append_field(s, "sent", m.sent_at_us);
            if (m.held_us != 0) append_field(s, "held", m.held_us);
            s += '}';
            out.push_back(std::move(s));
          },
          [&](const raft::InstallSnapshot& m) {
            std::string s = envelope(message.from, message.to, leader, "is");
            fmt::format_to(std::back_inserter(s),
                           ",\"term\":{},\"idx\":{},\"iterm\":{},\"off\":{},\"total\":{},\"crc\":{},\"done\":{},"
                           "\"data\":\"",
                           m.term, m.last_included_index, m.last_included_term, m.offset, m.total_bytes, m.checksum,
                           m.done);
            s += base64_encode(m.chunk);
            s += '"';
            if (!m.membership.empty()) s += ",\"conf\":\"" + base64_encode(m.membership) + '"';
            s += '}';
            out.push_back(std::move(s));
          },
          [&](const raft::TimeoutNow& m) {
            std::string s = envelope(message.from, message.to, leader, "tn");
            fmt::format_to(std::back_inserter(s), ",\"term\":{}}}", m.term);
            out.push_back(std::move(s));
          },
          [&](const raft::Refused& m) {
            std::string s = envelope(message.from, message.to, leader, "ref");
            fmt::format_to(std::back_inserter(s), ",\"term\":{},\"reason\":", m.term);
            append_json_string(s, m.reason);
            s += '}';
            out.push_back(std::move(s));
          },
          [&](const raft::InstallSnapshotReply& m) {
            std::string s = envelope(message.from, message.to, leader, "isr");
            fmt::format_to(std::back_inserter(s), ",\"term\":{},\"idx\":{},\"next\":{},\"done\":{}}}", m.term,
                           m.last_included_index, m.next_offset, m.done);
            out.push_back(std::move(s));
          },
          [&](const raft::AppendEntries& m) {
            // Split into consecutive AppendEntries that each fit: the k-th starts where the previous ended.
            std::size_t i = 0;
            raft::Index prev = m.prev_log_index;
            raft::Term prev_term = m.prev_log_term;
            do {
              std::string s = envelope(message.from, message.to, leader, "ae");
              append_field(s, "term", m.term);
              append_field(s, "prev", prev);
              append_field(s, "pterm", prev_term);
              append_field(s, "commit", m.leader_commit);
              append_field(s, "sent", m.sent_at_us);
              if (!m.quiet.empty()) {
                s += ",\"quiet\":\"";
                for (raft::NodeId id : m.quiet) s += id.str();
                s += '"';
              }
              s += ",\"entries\":[";
              std::size_t in_this = 0;
              for (; i < m.entries.size(); ++i) {
                const std::size_t before = s.size();
                if (in_this > 0) s += ',';
                append_entry(s, *m.entries[i]);
                if (in_this > 0 && s.size() + 2 > max_bytes) {
                  s.resize(before);
                  break;
                }
                ++in_this;
              }
              s += "]}";
              if (in_this > 0) {
                prev = m.entries[i - 1]->index;
                prev_term = m.entries[i - 1]->term;
              }
              out.push_back(std::move(s));
            } while (i < m.entries.size());
          },
      },
      message.payload);
  return out;
}

std::string encode_reply(const actors::ClientReply& reply, raft::NodeId src) {
  const std::string_view type = reply.kind == actors::ReplyKind::kOk     ? "ok"
                                : reply.kind == actors::ReplyKind::kFail ? "fail"
                                                                         : "redirect";
  std::string s = envelope(src, reply.client, reply.leader, type);
  s += ",\"MID\":";
  append_json_string(s, reply.mid);
  if (reply.kind == actors::ReplyKind::kOk && !reply.replica_status) {
    // The course protocol's get answer always has a value; a missing key reads as "" with status not_found.
    s += ",\"value\":";
    append_json_string(s, reply.value.value_or(""));
    s += ",\"status\":\"";
    s += kv::status_name(reply.status);
    s += '"';
  }
  if (reply.kind == actors::ReplyKind::kFail && !reply.reason.empty()) {
    s += ",\"reason\":";
    append_json_string(s, reply.reason);
  }
  if (reply.replica_status) {
    const actors::ReplicaStatus& st = *reply.replica_status;
    fmt::format_to(std::back_inserter(s),
                   ",\"replica\":{{\"role\":\"{}\",\"term\":{},\"leader\":\"{}\",\"commit\":{},\"applied\":{},"
                   "\"last_log\":{},\"last_leader_contact_ms\":{},\"keys\":{},\"followers\":{{",
                   raft::role_name(st.role), st.term, st.leader.str(), st.commit_index, st.applied_index,
                   st.last_log_index, st.last_leader_contact_ms, st.keys);
    for (std::size_t i = 0; i < st.followers.size(); ++i) {
      fmt::format_to(std::back_inserter(s), "{}\"{}\":{}", i ? "," : "", st.followers[i].id.str(),
                     st.followers[i].match_index);
    }
    s += '}';
    fmt::format_to(std::back_inserter(s), ",\"snapshot\":{},\"config_index\":{},\"members\":[", st.snapshot_index,
                   st.membership_index);
    for (std::size_t i = 0; i < st.members.size(); ++i) {
      const raft::Member& m = st.members[i];
      const bool leaving = std::find(st.outgoing_voters.begin(), st.outgoing_voters.end(), m.id) != st.outgoing_voters.end();
      fmt::format_to(std::back_inserter(s), "{}{{\"id\":\"{}\",\"role\":\"{}\",\"address\":", i ? "," : "",
                     m.id.str(), m.voter ? "voter" : leaving ? "leaving" : "learner");
      append_json_string(s, m.address);
      s += '}';
    }
    s += ']';
    if (!st.metrics.empty()) {
      s += ",\"metrics\":";
      append_json_string(s, st.metrics);
    }
    s += '}';
  }
  if (reply.backup) {
    const actors::BackupChunk& b = *reply.backup;
    fmt::format_to(std::back_inserter(s), ",\"bid\":{},\"idx\":{},\"iterm\":{},\"total\":{},\"crc\":{},\"off\":{},\"data\":\"",
                   b.id, b.index, b.term, b.total, b.crc, b.offset);
    s += base64_encode(b.data);
    s += '"';
  }
  s += '}';
  return s;
}

std::string encode_request(const actors::ClientRequest& request, raft::NodeId dst, raft::NodeId leader,
                           std::string_view token) {
  std::string s = envelope(request.client, dst, leader, kind_name(request.kind));
  s += ",\"MID\":";
  append_json_string(s, request.mid);
  if (request.kind == actors::RequestKind::kBackup) {
    fmt::format_to(std::back_inserter(s), ",\"bid\":{},\"off\":{}", request.backup_id, request.offset);
  } else if (request.kind != actors::RequestKind::kStatus) {
    s += ",\"key\":";
    append_json_string(s, request.key);
  }
  if (request.kind == actors::RequestKind::kPut || request.kind == actors::RequestKind::kCas ||
      request.kind == actors::RequestKind::kAddLearner || request.kind == actors::RequestKind::kReplaceMember) {
    s += ",\"value\":";
    append_json_string(s, request.value);
  }
  if (request.kind == actors::RequestKind::kCas) {
    s += ",\"expected\":";
    if (request.expected) append_json_string(s, *request.expected);
    else s += "null";
  }
  if (request.session.id != 0) {
    append_field(s, "session", request.session.id);
    append_field(s, "seq", request.session.seq);
  }
  if (!token.empty()) {
    s += ",\"token\":";
    append_json_string(s, token);
  }
  if (request.reply_to.bundles) s += ",\"bundle\":true";
  s += '}';
  return s;
}

std::string encode_hello(raft::NodeId self) { return envelope(self, raft::kNoNode, raft::kNoNode, "hello") + "}"; }

namespace {
constexpr char kBase64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
}  // namespace

std::string base64_encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const std::uint32_t v = (static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i])) << 16) |
                            (static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i + 1])) << 8) |
                            static_cast<unsigned char>(bytes[i + 2]);
    for (int k = 3; k >= 0; --k) out += kBase64[(v >> (6 * k)) & 0x3F];
  }
  const std::size_t rest = bytes.size() - i;
  if (rest > 0) {
    std::uint32_t v = static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i])) << 16;
    if (rest == 2) v |= static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i + 1])) << 8;
    out += kBase64[(v >> 18) & 0x3F];
    out += kBase64[(v >> 12) & 0x3F];
    out += rest == 2 ? kBase64[(v >> 6) & 0x3F] : '=';
    out += '=';
  }
  return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (std::size_t i = 0; i < text.size(); i += 4) {
    const bool last = i + 4 == text.size();
    const int pad = last ? (text[i + 3] == '=') + (text[i + 2] == '=') : 0;
    if (pad == 1 && text[i + 2] == '=') return std::nullopt;
    std::uint32_t v = 0;
    for (int k = 0; k < 4; ++k) {
      const char c = text[i + static_cast<std::size_t>(k)];
      const int d = (k >= 4 - pad) ? 0 : value(c);
      if (d < 0) return std::nullopt;
      v = (v << 6) | static_cast<std::uint32_t>(d);
    }
    out += static_cast<char>((v >> 16) & 0xFF);
    if (pad < 2) out += static_cast<char>((v >> 8) & 0xFF);
    if (pad < 1) out += static_cast<char>(v & 0xFF);
  }
  return out;
}

void append_json_string(std::string& out, std::string_view text) {
  out += '"';
  for (char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (c < 0x20) {
          out += "\\u";
          append_hex(out, c, 4);
        } else {
          out += ch;
        }
    }
  }
  out += '"';
}

void append_number(std::string& out, std::uint64_t value) {
  char digits[20];
  const auto end = std::to_chars(digits, digits + sizeof digits, value).ptr;
  out.append(digits, end);
}

void append_number(std::string& out, std::int64_t value) {
  char digits[20];
  const auto end = std::to_chars(digits, digits + sizeof digits, value).ptr;
  out.append(digits, end);
}

void append_hex(std::string& out, std::uint64_t value, int width, bool upper) {
  const char* const digit = upper ? "0123456789ABCDEF" : "0123456789abcdef";
  char text[16];
  int n = 0;
  do {
    text[n++] = digit[value & 0xF];
    value >>= 4;
  } while (value != 0 && n < 16);
  for (int i = n; i < width; ++i) out += '0';
  while (n > 0) out += text[--n];
}

}  // namespace coraft::net
