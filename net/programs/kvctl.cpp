// kvctl: talk to a coraft cluster from the command line (--help lists every command, its arguments and the exit
// codes; the table is net/exit_codes.hpp, the same for every coraft program).
//   kvctl [--cluster cluster.json] put KEY VALUE | get KEY | del KEY | cas KEY EXPECTED NEW | cas --absent KEY NEW
//                                  | status [--json] | leader | metrics [ID...]
//                                  | get --prefix P | del --prefix P | watch KEY | watch --prefix P [--count N]
//   get --prefix and watch use the HTTP API ("http" addresses in the cluster file); everything else uses UDP.
//   kvctl keygen PATH     writes a new secret for key_file or client_token_file (mode 0600)
// Without --cluster it uses data/local-cluster/cluster.json, the file `make run` writes.

#include "net/command_line.hpp"
#include "net/exit_codes.hpp"
#include "net/kvctl_commands.hpp"
#include "version/version.hpp"

#include <CLI/CLI.hpp>

using namespace coraft;

int main(int argc, char** argv) {
  net::KvctlCommandLine c;
  CLI::App app{"kvctl: a command-line client for a coraft cluster.\n"
               "  kvctl [--cluster FILE] [--timeout S] put KEY VALUE | get KEY | del KEY\n"
               "                                      | cas KEY EXPECTED NEW | cas --absent KEY NEW\n"
               "                                      | status [--json] | leader | metrics [ID...]\n"
               "                                      | get --prefix P | del --prefix P\n"
               "                                      | watch KEY | watch --prefix P [--count N]\n"
               "                                      | member list [--json] | member add ID HOST:PORT [--learner]\n"
               "                                      | member promote ID | member remove ID | member replace NEW OLD\n"
               "                                      | transfer-leader [ID] | backup FILE\n"
               "  kvctl keygen PATH"};
  app.option_defaults()->always_capture_default();
  app.require_subcommand(1);
  app.add_option("--cluster", c.cluster_path, "The cluster file (as given to kvstore --config; `make run` writes the "
                                            "default)");
  app.add_option("--timeout", c.timeout_s, "Give up on an operation after this many seconds (sooner when no replica "
                                         "is running)")
      ->check(CLI::PositiveNumber);

  auto* put = app.add_subcommand("put", "KEY VALUE: store VALUE under KEY");
  put->add_option("KEY", c.key)->required();
  put->add_option("VALUE", c.value)->required();
  auto* get = app.add_subcommand("get", "KEY: print the value of KEY (exit 1 if there is none); with --prefix, every "
                                        "key under KEY as KEY:VALUE lines (over HTTP)");
  get->add_option("KEY", c.key)->required();
  get->add_flag("--prefix", c.prefix, "KEY is a prefix: print every key that starts with it (\"\" for all)");
  auto* del = app.add_subcommand("del", "KEY: delete KEY (exit 1 if there was none); with --prefix, every key under "
                                        "KEY, printing how many");
  del->add_option("KEY", c.key)->required();
  del->add_flag("--prefix", c.prefix, "KEY is a prefix: delete every key that starts with it");
  auto* watch_cmd = app.add_subcommand("watch", "KEY: print KEY's value, then each change as it happens, as "
                                                "\"[index] put KEY VALUE\" or \"[index] del KEY\" (over HTTP)");
  watch_cmd->add_option("KEY", c.key)->required();
  watch_cmd->add_flag("--prefix", c.prefix, "KEY is a prefix: watch every key that starts with it");
  watch_cmd->add_option("--count", c.watch_count, "Stop after this many changes (default: never)");
  auto* cas = app.add_subcommand("cas", "KEY EXPECTED NEW, or --absent KEY NEW: set KEY to NEW only if it holds "
                                        "EXPECTED (or does not exist); exit 1 otherwise");
  cas->add_option("KEY", c.key)->required();
  auto* expected_opt = cas->add_option("EXPECTED", c.expected, "The value KEY must hold (omit with --absent)");
  auto* new_opt = cas->add_option("NEW", c.value, "The value to store");
  cas->add_flag("--absent", c.expect_absent, "Instead of EXPECTED: KEY must not exist");
  auto* status = app.add_subcommand("status", "[--json]: every replica's role, term, commit and applied index, and "
                                              "follower lag");
  status->add_flag("--json", c.json_output, "One JSON object per replica, as an array");
  auto* leader = app.add_subcommand("leader", "print the id of the replica that leads (exit 2 if none does)");
  auto* metrics = app.add_subcommand("metrics", "[ID...]: replicas' counters in Prometheus text format (all, or the "
                                                "IDs given)");
  metrics->add_option("ID", c.metrics_ids, "Replica ids (default: every replica)");
  auto* member = app.add_subcommand("member", "list, add, promote, remove or replace members (the configuration lives in the "
                                             "log: see README, Membership)");
  member->require_subcommand(1);
  auto* member_list = member->add_subcommand("list", "[--json]: every member: id, address, voter or learner, lag");
  member_list->add_flag("--json", c.json_output, "A JSON array");
  auto* member_add = member->add_subcommand("add", "ID HOST:PORT [--learner]: add a replica (started with kvstore "
                                                   "--join) as a learner, then make it a voter once it caught up");
  member_add->add_option("ID", c.member_id)->required();
  member_add->add_option("HOST:PORT", c.member_address)->required();
  member_add->add_flag("--learner", c.learner_only, "Leave it a learner (promote it later)");
  auto* member_promote = member->add_subcommand("promote", "ID: make the learner ID a voter, once it caught up");
  member_promote->add_option("ID", c.member_id)->required();
  auto* member_remove = member->add_subcommand("remove", "ID: remove ID (a leader hands over first); its id is never "
                                                         "used again");
  member_remove->add_option("ID", c.member_id)->required();
  auto* member_replace = member->add_subcommand(
      "replace", "NEW OLD: once the learner NEW has caught up, make it a voter and remove the voter OLD in one joint "
                 "change (the number of voters stays the same)");
  member_replace->add_option("NEW", c.member_id)->required();
  member_replace->add_option("OLD", c.replaced_id)->required();
  auto* transfer = app.add_subcommand("transfer-leader", "[ID]: hand leadership to ID (default: the most up-to-date "
                                                         "voter); returns once it leads");
  transfer->add_option("ID", c.member_id, "The replica to lead next");
  auto* backup = app.add_subcommand("backup", "FILE: save a backup of the committed state to FILE (a new file), "
                                              "without stopping the cluster; kvstore --restore seeds a new cluster "
                                              "from it");
  backup->add_option("FILE", c.backup_path)->required();
  auto* keygen = app.add_subcommand("keygen", "PATH: write a new random secret to PATH (mode 0600; refuses to "
                                              "replace a file), for cluster.json's key_file or client_token_file");
  keygen->add_option("PATH", c.keygen_path)->required();
  app.set_version_flag("--version", version_line("kvctl"));
  app.footer(exit_code::help_footer({
      {exit_code::kDone, "done"},
      {exit_code::kNo, "get, del: no such key (get --prefix: none under it); cas: KEY holds another value (or none)"},
      {exit_code::kNoAnswer, "no answer in time, or no replica is running (a write may or may not have been applied); "
                             "status, metrics: a replica asked about did not answer; leader: no replica leads"},
      {exit_code::kRefused, "the cluster refused the request (too large, or no valid client token; member, "
                            "transfer-leader: the change cannot be made, and why)"},
      {exit_code::kUsage, "a bad command line (also: an ID that is not in the cluster file)"},
      {exit_code::kNoInput, "the cluster file does not exist or cannot be read"},
      {exit_code::kCannotCreate, "keygen: PATH exists or cannot be created; backup: FILE exists or cannot be written"},
      {exit_code::kConfig, "the cluster file, or the client token file it names, is invalid"},
  }));
  if (auto code = exit_code::parse_command_line(app, argc, argv)) return *code;
  c.chosen.put = put->parsed();
  c.chosen.get = get->parsed();
  c.chosen.del = del->parsed();
  c.chosen.watch_cmd = watch_cmd->parsed();
  c.chosen.cas = cas->parsed();
  c.chosen.status = status->parsed();
  c.chosen.leader = leader->parsed();
  c.chosen.metrics = metrics->parsed();
  c.chosen.member = member->parsed();
  c.chosen.member_list = member_list->parsed();
  c.chosen.member_add = member_add->parsed();
  c.chosen.member_promote = member_promote->parsed();
  c.chosen.member_remove = member_remove->parsed();
  c.chosen.member_replace = member_replace->parsed();
  c.chosen.transfer = transfer->parsed();
  c.chosen.keygen = keygen->parsed();
  c.chosen.backup = backup->parsed();
  c.cas_values_given = expected_opt->count() + new_opt->count();
  return net::run_kvctl(std::move(c));
}
