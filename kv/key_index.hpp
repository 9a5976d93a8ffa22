#pragma once
// A hash index over the store's ordered tree: key -> the tree's element, so that a write to an existing key and a
// read of one key cost a probe of one flat array and one visit to the element, not a walk of the tree (about 17
// levels at 100,000 keys, most of them cache misses). The tree stays the one owner of keys and values and the one
// order (prefix reads walk it); the index holds pointers to its elements, which std::map never moves.
//
// Open addressing with linear probing in a power-of-two array of (hash, element) slots, at most half full; an
// erased slot is filled by shifting its followers back, so probe runs never hold gaps or markers.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string_view>
#include <utility>
#include <vector>

namespace coraft::kv {

template <class Element>  // std::pair<const Key, Value>, whose first converts to std::string_view
class KeyIndex {
 public:
  KeyIndex() = default;
  // Not copyable: a copy would point into another tree (a copied store builds its own index). A moved-from index is
  // empty, as the moved-from tree is.
  KeyIndex(const KeyIndex&) = delete;
  KeyIndex& operator=(const KeyIndex&) = delete;
  KeyIndex(KeyIndex&& other) noexcept { *this = std::move(other); }
  KeyIndex& operator=(KeyIndex&& other) noexcept {
    if (this == &other) return *this;
    slots_ = std::move(other.slots_);
    mask_ = other.mask_;
    size_ = other.size_;
    other.clear();
    return *this;
  }

  static std::uint64_t hash_of(std::string_view key) { return std::hash<std::string_view>{}(key); }

  Element* find(std::string_view key, std::uint64_t hash) const {
    if (slots_.empty()) return nullptr;
    for (std::size_t i = home(hash);; i = (i + 1) & mask_) {
      const Slot& slot = slots_[i];
      if (!slot.element) return nullptr;
      if (slot.hash == hash && std::string_view(slot.element->first) == key) return slot.element;
    }
  }

  // `element` must not be indexed yet.
  void insert(Element* element, std::uint64_t hash) {
    if ((size_ + 1) * 2 > slots_.size()) grow();
    place(element, hash);
    ++size_;
  }

  // `element` must be indexed.
  void erase(const Element* element, std::uint64_t hash) {
    std::size_t hole = home(hash);
    while (slots_[hole].element != element) hole = (hole + 1) & mask_;
    for (std::size_t next = (hole + 1) & mask_; slots_[next].element; next = (next + 1) & mask_) {
      // The slot at `next` may fill the hole if the hole lies on its probe path: between its home and `next`.
      if (((next - home(slots_[next].hash)) & mask_) >= ((next - hole) & mask_)) {
        slots_[hole] = slots_[next];
        hole = next;
      }
    }
    slots_[hole] = Slot{};
    --size_;
  }

  void clear() {
    slots_.clear();
    mask_ = 0;
    size_ = 0;
  }
  std::size_t size() const { return size_; }

 private:
  struct Slot {
    std::uint64_t hash = 0;
    Element* element = nullptr;  // nullptr: empty
  };

  std::size_t home(std::uint64_t hash) const { return static_cast<std::size_t>(hash) & mask_; }

  void place(Element* element, std::uint64_t hash) {
    std::size_t i = home(hash);
    while (slots_[i].element) i = (i + 1) & mask_;
    slots_[i] = Slot{hash, element};
  }

  void grow() {
    std::vector<Slot> old = std::move(slots_);
    slots_.assign(old.empty() ? 16 : old.size() * 2, Slot{});
    mask_ = slots_.size() - 1;
    for (const Slot& slot : old)
      if (slot.element) place(slot.element, slot.hash);
  }

  std::vector<Slot> slots_;
  std::size_t mask_ = 0;
  std::size_t size_ = 0;
};

}  // namespace coraft::kv
