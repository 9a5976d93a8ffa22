// Runs every fuzz target's body on each file of its seed corpus (tests/fuzz/corpus/<target>/) and of its regressions
// (tests/fuzz/regressions/<target>/: inputs that once crashed or broke a property), without libFuzzer: so the normal
// build and CI check them all on every run.

#include "fuzz_target.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

namespace fs = std::filesystem;

namespace {

using Body = int (*)(const std::uint8_t*, std::size_t);

std::vector<fs::path> files_in(const fs::path& dir) {
  std::vector<fs::path> files;
  if (!fs::is_directory(dir)) return files;
  for (const auto& item : fs::directory_iterator(dir))
    if (item.is_regular_file()) files.push_back(item.path());
  std::sort(files.begin(), files.end());
  return files;
}

std::size_t replay(const std::string& target, Body body, const char* kind) {
  const auto files = files_in(fs::path(CORAFT_FUZZ_DIR) / kind / target);
  for (const fs::path& file : files) {
    std::ifstream in(file, std::ios::binary);
    const std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    INFO(file.string());
    CHECK_NOTHROW(body(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()));
  }
  return files.size();
}

void replay_all(const std::string& target, Body body) {
  CHECK(replay(target, body, "corpus") > 0);  // a target without seeds would test nothing here
  replay(target, body, "regressions");
}

}  // namespace

TEST_CASE("fuzz corpus and regressions: codec", "[fuzz]") { replay_all("codec", coraft::fuzz::codec); }
TEST_CASE("fuzz corpus and regressions: config", "[fuzz]") { replay_all("config", coraft::fuzz::config); }
TEST_CASE("fuzz corpus and regressions: wal", "[fuzz]") { replay_all("wal", coraft::fuzz::wal); }
TEST_CASE("fuzz corpus and regressions: snapshot", "[fuzz]") { replay_all("snapshot", coraft::fuzz::snapshot); }
TEST_CASE("fuzz corpus and regressions: http", "[fuzz]") { replay_all("http", coraft::fuzz::http); }
