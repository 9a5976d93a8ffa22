#pragma once
// A key as the store's tree holds it. Keys of up to 23 bytes (most keys: 16-byte keys are kvbench's default, and
// paths like "service/web/config" fit) live inside the object, and so inside the tree's node: a lookup then costs
// one cache miss per level of the tree, where std::string (15 bytes inline in libstdc++) costs a second one for
// every key it compares against. Longer keys live on the heap, as a std::string's would.

#include <cstddef>
#include <cstring>
#include <string_view>

namespace coraft::kv {

class alignas(8) StoredKey {
 public:
  explicit StoredKey(std::string_view key) { assign(key); }
  StoredKey(const StoredKey& other) { assign(other.view()); }
  StoredKey& operator=(const StoredKey& other) {
    if (this != &other) {
      StoredKey copy(other);
      swap(copy);
    }
    return *this;
  }
  StoredKey(StoredKey&& other) noexcept {
    std::memcpy(bytes_, other.bytes_, sizeof bytes_);
    other.bytes_[kTag] = 0;  // `other` is now the empty inline key: it owns nothing
  }
  StoredKey& operator=(StoredKey&& other) noexcept {
    StoredKey moved(static_cast<StoredKey&&>(other));
    swap(moved);
    return *this;
  }
  ~StoredKey() {
    if (on_heap()) delete[] heap().data;
  }

  std::string_view view() const {
    if (on_heap()) return {heap().data, heap().size};
    return {bytes_, static_cast<std::size_t>(bytes_[kTag])};
  }
  operator std::string_view() const { return view(); }  // NOLINT: a key is read as its bytes everywhere
  std::size_t size() const { return view().size(); }

  friend bool operator==(const StoredKey& a, std::string_view b) { return a.view() == b; }

 private:
  static constexpr std::size_t kInline = 23;  // bytes 0..22 hold the key, byte 23 its length (or kOnHeap)
  static constexpr std::size_t kTag = kInline;
  static constexpr char kOnHeap = static_cast<char>(0x7F);
  struct Heap {
    char* data;
    std::size_t size;
  };

  bool on_heap() const { return bytes_[kTag] == kOnHeap; }
  Heap heap() const {
    Heap h;
    std::memcpy(&h, bytes_, sizeof h);
    return h;
  }
  void assign(std::string_view key) {
    if (key.size() <= kInline) {
      std::memcpy(bytes_, key.data(), key.size());
      bytes_[kTag] = static_cast<char>(key.size());
      return;
    }
    Heap h{new char[key.size()], key.size()};
    std::memcpy(h.data, key.data(), key.size());
    std::memcpy(bytes_, &h, sizeof h);
    bytes_[kTag] = kOnHeap;
  }
  void swap(StoredKey& other) noexcept {
    char tmp[sizeof bytes_];
    std::memcpy(tmp, bytes_, sizeof bytes_);
    std::memcpy(bytes_, other.bytes_, sizeof bytes_);
    std::memcpy(other.bytes_, tmp, sizeof bytes_);
  }

  char bytes_[kInline + 1];
};
static_assert(sizeof(StoredKey) == 24);

// Orders StoredKeys, std::strings and string_views alike (transparent: a lookup by std::string builds no key).
struct KeyLess {
  using is_transparent = void;
  bool operator()(std::string_view a, std::string_view b) const { return a < b; }
};

}  // namespace coraft::kv
