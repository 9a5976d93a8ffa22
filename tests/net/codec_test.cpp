// The wire codec: every message survives a round trip; anything malformed is rejected with a reason, never a crash.

#include "net/cluster_config.hpp"
#include "actors/rng.hpp"
#include "net/codec.hpp"
#include "net/json_reader.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <limits>

#include <catch2/catch.hpp>

using namespace coraft;
using namespace coraft::net;
using raft::NodeId;

namespace {

const NodeId kA{0x0001}, kB{0x0002}, kClient{0x0100};

raft::PeerMessage round_trip(const raft::PeerMessage& m) {
  auto datagrams = encode_peer(m, kA);
  REQUIRE(datagrams.size() == 1);
  auto decoded = decode(datagrams[0]);
  REQUIRE(std::holds_alternative<Datagram>(decoded));
  auto& d = std::get<PeerDatagram>(std::get<Datagram>(decoded));
  CHECK(d.envelope.leader == kA);
  return d.message;
}

raft::EntryPtr entry(raft::Term t, raft::Index i, std::string data, raft::EntryKind kind = raft::EntryKind::kCommand) {
  return std::make_shared<raft::Entry>(raft::Entry{t, i, kind, std::move(data)});
}

}  // namespace

TEST_CASE("peer messages survive a round trip", "[net][codec]") {
  auto rv = round_trip({kA, kB, raft::RequestVote{7, 100, 6, true}});
  CHECK(rv.from == kA);
  CHECK(rv.to == kB);
  const auto& v = std::get<raft::RequestVote>(rv.payload);
  CHECK(v.term == 7);
  CHECK(v.last_log_index == 100);
  CHECK(v.last_log_term == 6);
  CHECK(v.pre_vote);

  auto rvr = std::get<raft::RequestVoteReply>(round_trip({kB, kA, raft::RequestVoteReply{7, true, false}}).payload);
  CHECK(rvr.granted);
  CHECK_FALSE(rvr.pre_vote);

  raft::AppendEntries ae{5, 10, 4, {entry(5, 11, "P 1 2 1:k1:v"), entry(5, 12, "", raft::EntryKind::kNoop),
                                    entry(5, 13, "quote\" back\\slash \n ctrl\x01 utf8 é")},
                         9, -42};
  auto out = std::get<raft::AppendEntries>(round_trip({kA, kB, ae}).payload);
  CHECK(out.term == 5);
  CHECK(out.prev_log_index == 10);
  CHECK(out.prev_log_term == 4);
  CHECK(out.leader_commit == 9);
  CHECK(out.sent_at_us == -42);
  REQUIRE(out.entries.size() == 3);
  for (std::size_t i = 0; i < 3; ++i) {
    CHECK(out.entries[i]->index == ae.entries[i]->index);
    CHECK(out.entries[i]->term == ae.entries[i]->term);
    CHECK(out.entries[i]->kind == ae.entries[i]->kind);
    CHECK(out.entries[i]->data == ae.entries[i]->data);
  }

  CHECK(out.quiet.empty());
  ae.quiet = {NodeId{0x0003}, NodeId{0x00AF}};
  CHECK(std::get<raft::AppendEntries>(round_trip({kA, kB, ae}).payload).quiet == ae.quiet);

  auto aer = std::get<raft::AppendEntriesReply>(
      round_trip({kB, kA, raft::AppendEntriesReply{5, false, 0, 13, 8, 3, 77}}).payload);
  CHECK_FALSE(aer.success);
  CHECK(aer.rejected_prev == 13);
  CHECK(aer.conflict_index == 8);
  CHECK(aer.conflict_term == 3);
  CHECK(aer.sent_at_us == 77);
  CHECK(aer.held_us == 0);
  const auto held = std::get<raft::AppendEntriesReply>(
      round_trip({kB, kA, raft::AppendEntriesReply{5, true, 12, 0, 0, 0, 77, 1500}}).payload);
  CHECK(held.held_us == 1500);
}

