// kvstore: one coraft replica.
//   course mode:  kvstore <UDP port> <id> <other ids...>   (as the classic course simulator launches it)
//   cluster mode: kvstore --config cluster.json --id <id>
// Whatever the log level short of error, it says one line at start (id, address, data directory, term, log), so an
// operator sees a replica come up; exit codes follow net/exit_codes.hpp.

#include "net/command_line.hpp"
#include "net/exit_codes.hpp"
#include "net/replica_process.hpp"
#include "version/version.hpp"

#include <CLI/CLI.hpp>

using namespace coraft;

int main(int argc, char** argv) {
  net::ReplicaCommandLine c;
  CLI::App app{"kvstore: a coraft replica (a replicated, strongly consistent key-value store on Raft).\n"
               "  Cluster mode: kvstore --config cluster.json --id ID [--data-dir DIR] [--fsync always|none]\n"
               "                        [--http-port N] [--metrics-port N]\n"
               "  Restore:      kvstore --restore BACKUP --config cluster.json --id ID [--data-dir DIR]\n"
               "                (seeds an empty data directory from `kvctl backup`'s file, then exits)\n"
               "  Course mode:  kvstore PORT ID OTHER_ID...   (as the course simulator launches it)"};
  app.option_defaults()->always_capture_default();
  app.add_option("args", c.positional, "Course mode: the simulator's UDP port, this replica's id, the other ids");
  app.add_option("--config", c.config_path, "Cluster mode: the cluster file (see README: Configuration)");
  app.add_option("--id", c.id_text, "Cluster mode: this replica's id in the cluster file");
  app.add_flag("--join", c.join,
               "Cluster mode: this replica is not a member yet; it waits to be added (kvctl member add) and learns the "
               "configuration from the leader. Its address must be in the cluster file");
  app.add_option("--log-level", c.log_level, "trace, debug, info, warn (default), error, off; or CORAFT_LOG");
  app.add_option("--seed", c.seed, "Seed for this replica's randomness (default: from the OS)");
  app.add_option("--data-dir", c.data_dir,
                 "Where this replica keeps its write-ahead log (cluster mode default: coraft-data/<id>; course mode "
                 "default: memory only)");
  app.add_option("--fsync", c.fsync_text, "always (default in cluster mode): sync before acknowledging; none: never "
                                        "sync (benchmarks; default in course mode)")
      ->check(CLI::IsMember({"always", "none"}));
  app.add_option("--metrics-port", c.metrics_port,
                 "Serve Prometheus metrics over HTTP on this TCP port (GET /metrics; default: off)");
  app.add_option("--metrics-address", c.metrics_address, "Address for --metrics-port");
  app.add_option("--http-port", c.http_port,
                 "Cluster mode: serve the HTTP API (Consul's KV API, and /metrics) on this TCP port, at this "
                 "replica's \"http\" host in the cluster file, or else its UDP host (default: the cluster file's "
                 "\"http\" address; none: off)");
  app.add_option("--trace-hops", c.trace_hops_path,
                 "Write a timestamp to this file at every hop a write takes through this replica (for taking latency "
                 "apart: tests/bench/trace-put.sh); slows the replica a little. Default: off");
  app.add_option("--restore", c.restore_path,
                 "Seed this replica's empty data directory from a backup (kvctl backup) and exit. Restore every "
                 "replica of the new cluster from the same backup and the same cluster file, then start them as "
                 "usual: they form a new cluster, which never talks with the one the backup came from");
  app.set_version_flag("--version", version_line("kvstore"));
  app.footer(exit_code::help_footer({
      {exit_code::kDone, "stopped by SIGTERM or SIGINT (everything acknowledged is on disk); --restore: restored"},
      {exit_code::kUsage, "a bad command line (also: an --id that is not in the cluster file)"},
      {exit_code::kDataError, "--restore: the file is not a backup, or it is damaged"},
      {exit_code::kNoInput, "the cluster file (or --restore's backup) does not exist or cannot be read"},
      {exit_code::kUnavailable, "cannot listen on its address (another process has it), or serve its HTTP API or "
                                  "--metrics-port"},
      {exit_code::kInternal, "an unexpected failure (the reason is in the log)"},
      {exit_code::kCannotCreate, "the --trace-hops file cannot be written"},
      {exit_code::kStorage, "the data directory cannot be used (in use by another replica, corrupt, unreadable; "
                            "--restore: not empty), or the disk filled up or failed while running"},
      {exit_code::kNotAMember, "not a member of the cluster's configuration: removed, or refused because its data "
                               "directory was wiped or replaced (start a new replica under a new id with --join)"},
      {exit_code::kConfig, "the cluster file, or the key file it names, is invalid"},
  }));
  if (auto code = exit_code::parse_command_line(app, argc, argv)) return *code;
  if (!c.restore_path.empty()) return net::restore_replica_directory(c.restore_path, c.config_path, c.id_text, c.data_dir);
  return net::run_replica_process(std::move(c));
}
