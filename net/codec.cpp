#include "net/codec.hpp"

#include "raft/overloaded.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <optional>

namespace coraft::net {
namespace {

using nlohmann::json;

// ---- reading fields without exceptions ----

std::optional<std::string> get_string(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

std::optional<std::uint64_t> get_uint(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_number_unsigned()) {
    if (it != j.end() && it->is_number_integer() && it->get<std::int64_t>() >= 0) {
      return static_cast<std::uint64_t>(it->get<std::int64_t>());
    }
    return std::nullopt;
  }
  return it->get<std::uint64_t>();
}

std::optional<std::int64_t> get_int(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_number_integer()) return std::nullopt;
  if (it->is_number_unsigned() && it->get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX)) return std::nullopt;
  return it->get<std::int64_t>();
}

std::optional<bool> get_bool(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_boolean()) return std::nullopt;
  return it->get<bool>();
}

std::optional<raft::NodeId> get_id(const json& j, const char* key) {
  auto text = get_string(j, key);
  if (!text) return std::nullopt;
  return raft::NodeId::parse(*text);
}

// ---- writing ----

void append_id(std::string& out, const char* key, raft::NodeId id) {
  fmt::format_to(std::back_inserter(out), "\"{}\":\"{:04X}\"", key, id.value);
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
  fmt::format_to(std::back_inserter(out), ",\"type\":\"{}\"", type);
  return out;
}

std::string_view kind_name(actors::RequestKind kind) {
  switch (kind) {
    case actors::RequestKind::kGet: return "get";
    case actors::RequestKind::kPut: return "put";
    case actors::RequestKind::kDelete: return "del";
    case actors::RequestKind::kCas: return "cas";
    case actors::RequestKind::kStatus: return "status";
  }
  return "?";
}

std::optional<kv::Status> parse_status(std::string_view name) {
  for (auto s : {kv::Status::kOk, kv::Status::kNotFound, kv::Status::kCasMismatch, kv::Status::kStaleSession})
    if (kv::status_name(s) == name) return s;
  return std::nullopt;
}

// ---- decoding by type ----

using Decoded = std::variant<Datagram, DropReason>;

Decoded decode_peer(const json& j, const Envelope& env, std::string_view type) {
  raft::PeerMessage message{env.src, env.dst, {}};
  const auto term = get_uint(j, "term");
  if (!term) return DropReason::kBadField;
  if (type == "rv") {
    auto lli = get_uint(j, "lli");
    auto llt = get_uint(j, "llt");
    auto pre = get_bool(j, "pre");
    if (!lli || !llt || !pre) return DropReason::kBadField;
    message.payload = raft::RequestVote{*term, *lli, *llt, *pre};
  } else if (type == "rvr") {
    auto granted = get_bool(j, "granted");
    auto pre = get_bool(j, "pre");
    if (!granted || !pre) return DropReason::kBadField;
    message.payload = raft::RequestVoteReply{*term, *granted, *pre};
  } else if (type == "ae") {
    auto prev = get_uint(j, "prev");
    auto pterm = get_uint(j, "pterm");
    auto commit = get_uint(j, "commit");
    auto sent = get_int(j, "sent");
    auto entries = j.find("entries");
    if (!prev || !pterm || !commit || !sent || entries == j.end() || !entries->is_array()) return DropReason::kBadField;
    raft::AppendEntries ae{*term, *prev, *pterm, {}, *commit, *sent};
    ae.entries.reserve(entries->size());
    raft::Index index = *prev;
    for (const json& e : *entries) {
      if (!e.is_array() || e.empty() || e.size() > 2 || !e[0].is_number_unsigned()) return DropReason::kBadField;
      auto entry = std::make_shared<raft::Entry>();
      entry->term = e[0].get<raft::Term>();
      entry->index = ++index;
      if (e.size() == 2) {
        if (!e[1].is_string()) return DropReason::kBadField;
        entry->kind = raft::EntryKind::kCommand;
        entry->data = e[1].get<std::string>();
      } else {
        entry->kind = raft::EntryKind::kNoop;
      }
      ae.entries.push_back(std::move(entry));
    }
    message.payload = std::move(ae);
  } else if (type == "is") {
    auto idx = get_uint(j, "idx");
    auto iterm = get_uint(j, "iterm");
    auto off = get_uint(j, "off");
    auto total = get_uint(j, "total");
    auto done = get_bool(j, "done");
    auto data = get_string(j, "data");
    if (!idx || !iterm || !off || !total || !done || !data) return DropReason::kBadField;
    auto chunk = base64_decode(*data);
    if (!chunk) return DropReason::kBadField;
    message.payload = raft::InstallSnapshot{*term, *idx, *iterm, *off, *total, std::move(*chunk), *done};
  } else if (type == "isr") {
    auto idx = get_uint(j, "idx");
    auto next = get_uint(j, "next");
    auto done = get_bool(j, "done");
    if (!idx || !next || !done) return DropReason::kBadField;
    message.payload = raft::InstallSnapshotReply{*term, *idx, *next, *done};
  } else {  // "aer"
    auto ok = get_bool(j, "ok");
    auto match = get_uint(j, "match");
    auto rprev = get_uint(j, "rprev");
    auto ci = get_uint(j, "ci");
    auto ct = get_uint(j, "ct");
    auto sent = get_int(j, "sent");
    if (!ok || !match || !rprev || !ci || !ct || !sent) return DropReason::kBadField;
    message.payload = raft::AppendEntriesReply{*term, *ok, *match, *rprev, *ci, *ct, *sent};
  }
  return Datagram{PeerDatagram{env, std::move(message)}};
}

