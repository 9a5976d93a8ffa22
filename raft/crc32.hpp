#pragma once
// CRC-32C (Castagnoli), table-driven: the checksum on every write-ahead-log record and snapshot.

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace coraft::raft {

// Uses the CPU's CRC-32C instruction where there is one.
std::uint32_t crc32c(std::string_view data, std::uint32_t crc = 0);
// The table-driven version, for machines without it (and to check the fast one against).
std::uint32_t crc32c_portable(std::string_view data, std::uint32_t crc = 0);

}  // namespace coraft::raft
