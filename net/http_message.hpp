#pragma once
// HTTP/1.1 messages as values, the glue to Debian's http-parser (libhttp-parser: the parser Node.js used for years,
// hardened against request smuggling) that turns bytes into them, and the few lines that turn them back into bytes.
// Pure: no sockets. The parser's own types stay in the .cpp file.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace coraft::net {

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

// ASCII letters compared without case (header names, "Bearer", "100-continue").
bool equal_ignoring_case(std::string_view a, std::string_view b);

// The value of the first header named `name` (any case), or nullptr.
const std::string* find_header(const HttpHeaders& headers, std::string_view name);

struct HttpRequest {
  std::string method;  // "GET"
  std::string target;  // as sent: "/v1/kv/a%2Fb?recurse"
  HttpHeaders headers;
  std::string body;
  bool keep_alive = true;  // the client allows another request on this connection
  const std::string* header(std::string_view name) const { return find_header(headers, name); }
};

struct HttpResponse {
  int status = 200;
  HttpHeaders headers;  // Content-Length and Connection are added by render()
  std::string body;
  bool keep_alive = true;  // server side: keep the connection open after this response
  const std::string* header(std::string_view name) const { return find_header(headers, name); }
};

std::string_view reason_phrase(int status);
// A response with a plain-text body (a trailing newline is added).
HttpResponse text_response(int status, std::string_view text);

std::string render(const HttpResponse& response);
// `host` goes into the Host header unless the request has one.
std::string render(const HttpRequest& request, std::string_view host);

// A request target split into its path and query, both percent-decoded ('+' in the query is a space, as in HTML
// forms and Go's url.ParseQuery). A query item without '=' has no value ("?recurse").
struct RequestTarget {
  std::string path;
  std::vector<std::pair<std::string, std::optional<std::string>>> query;
  // The first value of `name`: nullopt if absent; an item without '=' reads as the empty string.
  std::optional<std::string> param(std::string_view name) const;
  bool has(std::string_view name) const;
};
// nullopt for a target that is not origin-form ("/..."), or a bad percent escape.
std::optional<RequestTarget> parse_target(std::string_view target);
std::string percent_encode(std::string_view text, bool keep_slashes);

struct HttpLimits {
  std::size_t max_header_bytes = 16 * 1024;  // request line (or status line) and headers together
  std::size_t max_body_bytes = 1 << 20;
};

// What went wrong with the bytes; each maps to the status a server answers with.
enum class HttpParseError : std::uint8_t {
  kNone,
  kMalformed,        // 400
  kHeadersTooLarge,  // 431
  kBodyTooLarge,     // 413
};
int status_for(HttpParseError error);

// Incremental parser for one connection's stream of requests (or, for a client, responses). Bytes go in with feed();
// it stops after each whole message, which take() hands out, so pipelined messages come out one at a time.
class HttpParser {
 public:
  enum class Kind : std::uint8_t { kRequests, kResponses };
  HttpParser(Kind kind, HttpLimits limits);
  ~HttpParser();
  HttpParser(const HttpParser&) = delete;
  HttpParser& operator=(const HttpParser&) = delete;

  // Parses from `bytes` and returns how many it used: all of them, or fewer when a message is complete (the rest is
  // the next message) or on an error. Does nothing while a complete message waits to be taken, or after an error.
  std::size_t feed(std::string_view bytes);
  // The peer closed the connection: completes a response whose body runs to the end of the stream; a message cut
  // short becomes kMalformed.
  void finish();

  bool complete() const;
  HttpRequest take_request();    // Kind::kRequests, once complete()
  HttpResponse take_response();  // Kind::kResponses, once complete()
  // A message has begun (its first bytes arrived) and is not complete: a server then holds it to a deadline.
  bool in_progress() const;
  HttpParseError error() const;
  const std::string& error_text() const;
  // After this message the connection carries something else (Connection: upgrade, CONNECT): nothing more to parse.
  bool upgraded() const;
  // True once per request whose headers ask "Expect: 100-continue" and whose body has not all come: a server then
  // answers "100 Continue" (curl waits a second for it before sending a body over 1 KiB).
  bool take_continue_request();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace coraft::net
