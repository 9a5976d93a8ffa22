#pragma once
// Little-endian fixed-width integers and length-prefixed byte strings: the one byte codec behind the write-ahead
// log's records, snapshot file headers and the state machine's snapshot image. Pure C++, header only.

#include <cstdint>
#include <string>
#include <string_view>

namespace coraft::raft {

class ByteWriter {
 public:
  explicit ByteWriter(std::string& out) : out_(out) {}
  void u8(std::uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void u16(std::uint16_t v) { put(v, 2); }
  void u32(std::uint32_t v) { put(v, 4); }
  void u64(std::uint64_t v) { put(v, 8); }
  // u64 length, then the bytes.
  void bytes(std::string_view data) {
    u64(data.size());
    out_ += data;
  }
  void raw(std::string_view data) { out_ += data; }

 private:
  void put(std::uint64_t v, int width) {
    for (int i = 0; i < width; ++i) out_.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
  }
  std::string& out_;
};

// Every read returns false, and consumes nothing, when too few bytes are left: callers treat that as malformed input.
class ByteReader {
 public:
  explicit ByteReader(std::string_view data) : data_(data) {}
  bool u8(std::uint8_t& v) { return get(v, 1); }
  bool u16(std::uint16_t& v) { return get(v, 2); }
  bool u32(std::uint32_t& v) { return get(v, 4); }
  bool u64(std::uint64_t& v) { return get(v, 8); }
  // A u64 length, then that many bytes.
  bool bytes(std::string& out) {
    std::uint64_t n = 0;
    const std::size_t start = pos_;
    if (!u64(n) || n > data_.size() - pos_) {
      pos_ = start;
      return false;
    }
    out.assign(data_.substr(pos_, n));
    pos_ += n;
    return true;
  }
  std::string_view rest() const { return data_.substr(pos_); }
  std::size_t position() const { return pos_; }
  bool done() const { return pos_ == data_.size(); }

 private:
  template <class T>
  bool get(T& v, std::size_t width) {
    if (data_.size() - pos_ < width) return false;
    std::uint64_t x = 0;
    for (std::size_t i = 0; i < width; ++i) {
      x |= static_cast<std::uint64_t>(static_cast<unsigned char>(data_[pos_ + i])) << (8 * i);
    }
    v = static_cast<T>(x);
    pos_ += width;
    return true;
  }
  std::string_view data_;
  std::size_t pos_ = 0;
};

}  // namespace coraft::raft