TEST_CASE("a large AppendEntries is split into consecutive messages that each fit", "[net][codec]") {
  raft::AppendEntries ae{3, 100, 2, {}, 90, 1};
  for (raft::Index i = 101; i <= 140; ++i) ae.entries.push_back(entry(3, i, std::string(4000, 'x')));
  auto datagrams = encode_peer({kA, kB, ae}, kA, 60000);
  REQUIRE(datagrams.size() > 1);
  raft::Index expected_prev = 100;
  raft::Term expected_prev_term = 2;
  std::size_t total = 0;
  for (const auto& d : datagrams) {
    CHECK(d.size() <= 60000);
    auto m = std::get<raft::AppendEntries>(std::get<PeerDatagram>(std::get<Datagram>(decode(d))).message.payload);
    CHECK(m.prev_log_index == expected_prev);
    CHECK(m.prev_log_term == expected_prev_term);
    REQUIRE_FALSE(m.entries.empty());
    expected_prev = m.entries.back()->index;
    expected_prev_term = m.entries.back()->term;
    total += m.entries.size();
  }
  CHECK(total == 40);
}

TEST_CASE("client requests and replies follow the course protocol", "[net][codec]") {
  auto decoded = decode(R"({"src":"0100","dst":"0001","leader":"FFFF","type":"put","MID":"m1","key":"k","value":"v"})");
  const auto& put = std::get<RequestDatagram>(std::get<Datagram>(decoded)).request;
  CHECK(put.kind == actors::RequestKind::kPut);
  CHECK(put.mid == "m1");
  CHECK(put.key == "k");
  CHECK(put.value == "v");
  CHECK(put.client == kClient);
  CHECK(put.session.id == 0);

  actors::ClientRequest cas;
  cas.client = kClient;
  cas.mid = "m2";
  cas.kind = actors::RequestKind::kCas;
  cas.key = "k";
  cas.value = "new";
  cas.session = kv::SessionRef{12345678901234ull, 9};
  auto back = std::get<RequestDatagram>(std::get<Datagram>(decode(encode_request(cas, kA, kA)))).request;
  CHECK(back.kind == actors::RequestKind::kCas);
  CHECK_FALSE(back.expected.has_value());
  CHECK(back.session == cas.session);

  actors::ClientReply reply;
  reply.client = kClient;
  reply.mid = "m1";
  reply.kind = actors::ReplyKind::kOk;
  reply.leader = kA;
  reply.value = "v";
  const std::string text = encode_reply(reply, kA);
  CHECK(text.find(R"("type":"ok")") != std::string::npos);
  CHECK(text.find(R"("leader":"0001")") != std::string::npos);
  auto r = std::get<ReplyDatagram>(std::get<Datagram>(decode(text))).reply;
  CHECK(r.value == "v");
  reply.kind = actors::ReplyKind::kRedirect;
  reply.leader = raft::kNoNode;
  CHECK(encode_reply(reply, kA).find(R"("leader":"FFFF","type":"redirect")") != std::string::npos);
}

TEST_CASE("a client token travels with requests when the cluster wants one, and only then", "[net][codec][auth]") {
  actors::ClientRequest get;
  get.client = kClient;
  get.mid = "m3";
  get.kind = actors::RequestKind::kGet;
  get.key = "k";
  const std::string plain = encode_request(get, kA, kA);
  CHECK(plain.find("token") == std::string::npos);  // the course protocol's request, unchanged
  CHECK(std::get<RequestDatagram>(std::get<Datagram>(decode(plain))).token.empty());
  const std::string with_token = encode_request(get, kA, kA, "00ff");
  const auto& d = std::get<RequestDatagram>(std::get<Datagram>(decode(with_token)));
  CHECK(d.token == "00ff");
  CHECK(d.request.key == "k");
  get.kind = actors::RequestKind::kStatus;
  CHECK(std::get<RequestDatagram>(std::get<Datagram>(decode(encode_request(get, kA, kA, "ab")))).token == "ab");
  CHECK(std::get<DropReason>(decode(R"({"src":"0100","dst":"0001","leader":"FFFF","type":"get","MID":"m","key":"k","token":7})")) ==
        DropReason::kBadField);
}