Decoded decode_request(const json& j, const Envelope& env, std::string_view type) {
  actors::ClientRequest r;
  r.client = env.src;
  auto mid = get_string(j, "MID");
  if (!mid) return DropReason::kBadField;
  r.mid = std::move(*mid);
  if (type == "status") {
    r.kind = actors::RequestKind::kStatus;
    return Datagram{RequestDatagram{env, std::move(r)}};
  }
  auto key = get_string(j, "key");
  if (!key) return DropReason::kBadField;
  r.key = std::move(*key);
  if (type == "get") {
    r.kind = actors::RequestKind::kGet;
  } else if (type == "put") {
    r.kind = actors::RequestKind::kPut;
    auto value = get_string(j, "value");
    if (!value) return DropReason::kBadField;
    r.value = std::move(*value);
  } else if (type == "del" || type == "delete") {
    r.kind = actors::RequestKind::kDelete;
  } else {  // cas
    r.kind = actors::RequestKind::kCas;
    auto value = get_string(j, "value");
    if (!value) return DropReason::kBadField;
    r.value = std::move(*value);
    auto expected = j.find("expected");
    if (expected != j.end() && !expected->is_null()) {
      if (!expected->is_string()) return DropReason::kBadField;
      r.expected = expected->get<std::string>();
    }
  }
  if (j.contains("session")) {
    auto session = get_uint(j, "session");
    auto seq = get_uint(j, "seq");
    if (!session || !seq) return DropReason::kBadField;
    r.session = kv::SessionRef{*session, *seq};
  }
  return Datagram{RequestDatagram{env, std::move(r)}};
}

Decoded decode_reply(const json& j, const Envelope& env, std::string_view type) {
  actors::ClientReply r;
  r.client = env.dst;
  r.leader = env.leader;
  auto mid = get_string(j, "MID");
  if (!mid) return DropReason::kBadField;
  r.mid = std::move(*mid);
  r.kind = type == "ok" ? actors::ReplyKind::kOk : type == "fail" ? actors::ReplyKind::kFail : actors::ReplyKind::kRedirect;
  if (auto value = get_string(j, "value")) r.value = std::move(*value);
  if (auto status = get_string(j, "status")) {
    auto parsed = parse_status(*status);
    if (!parsed) return DropReason::kBadField;
    r.status = *parsed;
  }
  if (r.status == kv::Status::kNotFound) r.value.reset();
  if (auto reason = get_string(j, "reason")) r.reason = std::move(*reason);
  auto replica = j.find("replica");
  if (replica != j.end()) {
    if (!replica->is_object()) return DropReason::kBadField;
    actors::ReplicaStatus s;
    s.id = env.src;
    auto role = get_string(*replica, "role");
    auto term = get_uint(*replica, "term");
    auto leader = get_id(*replica, "leader");
    auto commit = get_uint(*replica, "commit");
    auto applied = get_uint(*replica, "applied");
    auto last = get_uint(*replica, "last_log");
    auto contact = get_int(*replica, "last_leader_contact_ms");
    auto keys = get_uint(*replica, "keys");
    if (!role || !term || !leader || !commit || !applied || !last || !contact || !keys) return DropReason::kBadField;
    if (*role == "leader") s.role = raft::Role::kLeader;
    else if (*role == "candidate") s.role = raft::Role::kCandidate;
    else if (*role == "pre-candidate") s.role = raft::Role::kPreCandidate;
    else s.role = raft::Role::kFollower;
    s.term = *term;
    s.leader = *leader;
    s.commit_index = *commit;
    s.applied_index = *applied;
    s.last_log_index = *last;
    s.last_leader_contact_ms = *contact;
    s.keys = *keys;
    auto followers = replica->find("followers");
    if (followers != replica->end() && followers->is_object()) {
      for (auto it = followers->begin(); it != followers->end(); ++it) {
        auto id = raft::NodeId::parse(it.key());
        if (!id || !it->is_number_unsigned()) return DropReason::kBadField;
        s.followers.push_back({*id, it->get<raft::Index>()});
      }
    }
    r.replica_status = std::move(s);
  }
  return Datagram{ReplyDatagram{env, std::move(r)}};
}

