#pragma once
// A chat room kept in the replicated store as an append-only sequence of slots: message n is the value of the key
// chat/<room>/<n>. A sender claims a slot with cas(key must be absent, message); when another message holds it, the
// sender tries the next one. A reader gets slot after slot until it finds one empty, so joining shows the history,
// and everyone sees the same messages in the same order: the order of the slots.
//
// Two rules keep the sequence free of holes and of doubles:
//  - a slot is tried only when every slot below it is known to be taken (seen by a reader, or found taken by a cas),
//    so no reader ever stops at a hole with messages beyond it;
//  - a message carries an id, and a sender leaves a slot only after seeing it taken by a *different* message. The
//    client library already applies a retried cas once (sessions); the id covers what sessions cannot: an operation
//    that ran out of time (kUnavailable) was perhaps applied, so the next try goes back to the same slot and
//    recognises the message there if it was.
//
// post() and fetch() take any `Kv` with the net::Client's cas/get signatures, so the tests can drive them with an
// in-memory store that loses answers on purpose.

#include "kv/command.hpp"
#include "net/client.hpp"

#include <asio/awaitable.hpp>

#include <cstdint>
#include <optional>
#include <string>

namespace coraft::chat {

struct ChatMessage {
  std::string nick;
  std::string text;
  std::string id;  // unique per message (the sender's session and a counter): a sender recognises its own message
  bool operator==(const ChatMessage&) const = default;
};

std::string slot_key(const std::string& room, std::uint64_t slot);
std::string encode_message(const ChatMessage& message);
// Never throws: a value that kvchat did not write (say, put with kvctl) reads as a message from "?" with that text.
ChatMessage decode_message(const std::string& value);
// "[n] nick: text", the transcript line. Control characters (escape sequences, line breaks) become '?', so a
// message cannot rewrite the reader's terminal or forge extra transcript lines.
std::string format_line(std::uint64_t slot, const ChatMessage& message);
// Why `room` or `nick` cannot be used, or nullopt when it can.
std::optional<std::string> invalid_room(const std::string& room);
std::optional<std::string> invalid_nick(const std::string& nick);

// One message on its way into the room.
struct Outgoing {
  ChatMessage message;
  // The next slot to try; every slot below it is known to be taken. Starts at the first slot not known to be taken;
  // moves up only when this slot holds another message (see the rules at the top).
  std::uint64_t slot = 0;
};

// What one cas at Outgoing::slot tells the sender.
enum class ClaimStep : std::uint8_t {
  kClaimed,    // the slot holds this message (stored now, or by an earlier attempt whose answer was lost)
  kTaken,      // another message holds it: try the next slot
  kUncertain,  // no definite answer: maybe stored; try the same slot again later
  kRejected,   // refused for good (too large...): retrying cannot help
};
ClaimStep claim_step(const net::CallResult& result, const std::string& message_id);

enum class PostStatus : std::uint8_t { kPosted, kUnavailable, kRejected };

struct PostResult {
  PostStatus status = PostStatus::kUnavailable;
  std::uint64_t slot = 0;  // kPosted: where the message is
  std::string reason;      // kRejected: why
};

// Claims the first free slot from `out.slot` up. kUnavailable leaves `out` as it must be for calling again, which
// is safe: the message is stored once however many times post() runs for it.
template <class Kv>
asio::awaitable<PostResult> post(Kv& kv, const std::string& room, Outgoing& out) {
  const std::string value = encode_message(out.message);
  const std::optional<std::string> absent;
  for (;;) {
    const std::string key = slot_key(room, out.slot);
    const net::CallResult result = co_await kv.cas(key, absent, value);
    switch (claim_step(result, out.message.id)) {
      case ClaimStep::kClaimed:
        co_return PostResult{PostStatus::kPosted, out.slot, {}};
      case ClaimStep::kTaken:
        ++out.slot;
        break;
      case ClaimStep::kUncertain:
        co_return PostResult{PostStatus::kUnavailable, out.slot, {}};
      case ClaimStep::kRejected:
        co_return PostResult{PostStatus::kRejected, out.slot, result.reply.reason};
    }
  }
}

enum class FetchStatus : std::uint8_t { kMessage, kEmpty, kUnavailable };

struct Fetched {
  FetchStatus status = FetchStatus::kUnavailable;
  ChatMessage message;  // kMessage
  std::string reason;   // kUnavailable: why, when the cluster said so
};

// Reads one slot.
template <class Kv>
asio::awaitable<Fetched> fetch(Kv& kv, const std::string& room, std::uint64_t slot) {
  const std::string key = slot_key(room, slot);
  const net::CallResult result = co_await kv.get(key);
  Fetched out;
  if (result.outcome == net::Outcome::kOk && result.reply.status == kv::Status::kOk && result.reply.value) {
    out.status = FetchStatus::kMessage;
    out.message = decode_message(*result.reply.value);
  } else if (result.outcome == net::Outcome::kOk && result.reply.status == kv::Status::kNotFound) {
    out.status = FetchStatus::kEmpty;
  } else {
    out.reason = result.reply.reason;
  }
  co_return out;
}

}  // namespace coraft::chat
