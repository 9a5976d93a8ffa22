#include "raft/crc32.hpp"

#include <array>

namespace coraft::raft {
namespace {

constexpr std::array<std::uint32_t, 256> make_table() {
  std::array<std::uint32_t, 256> table{};
  for (std::uint32_t i = 0; i < 256; ++i) {
    std::uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? 0x82F63B78u ^ (c >> 1) : c >> 1;
    table[i] = c;
  }
  return table;
}

constexpr auto kTable = make_table();

std::uint32_t crc32c_table(std::string_view data, std::uint32_t crc) {
  for (unsigned char byte : data) crc = kTable[(crc ^ byte) & 0xFF] ^ (crc >> 8);
  return crc;
}

#if defined(__x86_64__)
// SSE 4.2 has a CRC-32C instruction: eight bytes a cycle instead of one table lookup a byte.
__attribute__((target("sse4.2"))) std::uint32_t crc32c_hardware(std::string_view data, std::uint32_t crc) {
  std::uint64_t c = crc;
  std::size_t i = 0;
  for (; i + 8 <= data.size(); i += 8) {
    std::uint64_t word;
    __builtin_memcpy(&word, data.data() + i, 8);
    c = __builtin_ia32_crc32di(c, word);
  }
  auto c32 = static_cast<std::uint32_t>(c);
  for (; i < data.size(); ++i) c32 = __builtin_ia32_crc32qi(c32, static_cast<unsigned char>(data[i]));
  return c32;
}
#endif

}  // namespace

std::uint32_t crc32c(std::string_view data, std::uint32_t crc) {
#if defined(__x86_64__)
  static const bool hardware = __builtin_cpu_supports("sse4.2");
  if (hardware) return ~crc32c_hardware(data, ~crc);
#endif
  return ~crc32c_table(data, ~crc);
}

std::uint32_t crc32c_portable(std::string_view data, std::uint32_t crc) { return ~crc32c_table(data, ~crc); }

}  // namespace coraft::raft