TEST_CASE("a client asks for bundled replies with \"bundle\", and only a client sharing a socket does",
          "[net][codec][bundle]") {
  actors::ClientRequest put;
  put.client = kClient;
  put.mid = "m4";
  put.kind = actors::RequestKind::kPut;
  put.key = "k";
  put.value = "v";
  const std::string plain = encode_request(put, kA, kA);
  CHECK(plain.find("bundle") == std::string::npos);  // the course protocol's request, unchanged
  CHECK_FALSE(std::get<RequestDatagram>(std::get<Datagram>(decode(plain))).request.reply_to.bundles);
  put.reply_to.bundles = true;
  const auto decoded = decode(encode_request(put, kA, kA));
  const auto& d = std::get<RequestDatagram>(std::get<Datagram>(decoded));
  CHECK(d.request.reply_to.bundles);
  CHECK(d.request.value == "v");
  CHECK(std::get<DropReason>(decode(R"({"src":"0100","dst":"0001","leader":"FFFF","type":"get","MID":"m","key":"k","bundle":1})")) ==
        DropReason::kBadField);
}

TEST_CASE("malformed, truncated, oversized and unknown datagrams are rejected with a reason", "[net][codec]") {
  auto reason = [](std::string_view text) {
    auto d = decode(text);
    REQUIRE(std::holds_alternative<DropReason>(d));
    return std::get<DropReason>(d);
  };
  const std::string good = encode_peer({kA, kB, raft::RequestVote{7, 100, 6, true}}, kA)[0];
  for (std::size_t cut = 0; cut + 1 < good.size(); cut += 7) CHECK(reason(good.substr(0, cut)) == DropReason::kMalformedJson);
  CHECK(reason(std::string(70000, ' ')) == DropReason::kOversized);
  CHECK(reason("[1,2,3]") == DropReason::kBadEnvelope);
  CHECK(reason(R"({"src":"01","dst":"0002","leader":"FFFF","type":"rv"})") == DropReason::kBadEnvelope);
  CHECK(reason(R"({"src":"0001","dst":"0002","leader":"FFFF"})") == DropReason::kBadEnvelope);
  CHECK(reason(R"({"src":"0001","dst":"0002","leader":"FFFF","type":"gossip"})") == DropReason::kUnknownType);
  CHECK(reason(R"({"src":"0001","dst":"0002","leader":"FFFF","type":"rv","term":-1,"lli":0,"llt":0,"pre":false})") ==
        DropReason::kBadField);
  CHECK(reason(R"({"src":"0001","dst":"0002","leader":"FFFF","type":"ae","term":1,"prev":0,"pterm":0,"commit":0,"sent":0,"entries":[["x"]]})") ==
        DropReason::kBadField);
  for (const char* held : {R"(-5)", R"("5")"}) {
    CHECK(reason(fmt::format(R"({{"src":"0001","dst":"0002","leader":"FFFF","type":"aer","term":1,"ok":true,"match":3,)"
                             R"("rprev":0,"ci":0,"ct":0,"sent":9,"held":{}}})", held)) == DropReason::kBadField);
  }
  for (const char* quiet : {R"("000")", R"("0001zz02")", R"(7)"}) {
    CHECK(reason(fmt::format(R"({{"src":"0001","dst":"0002","leader":"FFFF","type":"ae","term":1,"prev":0,"pterm":0,)"
                             R"("commit":0,"sent":0,"quiet":{},"entries":[]}})", quiet)) == DropReason::kBadField);
  }
  CHECK(reason(R"({"src":"0100","dst":"0001","leader":"FFFF","type":"put","MID":"m","key":"k"})") ==
        DropReason::kBadField);
  CHECK(reason(R"({"src":"0100","dst":"0001","leader":"FFFF","type":"get","MID":7,"key":"k"})") == DropReason::kBadField);
  CHECK(reason("\xff\xfe{") == DropReason::kMalformedJson);
}

