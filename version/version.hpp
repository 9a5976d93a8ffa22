#pragma once
// Which coraft this is: the project version (project() in CMakeLists.txt) and the git commit the build was made
// from. Both are defined in a file generated at build time (version/write_build_info.cmake) so that a new commit
// recompiles one small file, not every file that includes this header.

#include <string>
#include <string_view>

namespace coraft {

// "0.1.0"
std::string_view version();
// 12 hex digits, with "-dirty" when tracked files differed from that commit; "unknown" outside a git work tree.
std::string_view commit();
// What every program's --version prints: "kvstore (coraft) 0.1.0, commit 63e33bc5e2f1".
std::string version_line(std::string_view program);

}  // namespace coraft
