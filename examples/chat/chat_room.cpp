#include "chat/chat_room.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace coraft::chat {

namespace {

constexpr std::size_t kMaxRoomBytes = 128;
constexpr std::size_t kMaxNickBytes = 32;

bool is_control(unsigned char c) { return c < 0x20 || c == 0x7f; }

bool has_control(const std::string& s) {
  for (unsigned char c : s) {
    if (is_control(c)) return true;
  }
  return false;
}

// Replaces C0 controls, DEL and the C1 controls U+0080..U+009F (UTF-8 C2 80..C2 9F, which some terminals obey).
std::string printable(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (is_control(c)) {
      out += '?';
    } else if (c == 0xC2 && i + 1 < s.size() && static_cast<unsigned char>(s[i + 1]) >= 0x80 &&
               static_cast<unsigned char>(s[i + 1]) <= 0x9F) {
      out += '?';
      ++i;
    } else {
      out += s[i];
    }
  }
  return out;
}

}  // namespace

std::string slot_key(const std::string& room, std::uint64_t slot) { return fmt::format("chat/{}/{}", room, slot); }

std::string encode_message(const ChatMessage& message) {
  const nlohmann::json j = {{"nick", message.nick}, {"text", message.text}, {"id", message.id}};
  // Terminal input need not be UTF-8; replace what is not rather than refuse the message.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

ChatMessage decode_message(const std::string& value) {
  const auto j = nlohmann::json::parse(value, nullptr, /*allow_exceptions=*/false);
  if (j.is_object() && j.contains("nick") && j["nick"].is_string() && j.contains("text") && j["text"].is_string()) {
    ChatMessage m{j["nick"].get<std::string>(), j["text"].get<std::string>(), {}};
    if (j.contains("id") && j["id"].is_string()) m.id = j["id"].get<std::string>();
    return m;
  }
  return ChatMessage{"?", value, {}};
}

std::string format_line(std::uint64_t slot, const ChatMessage& message) {
  return fmt::format("[{}] {}: {}", slot, printable(message.nick), printable(message.text));
}

std::optional<std::string> invalid_room(const std::string& room) {
  if (room.empty()) return "the room name is empty";
  if (room.size() > kMaxRoomBytes) return fmt::format("the room name is longer than {} bytes", kMaxRoomBytes);
  if (room.find('/') != std::string::npos) return "the room name contains '/'";
  if (has_control(room)) return "the room name contains control characters";
  return std::nullopt;
}

std::optional<std::string> invalid_nick(const std::string& nick) {
  if (nick.empty()) return "the nickname is empty";
  if (nick.size() > kMaxNickBytes) return fmt::format("the nickname is longer than {} bytes", kMaxNickBytes);
  // "[n] nick: text" must stay unambiguous.
  if (nick.find(':') != std::string::npos) return "the nickname contains ':'";
  if (has_control(nick)) return "the nickname contains control characters";
  return std::nullopt;
}

ClaimStep claim_step(const net::CallResult& result, const std::string& message_id) {
  if (result.outcome == net::Outcome::kRejected) return ClaimStep::kRejected;
  if (result.outcome != net::Outcome::kOk) return ClaimStep::kUncertain;
  switch (result.reply.status) {
    case kv::Status::kOk:
      return ClaimStep::kClaimed;
    case kv::Status::kCasMismatch:
      // The slot was expected absent, so a mismatch carries what holds it. Without a value the answer makes no
      // sense; moving on could leave a hole, so treat it as no answer.
      if (!result.reply.value) return ClaimStep::kUncertain;
      return decode_message(*result.reply.value).id == message_id ? ClaimStep::kClaimed : ClaimStep::kTaken;
    case kv::Status::kStaleSession:
      return ClaimStep::kRejected;
    case kv::Status::kNotFound:
      return ClaimStep::kUncertain;
  }
  return ClaimStep::kUncertain;
}

}  // namespace coraft::chat
