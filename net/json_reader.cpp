#include "net/json_reader.hpp"

#include <charconv>

namespace coraft::net {
namespace {

constexpr int kMaxDepth = 32;

void append_utf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// Length of the valid UTF-8 sequence starting at `s[i]` (a byte >= 0x80), or 0 if it is not valid.
std::size_t utf8_sequence(std::string_view s, std::size_t i) {
  const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = b(i);
  std::size_t n;
  std::uint32_t cp;
  if (c >= 0xC2 && c <= 0xDF) n = 2, cp = c & 0x1F;
  else if (c >= 0xE0 && c <= 0xEF) n = 3, cp = c & 0x0F;
  else if (c >= 0xF0 && c <= 0xF4) n = 4, cp = c & 0x07;
  else return 0;
  if (i + n > s.size()) return 0;
  for (std::size_t k = 1; k < n; ++k) {
    if ((b(i + k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b(i + k) & 0x3F);
  }
  // No overlong forms, no surrogates, nothing past U+10FFFF.
  if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return n;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

void JsonReader::space() {
  while (pos_ < text_.size() &&
         (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\n' || text_[pos_] == '\r')) {
    ++pos_;
  }
}

bool JsonReader::peek_is(char c) {
  space();
  return ok_ && pos_ < text_.size() && text_[pos_] == c;
}

bool JsonReader::next_is(char c) {
  if (!peek_is(c)) return false;
  ++pos_;
  return true;
}

bool JsonReader::expect(char c) { return next_is(c) || fail(); }

bool JsonReader::enter(char open) {
  if (!ok_ || ++depth_ > kMaxDepth) return fail();
  return expect(open);
}

bool JsonReader::leave(char close) {
  --depth_;
  return expect(close);
}

bool JsonReader::at_end() {
  space();
  return ok_ && pos_ == text_.size();
}

bool JsonReader::literal(std::string_view word) {
  space();
  if (text_.substr(pos_, word.size()) != word) return false;
  pos_ += word.size();
  return true;
}

bool JsonReader::boolean(bool& out) {
  if (literal("true")) out = true;
  else if (literal("false")) out = false;
  else return fail();
  return true;
}

bool JsonReader::null() { return ok_ && literal("null"); }

bool JsonReader::is_string() { return peek_is('"'); }

bool JsonReader::is_null() {
  space();
  return ok_ && text_.substr(pos_, 4) == "null";
}

bool JsonReader::number_text(std::string_view& out) {
  space();
  const std::size_t start = pos_;
  if (pos_ < text_.size() && text_[pos_] == '-') ++pos_;
  const std::size_t digits = pos_;
  while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') ++pos_;
  if (pos_ == digits || (text_[digits] == '0' && pos_ - digits > 1)) return fail();  // no digits, or a leading 0
  bool integer = true;
  if (pos_ < text_.size() && text_[pos_] == '.') {
    integer = false;
    const std::size_t fraction = ++pos_;
    while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') ++pos_;
    if (pos_ == fraction) return fail();
  }
  if (pos_ < text_.size() && (text_[pos_] == 'e' || text_[pos_] == 'E')) {
    integer = false;
    ++pos_;
    if (pos_ < text_.size() && (text_[pos_] == '+' || text_[pos_] == '-')) ++pos_;
    const std::size_t exponent = pos_;
    while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') ++pos_;
    if (pos_ == exponent) return fail();
  }
  out = text_.substr(start, pos_ - start);
  return integer;  // a valid number that is not an integer: the caller decides
}

bool JsonReader::uint(std::uint64_t& out) {
  std::string_view text;
  if (!number_text(text) || text.front() == '-') return fail();
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return (ec == std::errc{} && end == text.data() + text.size()) || fail();
}

bool JsonReader::int64(std::int64_t& out) {
  std::string_view text;
  if (!number_text(text)) return fail();
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return (ec == std::errc{} && end == text.data() + text.size()) || fail();
}

bool JsonReader::string(std::string& out) {
  out.clear();
  if (!next_is('"')) return fail();
  // Fast path: copy runs of plain characters at once.
  for (;;) {
    const std::size_t run = pos_;
    while (pos_ < text_.size()) {
      const auto c = static_cast<unsigned char>(text_[pos_]);
      if (c == '"' || c == '\\' || c < 0x20 || c >= 0x80) break;
      ++pos_;
    }
    out.append(text_.substr(run, pos_ - run));
    if (pos_ >= text_.size()) return fail();
    const auto c = static_cast<unsigned char>(text_[pos_]);
    if (c == '"') {
      ++pos_;
      return true;
    }
    if (c < 0x20) return fail();  // raw control characters are not JSON
    if (c >= 0x80) {
      const std::size_t n = utf8_sequence(text_, pos_);
      if (n == 0) return fail();
      out.append(text_.substr(pos_, n));
      pos_ += n;
      continue;
    }
    // An escape.
    if (++pos_ >= text_.size()) return fail();
    const char e = text_[pos_++];
    switch (e) {
      case '"': out += '"'; break;
      case '\\': out += '\\'; break;
      case '/': out += '/'; break;
      case 'b': out += '\b'; break;
      case 'f': out += '\f'; break;
      case 'n': out += '\n'; break;
      case 'r': out += '\r'; break;
      case 't': out += '\t'; break;
      case 'u': {
        auto read4 = [&](std::uint32_t& v) {
          if (pos_ + 4 > text_.size()) return false;
          v = 0;
          for (int k = 0; k < 4; ++k) {
            const int d = hex_digit(text_[pos_ + static_cast<std::size_t>(k)]);
            if (d < 0) return false;
            v = v * 16 + static_cast<std::uint32_t>(d);
          }
          pos_ += 4;
          return true;
        };
        std::uint32_t cp = 0;
        if (!read4(cp)) return fail();
        if (cp >= 0xD800 && cp <= 0xDBFF) {  // a surrogate pair
          std::uint32_t low = 0;
          if (pos_ + 2 > text_.size() || text_[pos_] != '\\' || text_[pos_ + 1] != 'u') return fail();
          pos_ += 2;
          if (!read4(low) || low < 0xDC00 || low > 0xDFFF) return fail();
          cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
        } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
          return fail();
        }
        append_utf8(out, cp);
        break;
      }
      default: return fail();
    }
  }
}

bool JsonReader::skip() {
  space();
  if (!ok_ || pos_ >= text_.size()) return fail();
  const char c = text_[pos_];
  if (c == '{') return object([&](std::string_view) { skip(); });
  if (c == '[') return array([&] { skip(); });
  if (c == '"') {
    std::string ignored;
    return string(ignored);
  }
  if (c == 't' || c == 'f') {
    bool ignored;
    return boolean(ignored);
  }
  if (c == 'n') return null() || fail();
  std::string_view ignored;
  number_text(ignored);  // any valid number will do here
  return ok_;
}

}  // namespace coraft::net
