#include "raft/disk_storage.hpp"

#include "raft/bytes.hpp"
#include "raft/crc32.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cinttypes>
#include <cstdio>
#include <cstring>

namespace coraft::raft {
namespace {

enum RecordType : std::uint8_t { kHardState = 1, kEntry = 2, kTruncate = 3, kBase = 4 };

// Format 2 adds the cluster configuration at the snapshot's index; format 1 files (none) are still read.
constexpr std::string_view kSnapshotMagic = "CRSNAP02";
constexpr std::string_view kSnapshotMagicFormat1 = "CRSNAP01";
constexpr std::size_t kSnapshotHeaderBytes = 8 + 8 + 8 + 8 + 4;  // magic, index, term, size, crc32c (format 1)
// Format 2: magic, index, term, configuration size (u32), configuration, its crc32c, state size, state crc32c.
constexpr std::string_view kRefusal =
    "refusing to start (restore this replica from its peers by removing its data directory)";

void add_record(std::string& out, RecordType type, const std::string& payload) {
  std::string body;
  body.reserve(payload.size() + 1);
  ByteWriter(body).u8(type);
  body += payload;
  ByteWriter w(out);
  w.u32(static_cast<std::uint32_t>(body.size()));
  w.u32(crc32c(body));
  out += body;
}

std::string hard_state_record(const HardState& state) {
  std::string p, out;
  ByteWriter w(p);
  w.u64(state.term);
  w.u16(state.voted_for.value);
  add_record(out, kHardState, p);
  return out;
}

std::string base_record(Index index, Term term) {
  std::string p, out;
  ByteWriter w(p);
  w.u64(index);
  w.u64(term);
  add_record(out, kBase, p);
  return out;
}

std::string segment_name(std::uint64_t seq) { return fmt::format("wal-{:016x}.log", seq); }
std::string snapshot_name(Index index, Term term) { return fmt::format("snapshot-{:016x}-{:016x}.snap", index, term); }

std::optional<std::uint64_t> segment_seq(std::string_view name) {
  if (name.size() != 24 || !name.starts_with("wal-") || !name.ends_with(".log")) return std::nullopt;
  std::uint64_t seq = 0;
  for (char c : name.substr(4, 16)) {
    const int digit = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    if (digit < 0) return std::nullopt;
    seq = seq * 16 + static_cast<std::uint64_t>(digit);
  }
  return seq;
}

bool is_snapshot_name(std::string_view name) {
  return name.size() == 47 && name.starts_with("snapshot-") && name.ends_with(".snap");
}

// Figure 13 at recovery: the log held the snapshot's last entry with another term, so what follows it in the log
// came from another history and must go (a crash between saving a snapshot and cutting the log's suffix).
void drop_disagreeing_suffix(WalState& state, Term snapshot_term) {
  if (state.term_at_base && *state.term_at_base != snapshot_term) {
    state.dropped_suffix += state.entries.size();
    state.entries.clear();
  }
}

}  // namespace

std::string_view fsync_policy_name(FsyncPolicy policy) { return policy == FsyncPolicy::kAlways ? "always" : "none"; }

// ---------------------------------------------------------------------------------------------------------------
// Reading

Snapshot parse_snapshot_file(std::string_view data, const std::string& path) {
  std::uint64_t index = 0, term = 0, size = 0;
  std::uint32_t crc = 0;
  auto corrupt = [&] { return StorageError(fmt::format("{}: corrupt snapshot; {}", path, kRefusal)); };
  if (data.size() < kSnapshotHeaderBytes) throw corrupt();
  const std::string_view magic = data.substr(0, kSnapshotMagic.size());
  if (magic != kSnapshotMagic && magic != kSnapshotMagicFormat1) throw corrupt();
  ByteReader body(data.substr(kSnapshotMagic.size()));
  std::string membership;
  if (!body.u64(index) || !body.u64(term)) throw corrupt();
  if (magic == kSnapshotMagic) {
    std::uint32_t membership_size = 0, membership_crc = 0;
    if (!body.u32(membership_size) || body.rest().size() < membership_size) throw corrupt();
    membership = std::string(body.rest().substr(0, membership_size));
    body = ByteReader(body.rest().substr(membership_size));
    if (!body.u32(membership_crc) || crc32c(membership) != membership_crc) throw corrupt();
  }
  if (!body.u64(size) || !body.u32(crc) || body.rest().size() != size || crc32c(body.rest()) != crc) throw corrupt();
  return Snapshot{index, term, std::make_shared<const std::string>(body.rest()), crc, std::move(membership)};
}

std::size_t read_segment(std::string_view data, std::uint64_t seq, bool newest, const std::string& path,
                         WalState& state) {
  auto& entries = state.entries;
  std::size_t offset = 0;
  // Returns where the records end if the bad record may be a torn tail; throws otherwise.
  auto bad = [&](const std::string& what, bool reaches_end) {
    // Only the very end of the newest segment may be torn (a write cut short by a crash); anything else is
    // corruption of data that may have been acknowledged.
    if (newest && reaches_end) {
      state.torn_bytes_cut += data.size() - offset;
      return offset;
    }
    throw StorageError(fmt::format("{}: corrupt record at byte {}: {}; {}", path, offset, what, kRefusal));
  };
  // Compared a page at a time: the preallocated tail of a fresh segment is tens of megabytes of zeros.
  auto zeros_from = [&](std::size_t from) {
    static const std::array<char, 4096> kZeros{};
    for (std::size_t at = from; at < data.size(); at += kZeros.size()) {
      if (std::memcmp(data.data() + at, kZeros.data(), std::min(kZeros.size(), data.size() - at)) != 0) return false;
    }
    return true;
  };
  while (offset < data.size()) {
    // Segments are preallocated with zeros: zeros to the end are simply where the data stops (the caller cuts them
    // from the newest segment). Zeros followed by data are corruption.
    if (zeros_from(offset)) return offset;
    ByteReader header(data.substr(offset));
    std::uint32_t length = 0, crc = 0;
    if (!header.u32(length) || !header.u32(crc)) return bad("truncated record header", true);
    if (length == 0) return bad("empty record", false);
    if (length > data.size() - offset - 8) return bad("record longer than the file", true);
    const std::string_view body = data.substr(offset + 8, length);
    // Torn if nothing but preallocated zeros follows it.
    if (crc32c(body) != crc) return bad("checksum mismatch", zeros_from(offset + 8 + length));
    ByteReader r(body);
    std::uint8_t type = 0;
    r.u8(type);
    bool ok = true;
    if (type == kHardState) {
      std::uint64_t term = 0;
      std::uint16_t vote = 0;
      ok = r.u64(term) && r.u16(vote) && r.done();
      state.hard_state = HardState{term, NodeId{vote}};
    } else if (type == kBase) {
      std::uint64_t index = 0, term = 0;
      ok = r.u64(index) && r.u64(term) && r.done();
      if (ok && index > state.base_index) {
        throw StorageError(fmt::format("{}: the log was compacted up to {} but the newest snapshot ends at {}; {}",
                                       path, index, state.base_index, kRefusal));
      }
      if (ok && index == state.base_index && state.base_index > 0) {
        drop_disagreeing_suffix(state, term);
        state.base_record_seen = true;
      }
    } else if (type == kTruncate) {
      std::uint64_t from = 0;
      ok = r.u64(from) && r.done();
      drop_from(entries, from);
      if (from <= state.base_index) state.term_at_base.reset();
    } else if (type == kEntry) {
      auto e = std::make_shared<Entry>();
      std::uint8_t kind = 0;
      ok = r.u64(e->index) && r.u64(e->term) && r.u8(kind) && kind <= static_cast<std::uint8_t>(EntryKind::kConfig);
      if (ok && e->index <= state.base_index) {
        // In the snapshot already (a segment that straddles the snapshot's index); its term tells whether what
        // follows it belongs to the snapshot's history.
        if (e->index == state.base_index) state.term_at_base = e->term;
      } else if (ok) {
        e->kind = static_cast<EntryKind>(kind);
        e->data = std::string(r.rest());
        const Index expected = entries.empty() ? state.base_index + 1 : entries.back()->index + 1;
        const Term last_term = entries.empty() ? 0 : entries.back()->term;
        auto& highest = state.segment_last_index[seq];
        highest = std::max(highest, e->index);
        if (e->index != expected || e->term < last_term) {
          throw StorageError(fmt::format("{}: entry {} (term {}) out of order at byte {}; {}", path, e->index,
                                         e->term, offset, kRefusal));
        }
        entries.push_back(std::move(e));
      }
    } else {
      ok = false;
    }
    if (!ok) throw StorageError(fmt::format("{}: malformed record of type {} at byte {}; {}", path, type, offset, kRefusal));
    ++state.records;
    offset += 8 + length;
  }
  return offset;
}

std::string encode_records(const Persist& change) {
  std::string out;
  if (change.hard_state) out += hard_state_record(*change.hard_state);
  if (change.truncate_from) {
    std::string p;
    ByteWriter(p).u64(*change.truncate_from);
    add_record(out, kTruncate, p);
  }
  for (const EntryPtr& e : change.entries) {
    std::string p;
    p.reserve(e->data.size() + 17);
    ByteWriter w(p);
    w.u64(e->index);
    w.u64(e->term);
    w.u8(static_cast<std::uint8_t>(e->kind));
    w.raw(e->data);
    add_record(out, kEntry, p);
  }
  return out;
}

DirectoryIdentity open_identity(FileSystem& fs, const std::string& dir, std::uint64_t candidate) {
  fs.create_directories(dir);
  const std::string file = join_path(dir, "IDENTITY");
  if (fs.exists(file)) {
    const std::string text = fs.read(file);
    std::uint64_t incarnation = 0;
    if (std::sscanf(text.c_str(), "incarnation %" SCNx64, &incarnation) != 1 || incarnation == 0) {
      throw StorageError(fmt::format("{}: not a data directory identity; {}", file, kRefusal));
    }
    return {incarnation, false};
  }
  if (candidate == 0) candidate = 1;
  replace_file_durably(fs, dir, "IDENTITY", fmt::format("incarnation {:016x}\n", candidate));
  return {candidate, true};
}

// ---------------------------------------------------------------------------------------------------------------
// Opening and recovery

DiskStorage::DiskStorage(FileSystem& fs, DiskStorageOptions options) : fs_(fs), options_(std::move(options)) {
  fs_.create_directories(options_.dir);
  lock_ = fs_.lock(options_.dir);
  read_all();
}

DiskStorage::~DiskStorage() {
  // A clean stop leaves everything on the disk whatever the policy: with fsync none the last writes would otherwise
  // sit in the page cache until the kernel got round to them. Best effort: there is no one left to tell.
  if (segment_) {
    try {
      segment_->sync();
    } catch (const std::exception&) {
    }
  }
}

std::string DiskStorage::path(std::string_view name) const { return join_path(options_.dir, name); }

void DiskStorage::read_snapshot() {
  std::vector<std::pair<Index, std::string>> snapshots;
  for (const std::string& name : fs_.list(options_.dir)) {
    if (name.starts_with("snapshot-") && name.ends_with(".tmp")) {
      fs_.remove(path(name));  // a snapshot that was being written when we stopped
      continue;
    }
    if (!is_snapshot_name(name)) continue;
    snapshots.emplace_back(std::stoull(name.substr(9, 16), nullptr, 16), name);
  }
  if (snapshots.empty()) return;
  std::sort(snapshots.begin(), snapshots.end());
  const std::string file = path(snapshots.back().second);
  recovered_.snapshot = parse_snapshot_file(fs_.read(file), file);
  base_index_ = recovered_.snapshot->index;
}

void DiskStorage::read_all() {
  read_snapshot();
  std::vector<std::pair<std::uint64_t, std::string>> segments;
  for (const std::string& name : fs_.list(options_.dir)) {
    if (auto seq = segment_seq(name)) segments.emplace_back(*seq, name);
  }
  std::sort(segments.begin(), segments.end());
  report_.segments = segments.size();

  WalState wal;
  wal.base_index = base_index_;
  const Term base_term = recovered_.snapshot ? recovered_.snapshot->term : 0;
  for (std::size_t s = 0; s < segments.size(); ++s) {
    const bool last_segment = s + 1 == segments.size();
    const std::string file = path(segments[s].second);
    const std::string data = fs_.read(file);
    const std::size_t end = read_segment(data, segments[s].first, last_segment, file, wal);
    // The newest segment is cut where its records end (a torn tail, or preallocated zeros): appends go on from
    // there, and the next append preallocates again.
    if (last_segment && end < data.size()) fs_.truncate(file, end);
  }
  // The snapshot file took its place, but the base record that follows it never made it to the disk.
  if (recovered_.snapshot && !wal.base_record_seen) drop_disagreeing_suffix(wal, base_term);
  if (!wal.entries.empty() && wal.entries.front()->term < base_term) {
    throw StorageError(fmt::format("{}: the log after the snapshot at {} (term {}) starts with term {}; {}",
                                   options_.dir, base_index_, base_term, wal.entries.front()->term, kRefusal));
  }
  recovered_.hard_state = wal.hard_state;
  recovered_.entries = std::move(wal.entries);
  segment_last_index_ = std::move(wal.segment_last_index);
  report_.records = wal.records;
  report_.torn_bytes_cut = wal.torn_bytes_cut;
  report_.suffix_entries_dropped = wal.dropped_suffix;
  hard_state_ = recovered_.hard_state;
  open_segment_for_append(segments.empty() ? 1 : segments.back().first);
  // The names recovery relied on may not be durable yet: a process that died after creating a segment (or renaming
  // a snapshot into place) and before syncing the directory leaves names a power cut can still undo, although the
  // page cache shows them now. Appends to such a segment would be synced and lost with it. One directory sync makes
  // every name recovery saw durable before anything new depends on it (kvsim seed 2922: a crash, then a power cut).
  if (options_.fsync == FsyncPolicy::kAlways) fs_.sync_dir(options_.dir);
}

// ---------------------------------------------------------------------------------------------------------------
// Writing

void DiskStorage::open_segment_for_append(std::uint64_t seq) {
  const std::string file = path(segment_name(seq));
  const bool existed = fs_.exists(file);
  segment_ = fs_.open(file, false);
  segment_seq_ = seq;
  segment_end_ = segment_->size();  // recovery cut any zeros: this is where the data ends
  zeroed_end_ = segment_end_;
  // Preallocate the rest of the segment with zeros: a sync then writes data blocks only, not the file size too
  // (about 50 instead of 70 microseconds here). zero_ahead() then writes the reserved blocks before data reaches them.
  if (segment_end_ < options_.segment_bytes) {
    segment_->preallocate(segment_end_, options_.segment_bytes - segment_end_);
    if (options_.fsync == FsyncPolicy::kAlways) segment_->sync();
  }
  if (!existed && options_.fsync == FsyncPolicy::kAlways) fs_.sync_dir(options_.dir);  // the new name survives too
}

void DiskStorage::write_records(const std::string& bytes) {
  if (segment_end_ > 0 && segment_end_ + bytes.size() > options_.segment_bytes) {
    sync_segment();
    open_segment_for_append(segment_seq_ + 1);
  }
  segment_->write_at(segment_end_, bytes);
  segment_end_ += bytes.size();
  zero_ahead();
}

void DiskStorage::zero_ahead() {
  // Blocks that fallocate reserved are "unwritten" extents (ext4, XFS): the first sync of each one must also record
  // in the file's metadata that it now holds data. Measured here, a 4 KiB pwrite + fdatasync costs about 250 us into
  // reserved blocks and 178 us into blocks written before (three such writers at once: 435 against 506 us). So
  // synced segments are written with real zeros a stretch ahead of their data, a megabyte at a time, in the job that
  // comes within half a megabyte of the zeroed end: one job in about every 1 MiB of log pays for the next megabyte.
  // Zeros are what preallocated blocks read as, so recovery is unchanged; a power cut that loses them loses nothing.
  constexpr std::uint64_t kStretch = 1u << 20;
  if (options_.fsync != FsyncPolicy::kAlways || zeroed_end_ >= segment_end_ + kStretch / 2) return;
  const std::uint64_t from = std::max(zeroed_end_, segment_end_);
  const std::uint64_t to = std::min<std::uint64_t>(options_.segment_bytes, segment_end_ + kStretch);
  if (to > from) {
    static const std::string zeros(kStretch, '\0');
    segment_->write_at(from, std::string_view(zeros).substr(0, to - from));
  }
  zeroed_end_ = std::max(zeroed_end_, to);
}

void DiskStorage::sync_segment() {
  if (options_.fsync != FsyncPolicy::kAlways) return;
  segment_->sync();
  ++syncs_;
}

void DiskStorage::persist(const Persist& change) {
  if (change.hard_state) hard_state_ = *change.hard_state;
  if (change.snapshot) {
    // From the leader. The records that cut a disagreeing suffix are on disk before the snapshot file takes its
    // place: a crash in between must not bring the suffix back next to the snapshot.
    Persist before;
    before.hard_state = change.hard_state;
    before.truncate_from = change.truncate_from;
    install(prepare_snapshot(*change.snapshot), encode_records(before));
    if (change.entries.empty()) return;
    Persist after;
    after.entries = change.entries;
    write_records(encode_records(after));
  } else {
    const std::string bytes = encode_records(change);
    if (bytes.empty()) return;
    write_records(bytes);
  }
  if (!change.entries.empty()) {
    auto& highest = segment_last_index_[segment_seq_];
    highest = std::max(highest, change.entries.back()->index);
  }
  sync_segment();
}

PreparedSnapshot DiskStorage::prepare_snapshot(const Snapshot& snapshot) const {
  const std::string temp = path(snapshot_name(snapshot.index, snapshot.term)) + ".tmp";
  std::string header(kSnapshotMagic);
  ByteWriter w(header);
  w.u64(snapshot.index);
  w.u64(snapshot.term);
  w.u32(static_cast<std::uint32_t>(snapshot.membership.size()));
  header += snapshot.membership;
  w.u32(crc32c(snapshot.membership));
  w.u64(snapshot.data->size());
  w.u32(crc32c(*snapshot.data));  // computed here, from the bytes written: the file vouches for itself
  auto file = fs_.open(temp, true);
  file->write_at(0, header);
  file->write_at(header.size(), *snapshot.data);
  // Durable before the log relies on it; with fsync off, the machine is trusted.
  if (options_.fsync == FsyncPolicy::kAlways) file->sync();
  return PreparedSnapshot{snapshot, temp};
}

void DiskStorage::install(const PreparedSnapshot& prepared, std::string records_before) {
  if (!records_before.empty()) {
    write_records(records_before);
    sync_segment();
  }
  adopt_snapshot(prepared);
}

void DiskStorage::adopt_snapshot(const PreparedSnapshot& prepared) {
  const Snapshot& snapshot = prepared.snapshot;
  if (snapshot.index <= base_index_) {
    fs_.remove(prepared.temp_path);  // a newer snapshot came from the leader meanwhile
    return;
  }
  fs_.rename(prepared.temp_path, path(snapshot_name(snapshot.index, snapshot.term)));
  if (options_.fsync == FsyncPolicy::kAlways) fs_.sync_dir(options_.dir);
  write_records(base_record(snapshot.index, snapshot.term));
  sync_segment();
  compact(snapshot);
}

void DiskStorage::compact(const Snapshot& snapshot) {
  base_index_ = snapshot.index;
  // A fresh segment that starts with the hard state, so that every older segment holding only compacted entries can
  // go without losing the term and vote.
  open_segment_for_append(segment_seq_ + 1);
  write_records(hard_state_record(hard_state_));
  sync_segment();
  // Delete the oldest segments while everything they hold is compacted. Stop at the first one that still matters:
  // a later segment's truncate record only makes sense after the entries it cut.
  std::vector<std::uint64_t> older;
  for (const std::string& name : fs_.list(options_.dir)) {
    if (auto seq = segment_seq(name); seq && *seq < segment_seq_) older.push_back(*seq);
    if (is_snapshot_name(name) && name != snapshot_name(snapshot.index, snapshot.term)) fs_.remove(path(name));
  }
  std::sort(older.begin(), older.end());
  for (std::uint64_t seq : older) {
    auto it = segment_last_index_.find(seq);
    const Index highest = it == segment_last_index_.end() ? 0 : it->second;
    if (highest > snapshot.index) break;
    fs_.remove(path(segment_name(seq)));
    if (it != segment_last_index_.end()) segment_last_index_.erase(it);
  }
  if (options_.fsync == FsyncPolicy::kAlways) fs_.sync_dir(options_.dir);
}

}  // namespace coraft::raft
