#include "net/http_message.hpp"

#include <fmt/format.h>
#include <http_parser.h>

#include <algorithm>
#include <cctype>
#include <limits>

namespace coraft::net {

bool equal_ignoring_case(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

namespace {

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::optional<std::string> percent_decode(std::string_view text, bool plus_is_space) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%') {
      if (i + 2 >= text.size()) return std::nullopt;
      const int high = hex_digit(text[i + 1]), low = hex_digit(text[i + 2]);
      if (high < 0 || low < 0) return std::nullopt;
      out += static_cast<char>(high * 16 + low);
      i += 2;
    } else if (text[i] == '+' && plus_is_space) {
      out += ' ';
    } else {
      out += text[i];
    }
  }
  return out;
}

}  // namespace

const std::string* find_header(const HttpHeaders& headers, std::string_view name) {
  for (const auto& [header, value] : headers) {
    if (equal_ignoring_case(header, name)) return &value;
  }
  return nullptr;
}

std::string_view reason_phrase(int status) {
  switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 413: return "Payload Too Large";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "Unknown";
  }
}

HttpResponse text_response(int status, std::string_view text) {
  HttpResponse response;
  response.status = status;
  response.headers.emplace_back("Content-Type", "text/plain; charset=utf-8");
  response.body = fmt::format("{}\n", text);
  return response;
}

std::string render(const HttpResponse& response) {
  std::string out = fmt::format("HTTP/1.1 {} {}\r\n", response.status, reason_phrase(response.status));
  for (const auto& [name, value] : response.headers) fmt::format_to(std::back_inserter(out), "{}: {}\r\n", name, value);
  fmt::format_to(std::back_inserter(out), "Content-Length: {}\r\n", response.body.size());
  if (!response.keep_alive) out += "Connection: close\r\n";
  out += "\r\n";
  out += response.body;
  return out;
}

