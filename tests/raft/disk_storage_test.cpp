// The write-ahead log: what was persisted comes back after a restart; a torn tail is cut; corruption before the tail
// is refused; one process per directory.

#include "raft/bytes.hpp"
#include "raft/crc32.hpp"
#include "raft/disk_storage.hpp"
#include "tests/support/forwarding_file_system.hpp"

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <unistd.h>

using namespace coraft::raft;
namespace fs = std::filesystem;

namespace {

PosixFileSystem posix;

struct TempDir {
  fs::path path;
  TempDir() {
    static int counter = 0;
    path = fs::temp_directory_path() / fmt::format("coraft-wal-test-{}-{}", getpid(), ++counter);
    fs::remove_all(path);
  }
  ~TempDir() { fs::remove_all(path); }
};

EntryPtr entry(Term term, Index index, std::string data) {
  return std::make_shared<Entry>(Entry{term, index, EntryKind::kCommand, std::move(data)});
}

DiskStorageOptions options(const TempDir& dir, std::size_t segment_bytes = 1 << 20) {
  return DiskStorageOptions{dir.path.string(), FsyncPolicy::kAlways, segment_bytes};
}

fs::path only_segment(const TempDir& dir) {
  for (const auto& item : fs::directory_iterator(dir.path))
    if (item.path().extension() == ".log") return item.path();
  return {};
}

}  // namespace

TEST_CASE("persisted state, truncations included, comes back after a restart", "[raft][wal]") {
  TempDir dir;
  {
    DiskStorage wal(posix, options(dir));
    CHECK(wal.recover().entries.empty());
    wal.persist(Persist{std::nullopt, HardState{3, NodeId{1}}, std::nullopt, {entry(1, 1, "a"), entry(2, 2, "b"), entry(2, 3, "c")}});
    wal.persist(Persist{std::nullopt, HardState{4, kNoNode}, Index{3}, {entry(4, 3, "d"), entry(4, 4, "e")}});
  }
  DiskStorage again(posix, options(dir));
  const auto state = again.recover();
  CHECK(state.hard_state == HardState{4, kNoNode});
  REQUIRE(state.entries.size() == 4);
  CHECK(state.entries[2]->data == "d");
  CHECK(state.entries[3]->term == 4);
  CHECK(again.recovery_report().torn_bytes_cut == 0);
}

TEST_CASE("segments roll over and are all read back", "[raft][wal]") {
  TempDir dir;
  {
    DiskStorage wal(posix, options(dir, 256));
    for (Index i = 1; i <= 100; ++i) wal.persist(Persist{std::nullopt, std::nullopt, std::nullopt, {entry(1, i, std::string(40, 'x'))}});
  }
  DiskStorage again(posix, options(dir, 256));
  CHECK(again.recover().entries.size() == 100);
  CHECK(again.recovery_report().segments > 10);
}

TEST_CASE("a torn last write is cut off and recovery goes on", "[raft][wal]") {
  TempDir dir;
  const Persist written{std::nullopt, HardState{1, kNoNode}, std::nullopt, {entry(1, 1, "a"), entry(1, 2, "b")}};
  {
    DiskStorage wal(posix, options(dir));
    wal.persist(written);
  }
  const fs::path segment = only_segment(dir);
  const auto data_end = encode_records(written).size();  // the segment is preallocated beyond this with zeros
  SECTION("the file ends inside the last record") {
    for (std::size_t cut : {std::size_t{3}, std::size_t{9}, std::size_t{12}}) {
      TempDir copy;
      fs::create_directories(copy.path);
      fs::copy_file(segment, copy.path / segment.filename());
      fs::resize_file(copy.path / segment.filename(), data_end - cut);
      DiskStorage recovered(posix, options(copy));
      const auto state = recovered.recover();
      CHECK(state.entries.size() == 1);  // the second entry was torn
      CHECK(recovered.recovery_report().torn_bytes_cut > 0);
      // Appending after the cut works.
      recovered.persist(Persist{std::nullopt, std::nullopt, std::nullopt, {entry(1, 2, "b2")}});
    }
  }
  SECTION("the last record is half written into the preallocated zeros") {
    {
      std::fstream f(segment, std::ios::in | std::ios::out | std::ios::binary);
      f.seekp(static_cast<std::streamoff>(data_end) - 5);
      const char zeros[5] = {0, 0, 0, 0, 0};
      f.write(zeros, 5);  // the last record's tail never reached the disk
    }
    DiskStorage recovered(posix, options(dir));
    CHECK(recovered.recover().entries.size() == 1);
    CHECK(recovered.recovery_report().torn_bytes_cut > 0);
  }
  SECTION("preallocated zeros after complete records are not a tear") {
    DiskStorage recovered(posix, options(dir));
    CHECK(recovered.recover().entries.size() == 2);
    CHECK(recovered.recovery_report().torn_bytes_cut == 0);
    recovered.persist(Persist{std::nullopt, std::nullopt, std::nullopt, {entry(1, 3, "c")}});
  }
}

