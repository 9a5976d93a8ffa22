// Fuzz target: the snapshot reader (raft/disk_storage: parse_snapshot_file, what DiskStorage runs on the newest
// snapshot file at start) and the state machine's restore from its bytes (kv::Store::restore, which a replica runs on
// that snapshot, or on one received from its leader). Input: one flags byte, then the file.
//   byte 0, bit 0: fix the header first (magic, size and CRC-32C of the bytes after the 36-byte header), so that
//                  Store::restore behind the checksum gets explored.
// Properties: a bad file is a StorageError; restore() either fails leaving the store empty or gives a store that
// serializes and restores to the same contents (indexes, flags and tombstones included), and that goes on applying
// commands with sessions soundly, its ranges' indexes never going back.

#include "fuzz_target.hpp"

#include "kv/store.hpp"
#include "raft/crc32.hpp"
#include "raft/disk_storage.hpp"

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

using namespace coraft;

namespace {

constexpr std::string_view kMagic = "CRSNAP01";
constexpr std::size_t kHeaderBytes = 36;  // magic, u64 index, u64 term, u64 size, u32 crc32c
constexpr std::size_t kMaxSessions = 4;   // small, so that applying commands evicts sessions

void put_le(std::string& s, std::size_t at, std::uint64_t v, std::size_t bytes) {
  for (std::size_t i = 0; i < bytes; ++i) s[at + i] = static_cast<char>((v >> (8 * i)) & 0xFF);
}

}  // namespace

CORAFT_FUZZ_TARGET(snapshot) {
  if (size < 1) return 0;
  std::string file(reinterpret_cast<const char*>(data) + 1, size - 1);
  if ((data[0] & 1) && file.size() >= kHeaderBytes) {
    file.replace(0, kMagic.size(), kMagic);
    put_le(file, 24, file.size() - kHeaderBytes, 8);
    put_le(file, 32, raft::crc32c(std::string_view(file).substr(kHeaderBytes)), 4);
  }

  raft::Snapshot snapshot;
  try {
    snapshot = raft::parse_snapshot_file(file, "snapshot");
  } catch (const raft::StorageError&) {
    return 0;
  }
  FUZZ_CHECK(snapshot.data && snapshot.data->size() + kHeaderBytes == file.size());

  kv::Store store(kMaxSessions);
  if (!store.restore(*snapshot.data)) {
    FUZZ_CHECK(store.size() == 0 && store.sessions() == 0 && store.last_index() == 0 && store.tombstones() == 0);
    return 0;
  }

  // What restored serializes and restores to the same contents.
  const std::string bytes = store.serialize();
  kv::Store copy(kMaxSessions);
  FUZZ_CHECK(copy.restore(bytes));
  FUZZ_CHECK(copy.size() == store.size());
  FUZZ_CHECK(copy.sessions() == store.sessions());
  FUZZ_CHECK(copy.last_index() == store.last_index());
  FUZZ_CHECK(copy.digest() == store.digest());
  FUZZ_CHECK(copy.tombstones() == store.tombstones());
  FUZZ_CHECK(copy.last_change_index() == store.last_change_index());
  FUZZ_CHECK(copy.serialize().size() == bytes.size());

  // And the restored store goes on: commands in new sessions (evicting old ones), a retry of each, and now and then a
  // prefix delete (at indexes that must increase: up to three per session, not past 2^64).
  std::uint64_t index = store.last_index();
  if (index > std::numeric_limits<std::uint64_t>::max() - 3 * (kMaxSessions + 2)) return 0;
  bool evicting = false;  // a command ran in a session of its own: the table is then cut to kMaxSessions
  const kv::KeyRange all{"", true}, key{"key", false};
  std::uint64_t all_index = store.index_of(all), key_index = store.index_of(key);
  for (std::uint64_t session = 1; session <= kMaxSessions + 2; ++session) {
    const kv::Command put{kv::Op::kPut, "key", std::to_string(session), std::nullopt, kv::SessionRef{session, 1}};
    evicting = evicting || store.session_seq(session) == 0;
    const kv::Result first = store.apply(++index, put);
    FUZZ_CHECK(store.apply(++index, put) == first);  // a retry is answered as the first time
    FUZZ_CHECK(store.session_seq(session) >= 1);
    if (session % 2 == 0) store.apply(++index, kv::Command{kv::Op::kDeletePrefix, "k", {}, {}, {}});
    FUZZ_CHECK(store.index_of(all) >= all_index && store.index_of(key) >= key_index);
    all_index = store.index_of(all);
    key_index = store.index_of(key);
  }
  if (evicting) FUZZ_CHECK(store.sessions() <= kMaxSessions);
  return 0;
}