void append_entry(std::string& out, const raft::Entry& entry) {
  fmt::format_to(std::back_inserter(out), "[{}", entry.term);
  if (entry.kind == raft::EntryKind::kCommand) {
    out += ',';
    append_json_string(out, entry.data);
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
  }
  return "?";
}

std::variant<Datagram, DropReason> decode(std::string_view datagram) {
  if (datagram.size() > kMaxDatagramBytes) return DropReason::kOversized;
  json j = json::parse(datagram.begin(), datagram.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return DropReason::kMalformedJson;
  if (!j.is_object()) return DropReason::kBadEnvelope;
  auto src = get_id(j, "src");
  auto dst = get_id(j, "dst");
  auto leader = get_id(j, "leader");
  auto type = get_string(j, "type");
  if (!src || !dst || !leader || !type) return DropReason::kBadEnvelope;
  const Envelope env{*src, *dst, *leader};
  const std::string& t = *type;
  if (t == "rv" || t == "rvr" || t == "ae" || t == "aer" || t == "is" || t == "isr") return decode_peer(j, env, t);
  if (t == "get" || t == "put" || t == "del" || t == "delete" || t == "cas" || t == "status") {
    return decode_request(j, env, t);
  }
  if (t == "ok" || t == "fail" || t == "redirect") return decode_reply(j, env, t);
  if (t == "hello") return Datagram{HelloDatagram{env}};
  return DropReason::kUnknownType;
}

std::vector<std::string> encode_peer(const raft::PeerMessage& message, raft::NodeId leader, std::size_t max_bytes) {
  std::vector<std::string> out;
  std::visit(
      Overloaded{
          [&](const raft::RequestVote& m) {
            std::string s = envelope(message.from, message.to, leader, "rv");
            fmt::format_to(std::back_inserter(s), ",\"term\":{},\"lli\":{},\"llt\":{},\"pre\":{}}}", m.term,
                           m.last_log_index, m.last_log_term, m.pre_vote);
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
            fmt::format_to(std::back_inserter(s),
                           ",\"term\":{},\"ok\":{},\"match\":{},\"rprev\":{},\"ci\":{},\"ct\":{},\"sent\":{}}}", m.term,
                           m.success, m.match_index, m.rejected_prev, m.conflict_index, m.conflict_term, m.sent_at_us);
            out.push_back(std::move(s));
          },
          [&](const raft::InstallSnapshot& m) {
            std::string s = envelope(message.from, message.to, leader, "is");
            fmt::format_to(std::back_inserter(s),
                           ",\"term\":{},\"idx\":{},\"iterm\":{},\"off\":{},\"total\":{},\"done\":{},\"data\":\"", m.term,
                           m.last_included_index, m.last_included_term, m.offset, m.total_bytes, m.done);
            s += base64_encode(m.chunk);
            s += "\"}";
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
              fmt::format_to(std::back_inserter(s),
                             ",\"term\":{},\"prev\":{},\"pterm\":{},\"commit\":{},\"sent\":{},\"entries\":[", m.term,
                             prev, prev_term, m.leader_commit, m.sent_at_us);
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
    fmt::format_to(std::back_inserter(s), ",\"status\":\"{}\"", kv::status_name(reply.status));
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
    s += "}}";
  }
  s += '}';
  return s;
}

std::string encode_request(const actors::ClientRequest& request, raft::NodeId dst, raft::NodeId leader) {
  std::string s = envelope(request.client, dst, leader, kind_name(request.kind));
  s += ",\"MID\":";
  append_json_string(s, request.mid);
  if (request.kind != actors::RequestKind::kStatus) {
    s += ",\"key\":";
    append_json_string(s, request.key);
  }
  if (request.kind == actors::RequestKind::kPut || request.kind == actors::RequestKind::kCas) {
    s += ",\"value\":";
    append_json_string(s, request.value);
  }
  if (request.kind == actors::RequestKind::kCas) {
    s += ",\"expected\":";
    if (request.expected) append_json_string(s, *request.expected);
    else s += "null";
  }
  if (request.session.id != 0) {
    fmt::format_to(std::back_inserter(s), ",\"session\":{},\"seq\":{}", request.session.id, request.session.seq);
  }
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
        if (c < 0x20) fmt::format_to(std::back_inserter(out), "\\u{:04x}", c);
        else out += ch;
    }
  }
  out += '"';
}

}  // namespace coraft::net