TEST_CASE("cluster files are validated with clear reasons", "[net][config]") {
  auto config = parse_cluster_config(
      R"({"replicas": {"0000": "127.0.0.1:7000", "0001": "localhost:7001"}, "election_timeout_ms": [200, 400]})");
  CHECK(config.replicas.size() == 2);
  CHECK(config.replicas.at(NodeId{1}).host == "localhost");
  CHECK(config.tuning.timing.election_timeout_min.count() == 200);
  auto options = config.options_for(NodeId{1});
  CHECK(options.peers == std::vector<NodeId>{NodeId{0}});
  auto error_of = [](const std::string& text) -> std::string {
    try {
      parse_cluster_config(text);
    } catch (const ConfigError& e) {
      return e.what();
    }
    return "";
  };
  CHECK_THAT(error_of("{"), Catch::Contains("not valid JSON"));
  CHECK_THAT(error_of(R"({"replicas": {}})"), Catch::Contains("non-empty"));
  CHECK_THAT(error_of(R"({"replicas": {"00G0": "a:1"}})"), Catch::Contains("4 hex digits"));
  CHECK_THAT(error_of(R"({"replicas": {"FFFF": "a:1"}})"), Catch::Contains("4 hex digits"));
  CHECK_THAT(error_of(R"({"replicas": {"0000": "a:1", "0000": "a:2"}})"), Catch::Contains("more than once"));
  CHECK_THAT(error_of(R"({"replicas": {"0000": "a:1", "0001": "a:1"}})"), Catch::Contains("used twice"));
  CHECK_THAT(error_of(R"({"replicas": {"0000": "a:99999"}})"), Catch::Contains("port"));
  CHECK_THAT(error_of(R"({"replicas": {"0000": "a:1"}, "heartbeat": 5})"), Catch::Contains("unknown key"));
  CHECK_THAT(error_of(R"({"replicas": {"0000": "a:1"}, "heartbeat_ms": 400})"), Catch::Contains("half"));
  CHECK_THAT(error_of(R"({"replicas": {"0000": "a:1"}, "election_timeout_ms": [500, 100]})"), Catch::Contains("min"));
  CHECK(config.tuning.defer_spare_followers);  // the default
  CHECK_FALSE(parse_cluster_config(R"({"replicas": {"0000": "a:1"}, "defer_spare_followers": false})")
                  .tuning.defer_spare_followers);
  CHECK_THAT(error_of(R"({"replicas": {"0000": "a:1"}, "defer_spare_followers": 1})"),
             Catch::Contains("true or false"));
  // Found with the config fuzz target (tests/fuzz/regressions/config/): a maximum this large overflowed the election
  // timer's microseconds.
  CHECK_THAT(error_of(R"({"replicas": {"0000": "a:1"}, "election_timeout_ms": [300, 9000000000000000000]})"),
             Catch::Contains("up to 3600000"));
  CHECK(parse_cluster_config(R"({"replicas": {"0000": "a:1"}, "election_timeout_ms": [300, 3600000]})")
            .tuning.timing.election_timeout_max.count() == 3'600'000);
}

TEST_CASE("snapshot chunks survive a round trip in base64", "[net][codec][snapshot]") {
  std::string bytes;
  for (int i = 0; i < 300; ++i) bytes.push_back(static_cast<char>(i * 7));
  for (std::size_t n : {std::size_t{0}, std::size_t{1}, std::size_t{2}, std::size_t{3}, std::size_t{299}}) {
    CHECK(base64_decode(base64_encode(bytes.substr(0, n))) == bytes.substr(0, n));
  }
  CHECK_FALSE(base64_decode("abc"));
  CHECK_FALSE(base64_decode("ab!d"));
  auto m = round_trip({kA, kB, raft::InstallSnapshot{4, 100, 3, 64, 300, 0xFEDCBA98u, bytes, true}});
  const auto& is = std::get<raft::InstallSnapshot>(m.payload);
  CHECK(is.chunk == bytes);
  CHECK(is.checksum == 0xFEDCBA98u);
  CHECK(is.offset == 64);
  CHECK(is.total_bytes == 300);
  CHECK(is.done);
  auto r = std::get<raft::InstallSnapshotReply>(round_trip({kB, kA, raft::InstallSnapshotReply{4, 100, 364, false}}).payload);
  CHECK(r.next_offset == 364);
  CHECK(r.last_included_index == 100);
}

TEST_CASE("peer messages carry their cluster's identity, and a bad one is a bad envelope", "[net][codec][backup]") {
  const raft::PeerMessage m{kA, kB, raft::RequestVote{7, 100, 6, true}};
  const std::string plain = encode_peer(m, kA).at(0);
  CHECK(plain.find("cid") == std::string::npos);  // a cluster never restored stamps nothing
  CHECK(std::get<PeerDatagram>(std::get<Datagram>(decode(plain))).envelope.cluster_id == 0);
  const std::string stamped = encode_peer(m, kA, kMaxAppendDatagramBytes, 0xfedcba9876543210ull).at(0);
  CHECK(stamped.find(R"("cid":"fedcba9876543210")") != std::string::npos);
  CHECK(std::get<PeerDatagram>(std::get<Datagram>(decode(stamped))).envelope.cluster_id == 0xfedcba9876543210ull);
  for (const char* bad : {R"("cid":"12")", R"("cid":"fedcba987654321x")", R"("cid":"-edcba9876543210")"}) {
    INFO(bad);
    std::string text = R"({"src":"0001","dst":"0002","leader":"0001","type":"rv","term":7,"lli":100,"llt":6,"pre":true,)";
    text += bad;
    text += '}';
    auto decoded = decode(text);
    REQUIRE(std::holds_alternative<DropReason>(decoded));
    CHECK(std::get<DropReason>(decoded) == DropReason::kBadEnvelope);
  }
}

