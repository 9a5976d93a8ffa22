// Writes the fuzz targets' seed corpus (tests/fuzz/corpus/<target>/) from the real encoders: datagrams of every
// message type from net/codec, configurations, WAL segments and snapshot files written by DiskStorage itself, and
// what HTTP clients send (the README's curl examples, Consul's clients, and the refusals' causes).
// The corpus is committed; run this again only when a format changes:
//   build/bin/fuzz_make_corpus tests/fuzz/corpus

#include "kv/command.hpp"
#include "kv/store.hpp"
#include "net/codec.hpp"
#include "net/consul_http.hpp"
#include "net/http_message.hpp"
#include "raft/disk_storage.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <unistd.h>

using namespace coraft;
namespace fs = std::filesystem;
using raft::Persist;

namespace {

fs::path out_dir;

void write(const std::string& target, const std::string& name, const std::string& bytes) {
  const fs::path dir = out_dir / target;
  fs::create_directories(dir);
  std::ofstream(dir / name, std::ios::binary) << bytes;
}

std::string read(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

const raft::NodeId kA{0x0001}, kB{0x0002}, kC{0x0003}, kClient{0x0100};

raft::EntryPtr entry(raft::Term term, raft::Index index, const std::string& data,
                     raft::EntryKind kind = raft::EntryKind::kCommand) {
  return std::make_shared<raft::Entry>(raft::Entry{term, index, kind, data});
}

std::string command(kv::Op op, std::string key, std::string value = {}, std::optional<std::string> expected = {},
                    kv::SessionRef session = {}) {
  return kv::encode(kv::Command{op, std::move(key), std::move(value), std::move(expected), session});
}

// A small store with keys and sessions, serialized: a real snapshot's bytes.
std::string store_bytes(std::size_t keys, std::size_t sessions) {
  kv::Store store;
  std::uint64_t index = 0;
  for (std::size_t i = 0; i < keys; ++i) {
    store.apply(++index, kv::Command{kv::Op::kPut, fmt::format("key{}", i), fmt::format("value{}", i), {}, {}});
  }
  for (std::size_t s = 1; s <= sessions; ++s) {
    store.apply(++index, kv::Command{kv::Op::kCas, "key0", "x", std::string("nope"), {s, 3}});
  }
  if (keys > 2) {  // flags, a tombstone, a deleted prefix
    store.apply(++index, kv::Command{kv::Op::kPut, "key1", "flagged", {}, {}, 42});
    store.apply(++index, kv::Command{kv::Op::kDelete, "key0", {}, {}, {}});
    store.apply(++index, kv::Command{kv::Op::kDeletePrefix, "key2", {}, {}, {}});
  }
  return store.serialize();
}

void codec() {
  // Replica to replica.
  auto peer = [&](const std::string& name, raft::PeerPayload payload) {
    const auto datagrams = net::encode_peer(raft::PeerMessage{kA, kB, std::move(payload)}, kA);
    write("codec", name, datagrams.front());
  };
  peer("rv", raft::RequestVote{7, 100, 6, false});
  peer("rv-pre", raft::RequestVote{8, 100, 6, true});
  peer("rvr", raft::RequestVoteReply{7, true, false});
  peer("ae-heartbeat", raft::AppendEntries{5, 12, 5, {}, 11, 123456});
  peer("ae-entries",
       raft::AppendEntries{5, 10, 4,
                           {entry(5, 11, command(kv::Op::kPut, "k", "v")), entry(5, 12, "", raft::EntryKind::kNoop),
                            entry(5, 13, command(kv::Op::kDelete, "k", {}, {}, {42, 7})),
                            entry(5, 14, command(kv::Op::kCas, "k", "new", std::string("old"), {42, 8})),
                            entry(5, 15, command(kv::Op::kCas, "q\"uote\\ \n\x01 é", "v", std::nullopt)),
                            entry(5, 16, kv::encode(kv::Command{kv::Op::kPut, "k", "v", {}, {42, 9}, 7, 0})),
                            entry(5, 17, kv::encode(kv::Command{kv::Op::kDeletePrefix, "dir/", {}, {}, {42, 10}}))},
                           9, -42});
  peer("aer-ok", raft::AppendEntriesReply{5, true, 15, 0, 0, 0, 123456});
  peer("aer-reject", raft::AppendEntriesReply{5, false, 0, 10, 8, 3, 123456});
  peer("is", raft::InstallSnapshot{6, 40, 5, 0, 120, 0x1234ABCDu, store_bytes(2, 1).substr(0, 60), false});
  peer("is-last", raft::InstallSnapshot{6, 40, 5, 60, 62, 0x1234ABCDu, "\x00\xff", true});
  peer("isr", raft::InstallSnapshotReply{6, 40, 60, false});

  // Course mode: what the course simulator sends and expects (get/put with MID, hello), no sessions.
  write("codec", "hello", net::encode_hello(kA));
  auto request = [&](const std::string& name, actors::RequestKind kind, std::string key, std::string value = {},
                     std::optional<std::string> expected = {}, kv::SessionRef session = {}) {
    actors::ClientRequest r;
    r.client = kClient;
    r.mid = "MID" + name;
    r.kind = kind;
    r.key = std::move(key);
    r.value = std::move(value);
    r.expected = std::move(expected);
    r.session = session;
    write("codec", name, net::encode_request(r, kA, kB));
  };
  request("get", actors::RequestKind::kGet, "greeting");
  request("put", actors::RequestKind::kPut, "greeting", "hello");
  // Cluster mode: del, cas, status, exactly-once sessions.
  request("del", actors::RequestKind::kDelete, "greeting", {}, {}, {9, 1});
  request("cas", actors::RequestKind::kCas, "greeting", "hi", std::string("hello"), {9, 2});
  request("cas-absent", actors::RequestKind::kCas, "greeting", "hi", std::nullopt);
  request("put-session", actors::RequestKind::kPut, "k\u00e9y", "v\t\"", {}, {0xFFFFFFFFFFFFFFFFull, 1});
  request("status", actors::RequestKind::kStatus, {});
  request("del-prefix", actors::RequestKind::kDeletePrefix, "dir/", {}, {}, {9, 3});
  write("codec", "delete-course",
        R"({"src":"0100","dst":"0001","leader":"FFFF","type":"delete","MID":"m1","key":"a"})");

  auto reply = [&](const std::string& name, actors::ReplyKind kind, kv::Status status,
                   std::optional<std::string> value, std::string reason = {},
                   std::optional<actors::ReplicaStatus> replica = {}) {
    actors::ClientReply r;
    r.client = kClient;
    r.mid = "MID" + name;
    r.kind = kind;
    r.leader = kA;
    r.status = status;
    r.value = std::move(value);
    r.reason = std::move(reason);
    r.replica_status = std::move(replica);
    write("codec", name, net::encode_reply(r, kA));
  };
  reply("ok-get", actors::ReplyKind::kOk, kv::Status::kOk, std::string("hello"));
  reply("ok-not-found", actors::ReplyKind::kOk, kv::Status::kNotFound, std::nullopt);
  reply("ok-cas-mismatch", actors::ReplyKind::kOk, kv::Status::kCasMismatch, std::string("other"));
  reply("ok-stale", actors::ReplyKind::kOk, kv::Status::kStaleSession, std::nullopt);
  reply("fail", actors::ReplyKind::kFail, kv::Status::kOk, std::nullopt, "too large");
  reply("redirect", actors::ReplyKind::kRedirect, kv::Status::kOk, std::nullopt);
  actors::ReplicaStatus status;
  status.role = raft::Role::kLeader;
  status.term = 4;
  status.leader = kA;
  status.commit_index = 17;
  status.applied_index = 16;
  status.last_log_index = 18;
  status.last_leader_contact_ms = 0;
  status.keys = 3;
  status.followers = {{kB, 17}, {kC, 12}};
  reply("status-reply", actors::ReplyKind::kOk, kv::Status::kOk, std::nullopt, {}, status);
}

void http() {
  // Input: a split byte, then what a client sends on one connection.
  auto stream = [&](const std::string& name, std::uint8_t split, const std::string& bytes) {
    write("http", name, std::string(1, static_cast<char>(split)) + bytes);
  };
  auto request = [](std::string method, std::string target, std::string body = {}, net::HttpHeaders headers = {}) {
    headers.emplace_back("X-Consul-Token", "00ff");
    return net::render(net::HttpRequest{std::move(method), std::move(target), std::move(headers), std::move(body), true},
                       "127.0.0.1:8500");
  };
  stream("put", 7, request("PUT", "/v1/kv/greeting", "hello"));
  stream("get-raw", 3, request("GET", "/v1/kv/greeting?raw"));
  stream("put-flags-cas", 40, request("PUT", "/v1/kv/web/port?flags=7&cas=0", "80"));
  stream("keys", 9, request("GET", "/v1/kv/web/?keys&separator=%2F"));
  stream("recurse-stale", 0, request("GET", "/v1/kv/a%2Fb/?recurse&stale"));
  stream("blocking", 22, request("GET", "/v1/kv/greeting?index=12&wait=1m30.5s&consistent"));
  stream("delete-recurse", 5, request("DELETE", "/v1/kv/web/?recurse"));
  stream("delete-cas", 5, request("DELETE", "/v1/kv/web/port?cas=12"));
  stream("status", 1, request("GET", "/v1/status/leader") + request("GET", "/v1/status/peers") +
                          request("GET", "/metrics"));
  stream("bearer", 30, net::render(net::HttpRequest{"GET", "/v1/kv/k", {{"Authorization", "Bearer 00FF"}}, {}, true},
                                   "h"));
  stream("forwarded-write", 60,
         request("PUT", "/v1/kv/k?cas=3", "v", {{std::string(net::kForwardedHeader), "0001"},
                                               {std::string(net::kSessionHeader), "77.3"}}));
  stream("pipelined", 100, request("PUT", "/v1/kv/a", "1") + request("GET", "/v1/kv/a") +
                               "GET /v1/kv/a HTTP/1.1\r\nConnection: close\r\n\r\n");
  stream("chunked", 50, "PUT /v1/kv/c HTTP/1.1\r\nX-Consul-Token: 00ff\r\nTransfer-Encoding: chunked\r\n\r\n"
                        "3\r\nabc\r\n0\r\n\r\n");
  stream("expect-continue", 70, "PUT /v1/kv/e HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nok");
  stream("http10", 4, "GET /v1/kv/x HTTP/1.0\r\n\r\n");
  stream("upgrade", 12, "GET / HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\nPRI * HTTP/2.0\r\n");
  // Refused: each for another reason, so that the fuzzer starts from every check.
  stream("no-token", 2, "GET /v1/kv/k HTTP/1.1\r\n\r\n");
  stream("acquire", 2, request("PUT", "/v1/kv/k?acquire=s", "v"));
  stream("bad-wait", 2, request("GET", "/v1/kv/k?index=1&wait=5x"));
  stream("conflict", 2, request("DELETE", "/v1/kv/k?recurse&cas=1"));
  stream("unknown-path", 2, request("GET", "/v1/agent/self") + request("POST", "/v1/kv/k"));
  stream("smuggling", 2, "PUT /v1/kv/x HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
  stream("garbage", 0, "GARBAGE\r\n\r\n");
}

void config() {
  write("config", "minimal.json", R"({"replicas": {"0000": "127.0.0.1:7000"}})");
  write("config", "readme.json", R"({
  "replicas": {"0000": "127.0.0.1:7000", "0001": "127.0.0.1:7001", "0002": "127.0.0.1:7002"},
  "election_timeout_ms": [300, 600],
  "heartbeat_ms": 100,
  "request_timeout_ms": 3000,
  "hold_timeout_ms": 1000,
  "lease_reads": true,
  "max_key_bytes": 1024,
  "max_value_bytes": 16384,
  "snapshot_entries": 100000
}
)");
  write("config", "five-hosts.json",
        R"({"replicas": {"000a": "[::1]:7000", "000B": "node-b.example:7001", "0c00": "10.0.0.3:7002",)"
        R"( "FFFE": "[fe80::1%eth0]:65535", "0000": "localhost:1"}, "lease_reads": false, "snapshot_entries": 0,)"
        R"( "election_timeout_ms": [10, 3600000], "heartbeat_ms": 5})");
  // Refused ones, each for another reason, so that the fuzzer starts from every check.
  write("config", "duplicate-id.json", R"({"replicas": {"0001": "h:1", "0001": "h:2"}})");
  write("config", "bad-timing.json", R"({"replicas": {"0001": "h:1"}, "heartbeat_ms": 400})");
  write("config", "unknown-key.json", R"({"replicas": {"0001": "h:1"}, "max_value_bytes": 40000, "x": [1, 2.5, null]})");
  write("config", "http.json",
        R"({"replicas": {"0000": {"udp": "127.0.0.1:7000", "http": "127.0.0.1:8500"}, "0001": "127.0.0.1:7001"}})");
  write("config", "http-duplicate.json",
        R"({"replicas": {"0000": {"udp": "h:1", "http": "h:2"}, "0001": {"udp": "h:3", "http": "h:2", "x": 1}}})");
}

// WAL target input: flags, snapshot index, u16 split, then the segment bytes.
std::string wal_input(std::uint8_t flags, std::uint8_t base, std::size_t split, const std::string& segments) {
  std::string out;
  out += static_cast<char>(flags);
  out += static_cast<char>(base);
  out += static_cast<char>(split & 0xFF);
  out += static_cast<char>((split >> 8) & 0xFF);
  return out + segments;
}

// A segment without its preallocated zeros: up to the end of its last record (u32 length, u32 crc, body).
std::string records_only(std::string s) {
  std::size_t offset = 0;
  while (s.size() - offset >= 8) {
    std::uint32_t length = 0;
    for (std::size_t i = 0; i < 4; ++i) length |= static_cast<std::uint32_t>(static_cast<unsigned char>(s[offset + i])) << (8 * i);
    if (length == 0) break;
    offset += 8 + length;
  }
  s.resize(offset);
  return s;
}

void wal_and_snapshot() {
  const fs::path dir = fs::temp_directory_path() / fmt::format("coraft-fuzz-corpus-{}", getpid());
  fs::remove_all(dir);
  std::vector<std::string> segments;
  std::string snapshot_file;
  {
    raft::PosixFileSystem files;
    raft::DiskStorage wal(files, raft::DiskStorageOptions{dir.string(), raft::FsyncPolicy::kNone, 4096});

    wal.persist(Persist{std::nullopt, raft::HardState{1, kA}, std::nullopt,
                        {entry(1, 1, "", raft::EntryKind::kNoop), entry(1, 2, command(kv::Op::kPut, "a", "1")),
                         entry(1, 3, command(kv::Op::kPut, "b", "2", {}, {5, 1}))}});
    wal.persist(Persist{std::nullopt, raft::HardState{2, raft::kNoNode}, raft::Index{3},
                        {entry(2, 3, "", raft::EntryKind::kNoop), entry(2, 4, command(kv::Op::kDelete, "a"))}});
    const raft::Snapshot snapshot = raft::make_snapshot(3, 2, store_bytes(2, 1));
    wal.adopt_snapshot(wal.prepare_snapshot(snapshot));
    wal.persist(Persist{std::nullopt, std::nullopt, std::nullopt,
                        {entry(2, 5, command(kv::Op::kCas, "b", "3", std::string("2")))}});
    wal.persist(Persist{std::nullopt, raft::HardState{3, kB}, std::nullopt, {entry(3, 6, "", raft::EntryKind::kNoop)}});
  }
  std::vector<fs::path> files;
  for (const auto& item : fs::directory_iterator(dir)) files.push_back(item.path());
  std::sort(files.begin(), files.end());
  for (const fs::path& f : files) {
    if (f.extension() == ".log") segments.push_back(read(f));
    if (f.extension() == ".snap") snapshot_file = read(f);
  }
  fs::remove_all(dir);

  // The snapshot at index 3 compacted the first segment away: what is left starts with the hard state.
  const std::string last = records_only(segments.back());
  write("wal", "segment", wal_input(2, 3, 0, last));
  if (segments.size() == 2) {  // the older segment still holds entries after the snapshot's index
    const std::string older = records_only(segments.front());
    write("wal", "disk-two-segments", wal_input(2 | 4, 3, older.size(), older + last));
  }
  write("wal", "segment-zero-tail", wal_input(2, 3, 0, last + std::string(64, '\0')));
  write("wal", "segment-torn", wal_input(2, 3, 0, last.substr(0, last.size() - 3)));
  std::string bad_crc = last;
  bad_crc[4] = static_cast<char>(bad_crc[4] ^ 0x55);
  write("wal", "segment-fix-crc", wal_input(3, 3, 0, bad_crc));

  // A log of two segments, as records written by the encoder (no snapshot).
  const std::string first = raft::encode_records(
      Persist{std::nullopt, raft::HardState{1, kA}, std::nullopt,
              {entry(1, 1, "", raft::EntryKind::kNoop), entry(1, 2, command(kv::Op::kPut, "a", "1"))}});
  const std::string second = raft::encode_records(
      Persist{std::nullopt, raft::HardState{2, raft::kNoNode}, raft::Index{2},
              {entry(2, 2, command(kv::Op::kPut, "a", "2", {}, {1, 1})), entry(2, 3, "", raft::EntryKind::kNoop)}});
  write("wal", "two-segments", wal_input(2 | 4, 0, first.size(), first + second));
  write("wal", "two-segments-zeros", wal_input(2 | 4, 0, first.size() + 16, first + std::string(16, '\0') + second));

  write("snapshot", "snapshot", std::string(1, '\0') + snapshot_file);
  std::string zeroed = snapshot_file;
  std::fill(zeroed.begin() + 24, zeroed.begin() + 36, '\0');  // size and crc, for the fix-header mode to set
  write("snapshot", "snapshot-fix-header", std::string(1, '\1') + zeroed);
  const std::string empty_store = kv::Store().serialize();
  std::string empty(36, '\0');
  write("snapshot", "empty-store-fix-header", std::string(1, '\1') + empty + empty_store);
  write("snapshot", "bigger-store-fix-header", std::string(1, '\1') + empty + store_bytes(6, 5));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: fuzz_make_corpus DIR (tests/fuzz/corpus)\n");
    return 2;
  }
  out_dir = argv[1];
  codec();
  http();
  config();
  wal_and_snapshot();
  return 0;
}
