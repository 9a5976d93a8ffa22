#include "net/replica_process.hpp"

#include "actors/hop_trace.hpp"
#include "actors/logger.hpp"
#include "actors/real_clock.hpp"
#include "actors/replica.hpp"
#include "actors/spawn.hpp"
#include "net/client.hpp"
#include "net/cluster_config.hpp"
#include "net/exit_codes.hpp"
#include "net/http_server.hpp"
#include "net/restore.hpp"
#include "net/secret_file.hpp"
#include "net/udp_bridge.hpp"
#include "raft/backup_file.hpp"
#include "raft/disk_storage.hpp"
#include "raft/memory_file_system.hpp"
#include "version/version.hpp"

#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/signal_set.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <fmt/format.h>

#include <chrono>
#include <csignal>
#include <functional>
#include <random>

namespace coraft::net {
namespace {

constexpr int kPeerReceiveBufferBytes = 4 << 20;

int fail(int code, const std::string& message) {
  fmt::print(stderr, "kvstore: {}\n", message);
  return code;
}

// Logs `line` at info level even at the default level (warn): the one line that says a replica is up. Only "error"
// or "off" silence it. Runs before the replica's threads start, so changing the level for one line is safe.
void announce(const actors::Logger& log, const std::string& line) {
  const auto level = log->level();
  if (level > spdlog::level::warn) return;
  log->set_level(std::min(level, spdlog::level::info));
  log->info("{}", line);
  log->set_level(level);
}

raft::NodeId parse_id(const std::string& text, const char* what) {
  auto id = raft::NodeId::parse(text);
  if (!id || !id->valid()) throw std::invalid_argument(fmt::format("{} \"{}\" is not 4 hex digits (0000-FFFE)", what, text));
  return *id;
}



constexpr std::chrono::seconds kRetirementGrace{5};

}  // namespace

int restore_replica_directory(const std::string& backup, const std::string& config_path, const std::string& id_text,
            std::string data_dir) {
  if (config_path.empty() || id_text.empty()) {
    return fail(exit_code::kUsage, "--restore needs --config (the new cluster's file) and --id");
  }
  try {
    const net::ClusterConfig config = net::load_cluster_config(config_path);
    const raft::NodeId self = parse_id(id_text, "--id");
    if (!config.replicas.count(self)) {
      return fail(exit_code::kUsage, fmt::format("id {} is not a replica in {}", self.str(), config_path));
    }
    if (data_dir.empty()) data_dir = "coraft-data/" + self.str();
    const net::RestoreReport report = net::restore_replica(backup, config, self, data_dir);
    fmt::print("kvstore: restored {} from {}: the state at index {} (term {}), {} bytes; new cluster {:016x} (every "
               "replica restored from this backup and {} joins it). Start it as usual: kvstore --config {} --id {} "
               "--data-dir {}\n",
               data_dir, backup, report.backup.index, report.backup.term, report.state_bytes, report.cluster_id,
               config_path, config_path, self.str(), data_dir);
    return exit_code::kDone;
  } catch (const net::ConfigError& e) {
    return fail(net::exit_code_for(e), e.what());
  } catch (const net::RestoreError& e) {
    return fail(e.exit_code(), e.what());
  } catch (const std::invalid_argument& e) {
    return fail(exit_code::kUsage, e.what());
  }
}

int run_replica_process(ReplicaCommandLine c) {

  // A file-size limit (ulimit -f) must fail the write with EFBIG, reported like a full disk, not kill the process.
  std::signal(SIGXFSZ, SIG_IGN);
  if (!actors::configure_logging(c.log_level)) {
    return fail(exit_code::kUsage, fmt::format("unknown log level \"{}\"", c.log_level.value_or("")));
  }
  if (c.seed == 0) c.seed = std::random_device{}() ^ static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());