TEST_CASE("a datagram of another wire format is dropped as such before anything else is read", "[net][codec]") {
  const std::string v1 = R"({"src":"0001","dst":"0002","leader":"0001","type":"rv","term":7,"lli":100,"llt":6,"pre":true,"wire":1})";
  CHECK(std::holds_alternative<Datagram>(decode(v1)));
  CHECK(wire_format_of(v1) == 1u);
  // Format 2 may name types and fields we do not know: it is still recognised as format 2.
  const std::string v2 = R"({"src":"0001","dst":"0002","type":"vote2","ballot":[1,2],"wire":2})";
  auto decoded = decode(v2);
  REQUIRE(std::holds_alternative<DropReason>(decoded));
  CHECK(std::get<DropReason>(decoded) == DropReason::kWireFormat);
  CHECK(drop_reason_name(DropReason::kWireFormat) == "wire_format");
  CHECK(wire_format_of(v2) == 2u);
  CHECK(wire_format_of(R"({"src":"0001"})") == 1u);  // no "wire": format 1
  CHECK_FALSE(wire_format_of("not json").has_value());
}

TEST_CASE("backup requests and chunks survive a round trip", "[net][codec][backup]") {
  actors::ClientRequest first;
  first.client = kClient;
  first.mid = "b1";
  first.kind = actors::RequestKind::kBackup;
  auto back = std::get<RequestDatagram>(std::get<Datagram>(decode(encode_request(first, kA, kA)))).request;
  CHECK(back.kind == actors::RequestKind::kBackup);
  CHECK(back.backup_id == 0);
  CHECK(back.offset == 0);
  first.backup_id = 0xABCDEF0123ull;
  first.offset = 65536;
  back = std::get<RequestDatagram>(std::get<Datagram>(decode(encode_request(first, kA, kA)))).request;
  CHECK(back.backup_id == 0xABCDEF0123ull);
  CHECK(back.offset == 65536);

  std::string data(actors::kBackupChunkBytes, '\0');
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 31 + 7);
  actors::ClientReply reply;
  reply.client = kClient;
  reply.mid = "b1";
  reply.kind = actors::ReplyKind::kOk;
  reply.leader = kA;
  reply.backup = actors::BackupChunk{0xABCDEF0123ull, 900, 4, 200000, 0xFEDCBA98u, 65536, data};
  const std::string text = encode_reply(reply, kA);
  CHECK(text.size() <= kMaxAppendDatagramBytes);  // a full chunk fits one datagram
  auto r = std::get<ReplyDatagram>(std::get<Datagram>(decode(text))).reply;
  REQUIRE(r.backup.has_value());
  CHECK(r.backup->id == 0xABCDEF0123ull);
  CHECK(r.backup->index == 900);
  CHECK(r.backup->term == 4);
  CHECK(r.backup->total == 200000);
  CHECK(r.backup->crc == 0xFEDCBA98u);
  CHECK(r.backup->offset == 65536);
  CHECK(r.backup->data == data);
  // A chunk that claims to run past the file's end is malformed.
  reply.backup->total = 65536 + 10;
  auto bad = decode(encode_reply(reply, kA));
  REQUIRE(std::holds_alternative<DropReason>(bad));
  CHECK(std::get<DropReason>(bad) == DropReason::kBadField);
}

