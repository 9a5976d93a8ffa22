#include "net/load_generator.hpp"

#include "actors/logger.hpp"
#include "actors/rng.hpp"
#include "actors/spawn.hpp"
#include "net/etcd_client.hpp"
#include "net/history_io.hpp"
#include "net/client.hpp"
#include "net/http_client.hpp"
#include "net/process_cpu.hpp"
#include "version/version.hpp"
#include "net/exit_codes.hpp"

#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <fstream>
#include <random>


namespace coraft::net {
namespace {

using Steady = std::chrono::steady_clock;



// One client's connection to the system under test.
class Backend {
 public:
  virtual ~Backend() = default;
  struct Result {
    bool ok = false;
    int retries = 0;
    bool rejected = false;  // refused for good: it never took effect
    kv::Status status = kv::Status::kOk;
    std::optional<std::string> read;  // get: the value found
  };
  virtual asio::awaitable<Result> put(const std::string& key, const std::string& value) = 0;
  virtual asio::awaitable<Result> get(const std::string& key) = 0;
  virtual std::uint64_t session() const { return 0; }
};

class CoraftBackend final : public Backend {
 public:
  CoraftBackend(asio::io_context& io, const std::map<raft::NodeId, asio::ip::udp::endpoint>& replicas, std::uint64_t seed,
                net::ClientSettings settings)
      : client_(io, replicas, actors::Rng(seed), settings) {}
  CoraftBackend(net::ClientSocket& shared, const std::map<raft::NodeId, asio::ip::udp::endpoint>& replicas,
                std::uint64_t seed, net::ClientSettings settings)
      : client_(shared, replicas, actors::Rng(seed), settings) {}
  asio::awaitable<Result> put(const std::string& key, const std::string& value) override {
    auto r = co_await client_.put(key, value);
    co_return result_of(r);
  }
  asio::awaitable<Result> get(const std::string& key) override {
    auto r = co_await client_.get(key);
    co_return result_of(r);
  }
  std::uint64_t session() const override { return client_.session(); }

 private:
  static Result result_of(net::CallResult& r) {
    return Result{r.outcome == net::Outcome::kOk, r.attempts - 1, r.outcome == net::Outcome::kRejected,
                  r.reply.status, std::move(r.reply.value)};
  }
  net::Client client_;
};

class EtcdBackend final : public Backend {
 public:
  EtcdBackend(asio::io_context& io, net::EtcdEndpoint endpoint) : client_(io, std::move(endpoint)) {}
  asio::awaitable<Result> put(const std::string& key, const std::string& value) override {
    co_return Result{co_await client_.put(key, value), 0};
  }
  asio::awaitable<Result> get(const std::string& key) override { co_return Result{co_await client_.get(key), 0}; }

 private:
  net::EtcdClient client_;
};

// coraft's HTTP API: a put is answered "true"; a get 200 (the value) or 404 (no such key).
class CoraftHttpBackend final : public Backend {
 public:
  CoraftHttpBackend(asio::io_context& io, net::HostPort replica, std::string token, std::chrono::milliseconds timeout)
      : connection_(io, std::move(replica)), token_(std::move(token)), timeout_(timeout) {}
  asio::awaitable<Result> put(const std::string& key, const std::string& value) override {
    net::HttpRequest request{"PUT", "/v1/kv/" + net::percent_encode(key, true), headers(), value, true};
    auto exchange = co_await connection_.exchange(request, timeout_);
    co_return Result{exchange.response && exchange.response->status == 200 && exchange.response->body == "true", 0};
  }
  asio::awaitable<Result> get(const std::string& key) override {
    net::HttpRequest request{"GET", "/v1/kv/" + net::percent_encode(key, true) + "?raw", headers(), {}, true};
    auto exchange = co_await connection_.exchange(request, timeout_);
    Result r;
    r.ok = exchange.response && (exchange.response->status == 200 || exchange.response->status == 404);
    if (r.ok && exchange.response->status == 200) r.read = std::move(exchange.response->body);
    if (r.ok && exchange.response->status == 404) r.status = kv::Status::kNotFound;
    co_return r;
  }