TEST_CASE("a corrupted record before the tail refuses to start", "[raft][wal]") {
  TempDir dir;
  {
    DiskStorage wal(posix, options(dir));
    wal.persist(Persist{std::nullopt, HardState{1, kNoNode}, std::nullopt, {entry(1, 1, "aaaa"), entry(1, 2, "bbbb")}});
  }
  const fs::path segment = only_segment(dir);
  {
    std::fstream f(segment, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(30);  // inside the first entry record
    f.put('X');
  }
  try {
    DiskStorage broken(posix, options(dir));
    FAIL("corruption was not detected");
  } catch (const StorageError& e) {
    CHECK_THAT(e.what(), Catch::Contains("corrupt record"));
  }
}

TEST_CASE("two processes never share a data directory", "[raft][wal]") {
  TempDir dir;
  DiskStorage first(posix, options(dir));
  CHECK_THROWS_WITH(DiskStorage(posix, options(dir)), Catch::Contains("in use by another process"));
}

TEST_CASE("merging a burst of changes equals applying them in order", "[raft][wal]") {
  Persist merged;
  merge_persist(merged, Persist{std::nullopt, HardState{1, NodeId{2}}, std::nullopt, {entry(1, 5, "a"), entry(1, 6, "b")}});
  merge_persist(merged, Persist{std::nullopt, HardState{2, kNoNode}, Index{6}, {entry(2, 6, "c")}});
  merge_persist(merged, Persist{std::nullopt, std::nullopt, Index{4}, {entry(2, 4, "d")}});
  CHECK(merged.hard_state == HardState{2, kNoNode});
  CHECK(merged.truncate_from == Index{4});
  REQUIRE(merged.entries.size() == 1);
  CHECK(merged.entries[0]->data == "d");
}

TEST_CASE("a snapshot compacts the log on disk and comes back after a restart", "[raft][wal][snapshot]") {
  TempDir dir;
  {
    DiskStorage wal(posix, options(dir, 512));
    wal.persist(Persist{std::nullopt, HardState{2, NodeId{1}}, std::nullopt, {}});
    for (Index i = 1; i <= 60; ++i) wal.persist(Persist{std::nullopt, std::nullopt, std::nullopt, {entry(2, i, std::string(30, 'e'))}});
    const Snapshot snapshot{50, 2, std::make_shared<const std::string>("state machine at 50")};
    wal.persist(Persist{snapshot, std::nullopt, std::nullopt, {entry(2, 61, "after")}});
  }
  std::size_t segments = 0;
  for (const auto& item : fs::directory_iterator(dir.path)) segments += item.path().extension() == ".log";
  CHECK(segments <= 3);  // the segments holding only entries up to 50 are gone
  DiskStorage again(posix, options(dir, 512));
  const auto state = again.recover();
  REQUIRE(state.snapshot.has_value());
  CHECK(state.snapshot->index == 50);
  CHECK(*state.snapshot->data == "state machine at 50");
  CHECK(state.hard_state == HardState{2, NodeId{1}});
  REQUIRE(state.entries.size() == 11);
  CHECK(state.entries.front()->index == 51);
  CHECK(state.entries.back()->data == "after");
}

TEST_CASE("a corrupt snapshot file refuses to start", "[raft][wal][snapshot]") {
  TempDir dir;
  {
    DiskStorage wal(posix, options(dir));
    wal.persist(Persist{std::nullopt, HardState{1, kNoNode}, std::nullopt, {entry(1, 1, "a"), entry(1, 2, "b")}});
    wal.persist(Persist{Snapshot{2, 1, std::make_shared<const std::string>("snap")}, std::nullopt, std::nullopt, {}});
  }
  for (const auto& item : fs::directory_iterator(dir.path)) {
    if (item.path().extension() != ".snap") continue;
    std::fstream f(item.path(), std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(-1, std::ios::end);
    f.put('X');
  }
  CHECK_THROWS_WITH(DiskStorage(posix, options(dir)), Catch::Contains("corrupt snapshot"));
}

TEST_CASE("records' integers are little-endian and fixed-width, and read back", "[raft][wal]") {
  // Every log record, snapshot image and backup is made of these: data directories written before depend on them.
  std::string out;
  ByteWriter w(out);
  w.u8(0x01);
  w.u16(0x0302);
  w.u32(0x07060504u);
  w.u64(0x0F0E0D0C0B0A0908ull);
  w.bytes("xy");
  w.u64(0);
  const std::string expected("\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0A\x0B\x0C\x0D\x0E\x0F"
                             "\x02\0\0\0\0\0\0\0xy\0\0\0\0\0\0\0\0",
                             15 + 8 + 2 + 8);
  CHECK(out == expected);
  ByteReader r(out);
  std::uint8_t a = 0;
  std::uint16_t b = 0;
  std::uint32_t c = 0;
  std::uint64_t d = 0, e = 1;
  std::string text;
  CHECK((r.u8(a) && r.u16(b) && r.u32(c) && r.u64(d) && r.bytes(text) && r.u64(e)));
  CHECK((a == 0x01 && b == 0x0302 && c == 0x07060504u && d == 0x0F0E0D0C0B0A0908ull && text == "xy" && e == 0));
  CHECK(r.done());
  CHECK_FALSE(r.u8(a));
}

TEST_CASE("CRC-32C matches its check value, in hardware and in software", "[raft][wal]") {
  CHECK(crc32c("123456789") == 0xE3069283u);
  CHECK(crc32c_portable("123456789") == 0xE3069283u);
  std::string data;
  for (int i = 0; i < 1000; ++i) data.push_back(static_cast<char>(i * 31 + 7));
  for (std::size_t n : {std::size_t{0}, std::size_t{1}, std::size_t{7}, std::size_t{8}, std::size_t{999}}) {
    CHECK(crc32c(std::string_view(data).substr(0, n)) == crc32c_portable(std::string_view(data).substr(0, n)));
  }
  CHECK(crc32c(std::string_view(data).substr(500), crc32c(std::string_view(data).substr(0, 500))) == crc32c(data));
}

namespace {

// Passes everything to the machine's file system and remembers, per file, up to where it was written without a gap
// from 0.
struct WriteTrackingFileSystem final : coraft::testing::ForwardingFileSystem {
  std::map<std::string, std::uint64_t> written_to;
  WriteTrackingFileSystem() : ForwardingFileSystem(posix) {}

  struct File final : coraft::testing::ForwardingFile {
    using ForwardingFile::ForwardingFile;
    std::uint64_t* written_to = nullptr;
    void write_at(std::uint64_t offset, std::string_view bytes) override {
      if (offset <= *written_to) *written_to = std::max(*written_to, offset + bytes.size());
      ForwardingFile::write_at(offset, bytes);
    }
  };
  std::unique_ptr<WritableFile> wrap(const std::string& path, std::unique_ptr<WritableFile> file) override {
    auto tracked = std::make_unique<File>(std::move(file));
    tracked->written_to = &written_to[path];
    *tracked->written_to = std::min(*tracked->written_to, tracked->size());
    return tracked;
  }
};

}  // namespace

TEST_CASE("a synced segment is written with zeros well ahead of its data, not left reserved", "[raft][wal]") {
  // Reserved (fallocated) blocks cost a metadata update on their first sync; written ones do not. The log writes
  // zeros at least half a megabyte past its data, up to the segment's end, and reads back the same entries.
  TempDir dir;
  const bool synced = GENERATE(true, false);
  INFO((synced ? "fsync always" : "fsync none"));
  WriteTrackingFileSystem files;
  const std::size_t segment_bytes = 3u << 20;
  DiskStorageOptions opts{dir.path.string(), synced ? FsyncPolicy::kAlways : FsyncPolicy::kNone, segment_bytes};
  {
    DiskStorage wal(files, opts);
    for (Index i = 1; i <= 50; ++i) {  // 2.5 MB: within the one segment
      wal.persist(Persist{std::nullopt, std::nullopt, std::nullopt, {entry(1, i, std::string(50'000, 'x'))}});
      const std::uint64_t written = files.written_to[only_segment(dir).string()];
      if (synced) {
        // At least half a megabyte ahead, or the whole segment.
        if (written < std::min<std::uint64_t>(segment_bytes, i * 50'000 + (512u << 10))) FAIL("entry " << i << ": written only to " << written);
      } else {
        if (written > i * 50'100) FAIL("entry " << i << ": zeros written without syncs, to " << written);
      }
    }
  }
  DiskStorage again(posix, opts);
  CHECK(again.recover().entries.size() == 50);
  CHECK(again.recovery_report().torn_bytes_cut == 0);
}
