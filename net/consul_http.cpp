#include "net/consul_http.hpp"

#include "net/codec.hpp"
#include "raft/overloaded.hpp"

#include <fmt/format.h>

#include <charconv>
#include <cmath>

namespace coraft::net {
namespace {

using actors::ApiCall;
using actors::ApiRead;
using actors::ApiStatusQuery;
using actors::ApiWrite;
using actors::RequestKind;

constexpr std::string_view kKvPath = "/v1/kv/";
constexpr actors::Millis kDefaultWait{5 * 60 * 1000};  // Consul's, when ?index comes without ?wait

std::optional<std::uint64_t> parse_u64(std::string_view text) {
  std::uint64_t value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc{} || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

HttpResponse method_not_allowed(std::string_view allowed) {
  HttpResponse response = text_response(405, fmt::format("method not allowed: use {}", allowed));
  response.headers.emplace_back("Allow", std::string(allowed));
  return response;
}

// Compares without stopping at the first difference, so the time taken does not tell how much of a guess was right.
bool same_token(std::string_view presented, std::string_view expected) {
  std::string normalized;
  for (char c : presented) {
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r') normalized += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  if (normalized.size() != expected.size()) return false;
  unsigned char difference = 0;
  for (std::size_t i = 0; i < expected.size(); ++i) difference |= static_cast<unsigned char>(normalized[i] ^ expected[i]);
  return difference == 0;
}

std::optional<std::string> presented_token(const HttpRequest& request, const RequestTarget& target) {
  if (const std::string* token = request.header("X-Consul-Token")) return *token;
  if (const std::string* authorization = request.header("Authorization")) {
    constexpr std::string_view kBearer = "Bearer ";
    if (authorization->size() > kBearer.size() &&
        equal_ignoring_case(std::string_view(*authorization).substr(0, kBearer.size()), kBearer)) {
      return authorization->substr(kBearer.size());
    }
  }
  return target.param("token");
}

std::optional<kv::SessionRef> parse_session(std::string_view text) {
  const auto dot = text.find('.');
  if (dot == std::string_view::npos) return std::nullopt;
  auto id = parse_u64(text.substr(0, dot)), seq = parse_u64(text.substr(dot + 1));
  if (!id || !seq || *id == 0) return std::nullopt;
  return kv::SessionRef{*id, *seq};
}

std::variant<ConsulCall, HttpResponse> translate_kv(const HttpRequest& request, const RequestTarget& target,
                                                    const ConsulSettings& settings) {
  if (!settings.client_token.empty()) {
    auto token = presented_token(request, target);
    if (!token || !same_token(*token, settings.client_token)) {
      return text_response(403, "Permission denied: this cluster needs its client token (client_token_file) in "
                                "X-Consul-Token or Authorization: Bearer");
    }
  }
  for (const char* unsupported : {"acquire", "release"}) {
    if (target.has(unsupported)) {
      return text_response(501, fmt::format("?{} is not supported: coraft has no sessions or locks", unsupported));
    }
  }
  for (const char* unsupported : {"dc", "ns", "partition"}) {
    if (target.has(unsupported)) {
      return text_response(501, fmt::format("?{} is not supported: coraft is one datacenter, without namespaces or "
                                            "partitions",
                                            unsupported));
    }
  }
  ConsulCall out;
  out.forwarded = request.header(kForwardedHeader) != nullptr;
  const std::string key = target.path.substr(kKvPath.size());
  if (key.size() > settings.max_key_bytes) {
    return text_response(413, fmt::format("key too large: {} bytes (limit {})", key.size(), settings.max_key_bytes));
  }

  if (request.method == "GET") {
    if (target.has("stale") && target.has("consistent")) {
      return text_response(400, "Cannot specify ?stale with ?consistent, conflicting semantics.");
    }
    ApiRead read;
    read.consistency = target.has("stale") ? actors::ReadConsistency::kStale : actors::ReadConsistency::kLinearizable;
    if (auto index = target.param("index"); index && !index->empty()) {
      auto parsed = parse_u64(*index);
      if (!parsed) return text_response(400, "Invalid index");
      read.after_index = *parsed;
    }
    read.wait = kDefaultWait;
    if (auto wait = target.param("wait"); wait && !wait->empty()) {
      auto parsed = parse_go_duration(*wait);
      if (!parsed) return text_response(400, "Invalid wait time");
      if (parsed->count() > 0) read.wait = std::min(*parsed, actors::kMaxBlockingWait);
    }
    if (target.has("keys")) {
      read.range = kv::KeyRange{key, true};
      read.keys_only = true;
      out.presentation.shape = AnswerShape::kKeys;
      out.presentation.prefix = key;
      // Consul reads both spellings (an early release had "seperator").
      out.presentation.separator = target.param("separator").value_or(target.param("seperator").value_or(""));
    } else if (target.has("recurse")) {
      read.range = kv::KeyRange{key, true};
      out.presentation.shape = AnswerShape::kEntries;
    } else {
      if (key.empty()) return text_response(400, "Missing key name");
      read.range = kv::KeyRange{key, false};
      out.presentation.shape = target.has("raw") ? AnswerShape::kRaw : AnswerShape::kEntry;
    }
    out.call = std::move(read);
    return out;
  }

  ApiWrite write;
  write.key = key;
  if (out.forwarded) {
    if (const std::string* session = request.header(kSessionHeader)) {
      auto parsed = parse_session(*session);
      if (!parsed) return text_response(400, "bad X-Coraft-Session");
      write.session = *parsed;
    }
  }
  if (request.method == "PUT") {
    if (key.empty()) return text_response(400, "Missing key name");
    if (auto flags = target.param("flags")) {
      auto parsed = parse_u64(*flags);
      if (!parsed) return text_response(400, "Invalid flags: a whole number from 0 to 2^64-1");
      write.flags = *parsed;
    }
    if (auto cas = target.param("cas")) {
      auto parsed = parse_u64(*cas);
      if (!parsed) return text_response(400, "Invalid cas: a whole number (a ModifyIndex, or 0: only if absent)");
      write.expected_index = *parsed;
    }
    if (request.body.size() > settings.max_value_bytes) {
      return text_response(413, fmt::format("Request body({} bytes) too large, max size: {} bytes", request.body.size(),
                                            settings.max_value_bytes));
    }
    write.kind = RequestKind::kPut;
    write.value = request.body;
    out.presentation.shape = AnswerShape::kPut;
    out.call = std::move(write);
    return out;
  }
  if (request.method == "DELETE") {
    if (target.has("recurse") && target.has("cas")) return text_response(400, "Conflicting flags: cas and recurse");
    if (target.has("recurse")) {
      write.kind = RequestKind::kDeletePrefix;
    } else {
      if (key.empty()) return text_response(400, "Missing key name");
      write.kind = RequestKind::kDelete;
      if (auto cas = target.param("cas")) {
        auto parsed = parse_u64(*cas);
        if (!parsed) return text_response(400, "Invalid cas: a whole number (a ModifyIndex)");
        write.expected_index = *parsed;
      }
    }
    out.presentation.shape = AnswerShape::kDelete;
    out.call = std::move(write);
    return out;
  }
  return method_not_allowed("GET, PUT, DELETE");
}

void append_entry(std::string& out, const kv::KeyValue& entry) {
  out += "{\"LockIndex\":0,\"Key\":";
  append_json_string(out, entry.key);
  fmt::format_to(std::back_inserter(out), ",\"Flags\":{},\"Value\":", entry.flags);
  if (entry.value.empty()) out += "null";  // as Consul writes an empty value
  else append_json_string(out, base64_encode(entry.value));
  fmt::format_to(std::back_inserter(out), ",\"CreateIndex\":{},\"ModifyIndex\":{}}}", entry.create_index,
                 entry.modify_index);
}

HttpResponse json_response(std::string body) {
  HttpResponse response;
  response.headers.emplace_back("Content-Type", "application/json");
  response.body = std::move(body);
  return response;
}

HttpResponse render_range(const kv::RangeRead& read, const Presentation& presentation) {
  HttpResponse response;
  response.status = 404;  // nothing there, unless found below
  if (presentation.shape == AnswerShape::kRaw) {
    if (!read.entries.empty()) {
      response.status = 200;
      response.headers = {{"Content-Type", "text/plain"},
                          {"X-Content-Type-Options", "nosniff"},  // a stored value must not run as a page's script
                          {"Content-Security-Policy", "sandbox"}};
      response.body = read.entries.front().value;
    }
  } else if (presentation.shape == AnswerShape::kKeys) {
    const auto keys = fold_keys(read.entries, presentation.prefix, presentation.separator);
    if (!keys.empty() || presentation.prefix.empty()) {  // Consul lists the root as [] rather than 404
      std::string body = "[";
      for (const std::string& key : keys) {
        if (body.size() > 1) body += ',';
        append_json_string(body, key);
      }
      response = json_response(body + "]");
    }
  } else if (!read.entries.empty()) {
    std::string body = "[";
    for (const kv::KeyValue& entry : read.entries) {
      if (body.size() > 1) body += ',';
      append_entry(body, entry);
    }
    response = json_response(body + "]");
  }
  response.headers.emplace_back("X-Consul-Index", std::to_string(read.index));
  response.headers.emplace_back("X-Consul-KnownLeader", "true");
  response.headers.emplace_back("X-Consul-LastContact", "0");
  return response;
}

HttpResponse render_failure(const actors::ApiFailure& failure) {
  switch (failure.error) {
    case actors::ApiError::kNoLeader: return text_response(500, fmt::format("No cluster leader ({})", failure.detail));
    case actors::ApiError::kTimedOut: return text_response(504, fmt::format("timed out: {}", failure.detail));
    case actors::ApiError::kOverloaded: return text_response(503, fmt::format("overloaded: {}", failure.detail));
    case actors::ApiError::kTooLarge: return text_response(413, failure.detail);
    case actors::ApiError::kRejected: return text_response(400, failure.detail);
    case actors::ApiError::kNotLeader: {
      HttpResponse response = text_response(503, failure.detail);
      response.headers.emplace_back(kNotLeaderHeader, "1");
      return response;
    }
  }
  return text_response(500, failure.detail);
}

// Headers that belong to one connection, and those replicas set for each other: never passed along.
bool hop_by_hop(std::string_view name) {
  static constexpr std::string_view kHeaders[] = {"Connection", "Keep-Alive",       "Transfer-Encoding", "Content-Length",
                                                  "Host",       "TE",               "Upgrade",           "Expect",
                                                  "Proxy-Connection", kForwardedHeader, kSessionHeader};
  for (std::string_view header : kHeaders) {
    if (equal_ignoring_case(name, header)) return true;
  }
  return false;
}

}  // namespace

std::variant<ConsulCall, HttpResponse> translate(const HttpRequest& request, const ConsulSettings& settings) {
  auto target = parse_target(request.target);
  if (!target) return text_response(400, "malformed request target");
  const std::string& path = target->path;
  const bool get = request.method == "GET";
  if (path == "/metrics") {
    if (!get) return method_not_allowed("GET");
    ConsulCall out{ApiStatusQuery::kMetrics, Presentation{AnswerShape::kMetrics, {}, {}}};
    return out;
  }
  if (!settings.kv_routes) {
    if (path == "/" && get) return text_response(200, "coraft replica: Prometheus metrics at /metrics");
    return text_response(404, "not found: try /metrics");
  }
  if (path == "/" && get) {
    return text_response(200, "coraft replica: Consul's KV API at /v1/kv/, /v1/status/leader and /v1/status/peers; "
                              "Prometheus metrics at /metrics");
  }
  if (path == "/v1/status/leader" || path == "/v1/status/peers") {
    if (!get) return method_not_allowed("GET");
    const bool leader = path == "/v1/status/leader";
    ConsulCall out{leader ? ApiStatusQuery::kLeader : ApiStatusQuery::kPeers,
                   Presentation{leader ? AnswerShape::kLeader : AnswerShape::kPeers, {}, {}}};
    return out;
  }
  if (path.compare(0, kKvPath.size(), kKvPath) == 0) return translate_kv(request, *target, settings);
  if (path.compare(0, 4, "/v1/") == 0) {
    return text_response(501, fmt::format("{} is not implemented: of Consul's HTTP API coraft serves /v1/kv/, "
                                          "/v1/status/leader and /v1/status/peers",
                                          path));
  }
  return text_response(404, "not found: coraft serves Consul's KV API under /v1/kv/");
}

HttpResponse render_answer(const actors::ApiAnswer& answer, const Presentation& presentation,
                           const RaftAddresses& addresses) {
  auto address_of = [&](raft::NodeId id) {
    auto it = addresses.find(id);
    return it == addresses.end() ? std::string{} : it->second;
  };
  return std::visit(
      Overloaded{
          [&](const actors::ApiRangeAnswer& range) { return render_range(range.read, presentation); },
          [&](const actors::ApiWriteAnswer& write) {
            const bool done = write.status == kv::Status::kOk ||
                              (presentation.shape == AnswerShape::kDelete && write.status == kv::Status::kNotFound);
            HttpResponse response = json_response(done ? "true" : "false");
            response.headers.emplace_back("X-Consul-Index", std::to_string(std::max<raft::Index>(write.applied_index, 1)));
            return response;
          },
          [&](const actors::ApiStatusAnswer& status) {
            if (presentation.shape == AnswerShape::kMetrics) {
              HttpResponse response;
              response.headers.emplace_back("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
              response.body = status.metrics;
              return response;
            }
            std::string body;
            if (presentation.shape == AnswerShape::kLeader) {
              append_json_string(body, status.leader.valid() ? address_of(status.leader) : "");
            } else {
              body = "[";
              for (raft::NodeId member : status.members) {
                if (body.size() > 1) body += ',';
                append_json_string(body, address_of(member));
              }
              body += ']';
            }
            return json_response(std::move(body));
          },
          [&](const actors::ApiFailure& failure) { return render_failure(failure); },
          [&](const actors::ForwardedResponse& forwarded) {
            HttpResponse response;
            response.status = forwarded.status;
            for (const auto& [name, value] : forwarded.headers) {
              if (!hop_by_hop(name)) response.headers.emplace_back(name, value);
            }
            response.body = forwarded.body;
            return response;
          },
      },
      answer);
}

HttpRequest forwarded_request(const HttpRequest& original, raft::NodeId self, const actors::ApiCall& call) {
  HttpRequest out;
  out.method = original.method;
  out.target = original.target;
  out.body = original.body;
  for (const auto& [name, value] : original.headers) {
    if (!hop_by_hop(name)) out.headers.emplace_back(name, value);
  }
  out.headers.emplace_back(kForwardedHeader, self.str());
  if (const auto* write = std::get_if<actors::ApiWrite>(&call)) {
    out.headers.emplace_back(kSessionHeader, fmt::format("{}.{}", write->session.id, write->session.seq));
  }
  return out;
}

std::optional<actors::Millis> parse_go_duration(std::string_view text) {
  if (text == "0") return actors::Millis(0);
  bool negative = false;
  if (!text.empty() && (text.front() == '-' || text.front() == '+')) {
    negative = text.front() == '-';
    text.remove_prefix(1);
  }
  if (text.empty()) return std::nullopt;
  double total_ms = 0;
  while (!text.empty()) {
    std::size_t digits = 0;
    bool seen_digit = false, seen_dot = false;
    while (digits < text.size() && (std::isdigit(static_cast<unsigned char>(text[digits])) || (text[digits] == '.' && !seen_dot))) {
      seen_dot = seen_dot || text[digits] == '.';
      seen_digit = seen_digit || text[digits] != '.';
      ++digits;
    }
    if (!seen_digit) return std::nullopt;
    const double number = std::strtod(std::string(text.substr(0, digits)).c_str(), nullptr);
    text.remove_prefix(digits);
    static constexpr std::pair<std::string_view, double> kUnits[] = {
        {"ns", 1e-6}, {"us", 1e-3}, {"\xC2\xB5s", 1e-3}, {"\xCE\xBCs", 1e-3}, {"ms", 1}, {"s", 1e3}, {"m", 6e4}, {"h", 3.6e6}};
    bool matched = false;
    for (const auto& [unit, ms] : kUnits) {  // "ms" before "m" and "s", "ns" and "us" before "s"
      if (text.substr(0, unit.size()) == unit) {
        total_ms += number * ms;
        text.remove_prefix(unit.size());
        matched = true;
        break;
      }
    }
    if (!matched || total_ms > 1e15) return std::nullopt;
  }
  return actors::Millis(negative ? 0 : static_cast<std::int64_t>(std::ceil(total_ms)));
}

std::vector<std::string> fold_keys(const std::vector<kv::KeyValue>& entries, const std::string& prefix,
                                   const std::string& separator) {
  std::vector<std::string> keys;
  for (const kv::KeyValue& entry : entries) {
    std::string key = entry.key;
    if (!separator.empty()) {
      const auto at = key.find(separator, prefix.size());
      if (at != std::string::npos) key.resize(at + separator.size());
    }
    if (keys.empty() || keys.back() != key) keys.push_back(std::move(key));
  }
  return keys;
}

}  // namespace coraft::net