 private:
  net::HttpHeaders headers() const {
    if (token_.empty()) return {};
    return {{"X-Consul-Token", token_}};
  }
  net::HttpConnection connection_;
  std::string token_;
  std::chrono::milliseconds timeout_;
};

struct Totals {
  std::uint64_t ops = 0;          // completed after the warm-up
  std::uint64_t all_ops = 0;      // including the warm-up
  std::uint64_t errors = 0;
  std::uint64_t retries = 0;
  std::uint64_t unknown = 0;   // no answer: a write may or may not have taken effect
  std::uint64_t rejected = 0;
  std::vector<double> latencies_ms;
  std::uint64_t ops_this_second = 0;
};

// "k" and n zero-padded to `size` characters, or n's last `size` characters where it is longer.
std::string key_of(std::uint64_t n, std::size_t size) {
  char digits[20];
  const std::size_t length = static_cast<std::size_t>(std::to_chars(digits, digits + sizeof digits, n).ptr - digits);
  const std::size_t width = std::max<std::size_t>(size, 2) - 1;
  std::string key = "k";
  if (length < width) key.append(width - length, '0');
  key.append(digits, length);
  if (key.size() > size) key.erase(0, key.size() - size);
  return key;
}

double percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  const auto at = static_cast<std::size_t>(p / 100.0 * static_cast<double>(sorted.size() - 1) + 0.5);
  return sorted[std::min(at, sorted.size() - 1)];
}

}  // namespace

