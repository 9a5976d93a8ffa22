#pragma once
// What kvctl does once its command line is parsed: each command against a cluster (over UDP, or over the HTTP API
// for get --prefix and watch), what it prints, and its exit status (net/exit_codes.hpp).

#include "net/cluster_config.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace coraft::net {

struct KvctlCommandLine {
  struct Chosen {  // the subcommand given (exactly one; member's with one of its own)
    bool put = false, get = false, del = false, watch_cmd = false, cas = false, status = false, leader = false,
         metrics = false, member = false, member_list = false, member_add = false, member_promote = false,
         member_remove = false, member_replace = false, transfer = false, keygen = false, backup = false;
  } chosen;
  std::string cluster_path = kLocalClusterFile;
  double timeout_s = 10;
  std::string key, value, expected;
  bool expect_absent = false, json_output = false, prefix = false;
  std::uint64_t watch_count = 0;
  std::vector<std::string> metrics_ids;
  std::string member_id, member_address, replaced_id;
  bool learner_only = false;
  std::string keygen_path, backup_path;
  std::size_t cas_values_given = 0;  // cas: how many of EXPECTED and NEW were given (--absent takes one)
};

// Runs the command; returns the process's exit status.
int run_kvctl(KvctlCommandLine command_line);

}  // namespace coraft::net
