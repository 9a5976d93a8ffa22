#include "version/version.hpp"

#include <fmt/format.h>

namespace coraft {

std::string version_line(std::string_view program) {
  return fmt::format("{} (coraft) {}, commit {}", program, version(), commit());
}

}  // namespace coraft
