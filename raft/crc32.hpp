#pragma once
// CRC-32C (Castagnoli), table-driven: the checksum on every write-ahead-log record and snapshot.

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace coraft::raft {

std::uint32_t crc32c(std::string_view data, std::uint32_t crc = 0);

}  // namespace coraft::raft
