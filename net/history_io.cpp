#include "net/history_io.hpp"

#include <fmt/format.h>

#include <fstream>
#include <limits>
#include <sstream>

namespace coraft::net {

namespace {

std::string_view kind_name(OpKind kind) {
  switch (kind) {
    case OpKind::kGet: return "get";
    case OpKind::kPut: return "put";
    case OpKind::kDelete: return "del";
    case OpKind::kCas: return "cas";
  }
  return "?";
}

OpKind parse_kind(const std::string& text) {
  if (text == "get") return OpKind::kGet;
  if (text == "put") return OpKind::kPut;
  if (text == "del") return OpKind::kDelete;
  if (text == "cas") return OpKind::kCas;
  throw HistoryFormatError(fmt::format("\"kind\" is \"{}\", not get, put, del or cas", text));
}

kv::Status parse_status(const std::string& text) {
  for (kv::Status s : {kv::Status::kOk, kv::Status::kNotFound, kv::Status::kCasMismatch, kv::Status::kStaleSession}) {
    if (kv::status_name(s) == text) return s;
  }
  throw HistoryFormatError(fmt::format("\"status\" is \"{}\", not ok, not_found, cas_mismatch or stale_session", text));
}

const nlohmann::json& field(const nlohmann::json& line, const char* name) {
  auto it = line.find(name);
  if (it == line.end()) throw HistoryFormatError(fmt::format("no \"{}\"", name));
  return *it;
}

std::string string_field(const nlohmann::json& line, const char* name) {
  const auto& f = field(line, name);
  if (!f.is_string()) throw HistoryFormatError(fmt::format("\"{}\" is not a string", name));
  return f.get<std::string>();
}

// A string, or null for "no value".
std::optional<std::string> optional_string_field(const nlohmann::json& line, const char* name) {
  auto it = line.find(name);
  if (it == line.end() || it->is_null()) return std::nullopt;
  if (!it->is_string()) throw HistoryFormatError(fmt::format("\"{}\" is neither a string nor null", name));
  return it->get<std::string>();
}

std::int64_t time_field(const nlohmann::json& f, const char* name) {
  if (!f.is_number_integer()) throw HistoryFormatError(fmt::format("\"{}\" is not an integer", name));
  return f.get<std::int64_t>();
}

}  // namespace

nlohmann::json operation_to_json(const Operation& op) {
  nlohmann::json j = {{"client", fmt::format("{:x}", op.client)}, {"kind", kind_name(op.kind)}, {"key", op.key}};
  if (op.kind == OpKind::kPut || op.kind == OpKind::kCas) j["value"] = op.value;
  if (op.kind == OpKind::kCas) j["expected"] = op.expected ? nlohmann::json(*op.expected) : nlohmann::json(nullptr);
  j["invoked_us"] = op.invoked_us;
  if (!op.completed) {
    j["completed_us"] = nullptr;
    return j;
  }
  j["completed_us"] = op.completed_us;
  j["status"] = kv::status_name(op.status);
  if (op.kind == OpKind::kGet || (op.kind == OpKind::kCas && op.read)) {
    j["read"] = op.read ? nlohmann::json(*op.read) : nlohmann::json(nullptr);
  }
  return j;
}

Operation operation_from_json(const nlohmann::json& line) {
  if (!line.is_object()) throw HistoryFormatError("not a JSON object");
  Operation op;
  const std::string client = string_field(line, "client");
  std::size_t used = 0;
  try {
    op.client = std::stoull(client, &used, 16);
  } catch (const std::exception&) {
    used = 0;
  }
  if (client.empty() || used != client.size()) throw HistoryFormatError(fmt::format("\"client\" \"{}\" is not hex", client));
  op.kind = parse_kind(string_field(line, "kind"));
  op.key = string_field(line, "key");
  if (op.kind == OpKind::kPut || op.kind == OpKind::kCas) op.value = string_field(line, "value");
  if (op.kind == OpKind::kCas) op.expected = optional_string_field(line, "expected");
  op.invoked_us = time_field(field(line, "invoked_us"), "invoked_us");
  const auto& completed = field(line, "completed_us");
  if (completed.is_null()) {
    op.completed = false;
    op.completed_us = std::numeric_limits<std::int64_t>::max();
    return op;
  }
  op.completed = true;
  op.completed_us = time_field(completed, "completed_us");
  if (op.completed_us < op.invoked_us) throw HistoryFormatError("\"completed_us\" is before \"invoked_us\"");
  op.status = parse_status(string_field(line, "status"));
  op.read = optional_string_field(line, "read");
  return op;
}

History parse_history(const std::string& text, const std::string& source) {
  History history;
  std::istringstream in(text);
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    try {
      history.push_back(operation_from_json(nlohmann::json::parse(line)));
    } catch (const nlohmann::json::exception& e) {
      throw HistoryFormatError(fmt::format("{}:{}: not JSON: {}", source, number, e.what()));
    } catch (const HistoryFormatError& e) {
      throw HistoryFormatError(fmt::format("{}:{}: {}", source, number, e.what()));
    }
  }
  return history;
}

History load_history(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw HistoryFormatError(fmt::format("cannot read {}", path));
  std::ostringstream text;
  text << in.rdbuf();
  return parse_history(text.str(), path);
}

}  // namespace coraft::net
