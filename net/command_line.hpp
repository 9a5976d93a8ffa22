#pragma once
// What every coraft program does with its command line: CLI11 parses it, usage errors exit with the one usage code
// of net/exit_codes.hpp, and --help ends with the exit codes the program uses.

#include "net/exit_codes.hpp"

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace coraft::exit_code {

// Parses the command line. nullopt: go on. Otherwise return this from main(): 0 after printing --help, kUsage after
// printing what is wrong (CLI11's own codes, 100 and up, would collide with nothing in the table but mean nothing
// to a script either).
inline std::optional<int> parse_command_line(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
    return std::nullopt;
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? kDone : kUsage;
  }
}

// The "Exit codes:" paragraph of a program's --help: each code it uses with what it means for that program.
// Meanings are wrapped to fit a 100-column terminal.
inline std::string help_footer(std::initializer_list<std::pair<int, std::string_view>> codes) {
  constexpr std::size_t kWidth = 100, kIndent = 7;
  std::string text = "Exit codes (the same table for every coraft program; README: Exit codes):\n";
  for (const auto& [code, meaning] : codes) {
    std::string line = fmt::format("  {:>3}  ", code);
    std::size_t at = 0;
    while (at < meaning.size()) {
      const std::size_t room = kWidth - line.size();
      std::size_t end = meaning.size();
      if (end - at > room) {
        end = meaning.rfind(' ', at + room);
        if (end == std::string_view::npos || end <= at) end = at + room;
      }
      text += line + std::string(meaning.substr(at, end - at)) + "\n";
      line = std::string(kIndent, ' ');
      at = end < meaning.size() && meaning[end] == ' ' ? end + 1 : end;
    }
  }
  return text;
}

}  // namespace coraft::exit_code