int run_load(LoadCommandLine c) {
  if (c.cluster_path.empty() == c.etcd_urls.empty()) {
    fmt::print(stderr, "kvbench: give --cluster FILE or --etcd URLS (see --help)\n");
    return exit_code::kUsage;
  }
  if (c.load.fill) {  // measured from the first operation to the last, however long that takes
    c.load.warmup_s = 0;
    c.load.duration_s = 1e7;
    c.load.read_ratio = 0;
  }
  if (c.seed == 0) c.seed = std::random_device{}();
  actors::configure_logging(std::nullopt);
  std::ofstream history;
  if (!c.history_path.empty()) {
    history.open(c.history_path, std::ios::trunc);
    if (!history) {
      fmt::print(stderr, "kvbench: cannot write {}\n", c.history_path);
      return exit_code::kCannotCreate;
    }
  }

  asio::io_context io(1);
  std::unique_ptr<net::ClientSocket> shared_socket;  // declared before the sessions over it, so it outlives them
  std::vector<std::unique_ptr<Backend>> backends;
  try {
    if (!c.cluster_path.empty()) {
      const net::ClusterAccess cluster = net::open_cluster(io, c.cluster_path);
      const auto& replicas = cluster.replicas;
      net::ClientSettings client_settings;
      client_settings.token = cluster.token;
      client_settings.deadline = std::chrono::milliseconds(static_cast<std::int64_t>(c.timeout_s * 1000));
      const net::ClusterConfig& config = cluster.config;
      std::vector<net::HostPort> http = c.over_http ? net::http_addresses(config) : std::vector<net::HostPort>{};
      if (c.http_to_leader) {
        // Ask the first replica which one leads; its answer is the leader's Raft (UDP) address.
        net::HttpConnection probe(io, http.front());
        std::string leader;
        actors::spawn(io.get_executor(), "find-leader", [&]() -> asio::awaitable<void> {
          net::HttpRequest request{"GET", "/v1/status/leader", {}, {}, true};
          auto exchange = co_await probe.exchange(request, std::chrono::seconds(5));
          if (exchange.response) leader = exchange.response->body;
        });
        io.run();
        io.restart();
        std::size_t i = 0;
        for (const auto& [id, address] : config.replicas) {
          if (leader == fmt::format("\"{}:{}\"", address.host, address.port)) http = {http[i]};
          ++i;
        }
        if (http.size() != 1) throw std::runtime_error("no leader known: " + (leader.empty() ? "no answer" : leader));
      }
      for (int i = 0; i < c.load.clients; ++i) {
        if (c.over_http) {
          backends.push_back(std::make_unique<CoraftHttpBackend>(
              io, http[static_cast<std::size_t>(i) % http.size()], client_settings.token,
              std::chrono::duration_cast<std::chrono::milliseconds>(client_settings.deadline)));
          continue;
        }
        const std::uint64_t seed = c.seed + static_cast<std::uint64_t>(i) * 7919;
        if (c.socket_per_client) {
          backends.push_back(std::make_unique<CoraftBackend>(io, replicas, seed, client_settings));
          continue;
        }
        if (!shared_socket) {
          shared_socket = std::make_unique<net::ClientSocket>(
              io, !replicas.empty() && replicas.begin()->second.address().is_v6());
        }
        backends.push_back(std::make_unique<CoraftBackend>(*shared_socket, replicas, seed, client_settings));
      }
    } else {
      auto endpoints = net::parse_etcd_urls(c.etcd_urls);
      if (!endpoints) {
        fmt::print(stderr, "kvbench: cannot read etcd URLs \"{}\"\n", c.etcd_urls);
        return exit_code::kUsage;
      }
      for (int i = 0; i < c.load.clients; ++i) {
        backends.push_back(std::make_unique<EtcdBackend>(io, (*endpoints)[static_cast<std::size_t>(i) % endpoints->size()]));
      }
    }
  } catch (const net::ConfigError& e) {
    fmt::print(stderr, "kvbench: {}\n", e.what());
    return net::exit_code_for(e);
  }

  // The servers' CPU time at the start of the measured window, sampled then (below) and again at the end.
  auto cpu_now = [&]() -> std::optional<double> {
    double total = 0;
    for (int pid : c.cpu_pids) {
      auto seconds = net::process_cpu_seconds(pid);
      if (!seconds) return std::nullopt;
      total += *seconds;
    }
    return total;
  };
  std::optional<double> cpu_at_start;

  Totals totals;
  const auto started = Steady::now();
  const auto measure_from = started + std::chrono::microseconds(static_cast<std::int64_t>(c.load.warmup_s * 1e6));
  const auto stop_at = measure_from + std::chrono::microseconds(static_cast<std::int64_t>(c.load.duration_s * 1e6));
  bool stopping = false;
  int running = c.load.clients;
  // SIGINT or SIGTERM: no new operations; those under way finish (or time out), then the report and the history.
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const asio::error_code& error, int) {
    if (!error) stopping = true;
  });

  for (int i = 0; i < c.load.clients; ++i) {
    actors::spawn(io.get_executor(), fmt::format("client-{}", i), [&, i]() -> asio::awaitable<void> {
      actors::Rng rng(c.seed ^ (static_cast<std::uint64_t>(i + 1) * 0x9E3779B97F4A7C15ull));
      Backend& backend = *backends[static_cast<std::size_t>(i)];
      std::string value(c.load.value_size, 'v');
      std::uint64_t counter = 0;
      // Paced: client i starts an operation every clients/rate seconds, or as soon as the last one ends if later.
      const auto interval = std::chrono::duration_cast<Steady::duration>(
          std::chrono::duration<double>(c.load.rate > 0 ? c.load.clients / c.load.rate : 0.0));
      auto next_start = Steady::now() + interval * i / c.load.clients;
      asio::steady_timer pace(io);
      std::uint64_t next_fill = static_cast<std::uint64_t>(i);
      while (!stopping) {
        if (c.load.rate > 0) {
          pace.expires_at(next_start);
          co_await pace.async_wait(asio::use_awaitable);
          next_start = std::max(next_start + interval, Steady::now());
          if (stopping || Steady::now() >= stop_at) break;
        }
        if (c.load.fill && next_fill >= c.load.keys) break;
        const std::string key = key_of(c.load.fill ? next_fill : rng.between(0, c.load.keys - 1), c.load.key_size);
        next_fill += static_cast<std::uint64_t>(c.load.clients);
        const bool read = !c.load.fill && rng.chance(c.load.read_ratio);
        ++counter;
        if (!read && history.is_open()) {
          value = fmt::format("{:x}-{}", backend.session(), counter);
          if (value.size() < c.load.value_size) value.resize(c.load.value_size, 'v');
        } else if (!read) {
          const std::string stamp = fmt::format("{}-{}-", i, counter);
          std::copy_n(stamp.begin(), std::min(stamp.size(), value.size()), value.begin());
        }
        const auto t0 = Steady::now();
        // Not `read ? co_await get : co_await put`: GCC 12 destroys the result of such a conditional twice.
        Backend::Result r;
        if (read) {
          r = co_await backend.get(key);
        } else {
          r = co_await backend.put(key, value);
        }
        const auto t1 = Steady::now();
        if (!r.ok) ++(r.rejected ? totals.rejected : totals.unknown);
        // A rejected operation never took effect (the cluster's promise): as if never issued, so not recorded.
        if (history.is_open() && !r.rejected) {
          net::Operation op;
          op.client = backend.session();
          op.kind = read ? net::OpKind::kGet : net::OpKind::kPut;
          op.key = key;
          if (!read) op.value = value;
          op.invoked_us = std::chrono::duration_cast<std::chrono::microseconds>(t0.time_since_epoch()).count();
          op.completed = r.ok;
          if (r.ok) {
            op.completed_us = std::chrono::duration_cast<std::chrono::microseconds>(t1.time_since_epoch()).count();
            op.status = r.status;
            op.read = r.read;
          }
          history << net::operation_to_json(op).dump() << '\n';
        }
        ++totals.all_ops;
        ++totals.ops_this_second;
        if (t0 >= measure_from && t1 <= stop_at) {
          ++totals.ops;
          totals.retries += static_cast<std::uint64_t>(r.retries);
          if (r.ok) totals.latencies_ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
          else ++totals.errors;
        }
        if ((c.load.ops > 0 && totals.all_ops >= c.load.ops) || t1 >= stop_at) stopping = true;
      }
      if (--running == 0) {
        signals.cancel();
        if (shared_socket) shared_socket->close();  // (it listens until closed)
      }
    });
  }
  if (!c.cpu_pids.empty()) {
    actors::spawn(io.get_executor(), "cpu-sample", [&]() -> asio::awaitable<void> {
      asio::steady_timer at(io, measure_from);
      co_await at.async_wait(asio::use_awaitable);
      cpu_at_start = cpu_now();
    });
  }
  actors::spawn(io.get_executor(), "progress", [&]() -> asio::awaitable<void> {
    asio::steady_timer timer(io);
    int second = 0;
    while (running > 0) {
      timer.expires_after(std::chrono::seconds(1));
      co_await timer.async_wait(asio::use_awaitable);
      ++second;
      if (!c.json_output && !c.quiet) {
        fmt::print(stderr, "[{:3}s] {:8} ops/s   errors {}{}\n", second, totals.ops_this_second, totals.errors,
                   Steady::now() < measure_from ? "   (warm-up)" : "");
      }
      totals.ops_this_second = 0;
    }
  });
  io.run();
  const std::optional<double> cpu_at_end = cpu_now();

  const double seconds = std::chrono::duration<double>(std::min(Steady::now(), stop_at) - measure_from).count();
  std::sort(totals.latencies_ms.begin(), totals.latencies_ms.end());
  const auto& l = totals.latencies_ms;
  const double throughput = seconds > 0 ? static_cast<double>(totals.ops) / seconds : 0;
  nlohmann::json report = {
      {"system", c.cluster_path.empty() ? "etcd" : c.over_http ? "coraft-http" : "coraft"},
      {"clients", c.load.clients},
      {"read_ratio", c.load.read_ratio},
      {"seconds", seconds},
      {"ops", totals.ops},
      {"ops_per_sec", throughput},
      {"p50_ms", percentile(l, 50)},
      {"p90_ms", percentile(l, 90)},
      {"p99_ms", percentile(l, 99)},
      {"p999_ms", percentile(l, 99.9)},
      {"max_ms", l.empty() ? 0 : l.back()},
      {"errors", totals.errors},
      {"retries", totals.retries},
      {"all_ops", totals.all_ops},
      {"unknown", totals.unknown},
      {"rejected", totals.rejected},
  };
  std::string cpu_text;
  if (!c.cpu_pids.empty()) {
    if (cpu_at_start && cpu_at_end && totals.ops > 0) {
      const double cpu = *cpu_at_end - *cpu_at_start;
      report["server_cpu_s"] = cpu;
      report["server_cpu_s_per_1000_ops"] = cpu / static_cast<double>(totals.ops) * 1000;
      cpu_text = fmt::format("; server CPU {:.2f} s ({} processes), {:.4f} s per 1000 ops", cpu, c.cpu_pids.size(),
                             cpu / static_cast<double>(totals.ops) * 1000);
    } else {
      cpu_text = "; server CPU unknown (a --cpu-of process is gone, or the window was empty)";
      report["server_cpu_s"] = nullptr;
      report["server_cpu_s_per_1000_ops"] = nullptr;
    }
  }
  if (c.json_output) {
    fmt::print("{}\n", report.dump());
  } else {
    fmt::print("{} ops in {:.1f} s: {:.0f} ops/s; latency ms p50 {:.3f} p90 {:.3f} p99 {:.3f} p99.9 {:.3f} max {:.3f}; "
               "errors {}, retries {}{}\n",
               totals.ops, seconds, throughput, percentile(l, 50), percentile(l, 90), percentile(l, 99),
               percentile(l, 99.9), l.empty() ? 0 : l.back(), totals.errors, totals.retries, cpu_text);
  }
  if (history.is_open()) {
    history.close();
    if (!history) {
      fmt::print(stderr, "kvbench: writing {} failed\n", c.history_path);
      return exit_code::kCannotCreate;
    }
  }
  return totals.all_ops > totals.unknown + totals.rejected ? exit_code::kDone : exit_code::kNoAnswer;
}

}  // namespace coraft::net
