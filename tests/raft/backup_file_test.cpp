// Backup files: what encode_backup writes parses back, and anything cut short or altered is refused with the reason;
// restore_data_directory seeds an empty directory that DiskStorage then recovers (snapshot, configuration, term,
// cluster identity), durably, and refuses one that holds data or belongs to another cluster.

#include "raft/backup_file.hpp"
#include "raft/disk_storage.hpp"
#include "raft/memory_file_system.hpp"

#include <catch2/catch.hpp>

using namespace coraft::raft;

namespace {

Backup sample() {
  Backup b;
  b.index = 1234;
  b.term = 7;
  b.taken_unix_ms = 1'780'000'000'000;
  b.cluster_id = 0x0123456789abcdefull;
  b.state = std::string("state \0 with a zero byte", 24);
  return b;
}

std::string why(std::string_view bytes) {
  auto parsed = parse_backup(bytes);
  REQUIRE(std::holds_alternative<std::string>(parsed));
  return std::get<std::string>(parsed);
}

Membership three_voters() {
  return Membership::of_voters({{NodeId{0}, "127.0.0.1:7000", true, 0},
                                {NodeId{1}, "127.0.0.1:7001", true, 0},
                                {NodeId{2}, "127.0.0.1:7002", true, 0}});
}

}  // namespace

TEST_CASE("a backup parses back to what was encoded", "[backup]") {
  const Backup b = sample();
  auto parsed = parse_backup(encode_backup(b));
  REQUIRE(std::holds_alternative<Backup>(parsed));
  const Backup& back = std::get<Backup>(parsed);
  CHECK(back.index == b.index);
  CHECK(back.term == b.term);
  CHECK(back.taken_unix_ms == b.taken_unix_ms);
  CHECK(back.cluster_id == b.cluster_id);
  CHECK(back.state == b.state);
}

TEST_CASE("a backup cut short, altered or of another kind is refused with the reason", "[backup]") {
  const std::string file = encode_backup(sample());
  CHECK_THAT(why(""), Catch::Contains("not a coraft backup"));
  CHECK_THAT(why("CRSNAP01 something else"), Catch::Contains("not a coraft backup"));
  for (std::size_t cut : {std::size_t{9}, std::size_t{30}, file.size() - 10, file.size() - 1}) {
    INFO("cut to " << cut << " bytes");
    CHECK_THAT(why(std::string_view(file).substr(0, cut)), Catch::Contains("cut short"));
  }
  for (std::size_t at : {std::size_t{13}, std::size_t{40}, file.size() - 8, file.size() - 2}) {
    INFO("byte " << at << " altered");
    std::string altered = file;
    altered[at] = static_cast<char>(altered[at] ^ 0x20);
    CHECK_THAT(why(altered), Catch::Contains("checksum mismatch") || Catch::Contains("cut short"));
  }
  CHECK_THAT(why(file + "x"), Catch::Contains("follow its checksum"));
  std::string newer = file;
  newer[8] = 2;  // format version 2
  CHECK_THAT(why(newer), Catch::Contains("backup format 2"));
  Backup empty = sample();
  empty.index = 0;
  CHECK_THAT(why(encode_backup(empty)), Catch::Contains("no log position"));
}

TEST_CASE("a restored directory recovers the backup's state, the new members and the new cluster identity",
          "[backup]") {
  MemoryFileSystem files;
  const Backup b = sample();
  restore_data_directory(files, "r/0000", b, three_voters(), 0xfeedull);
  CHECK(files.unsynced_changes() == 0);  // everything restore wrote is durable...
  files.power_cut([](std::uint64_t) { return 0; });  // ...so a power cut now loses nothing
  CHECK(read_cluster_id(files, "r/0000") == 0xfeedull);
  DiskStorage storage(files, DiskStorageOptions{"r/0000", FsyncPolicy::kAlways, 1 << 20});
  RecoveredState state = storage.recover();
  REQUIRE(state.snapshot.has_value());
  CHECK(state.snapshot->index == b.index);
  CHECK(state.snapshot->term == b.term);
  CHECK(*state.snapshot->data == b.state);
  CHECK(Membership::decode(state.snapshot->membership) == three_voters());
  CHECK(state.hard_state.term == b.term);
  CHECK(state.entries.empty());
}

TEST_CASE("restore refuses a directory with data or of another cluster, and goes on after an interrupted one",
          "[backup]") {
  MemoryFileSystem files;
  const Backup b = sample();
  {
    DiskStorage used(files, DiskStorageOptions{"used", FsyncPolicy::kAlways, 1 << 20});
    Persist p;
    p.hard_state = HardState{3, NodeId{1}};
    used.persist(p);
  }
  CHECK_THROWS_WITH(restore_data_directory(files, "used", b, three_voters(), 0xfeedull),
                    Catch::Contains("already holds a replica's data"));
  CHECK(read_cluster_id(files, "used") == 0);

  write_cluster_id(files, "other", 0xbeefull);
  CHECK_THROWS_WITH(restore_data_directory(files, "other", b, three_voters(), 0xfeedull),
                    Catch::Contains("already belongs to cluster 000000000000beef"));

  write_cluster_id(files, "interrupted", 0xfeedull);  // a restore that stopped after its first write
  restore_data_directory(files, "interrupted", b, three_voters(), 0xfeedull);
  DiskStorage storage(files, DiskStorageOptions{"interrupted", FsyncPolicy::kAlways, 1 << 20});
  CHECK(storage.recover().snapshot.has_value());
}

TEST_CASE("a CLUSTER file that says something else is refused", "[backup]") {
  MemoryFileSystem files;
  CHECK(read_cluster_id(files, "none") == 0);
  files.create_directories("bad");
  auto out = files.open("bad/CLUSTER", true);
  out->write_at(0, "incarnation 12\n");
  out->sync();
  CHECK_THROWS_AS(read_cluster_id(files, "bad"), StorageError);
}