  const bool course_mode = c.config_path.empty();
  actors::ReplicaOptions options;
  net::Addressing addressing;
  addressing.course_mode = course_mode;
  asio::io_context io(1);
  asio::ip::udp::socket socket(io);
  net::BridgeSecurity security;
  std::string security_text;  // logged at start-up
  net::HttpServerSettings http;
  try {
    if (course_mode) {
      if (!c.id_text.empty()) return fail(exit_code::kUsage, "--id belongs to cluster mode (with --config)");
      if (c.http_port != 0) return fail(exit_code::kUsage, "--http-port belongs to cluster mode (with --config)");
      if (c.positional.size() < 2) {
        return fail(exit_code::kUsage, "course mode needs <UDP port> <id> [<other ids>...]; cluster mode needs "
                                       "--config and --id (see --help)");
      }
      unsigned long port = 0;
      try {
        std::size_t used = 0;
        port = std::stoul(c.positional[0], &used);
        if (used != c.positional[0].size() || port == 0 || port > 65535) throw std::invalid_argument("range");
      } catch (const std::exception&) {
        return fail(exit_code::kUsage, fmt::format("UDP port \"{}\" must be a number from 1 to 65535", c.positional[0]));
      }
      // The course simulator counts every replica datagram, and its clients are patient: heartbeat less often,
      // with election timeouts to match (heartbeats stay under a third of the shortest timeout).
      options.timing.heartbeat_interval = actors::Millis(200);
      options.uniform_appends = true;  // the bridge sends an AppendEntries every follower gets as one FFFF datagram
      options.quiet_acks = true;       // and only as many followers as a majority needs answer it
      options.defer_spare_followers = false;  // (the shared append costs the same however many followers it is for)
      options.timing.election_timeout_min = actors::Millis(600);
      options.timing.election_timeout_max = actors::Millis(1200);
      options.self = parse_id(c.positional[1], "id");
      for (std::size_t i = 2; i < c.positional.size(); ++i) {
        const raft::NodeId peer = parse_id(c.positional[i], "other id");
        if (peer == options.self) {
          return fail(exit_code::kUsage, fmt::format("other id {} is this replica's own id", c.positional[i]));
        }
        if (std::find(options.peers.begin(), options.peers.end(), peer) != options.peers.end()) {
          return fail(exit_code::kUsage, fmt::format("other id {} is given twice", c.positional[i]));
        }
        options.peers.push_back(peer);
      }
      addressing.simulator = asio::ip::udp::endpoint(asio::ip::make_address("127.0.0.1"), static_cast<std::uint16_t>(port));
      socket.open(asio::ip::udp::v4());
      socket.bind(asio::ip::udp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    } else {
      if (!c.positional.empty()) return fail(exit_code::kUsage, "cluster mode (--config) takes no positional arguments");
      if (c.id_text.empty()) return fail(exit_code::kUsage, "cluster mode needs --id <id>");
      const net::ClusterConfig config = net::load_cluster_config(c.config_path);
      const raft::NodeId self = parse_id(c.id_text, "--id");
      if (!config.replicas.count(self)) {
        return fail(exit_code::kUsage, fmt::format("id {} is not a replica in {}", self.str(), c.config_path));
      }
      options = config.options_for(self);
      addressing.replicas = net::resolve(io, config);
      if (!config.key_file.empty()) security.peer_key = net::load_secret_file(config.key_file, "key_file");
      security.client_token = net::client_token(config);
      security_text = config.key_file.empty()
                          ? ""
                          : fmt::format("peer datagrams sealed with HMAC-SHA256 under {}", config.key_file);
      if (!config.client_token_file.empty()) {
        security_text += fmt::format("{}client requests need the token in {}", security_text.empty() ? "" : "; ",
                                     config.client_token_file);
      }
      // The HTTP API: where this replica serves it, where the others do (a follower forwards to the leader's), and
      // the Raft addresses /v1/status/* answer with.
      http.peers_http = config.http;
      if (c.http_port != 0) {
        auto it = config.http.find(self);
        http.peers_http[self] = net::HostPort{it != config.http.end() ? it->second.host : config.replicas.at(self).host,
                                              c.http_port};
      }
      if (auto it = http.peers_http.find(self); it != http.peers_http.end()) http.api = it->second;
      for (const auto& [id, address] : config.replicas) {
        http.raft_addresses[id] = fmt::format("{}:{}", address.host, address.port);
      }
      http.consul.client_token = security.client_token;
      http.consul.max_key_bytes = options.max_key_bytes;
      http.consul.max_value_bytes = options.max_value_bytes;
      const auto& me = addressing.replicas.at(self);
      socket.open(me.protocol());
      asio::error_code error;
      socket.bind(me, error);
      if (error) {
        return fail(exit_code::kUnavailable, fmt::format("cannot listen on {}:{}: {}", me.address().to_string(),
                                                         me.port(), error.message()));
      }
    }
  } catch (const net::ConfigError& e) {
    return fail(net::exit_code_for(e), e.what());
  } catch (const std::invalid_argument& e) {  // parse_id
    return fail(exit_code::kUsage, e.what());
  }

  // Room for bursts while the replica is busy (a follower syncs on its own thread): under load a few full appends of
  // large values exceed the default buffer, and a datagram dropped here costs a retransmission timeout. The kernel
  // caps the request at net.core.rmem_max; failing to get it is not an error.
  asio::error_code no_bigger_buffer;
  socket.set_option(asio::socket_base::receive_buffer_size(kPeerReceiveBufferBytes), no_bigger_buffer);
  options.background_snapshots = true;
  actors::RealClock clock(io);
  auto log = actors::make_logger(options.self.str(), &clock);
  if (!c.trace_hops_path.empty() && !actors::hop_trace::open(c.trace_hops_path, options.self.value)) {
    return fail(exit_code::kCannotCreate, fmt::format("cannot write the hop trace {}", c.trace_hops_path));
  }
  // Written out however the process ends from here on.
  struct CloseTrace {
    ~CloseTrace() { actors::hop_trace::close(); }
  } close_trace;
  // Course mode without a data directory keeps its log in memory: the course simulator never restarts a replica.
  raft::PosixFileSystem disk_files;
  raft::MemoryFileSystem memory_files(/*track_durability=*/false);
  actors::StorageSetup storage;
  if (!course_mode && c.data_dir.empty()) c.data_dir = "coraft-data/" + options.self.str();
  storage.fs = c.data_dir.empty() ? static_cast<raft::FileSystem*>(&memory_files) : &disk_files;
  storage.options.dir = c.data_dir.empty() ? "memory/" + options.self.str() : c.data_dir;
  storage.options.fsync = c.fsync_text.empty()
                              ? (course_mode ? raft::FsyncPolicy::kNone : raft::FsyncPolicy::kAlways)
                              : (c.fsync_text == "always" ? raft::FsyncPolicy::kAlways : raft::FsyncPolicy::kNone);
  if (c.data_dir.empty()) {
    storage.options.fsync = raft::FsyncPolicy::kNone;
    storage.options.segment_bytes = 1u << 20;  // preallocation is memory here
  }
  options.join = c.join;
  // Out of the cluster for good (removed while it was away, or refused because its data directory was replaced):
  // it stops with its own exit status, which a supervisor does not restart (README: Exit codes).
  bool retired = false;
  std::function<void()> stop_now;  // set once everything it stops exists
  // For a few seconds first it answers clients with the address of a member, so that those that knew of no other
  // replica (their cluster file predates the change) find the cluster again.
  asio::steady_timer retirement(io);
  std::function<void()> stop_after_handover;  // set with the signal handler below
  options.on_handover_done = [&](bool done, const std::string& why) {
    if (done) log->info("handed over: stopping");
    else log->info("not handed over ({}): stopping", why);
    if (stop_after_handover) stop_after_handover();
  };
  options.on_retired = [&](const std::string& reason) {
    retired = true;
    log->error("{}. This replica is no longer a member of the cluster: stopping in {} s (exit status {}); until then "
               "it sends clients to the members",
               reason, std::chrono::duration_cast<std::chrono::seconds>(kRetirementGrace).count(),
               exit_code::kNotAMember);
    retirement.expires_after(kRetirementGrace);
    retirement.async_wait([&](const asio::error_code& error) {
      if (!error && stop_now) stop_now();
    });
  };
  std::unique_ptr<actors::Replica> replica_holder;
  try {
    if (!course_mode) {
      // The data directory's identity, to which the cluster pins this replica's id: a wiped directory is new.
      const auto identity = raft::open_identity(disk_files, c.data_dir, std::random_device{}() * 0x100000000ull ^
                                                                          std::random_device{}());
      options.incarnation = identity.incarnation;
      options.cluster_id = raft::read_cluster_id(disk_files, c.data_dir);
      if (identity.fresh && !c.join) {
        log->info("new data directory {}: founding member of the cluster in {} (a replica whose directory was "
                  "wiped cannot rejoin so; it needs a new id and --join)",
                  c.data_dir, c.config_path);
      }
    }
    replica_holder = std::make_unique<actors::Replica>(io, clock, storage, actors::Rng(c.seed), options, log);
  } catch (const raft::StorageError& e) {
    return fail(exit_code::kStorage, e.what());
  }
  actors::Replica& replica = *replica_holder;
  if (!course_mode && !c.join && !replica.core().membership().contains(options.self)) {
    return fail(exit_code::kNotAMember,
                fmt::format("{} is not a member of the cluster's configuration ({}; recorded at index {}): it was "
                            "removed, and ids are never reused. Start a new replica under a new id with --join, "
                            "then add it (kvctl member add)",
                            options.self.str(), replica.core().membership().describe(),
                            replica.core().membership_index()));
  }
  std::string storage_text = "in memory only";
  if (!c.data_dir.empty()) {
    const auto& report = replica.storage().recovery_report();
    storage_text = fmt::format("in {} (fsync {}; recovered {} records from {} segments in {:.0f} ms{}{})", c.data_dir,
                               raft::fsync_policy_name(storage.options.fsync), report.records, report.segments,
                               replica.storage().recovery_ms(),
                               report.torn_bytes_cut ? fmt::format(", cut a torn tail of {} bytes", report.torn_bytes_cut)
                                                     : "",
                               report.suffix_entries_dropped
                                   ? fmt::format(", dropped {} entries that disagreed with the snapshot",
                                                 report.suffix_entries_dropped)
                                   : "");
    if (report.torn_bytes_cut) log->warn("cut a torn tail of {} bytes from the write-ahead log", report.torn_bytes_cut);
    if (storage.options.fsync == raft::FsyncPolicy::kNone && !course_mode) {
      log->warn("fsync none: acknowledged writes can be lost if this machine loses power");
    }
  }
  if (course_mode) {
    log->info("course mode is unauthenticated: the course simulator relays the classic datagrams and cannot sign them");
  } else if (security.peer_key.empty()) {
    log->warn("no key_file in {}: peer datagrams are not authenticated, so anyone who can send UDP to this replica "
              "can forge Raft messages (see README: Security)",
              c.config_path);
  }
  if (!security_text.empty()) log->info("{}", security_text);
  // Caught from before we say we listen: whoever read that line may stop us at once, and is owed a clean stop (asio
  // holds the signal until the handler below waits for it).
  asio::signal_set signals(io, SIGINT, SIGTERM);
  {
    std::vector<std::string> peer_names;
    for (raft::NodeId peer : options.peers) peer_names.push_back(peer.str());
    const auto& raft_log = replica.core().log();
    const asio::ip::udp::endpoint me = socket.local_endpoint();
    const std::string mode = course_mode ? fmt::format("course mode, simulator at {}:{}",
                                                       addressing.simulator.address().to_string(),
                                                       addressing.simulator.port())
                                         : options.cluster_id == 0
                                               ? std::string("cluster mode")
                                               : fmt::format("cluster mode, cluster {:016x} (restored from a backup)",
                                                             options.cluster_id);
    announce(log, fmt::format("{} listening on {}:{} ({}, peers {}); storage {}; term {}, log {} entries{}; {}",
                              options.self.str(), me.address().to_string(), me.port(), mode, fmt::join(peer_names, ","),
                              storage_text, replica.core().term(), raft_log.last_index() + 1 - raft_log.first_index(),
                              raft_log.first_index() > 1
                                  ? fmt::format(" after a snapshot at {}", raft_log.first_index() - 1)
                                  : "",
                              version_line("kvstore")));
  }
  net::UdpBridge bridge(socket, replica, addressing, log, security);
  if (!course_mode && c.join && options.cluster_id == 0 && replica.core().term() == 0 &&
      replica.core().log().last_index() == 0) {
    // A new replica joining a restored cluster takes that cluster's identity from the first member that talks to it.
    bridge.adopt_cluster_on_first_contact(
        [&disk_files, dir = c.data_dir](std::uint64_t id) { raft::write_cluster_id(disk_files, dir, id); });
  }
  if (c.metrics_port != 0) http.metrics = net::HostPort{c.metrics_address, c.metrics_port};
  net::HttpServer http_server(io, replica, http, log);
  try {
    http_server.listen();
  } catch (const std::exception& e) {
    return fail(exit_code::kUnavailable, e.what());
  }
  if (http.api) log->info("HTTP API (Consul's KV API) at http://{}:{}/v1/kv/", http.api->host, http_server.api_port());
  if (http.metrics) log->info("metrics at http://{}:{}/metrics", c.metrics_address, http_server.metrics_port());

  auto stop = [&] {
    retirement.cancel();
    replica.stop();
    http_server.stop();
    asio::error_code ignored;
    socket.close(ignored);
  };
  stop_now = stop;
  asio::steady_timer handover_backstop(io);
  stop_after_handover = [&] {
    handover_backstop.cancel();
    stop();
  };
  // A leader hands over first, so the cluster has a leader again at once instead of after an election timeout; the
  // node says when that has ended (on_handover_done, at once where there is nothing to hand over). The timer is a
  // backstop: a stop never waits on the node longer than two election timeouts.
  signals.async_wait([&](const asio::error_code& error, int signal) {
    if (error) return;
    if (course_mode || !replica.hand_over()) {
      log->info("signal {}: stopping", signal);
      stop();
      return;
    }
    log->info("signal {}: handing leadership over if this replica leads, then stopping", signal);
    handover_backstop.expires_after(2 * options.timing.election_timeout_max);
    handover_backstop.async_wait([&](const asio::error_code& cancelled) {
      if (cancelled) return;
      log->info("no answer about the handover in time: stopping");
      stop();
    });
  });

  if (course_mode) bridge.send_raw(net::encode_hello(options.self), addressing.simulator);
  replica.start();
  http_server.start();
  actors::spawn(io.get_executor(), options.self.str() + "/bridge-send", bridge.send_loop());
  actors::spawn(io.get_executor(), options.self.str() + "/bridge-receive", bridge.receive_loop(), [&] {
    signals.cancel();  // the socket is closed: nothing more will arrive, let run() return
  });
  try {
    io.run();
    // A second SIGINT or SIGTERM (a supervisor's, after a terminal's Ctrl-C reached the replica too) must not turn
    // this clean stop into a kill while the storage syncs and closes on the way out. clear() first: it puts back the
    // default action, which would undo an earlier SIG_IGN.
    signals.clear();
    std::signal(SIGINT, SIG_IGN);
    std::signal(SIGTERM, SIG_IGN);
  } catch (const raft::StorageError& e) {
    // A full or failing disk: nothing more can be made durable, so nothing more may be acknowledged. Stopping is
    // the safe answer (the peers go on without this replica); the operator frees space and restarts it.
    log->critical("cannot persist: {}. Stopping rather than acknowledge writes that are not on disk; free space "
                  "or fix the disk, then restart this replica (its log up to the failure is intact)", e.what());
    return exit_code::kStorage;
  } catch (const std::exception& e) {
    log->critical("stopping after a failure: {}", e.what());
    return exit_code::kInternal;
  }
  return retired ? exit_code::kNotAMember : exit_code::kDone;
}

}  // namespace coraft::net
