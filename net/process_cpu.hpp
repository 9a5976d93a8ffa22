#pragma once
// CPU time of other processes (a benchmark's replicas), from /proc: what kvbench reports per 1,000 operations.

#include <optional>
#include <string_view>
#include <sys/types.h>

namespace coraft::net {

// User plus system CPU seconds in a /proc/<pid>/stat line (the command name may hold spaces and parentheses: the
// fields are counted after its last ')'); nullopt for a line that is not one.
std::optional<double> cpu_seconds_of_stat_line(std::string_view line, long ticks_per_second);

// The same for a running process; nullopt when it is gone or /proc cannot be read.
std::optional<double> process_cpu_seconds(pid_t pid);

}  // namespace coraft::net