TEST_CASE("the JSON reader handles escapes and rejects what JSON forbids", "[net][json]") {
  auto read = [](std::string_view text) -> std::optional<std::string> {
    JsonReader in(text);
    std::string out;
    if (!in.string(out) || !in.at_end()) return std::nullopt;
    return out;
  };
  CHECK(read(R"("a\"b\\c\/d\n\u00e9\ud83d\ude00")") == std::string("a\"b\\c/d\n\xC3\xA9\xF0\x9F\x98\x80"));
  CHECK(read("\"caf\xC3\xA9\"") == std::string("caf\xC3\xA9"));
  CHECK_FALSE(read("\"\xC3\""));          // truncated UTF-8
  CHECK_FALSE(read("\"\xC0\xAF\""));      // overlong
  CHECK_FALSE(read("\"\xED\xA0\x80\""));  // an encoded surrogate
  CHECK_FALSE(read("\"a\x01\""));         // a raw control character
  CHECK_FALSE(read(R"("\ud83d")"));       // a lone high surrogate
  CHECK_FALSE(read(R"("\q")"));
  CHECK_FALSE(read(R"("abc)"));
  std::string deep(100, '[');
  deep += std::string(100, ']');
  JsonReader nested(deep);
  CHECK_FALSE(nested.skip());  // deeper than the reader allows: refused, not a stack overflow
}

TEST_CASE("decoding agrees with a reference JSON parser on mangled datagrams", "[net][json]") {
  // Differential: mutate valid datagrams at random; whatever nlohmann calls invalid JSON we must call malformed, and
  // what it accepts we must not.
  std::vector<std::string> seeds = encode_peer({kA, kB, raft::AppendEntries{5, 10, 4, {entry(5, 11, "P 1 2 1:k1:v"),
                                                                                   entry(5, 12, "", raft::EntryKind::kNoop)},
                                                                           9, -42}},
                                               kA);
  seeds.push_back(encode_peer({kB, kA, raft::AppendEntriesReply{5, true, 12, 0, 0, 0, 7}}, kA)[0]);
  seeds.push_back(R"({"src":"0100","dst":"0001","leader":"FFFF","type":"cas","MID":"m","key":"k","value":"v","expected":null})");
  coraft::actors::Rng rng(2024);
  const std::string alphabet = "{}[]\":,\\ 0123456789-.eEtrufalsn\x01\xC3\xA9\xFF";
  int disagreements = 0;
  for (int round = 0; round < 20000; ++round) {
    std::string text = seeds[rng.between(0, seeds.size() - 1)];
    const auto edits = rng.between(1, 3);
    for (std::uint64_t e = 0; e < edits && !text.empty(); ++e) {
      const auto at = rng.between(0, text.size() - 1);
      switch (rng.between(0, 2)) {
        case 0: text[at] = alphabet[rng.between(0, alphabet.size() - 1)]; break;
        case 1: text.erase(at, 1); break;
        default: text.insert(at, 1, alphabet[rng.between(0, alphabet.size() - 1)]); break;
      }
    }
    const bool reference_valid = nlohmann::json::accept(text);
    const auto ours = decode(text);
    const bool ours_malformed = std::holds_alternative<DropReason>(ours) &&
                                std::get<DropReason>(ours) == DropReason::kMalformedJson;
    if (reference_valid == ours_malformed) {
      ++disagreements;
      UNSCOPED_INFO("disagreement on: " << text);
    }
  }
  CHECK(disagreements == 0);
}

TEST_CASE("the codec's number appenders write what fmt writes", "[net][codec]") {
  // Ids, terms, indexes and session numbers on the wire go through these; a digit out of place is a message that
  // means something else (or an id the other side cannot parse).
  std::vector<std::uint64_t> values{0, 1, 9, 10, 15, 16, 0xFFFF, 0x10000, 99999, 100000, 0xFFFFFFFFull,
                                    std::numeric_limits<std::uint64_t>::max()};
  actors::Rng rng(7);
  for (int i = 0; i < 200; ++i) values.push_back(rng.next() >> rng.between(0, 63));
  for (std::uint64_t v : values) {
    std::string out = "x";
    append_number(out, v);
    CHECK(out == fmt::format("x{}", v));
    for (int width : {1, 4, 16}) {
      out.clear();
      append_hex(out, v, width);
      CHECK(out == fmt::format("{:0{}x}", v, width));
      out.clear();
      append_hex(out, v, width, true);
      CHECK(out == fmt::format("{:0{}X}", v, width));
    }
    const auto s = static_cast<std::int64_t>(v);
    out.clear();
    append_number(out, s);
    CHECK(out == fmt::format("{}", s));
    if (s == std::numeric_limits<std::int64_t>::min()) continue;
    out.clear();
    append_number(out, -s);
    CHECK(out == fmt::format("{}", -s));
  }
}
