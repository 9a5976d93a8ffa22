// The storage actor under simulated time: writes reach the disk in order and in batches, the node hears of every
// one even when its inbox is full, and a write that fails stops the replica instead of being acknowledged.

#include "actors/disk_worker.hpp"
#include "actors/logger.hpp"
#include "actors/sim_disk_worker.hpp"
#include "actors/sim_world.hpp"
#include "actors/spawn.hpp"
#include "actors/storage.hpp"
#include "raft/memory_file_system.hpp"
#include "tests/support/forwarding_file_system.hpp"

#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <catch2/catch.hpp>

using namespace coraft;
using namespace coraft::actors;
using namespace std::chrono_literals;

namespace {

raft::EntryPtr entry(raft::Index index) {
  return std::make_shared<raft::Entry>(raft::Entry{1, index, raft::EntryKind::kCommand, "cmd"});
}

raft::Persist entries(raft::Index first, raft::Index last) {
  raft::Persist p;
  for (raft::Index i = first; i <= last; ++i) p.entries.push_back(entry(i));
  return p;
}

// One storage actor on a simulated clock, with a simulated disk that takes 1 ms per job. The test plays the node.
// `inline_worker`, when given, does the writes that may hold up the replica's thread.
struct Rig {
  explicit Rig(std::size_t node_capacity = 64, raft::FsyncPolicy fsync = raft::FsyncPolicy::kAlways,
               DiskWorker* inline_worker = nullptr)
      : node(io.get_executor(), node_capacity, "node") {
    world.add_context(io);
    clock = world.make_clock(io);
    log_worker = std::make_unique<SimDiskWorker>(*clock, Rng(1), Micros(1000), Micros(1000));
    snapshot_worker = std::make_unique<SimDiskWorker>(*clock, Rng(2), Micros(1000), Micros(1000));
    StorageSetup setup{&disk, raft::DiskStorageOptions{"data", fsync, 4096}, log_worker.get(), snapshot_worker.get(),
                       inline_worker};
    storage = std::make_unique<Storage>(inbox, node, *clock, io, setup, gateway, make_logger("0001", clock.get()));
    spawn(io.get_executor(), "storage", storage->run());
  }
  ~Rig() {
    inbox.close();
    world.run_until_idle();
  }
  void write(std::uint64_t seq, raft::Persist change) { REQUIRE(inbox.try_send(StorageWrite{seq, std::move(change)})); }
  // What the storage actor reports about itself (ReportMetrics, answered to the gateway).
  std::string metrics() {
    REQUIRE(inbox.try_send(ReportMetrics{7, "replica=\"0001\"", 1}));
    world.run_until_idle();
    auto answer = gateway.try_receive();
    REQUIRE(answer.has_value());
    auto* report = std::get_if<MetricsReport>(&*answer);
    REQUIRE(report != nullptr);
    CHECK(report->collection_id == 7);
    CHECK(report->slot == 1);
    return report->text;
  }
  std::vector<StorageDurable> notices() {
    std::vector<StorageDurable> out;
    while (auto m = node.try_receive())
      if (auto* d = std::get_if<StorageDurable>(&*m)) out.push_back(*d);
    return out;
  }

  asio::io_context io;
  SimWorld world;
  std::unique_ptr<Clock> clock;
  raft::MemoryFileSystem disk;
  std::unique_ptr<SimDiskWorker> log_worker, snapshot_worker;
  StorageMailbox inbox{io.get_executor(), 64, "storage"};
  NodeMailbox node;
  GatewayMailbox gateway{io.get_executor(), 8, "gateway"};
  std::unique_ptr<Storage> storage;
};

}  // namespace

TEST_CASE("writes queued behind one under way go to the disk together, in order", "[actors][storage][wal]") {
  Rig rig;
  rig.write(1, entries(1, 2));
  rig.world.run_until_idle();  // the first job is under way
  rig.write(2, entries(3, 3));
  rig.write(3, entries(4, 5));
  rig.world.run_for(5ms);
  const auto notices = rig.notices();
  REQUIRE_FALSE(notices.empty());
  CHECK(notices.back().seq == 3);
  CHECK(notices.back().last_index == 5);
  // Group commit: writes 2 and 3 shared one job and one sync. The storage actor says so when asked.
  CHECK_THAT(rig.metrics(), Catch::Contains("coraft_storage_writes_total{replica=\"0001\"} 2\n"));
  // Durable: a power cut now loses nothing of it.
  rig.inbox.close();
  rig.world.run_until_idle();
  rig.storage.reset();
  rig.disk.power_cut([](std::uint64_t) { return 0; });
  raft::DiskStorage reopened(rig.disk, raft::DiskStorageOptions{"data", raft::FsyncPolicy::kAlways, 4096});
  CHECK(reopened.recover().entries.size() == 5);
}

