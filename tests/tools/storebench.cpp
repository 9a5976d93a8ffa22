// storebench: what the state machine (kv/store.hpp) costs per operation and per key, without a network or a log.
//   storebench [--keys N] [--value-size BYTES] [--ms MS]
// Fills a store with N random keys, then prints ns per put of an existing key (a client's typical write), per get,
// and per put of a new key (in key order, and at random), and the resident memory the store added per key. One thing
// at a time, so that a change to the store's layout (its index, its tree) shows before it drowns in a cluster's noise.

#include "kv/store.hpp"
#include "net/command_line.hpp"
#include "ns_per_call.hpp"

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <cstdint>
#include <fstream>
#include <random>
#include <string>
#include <vector>

using namespace coraft;

namespace {

// This process's resident memory in bytes (Linux).
std::int64_t resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  std::int64_t pages = 0, resident = 0;
  statm >> pages >> resident;
  return resident * 4096;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"storebench: the state machine's cost per put and get, and its memory per key.\n"
               "  storebench [--keys N] [--value-size BYTES] [--ms MS]"};
  app.option_defaults()->always_capture_default();
  std::uint64_t keys = 100'000;
  std::size_t value_size = 32;
  int ms = 500;
  app.add_option("--keys", keys, "Keys in the store while it is measured")->check(CLI::Range(1ull, 100'000'000ull));
  app.add_option("--value-size", value_size, "Bytes per value")->check(CLI::Range(std::size_t{0}, std::size_t{1} << 20));
  app.add_option("--ms", ms, "Milliseconds per measurement")->check(CLI::PositiveNumber);
  app.footer(exit_code::help_footer({{exit_code::kDone, "measured"},
                                     {exit_code::kInternal, "the store lost its keys (a bug)"},
                                     {exit_code::kUsage, "a bad command line"}}));
  if (auto code = exit_code::parse_command_line(app, argc, argv)) return *code;

  std::mt19937_64 random(1);
  std::vector<std::string> names;
  names.reserve(keys);
  for (std::uint64_t i = 0; i < keys; ++i) names.push_back(fmt::format("key-{:016x}", random()));
  const std::string value(value_size, 'v');

  const std::int64_t before = resident_bytes();
  kv::Store store;
  std::uint64_t index = 0;
  for (const std::string& name : names) store.apply(++index, kv::Command{kv::Op::kPut, name, value});
  const double bytes_per_key = static_cast<double>(resident_bytes() - before) / static_cast<double>(store.size());

  // Sessions as a cluster's clients bring them (64 of them), so a put pays for its session's bookkeeping too.
  const double put_existing = bench::ns_per_call(ms, [&] {
    const std::uint64_t session = 1 + index % 64;
    store.apply(++index, kv::Command{kv::Op::kPut, names[random() % names.size()], value, std::nullopt,
                                     kv::SessionRef{session, index}});
  });
  std::size_t found = 0;
  const double get = bench::ns_per_call(ms, [&] { found += store.get(names[random() % names.size()]).has_value(); });
  // New keys, once in key order (each goes at the tree's right edge: the tree's best case) and once at random.
  std::uint64_t fresh = 0;
  const double put_new_in_order = bench::ns_per_call(ms, [&] {
    store.apply(++index, kv::Command{kv::Op::kPut, fmt::format("new-{:016x}", ++fresh), value});
  });
  const double put_new_random = bench::ns_per_call(ms, [&] {
    store.apply(++index, kv::Command{kv::Op::kPut, fmt::format("key-{:016x}", random()), value});
  });

  fmt::print("store of {} keys, {}-byte values\n", keys, value_size);
  fmt::print("  put of an existing key  {:8.0f} ns\n", put_existing);
  fmt::print("  put of a new key        {:8.0f} ns in key order, {:.0f} ns at random\n", put_new_in_order,
             put_new_random);
  fmt::print("  get                     {:8.0f} ns{}\n", get, found == 0 ? " (nothing found: broken)" : "");
  fmt::print("  resident memory         {:8.0f} bytes per key (the store alone, {} keys)\n", bytes_per_key, keys);
  return found == 0 ? exit_code::kInternal : exit_code::kDone;
}
