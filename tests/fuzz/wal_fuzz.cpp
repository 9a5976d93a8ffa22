// Fuzz target: write-ahead-log recovery (raft/disk_storage: read_segment, what DiskStorage runs on each segment file
// at start). Input: a 4-byte header, then the segment bytes.
//   byte 0: flags. bit 0: fix checksums first (walk the records and set each one's CRC-32C, so that the parser
//           behind the checksum gets explored); bit 1: the (last) segment is the newest, whose tail may be torn;
//           bit 2: split the bytes into two segments, an older one and then the last one.
//   byte 1: the snapshot's index (entries up to it are in the snapshot).
//   bytes 2-3: with bit 2, where the first segment ends (u16, little endian; past the end: all of it).
// Properties: recovery either refuses with a StorageError or returns a log that is contiguous after the snapshot
// with terms that never decrease; only the newest segment may end in something other than records and zeros; what
// was recovered, written back as records, reads back the same.

#include "fuzz_target.hpp"

#include "raft/crc32.hpp"
#include "raft/disk_storage.hpp"

#include <algorithm>
#include <string>
#include <string_view>

using namespace coraft;
using namespace coraft::raft;

namespace {

std::uint32_t get_u32(const std::string& s, std::size_t at) {
  std::uint32_t v = 0;
  for (std::size_t i = 0; i < 4; ++i) v |= static_cast<std::uint32_t>(static_cast<unsigned char>(s[at + i])) << (8 * i);
  return v;
}

void put_u32(std::string& s, std::size_t at, std::uint32_t v) {
  for (std::size_t i = 0; i < 4; ++i) s[at + i] = static_cast<char>((v >> (8 * i)) & 0xFF);
}

// Record: u32 length | u32 crc32c(body) | body. Sets every complete record's checksum.
void fix_checksums(std::string& segment) {
  std::size_t offset = 0;
  while (segment.size() - offset >= 8) {
    const std::uint32_t length = get_u32(segment, offset);
    if (length == 0 || length > segment.size() - offset - 8) return;
    put_u32(segment, offset + 4, crc32c(std::string_view(segment).substr(offset + 8, length)));
    offset += 8 + length;
  }
}

bool same_entries(const std::vector<EntryPtr>& a, const std::vector<EntryPtr>& b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](const EntryPtr& x, const EntryPtr& y) {
    return x->index == y->index && x->term == y->term && x->kind == y->kind && x->data == y->data;
  });
}

}  // namespace

CORAFT_FUZZ_TARGET(wal) {
  if (size < 4) return 0;
  const std::uint8_t flags = data[0];
  const bool fix = flags & 1, newest = flags & 2, split = flags & 4;
  const Index base_index = data[1];
  const std::string_view rest(reinterpret_cast<const char*>(data) + 4, size - 4);

  std::vector<std::string> segments;
  if (split) {
    const std::size_t at = std::min<std::size_t>(rest.size(), static_cast<std::size_t>(data[2] | (data[3] << 8)));
    segments = {std::string(rest.substr(0, at)), std::string(rest.substr(at))};
  } else {
    segments = {std::string(rest)};
  }
  if (fix)
    for (std::string& s : segments) fix_checksums(s);

  WalState state;
  state.base_index = base_index;
  try {
    for (std::size_t i = 0; i < segments.size(); ++i) {
      const bool last = i + 1 == segments.size();
      const std::string& segment = segments[i];
      const std::size_t end = read_segment(segment, i + 1, last && newest, "segment", state);
      FUZZ_CHECK(end <= segment.size());
      // Only the newest segment may end in a torn record; any other ends in records, then zeros at most.
      if (!(last && newest))
        FUZZ_CHECK(std::all_of(segment.begin() + static_cast<std::ptrdiff_t>(end), segment.end(),
                               [](char c) { return c == 0; }));
    }
  } catch (const StorageError&) {
    return 0;  // refused, saying where: fine
  }

  // The log goes on from the snapshot without gaps, and terms never decrease.
  Index expected = base_index + 1;
  Term last_term = 0;
  for (const EntryPtr& e : state.entries) {
    FUZZ_CHECK(e->index == expected);
    FUZZ_CHECK(e->term >= last_term);
    FUZZ_CHECK(e->kind == EntryKind::kNoop || e->kind == EntryKind::kCommand);
    ++expected;
    last_term = e->term;
  }

  // Written back as records (what a compaction or a fresh segment would hold), it reads back the same.
  const std::string written = encode_records(Persist{std::nullopt, state.hard_state, std::nullopt, state.entries});
  WalState again;
  again.base_index = base_index;
  std::size_t end = 0;
  try {
    end = read_segment(written, 1, false, "written back", again);
  } catch (const StorageError& e) {
    violated((std::string("recovered state does not read back: ") + e.what()).c_str(), __FILE__, __LINE__);
  }
  FUZZ_CHECK(end == written.size());
  FUZZ_CHECK(again.hard_state == state.hard_state);
  FUZZ_CHECK(same_entries(again.entries, state.entries));
  FUZZ_CHECK(again.records == 1 + state.entries.size());
  FUZZ_CHECK(again.torn_bytes_cut == 0);
  return 0;
}