std::string render(const HttpRequest& request, std::string_view host) {
  std::string out = fmt::format("{} {} HTTP/1.1\r\n", request.method, request.target);
  if (!request.header("Host")) fmt::format_to(std::back_inserter(out), "Host: {}\r\n", host);
  for (const auto& [name, value] : request.headers) fmt::format_to(std::back_inserter(out), "{}: {}\r\n", name, value);
  if (!request.body.empty() || request.method == "PUT" || request.method == "POST") {
    fmt::format_to(std::back_inserter(out), "Content-Length: {}\r\n", request.body.size());
  }
  if (!request.keep_alive) out += "Connection: close\r\n";
  out += "\r\n";
  out += request.body;
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Targets

std::optional<std::string> RequestTarget::param(std::string_view name) const {
  for (const auto& [key, value] : query) {
    if (key == name) return value.value_or("");
  }
  return std::nullopt;
}

bool RequestTarget::has(std::string_view name) const { return param(name).has_value(); }

std::optional<RequestTarget> parse_target(std::string_view target) {
  if (target.empty() || target.front() != '/') return std::nullopt;
  if (const auto hash = target.find('#'); hash != std::string_view::npos) target = target.substr(0, hash);
  RequestTarget out;
  const auto question = target.find('?');
  auto path = percent_decode(target.substr(0, question), /*plus_is_space=*/false);
  if (!path) return std::nullopt;
  out.path = std::move(*path);
  if (question == std::string_view::npos) return out;
  std::string_view query = target.substr(question + 1);
  while (!query.empty()) {
    const auto amp = query.find('&');
    const std::string_view item = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    if (item.empty()) continue;
    const auto equals = item.find('=');
    auto key = percent_decode(item.substr(0, equals), true);
    if (!key) return std::nullopt;
    std::optional<std::string> value;
    if (equals != std::string_view::npos) {
      value = percent_decode(item.substr(equals + 1), true);
      if (!value) return std::nullopt;
    }
    out.query.emplace_back(std::move(*key), std::move(value));
  }
  return out;
}

std::string percent_encode(std::string_view text, bool keep_slashes) {
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || (keep_slashes && c == '/')) {
      out += static_cast<char>(c);
    } else {
      fmt::format_to(std::back_inserter(out), "%{:02X}", c);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// The parser

int status_for(HttpParseError error) {
  switch (error) {
    case HttpParseError::kNone: return 200;
    case HttpParseError::kMalformed: return 400;
    case HttpParseError::kHeadersTooLarge: return 431;
    case HttpParseError::kBodyTooLarge: return 413;
  }
  return 400;
}

struct HttpParser::State {
  http_parser parser{};
  http_parser_settings settings{};
  Kind kind;
  HttpLimits limits;

  // The message being parsed.
  std::string target;
  HttpHeaders headers;
  std::string body;
  bool keep_alive = true;
  bool in_value = false;  // the last header callback was a value: the next field starts a new header
  std::size_t header_bytes = 0;
  bool begun = false;
  bool complete = false;
  bool upgraded = false;
  bool continue_wanted = false;

  HttpParseError error = HttpParseError::kNone;
  HttpParseError refused = HttpParseError::kNone;  // set by a callback that refuses the message
  std::string error_text;

  static State& of(http_parser* parser) { return *static_cast<State*>(parser->data); }

  // Counts bytes before the end of the headers; false once they pass the limit.
  bool count_header_bytes(std::size_t n) {
    header_bytes += n;
    if (header_bytes <= limits.max_header_bytes) return true;
    refused = HttpParseError::kHeadersTooLarge;
    error_text = fmt::format("request line and headers longer than {} bytes", limits.max_header_bytes);
    return false;
  }

  State(Kind k, HttpLimits l) : kind(k), limits(l) {
    http_parser_init(&parser, kind == Kind::kRequests ? HTTP_REQUEST : HTTP_RESPONSE);
    parser.data = this;
    settings.on_message_begin = [](http_parser* p) {
      State& s = of(p);
      s.begun = true;
      return 0;
    };
    settings.on_url = [](http_parser* p, const char* at, std::size_t n) {
      State& s = of(p);
      if (!s.count_header_bytes(n)) return 1;
      s.target.append(at, n);
      return 0;
    };
    settings.on_status = [](http_parser* p, const char*, std::size_t n) { return of(p).count_header_bytes(n) ? 0 : 1; };
    settings.on_header_field = [](http_parser* p, const char* at, std::size_t n) {
      State& s = of(p);
      if (!s.count_header_bytes(n + 4)) return 1;  // ": " and CRLF
      if (s.in_value || s.headers.empty()) s.headers.emplace_back();
      s.headers.back().first.append(at, n);
      s.in_value = false;
      return 0;
    };
    settings.on_header_value = [](http_parser* p, const char* at, std::size_t n) {
      State& s = of(p);
      if (!s.count_header_bytes(n)) return 1;
      if (s.headers.empty()) s.headers.emplace_back();
      s.headers.back().second.append(at, n);
      s.in_value = true;
      return 0;
    };
    settings.on_headers_complete = [](http_parser* p) {
      State& s = of(p);
      // What http-parser lets through but HTTP/1.1 does not: a version other than 1.x (a request line without one is
      // taken as HTTP/0.9), and a header name with whitespace in it, which RFC 7230 (3.2.4) says a server must
      // refuse: "Content-Length :" might be read as Content-Length by the next parser on the way.
      if (p->http_major != 1) {
        s.refused = HttpParseError::kMalformed;
        s.error_text = fmt::format("HTTP/{}.{} is not served: HTTP/1.0 and 1.1 only", p->http_major, p->http_minor);
        return -1;
      }
      for (const auto& [name, value] : s.headers) {
        if (name.empty() || name.find_first_of(" \t") != std::string::npos) {
          s.refused = HttpParseError::kMalformed;
          s.error_text = "whitespace in a header name";
          return -1;
        }
      }
      s.keep_alive = http_should_keep_alive(p) != 0;
      if (const std::string* expect = find_header(s.headers, "Expect")) {
        s.continue_wanted = equal_ignoring_case(*expect, "100-continue");
      }
      if (p->content_length != std::numeric_limits<std::uint64_t>::max() && p->content_length > s.limits.max_body_bytes) {
        s.refused = HttpParseError::kBodyTooLarge;
        s.error_text = fmt::format("body of {} bytes is larger than {} bytes", p->content_length, s.limits.max_body_bytes);
        return -1;
      }
      return 0;
    };
    settings.on_body = [](http_parser* p, const char* at, std::size_t n) {
      State& s = of(p);
      if (s.body.size() + n > s.limits.max_body_bytes) {
        s.refused = HttpParseError::kBodyTooLarge;
        s.error_text = fmt::format("body larger than {} bytes", s.limits.max_body_bytes);
        return 1;
      }
      s.body.append(at, n);
      return 0;
    };
    settings.on_message_complete = [](http_parser* p) {
      State& s = of(p);
      s.complete = true;
      s.upgraded = p->upgrade != 0;
      http_parser_pause(p, 1);  // hand this message out before parsing the next
      return 0;
    };
  }

  void fail_from_parser() {
    const auto code = HTTP_PARSER_ERRNO(&parser);
    if (refused != HttpParseError::kNone) {
      error = refused;
    } else if (code == HPE_HEADER_OVERFLOW) {
      error = HttpParseError::kHeadersTooLarge;
      error_text = "headers too large";
    } else {
      error = HttpParseError::kMalformed;
      error_text = fmt::format("malformed HTTP: {}", http_errno_description(code));
    }
  }

  void reset_message() {
    target.clear();
    headers.clear();
    body.clear();
    keep_alive = true;
    in_value = false;
    header_bytes = 0;
    begun = complete = continue_wanted = false;
    http_parser_pause(&parser, 0);
  }
};

HttpParser::HttpParser(Kind kind, HttpLimits limits) : state_(std::make_unique<State>(kind, limits)) {}
HttpParser::~HttpParser() = default;

std::size_t HttpParser::feed(std::string_view bytes) {
  State& s = *state_;
  if (s.complete || s.error != HttpParseError::kNone || s.upgraded || bytes.empty()) return 0;
  const std::size_t used = http_parser_execute(&s.parser, &s.settings, bytes.data(), bytes.size());
  const auto code = HTTP_PARSER_ERRNO(&s.parser);
  if (code != HPE_OK && code != HPE_PAUSED) s.fail_from_parser();
  return used;
}

void HttpParser::finish() {
  State& s = *state_;
  if (s.complete || s.error != HttpParseError::kNone || s.upgraded || !s.begun) return;
  http_parser_execute(&s.parser, &s.settings, nullptr, 0);
  const auto code = HTTP_PARSER_ERRNO(&s.parser);
  if (code != HPE_OK && code != HPE_PAUSED) {
    s.fail_from_parser();
  } else if (!s.complete) {
    s.error = HttpParseError::kMalformed;
    s.error_text = "the connection closed in the middle of a message";
  }
}

bool HttpParser::complete() const { return state_->complete; }
bool HttpParser::in_progress() const { return state_->begun && !state_->complete; }
HttpParseError HttpParser::error() const { return state_->error; }
const std::string& HttpParser::error_text() const { return state_->error_text; }
bool HttpParser::upgraded() const { return state_->upgraded; }

bool HttpParser::take_continue_request() {
  const bool wanted = state_->continue_wanted && !state_->complete;
  state_->continue_wanted = false;
  return wanted;
}

HttpRequest HttpParser::take_request() {
  State& s = *state_;
  HttpRequest request;
  request.method = http_method_str(static_cast<http_method>(s.parser.method));
  request.target = std::move(s.target);
  request.headers = std::move(s.headers);
  request.body = std::move(s.body);
  request.keep_alive = s.keep_alive && !s.upgraded;
  s.reset_message();
  return request;
}

HttpResponse HttpParser::take_response() {
  State& s = *state_;
  HttpResponse response;
  response.status = static_cast<int>(s.parser.status_code);
  response.headers = std::move(s.headers);
  response.body = std::move(s.body);
  response.keep_alive = s.keep_alive && !s.upgraded;
  s.reset_message();
  return response;
}

}  // namespace coraft::net
