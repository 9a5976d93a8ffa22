#include "net/process_cpu.hpp"

#include <charconv>
#include <fstream>
#include <iterator>
#include <string>
#include <unistd.h>

namespace coraft::net {

std::optional<double> cpu_seconds_of_stat_line(std::string_view line, long ticks_per_second) {
  const auto close = line.rfind(')');
  if (close == std::string_view::npos || ticks_per_second <= 0) return std::nullopt;
  // After the name: field 3 (state) first; utime and stime are fields 14 and 15 (proc(5)).
  std::string_view rest = line.substr(close + 1);
  unsigned long long utime = 0, stime = 0;
  for (int field = 3; field <= 15; ++field) {
    while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
    const auto end = rest.find(' ');
    const std::string_view token = rest.substr(0, end);
    if (token.empty()) return std::nullopt;
    if (field == 14 || field == 15) {
      unsigned long long value = 0;
      const auto [ptr, error] = std::from_chars(token.data(), token.data() + token.size(), value);
      if (error != std::errc{} || ptr != token.data() + token.size()) return std::nullopt;
      (field == 14 ? utime : stime) = value;
    }
    rest = end == std::string_view::npos ? std::string_view{} : rest.substr(end);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(ticks_per_second);
}

std::optional<double> process_cpu_seconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  if (!in) return std::nullopt;
  const std::string line((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return cpu_seconds_of_stat_line(line, sysconf(_SC_CLK_TCK));
}

}  // namespace coraft::net
