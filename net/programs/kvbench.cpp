// kvbench: closed-loop load against a coraft cluster or an etcd cluster, from one process.
//   kvbench --cluster cluster.json [--http] | --etcd http://127.0.0.1:2379[,...]
//           [--clients 64] [--duration 10] [--ops N] [--warmup 1] [--read-ratio 0] [--keys 100000]
//           [--key-size 16] [--value-size 32] [--rate OPS] [--timeout 10] [--history FILE] [--json]
// Every client runs one operation at a time (a session of its own; over UDP all share one socket). A progress line
// every second; a final report with throughput and latency percentiles measured after the warm-up. Exit codes:
// net/exit_codes.hpp (--help lists them).
// --history records every operation as a JSON line (net/history_io.hpp) for kvcheck's linearizability check;
// then every put writes a value of its own (session and sequence), so that a read says which write it saw.
// --http drives coraft's HTTP API (Consul's KV API: PUT /v1/kv/KEY, GET /v1/kv/KEY?raw) over kept-alive connections,
// client i to replica i mod n, as the etcd clients are spread over etcd's members.

#include "net/command_line.hpp"
#include "net/exit_codes.hpp"
#include "net/load_generator.hpp"
#include "version/version.hpp"

#include <CLI/CLI.hpp>

using namespace coraft;

int main(int argc, char** argv) {
  net::LoadCommandLine c;
  CLI::App app{"kvbench: closed-loop load generator for coraft (and etcd, for comparison).\n"
               "  kvbench --cluster FILE | --etcd URL[,URL...]  [options below]"};
  app.option_defaults()->always_capture_default();
  auto* cluster_opt = app.add_option("--cluster", c.cluster_path, "A coraft cluster file");
  auto* etcd_opt = app.add_option("--etcd", c.etcd_urls, "etcd client URLs, comma separated");
  cluster_opt->excludes(etcd_opt);
  auto* http_flag =
      app.add_flag("--http", c.over_http, "Drive the cluster's HTTP API (its replicas' \"http\" addresses) instead of UDP")
          ->needs(cluster_opt);
  app.add_flag("--http-leader", c.http_to_leader, "With --http: every client talks to the leader's HTTP API (no "
                                               "forwarding by followers)")
      ->needs(http_flag);
  app.add_flag("--socket-per-client", c.socket_per_client,
               "coraft over UDP: each client its own socket (by default all share one, and datagrams go and come in "
               "batches)")
      ->needs(cluster_opt)
      ->excludes(http_flag);
  app.add_option("--clients", c.load.clients, "Concurrent clients, one operation at a time each")->check(CLI::Range(1, 4096));
  app.add_option("--duration", c.load.duration_s, "Seconds to run after the warm-up (SIGINT or SIGTERM stops it sooner)")->check(CLI::PositiveNumber);
  app.add_option("--ops", c.load.ops, "Stop after this many operations instead (warm-up included; 0: run for --duration)");
  app.add_option("--warmup", c.load.warmup_s, "Seconds of load before measuring")->check(CLI::NonNegativeNumber);
  app.add_option("--read-ratio", c.load.read_ratio, "Fraction of operations that are reads")->check(CLI::Range(0.0, 1.0));
  app.add_option("--keys", c.load.keys, "Distinct keys")->check(CLI::PositiveNumber);
  app.add_option("--key-size", c.load.key_size, "Key length in bytes")->check(CLI::Range(1, 1024));
  app.add_option("--value-size", c.load.value_size, "Value length in bytes")->check(CLI::Range(0, 16384));
  app.add_option("--seed", c.seed, "Seed for keys and values (0: from the OS)");
  app.add_flag("--fill", c.load.fill, "Put every one of --keys once (clients take turns over the key space), then stop; "
                                 "loads a store of a known size");
  app.add_option("--rate", c.load.rate, "Operations per second over all clients (0: as fast as they go)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--timeout", c.timeout_s, "coraft: give up on an operation after this many seconds (its outcome is then "
                                         "unknown)")->check(CLI::PositiveNumber);
  app.add_option("--history", c.history_path,
                 "Record every operation as a JSON line in FILE, for kvcheck; puts then write unique values "
                 "(session-sequence, padded to --value-size)")
      ->needs(cluster_opt)
      ->excludes(http_flag);
  app.add_option("--cpu-of", c.cpu_pids,
                 "PID[,PID...]: report these processes' CPU time (user + system) over the measured window, in all "
                 "and per 1,000 operations (give the replicas', or etcd members', pids)")
      ->delimiter(',');
  app.add_flag("--json", c.json_output, "Print one JSON object at the end (and no progress lines)");
  app.add_flag("-q,--quiet", c.quiet, "No progress lines");
  app.set_version_flag("--version", version_line("kvbench"));
  app.footer(exit_code::help_footer({
      {exit_code::kDone, "done: the report is printed"},
      {exit_code::kNoAnswer, "no operation completed: the system under test did not answer"},
      {exit_code::kUsage, "a bad command line (neither or both of --cluster and --etcd, malformed etcd URLs)"},
      {exit_code::kNoInput, "the cluster file does not exist or cannot be read"},
      {exit_code::kCannotCreate, "the --history file cannot be written"},
      {exit_code::kConfig, "the cluster file, or the client token file it names, is invalid"},
  }));
  if (auto code = exit_code::parse_command_line(app, argc, argv)) return *code;
  return net::run_load(std::move(c));
}
