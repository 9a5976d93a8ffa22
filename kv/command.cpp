#include "kv/command.hpp"

#include <charconv>

namespace coraft::kv {
namespace {

void put_field(std::string& out, std::string_view field) {
  out += std::to_string(field.size());
  out += ':';
  out += field;
}

class Reader {
 public:
  explicit Reader(std::string_view text) : text_(text) {}

  bool number(std::uint64_t& out, char terminator) {
    const char* begin = text_.data() + pos_;
    const char* end = text_.data() + text_.size();
    auto [ptr, ec] = std::from_chars(begin, end, out);
    if (ec != std::errc{} || ptr == end || *ptr != terminator) return false;
    pos_ += static_cast<std::size_t>(ptr - begin) + 1;
    return true;
  }
  bool field(std::string& out) {
    std::uint64_t size = 0;
    if (!number(size, ':') || size > text_.size() - pos_) return false;
    out.assign(text_.substr(pos_, size));
    pos_ += size;
    return true;
  }
  bool character(char& out) {
    if (pos_ >= text_.size()) return false;
    out = text_[pos_++];
    return true;
  }
  bool done() const { return pos_ == text_.size(); }
  // Consumes `marker` if it comes next.
  bool take(char marker) {
    if (pos_ >= text_.size() || text_[pos_] != marker) return false;
    ++pos_;
    return true;
  }

 private:
  std::string_view text_;
  std::size_t pos_ = 0;
};

}  // namespace

std::string_view status_name(Status status) {
  switch (status) {
    case Status::kOk: return "ok";
    case Status::kNotFound: return "not_found";
    case Status::kCasMismatch: return "cas_mismatch";
    case Status::kStaleSession: return "stale_session";
  }
  return "?";
}

std::size_t json_quoted_size(std::string_view text) {
  std::size_t n = 2;
  for (unsigned char c : text) {
    if (c == '"' || c == '\\' || c == '\n' || c == '\r' || c == '\t' || c == '\b' || c == '\f') n += 2;
    else if (c < 0x20) n += 6;  // backslash, u and four hex digits
    else n += 1;
  }
  return n;
}

namespace {

char op_letter(Op op) {
  switch (op) {
    case Op::kPut: return 'P';
    case Op::kDelete: return 'D';
    case Op::kCas: return 'C';
    case Op::kDeletePrefix: return 'R';
  }
  return '?';
}

bool has_flags(Op op) { return op == Op::kPut || op == Op::kCas; }
bool has_expected_index(Op op) { return op == Op::kPut || op == Op::kDelete; }

}  // namespace

std::string encode(const Command& command) {
  std::string out;
  out.reserve(command.key.size() + command.value.size() + 32);
  out += op_letter(command.op);
  out += ' ';
  out += std::to_string(command.session.id);
  out += ' ';
  out += std::to_string(command.session.seq);
  out += ' ';
  put_field(out, command.key);
  if (command.op == Op::kPut || command.op == Op::kCas) put_field(out, command.value);
  if (command.op == Op::kCas) {
    if (command.expected) {
      out += 'E';
      put_field(out, *command.expected);
    } else {
      out += 'N';
    }
  }
  if (has_flags(command.op) && command.flags != 0) {
    out += 'F';
    out += std::to_string(command.flags);
    out += ';';
  }
  if (has_expected_index(command.op) && command.expected_index) {
    out += 'I';
    out += std::to_string(*command.expected_index);
    out += ';';
  }
  return out;
}

std::optional<Command> decode(std::string_view text) {
  Reader in(text);
  Command command;
  char op = 0, space = 0;
  if (!in.character(op) || !in.character(space) || space != ' ') return std::nullopt;
  if (op == 'P') command.op = Op::kPut;
  else if (op == 'D') command.op = Op::kDelete;
  else if (op == 'C') command.op = Op::kCas;
  else if (op == 'R') command.op = Op::kDeletePrefix;
  else return std::nullopt;
  if (!in.number(command.session.id, ' ') || !in.number(command.session.seq, ' ')) return std::nullopt;
  if (!in.field(command.key)) return std::nullopt;
  if ((command.op == Op::kPut || command.op == Op::kCas) && !in.field(command.value)) return std::nullopt;
  if (command.op == Op::kCas) {
    char marker = 0;
    if (!in.character(marker)) return std::nullopt;
    if (marker == 'E') {
      command.expected.emplace();
      if (!in.field(*command.expected)) return std::nullopt;
    } else if (marker != 'N') {
      return std::nullopt;
    }
  }
  // Only what encode() writes: flags other than 0, each part once, in order, and only where the operation has it.
  if (has_flags(command.op) && in.take('F') && (!in.number(command.flags, ';') || command.flags == 0)) return std::nullopt;
  if (has_expected_index(command.op) && in.take('I')) {
    command.expected_index.emplace();
    if (!in.number(*command.expected_index, ';')) return std::nullopt;
  }
  if (!in.done()) return std::nullopt;
  return command;
}

}  // namespace coraft::kv