TEST_CASE("the node hears of a finished write even when its inbox was full at the time", "[actors][storage]") {
  Rig rig(1);
  REQUIRE(rig.node.try_send(AppliedThrough{0}));  // the node is busy: its inbox is full
  rig.write(1, entries(1, 1));
  rig.world.run_for(3ms);
  REQUIRE(rig.notices().empty());  // drained the filler only: the notice was refused
  rig.world.run_for(3ms);          // the storage actor tries again
  const auto notices = rig.notices();
  REQUIRE(notices.size() == 1);
  CHECK(notices[0].seq == 1);
  CHECK(notices[0].last_index == 1);
}

TEST_CASE("a write the disk refuses stops the replica instead of being acknowledged", "[actors][storage]") {
  // A disk that fills up: every write fails.
  struct FullDisk final : coraft::testing::ForwardingFileSystem {
    raft::MemoryFileSystem memory;
    bool full = false;
    FullDisk() : ForwardingFileSystem(memory) {}
    struct File final : coraft::testing::ForwardingFile {
      using ForwardingFile::ForwardingFile;
      const bool* full = nullptr;
      void write_at(std::uint64_t offset, std::string_view bytes) override {
        if (*full) throw raft::StorageError("write to data failed: No space left on device");
        ForwardingFile::write_at(offset, bytes);
      }
    };
    std::unique_ptr<raft::WritableFile> wrap(const std::string&, std::unique_ptr<raft::WritableFile> file) override {
      auto wrapped = std::make_unique<File>(std::move(file));
      wrapped->full = &full;
      return wrapped;
    }
  } disk;

  asio::io_context io;
  SimWorld world;
  world.add_context(io);
  auto clock = world.make_clock(io);
  SimDiskWorker log_worker(*clock, Rng(1), Micros(100), Micros(100)), snapshot_worker(*clock, Rng(2), Micros(100), Micros(100));
  StorageMailbox inbox(io.get_executor(), 8, "storage");
  NodeMailbox node(io.get_executor(), 8, "node");
  GatewayMailbox gateway(io.get_executor(), 8, "gateway");
  Storage storage(inbox, node, *clock, io,
                  StorageSetup{&disk, raft::DiskStorageOptions{"data", raft::FsyncPolicy::kAlways, 4096}, &log_worker,
                               &snapshot_worker},
                  gateway, make_logger("0001", clock.get()));
  spawn(io.get_executor(), "storage", storage.run());
  disk.full = true;
  REQUIRE(inbox.try_send(StorageWrite{1, entries(1, 1)}));
  CHECK_THROWS_WITH(world.run_for(1ms), Catch::Contains("No space left on device"));
  CHECK_FALSE(node.try_receive().has_value());  // and nothing was said to the node
}

TEST_CASE("without fsync a leader's write is done on the replica's thread and reported in the same turn",
          "[actors][storage]") {
  // A write that only reaches the page cache takes microseconds: handing it to the disk thread (1 ms here) would
  // cost more than the write. With fsync the leader's writes go to the disk thread, so the replica goes on meanwhile.
  auto inline_worker = make_inline_worker();
  SECTION("fsync none: the notice comes before any simulated time passes") {
    Rig rig(64, raft::FsyncPolicy::kNone, inline_worker.get());
    rig.write(1, entries(1, 3));  // may_block_replica is false: a leader's write
    rig.world.run_for(0ms);
    const auto notices = rig.notices();
    REQUIRE(notices.size() == 1);
    CHECK(notices.back().last_index == 3);
  }
  SECTION("fsync none: what the replica queued before the write runs first (a leader's appends leave first)") {
    Rig rig(64, raft::FsyncPolicy::kNone, inline_worker.get());
    rig.world.run_for(0ms);  // the storage actor waits on its inbox
    rig.write(1, entries(1, 3));
    // Queued behind the write's arrival, as the bridge's turn is behind the node's hand-over of the write.
    bool written_before = true;
    asio::post(rig.io, [&] { written_before = !rig.notices().empty(); });
    rig.world.run_for(0ms);
    CHECK_FALSE(written_before);
    CHECK(rig.notices().size() == 1);
  }
  SECTION("fsync always: the disk thread takes it, and the notice waits for it") {
    Rig rig(64, raft::FsyncPolicy::kAlways, inline_worker.get());
    rig.write(1, entries(1, 3));
    rig.world.run_for(0ms);
    CHECK(rig.notices().empty());
    rig.world.run_for(2ms);
    CHECK(rig.notices().size() == 1);
  }
}
