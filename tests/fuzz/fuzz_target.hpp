#pragma once
// One fuzz target's body, written once and used two ways:
//   - built with CORAFT_LIBFUZZER (clang, -fsanitize=fuzzer): LLVMFuzzerTestOneInput calls it;
//   - built without (the normal test build, any compiler): fuzz_replay_test calls it on every file of the seed corpus
//     and of the regressions, so every past crash stays a test.
// A broken property is reported with FUZZ_CHECK: abort() under libFuzzer (which saves the input), an exception that
// the replay test reports (with the file name) otherwise.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>

namespace coraft::fuzz {

struct Violation : std::logic_error {
  using std::logic_error::logic_error;
};

[[noreturn]] inline void violated(const char* what, const char* file, int line) {
  const std::string message = std::string(file) + ":" + std::to_string(line) + ": property broken: " + what;
#ifdef CORAFT_LIBFUZZER
  std::fprintf(stderr, "%s\n", message.c_str());
  std::abort();
#else
  throw Violation(message);
#endif
}

// The bodies, one per target (each defined in its <target>_fuzz.cpp).
int codec(const std::uint8_t* data, std::size_t size);
int config(const std::uint8_t* data, std::size_t size);
int wal(const std::uint8_t* data, std::size_t size);
int snapshot(const std::uint8_t* data, std::size_t size);
int http(const std::uint8_t* data, std::size_t size);

}  // namespace coraft::fuzz

#define FUZZ_CHECK(condition) \
  ((condition) ? static_cast<void>(0) : ::coraft::fuzz::violated(#condition, __FILE__, __LINE__))

// Defines the body `coraft::fuzz::NAME` and, for libFuzzer, the entry point that calls it.
#ifdef CORAFT_LIBFUZZER
#define CORAFT_FUZZ_TARGET(NAME)                                                            \
  extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {      \
    return ::coraft::fuzz::NAME(data, size);                                                \
  }                                                                                         \
  int coraft::fuzz::NAME(const std::uint8_t* data, std::size_t size)
#else
#define CORAFT_FUZZ_TARGET(NAME) int coraft::fuzz::NAME(const std::uint8_t* data, std::size_t size)
#endif
