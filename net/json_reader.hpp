#pragma once
// A small strict JSON reader for the datagram codec's hot path: no DOM, no allocation except the strings it
// returns. Values are read in place as the caller walks an object; anything malformed (bad syntax, invalid UTF-8,
// raw control characters, numbers out of range, nesting deeper than 32) makes the reader fail, and it stays failed.

#include <cstdint>
#include <string>
#include <string_view>

namespace coraft::net {

class JsonReader {
 public:
  explicit JsonReader(std::string_view text) : text_(text) {}

  bool ok() const { return ok_; }
  // After the top-level value: true if only whitespace is left.
  bool at_end();

  // Walks an object: for each member, reads the key and calls on_member(key), which must read or skip the value.
  template <class OnMember>
  bool object(OnMember&& on_member) {
    if (!enter('{')) return false;
    if (peek_is('}')) return leave('}');
    std::string key;
    do {
      if (!string(key) || !expect(':')) return fail();
      on_member(std::string_view(key));
      if (!ok_) return false;
    } while (next_is(','));
    return leave('}');
  }
  // Walks an array: calls on_element() for each element, which must read or skip it.
  template <class OnElement>
  bool array(OnElement&& on_element) {
    if (!enter('[')) return false;
    if (peek_is(']')) return leave(']');
    do {
      on_element();
      if (!ok_) return false;
    } while (next_is(','));
    return leave(']');
  }

  bool string(std::string& out);
  bool uint(std::uint64_t& out);
  bool int64(std::int64_t& out);
  bool boolean(bool& out);
  bool null();           // consumes a null if there is one; false (without failing) otherwise
  bool is_string();      // the next value is a string
  bool is_null();
  bool skip();           // any value

 private:
  bool fail() {
    ok_ = false;
    return false;
  }
  void space();
  bool peek_is(char c);
  bool next_is(char c);
  bool expect(char c);
  bool enter(char open);
  bool leave(char close);
  bool literal(std::string_view word);
  bool number_text(std::string_view& out);

  std::string_view text_;
  std::size_t pos_ = 0;
  int depth_ = 0;
  bool ok_ = true;
};

}  // namespace coraft::net
