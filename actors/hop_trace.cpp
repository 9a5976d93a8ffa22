#include "actors/hop_trace.hpp"

#include <chrono>
#include <cstdio>
#include <mutex>

namespace coraft::actors::hop_trace {
namespace {

std::mutex lock;
std::FILE* file = nullptr;
std::uint16_t self = 0;

}  // namespace

std::atomic<bool> detail::enabled{false};

bool open(const std::string& path, std::uint16_t replica) {
  std::lock_guard guard(lock);
  if (file) return true;
  file = std::fopen(path.c_str(), "w");
  if (!file) return false;
  std::setvbuf(file, nullptr, _IOFBF, 1 << 20);  // written out at close, not per mark
  self = replica;
  detail::enabled = true;
  return true;
}

void close() {
  std::lock_guard guard(lock);
  detail::enabled = false;
  if (file) std::fclose(file);
  file = nullptr;
}

void detail::mark(const char* hop, std::uint64_t index) {
  const auto now = std::chrono::steady_clock::now().time_since_epoch();
  const long long ns = std::chrono::duration_cast<std::chrono::nanoseconds>(now).count();
  std::lock_guard guard(lock);
  if (file) std::fprintf(file, "%lld %04x %s %llu\n", ns, self, hop, static_cast<unsigned long long>(index));
}

}  // namespace coraft::actors::hop_trace
