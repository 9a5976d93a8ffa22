#include "course_sim.hpp"

#include "actors/rng.hpp"
#include "process.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <future>
#include <map>
#include <set>
#include <system_error>

namespace coraft::chaos {
namespace {

using Steady = std::chrono::steady_clock;
using nlohmann::json;

constexpr int kClients = 5;

// The simulator-side socket of one replica: the replica was launched with its port and sends everything there.
class SimSocket {
 public:
  SimSocket() {
    fd_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd_ < 0) throw std::system_error(errno, std::generic_category(), "socket");
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      const int error = errno;
      ::close(fd_);
      throw std::system_error(error, std::generic_category(), "bind 127.0.0.1");
    }
    port_ = ntohs(address.sin_port);
  }
  SimSocket(const SimSocket&) = delete;
  SimSocket& operator=(const SimSocket&) = delete;
  ~SimSocket() { ::close(fd_); }

  int fd() const { return fd_; }
  std::uint16_t port() const { return port_; }
  void send_to(std::string_view datagram, const sockaddr_in& to) const {
    // Loss here is loss on the wire: the replica must recover from it anyway.
    (void)::sendto(fd_, datagram.data(), datagram.size(), MSG_DONTWAIT, reinterpret_cast<const sockaddr*>(&to), sizeof to);
  }

 private:
  int fd_ = -1;
  std::uint16_t port_ = 0;
};

struct Replica {
  std::string id;
  std::unique_ptr<SimSocket> socket;
  std::unique_ptr<ChildProcess> process;
  std::optional<sockaddr_in> endpoint;  // learned from its hello
  bool alive = true;
  bool paused = false;
  double killed_at = -1;
  int launches = 0;
};

struct Client {
  std::string id;
  std::string leader = "FFFF";
  std::map<std::string, std::string> last_ok;                   // key -> value of the last put answered ok
  std::map<std::string, std::multiset<std::string>> in_flight;  // key -> values of puts not yet answered ok
  std::vector<std::string> keys;
};

struct Request {  // one MID
  int client;
  std::size_t op;  // index into history_
  double sent_at;
  bool answered = false;
  std::string answer;  // ok / fail / redirect
};

std::string hex_id(int n) { return fmt::format("{:04X}", n); }

// The simulator's work takes CPU time, during which it relays nothing: spend it the same way.
void spend(std::chrono::microseconds cost) {
  if (cost.count() <= 0) return;
  const auto until = Steady::now() + cost;
  while (Steady::now() < until) {
  }
}

class CourseRun {
 public:
  CourseRun(const CourseConfig& config, const RunOptions& options)
      : config_(config),
        options_(options),
        rng_(options.seed),
        drop_rng_(options.seed ^ 0xd809ull),
        target_rng_(options.seed ^ 0x7a1e5ea7ull),
        fault_rng_(options.seed ^ 0xfa17ull) {
    lifetime_ = options.lifetime.value_or(config.lifetime);
    restarts_ = std::any_of(config.events.begin(), config.events.end(),
                            [](const CourseEvent& e) { return e.type == "restart"; });
    data_dir_ = std::filesystem::temp_directory_path() / fmt::format("kvchaos-{}-{}", getpid(), config.name);
    std::filesystem::remove_all(data_dir_);
    std::filesystem::create_directories(data_dir_);
  }
  ~CourseRun() {
    if (datagram_log_) std::fclose(datagram_log_);
    std::error_code ignored;
    std::filesystem::remove_all(data_dir_, ignored);
  }

  RunReport run();

 private:
  double now() const { return std::chrono::duration<double>(Steady::now() - started_).count(); }
  int replica_index(const std::string& id) const {
    for (std::size_t i = 0; i < replicas_.size(); ++i)
      if (replicas_[i].id == id) return static_cast<int>(i);
    return -1;
  }
  int client_index(const std::string& id) const {
    for (std::size_t i = 0; i < clients_.size(); ++i)
      if (clients_[i].id == id) return static_cast<int>(i);
    return -1;
  }

  void launch(int index);
  void relay();
  void plan_actions();
  void fire_due_actions();
  void report_progress();
  void on_datagram(int socket_index, std::string_view datagram, const sockaddr_in& from);
  void forward(int from, int to, std::string_view datagram);
  bool may_deliver(int from, int to);
  void on_reply(const json& j, const std::string& client_id);
  void new_operation(int client);
  void send_operation(int client, std::size_t op);
  void apply_event(const CourseEvent& event);
  void kill(int index);
  std::vector<int> alive_replicas() const;
  void finish(RunReport& report);
  void progress(const std::string& line) const {
    if (options_.progress) options_.progress(fmt::format("{}: {}", config_.name, line));
  }

  const CourseConfig& config_;
  const RunOptions& options_;
  double lifetime_;
  std::filesystem::path data_dir_;
  bool restarts_ = false;  // the config has a restart event: replicas keep their logs on disk
  // Four generators, so that two replica builds run with one seed see the same requests and the same partitions:
  // rng_ draws the requests, drop_rng_ the datagrams lost, target_rng_ the replica a client without a leader tries,
  // fault_rng_ the victims and the sides of a partition.
  actors::Rng rng_;
  actors::Rng drop_rng_;
  actors::Rng target_rng_;
  actors::Rng fault_rng_;
  Steady::time_point started_;
  std::vector<Replica> replicas_;
  std::vector<Client> clients_;
  std::map<std::string, Request> requests_;
  test::History history_;
  std::string leader_ = "FFFF";
  std::vector<int> side_;  // partition side per replica (empty: no partition); side 1 is the majority
  std::set<std::pair<int, int>> blocked_;  // one-way: (from, to)
  std::vector<double> latencies_;
  std::vector<double> kill_times_;
  std::vector<double> put_ok_times_;
  std::vector<std::string> problems_;
  int broadcasts_ = 0;
  int total_msgs_ = 0, duplicates_ = 0, incorrect_ = 0, fail_answers_ = 0, requests_sent_ = 0;
  std::uint64_t mid_counter_ = 0, value_counter_ = 0;
  bool storm_ = false;
  std::shared_ptr<test::Timeline> timeline_;
  struct Action {
    double at;
    int kind;  // 0 request, 1 event
    std::size_t index;
  };
  std::vector<Action> actions_;
  std::size_t next_action_ = 0;
  double next_progress_ = 0;
  std::size_t events_done_ = 0;
  void observe_role(int replica, const json& j, const std::string& type);
  const bool trace_ = std::getenv("KVCHAOS_TRACE") != nullptr;  // every non-ok answer on stderr, for debugging
  std::FILE* datagram_log_ = nullptr;  // RunOptions::datagram_log
  bool done_ = false;
};

void CourseRun::launch(int index) {
  Replica& r = replicas_[static_cast<std::size_t>(index)];
  std::vector<std::string> argv{options_.replica_path, std::to_string(r.socket->port()), r.id};
  for (const auto& other : replicas_)
    if (other.id != r.id) argv.push_back(other.id);
  // Launched as the course simulator launches it (no data directory: the log stays in memory), unless the config
  // restarts replicas (our extra event): then each keeps a write-ahead log (not synced: the machine does not lose
  // power here), so a killed replica that comes back has what it had acknowledged.
  if (restarts_) argv.insert(argv.end(), {"--data-dir", (data_dir_ / r.id).string(), "--fsync", "none"});
  argv.insert(argv.end(), options_.replica_args.begin(), options_.replica_args.end());
  if (!options_.trace_dir.empty()) {
    argv.push_back("--trace-hops");
    argv.push_back(fmt::format("{}/{}-{}.{}.txt", options_.trace_dir, config_.name, r.id, r.launches));
  }
  ++r.launches;
  const std::string log = options_.log_dir.empty() ? "" : fmt::format("{}/{}-{}.log", options_.log_dir, config_.name, r.id);
  r.process = std::make_unique<ChildProcess>(argv, log);
  if (timeline_ && r.killed_at >= 0) {
    timeline_->event(now(), "restart", "restart " + r.id);
    timeline_->set_state(now(), index, test::LaneState::kFollower, timeline_->term(index));
  }
  r.endpoint.reset();
  r.alive = true;
  r.paused = false;
}

std::vector<int> CourseRun::alive_replicas() const {
  std::vector<int> out;
  for (std::size_t i = 0; i < replicas_.size(); ++i)
    if (replicas_[i].alive && replicas_[i].endpoint) out.push_back(static_cast<int>(i));
  return out;
}

// The real simulator's loop, pass by pass: wait up to 100 ms for any replica's socket, take one datagram from each
// ready socket (parse, check, count, drop or forward), then fire the requests and faults that are due. The costs of
// a pass, of handling a datagram and of each forward are spent on this thread, as the simulator spends them.
void CourseRun::relay() {
  const double end = config_.start_wait + lifetime_ + config_.end_wait;
  std::vector<pollfd> polled;
  for (const Replica& r : replicas_) polled.push_back(pollfd{r.socket->fd(), POLLIN, 0});
  std::vector<char> buffer(65536);
  while (!done_) {
    for (auto& p : polled) p.revents = 0;
    const int ready = ::poll(polled.data(), polled.size(), 100);
    if (ready < 0 && errno != EINTR) throw std::system_error(errno, std::generic_category(), "poll");
    spend(options_.relay.pass);
    for (std::size_t i = 0; i < polled.size() && !done_; ++i) {
      if (!(polled[i].revents & POLLIN)) continue;
      sockaddr_in from{};
      socklen_t length = sizeof from;
      const ssize_t bytes = ::recvfrom(polled[i].fd, buffer.data(), buffer.size(), MSG_DONTWAIT,
                                       reinterpret_cast<sockaddr*>(&from), &length);
      if (bytes < 0) continue;
      spend(options_.relay.datagram);
      on_datagram(static_cast<int>(i), std::string_view(buffer.data(), static_cast<std::size_t>(bytes)), from);
    }
    if (done_) break;
    fire_due_actions();
    report_progress();
    if (now() >= end) done_ = true;
  }
}

namespace {

// For --datagram-log: what an append or its answer carries, enough to follow a put through the log.
std::string peer_detail(const json& j, const std::string& type) {
  auto number = [&](const char* key) -> long long {
    auto it = j.find(key);
    return it != j.end() && it->is_number() ? it->get<long long>() : -1;
  };
  if (type == "ae") {
    auto entries = j.find("entries");
    const std::size_t count = entries != j.end() && entries->is_array() ? entries->size() : 0;
    return fmt::format(" prev={} n={} commit={} sent={}", number("prev"), count, number("commit"), number("sent"));
  }
  if (type == "aer") {
    auto ok = j.find("ok");
    return fmt::format(" ok={} match={} sent={}", ok != j.end() && ok->is_boolean() && ok->get<bool>(), number("match"),
                       number("sent"));
  }
  return {};
}

}  // namespace

void CourseRun::on_datagram(int socket_index, std::string_view datagram, const sockaddr_in& from) {
  json j = json::parse(datagram.begin(), datagram.end(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    problems_.push_back("a replica sent a datagram that is not a JSON object");
    return;
  }
  auto text = [&](const char* key) -> std::string {
    auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  const std::string src = text("src"), dst = text("dst"), leader = text("leader"), type = text("type");
  auto valid_id = [](const std::string& id) {
    return id.size() == 4 && std::all_of(id.begin(), id.end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); });
  };
  const int from_replica = replica_index(src);
  if (!valid_id(src) || !valid_id(dst) || !valid_id(leader) || type.empty() || from_replica != socket_index) {
    ++incorrect_;
    problems_.push_back(fmt::format("incorrect message (bad envelope): {}", std::string(datagram.substr(0, 120))));
    return;
  }
  if (datagram_log_) fmt::print(datagram_log_, "{:.6f} {} {} {} {}{}\n", now(), src, dst, type, text("MID"), peer_detail(j, type));
  Replica& sender = replicas_[static_cast<std::size_t>(from_replica)];
  if (type == "hello") {
    sender.endpoint = from;
    return;
  }
  if (!sender.alive) return;  // a killed replica's last words
  if (timeline_) observe_role(from_replica, j, type);
  // The simulator believes `leader` — during a partition only from the majority side.
  if (leader != "FFFF" && (side_.empty() || side_[static_cast<std::size_t>(from_replica)] == 1)) leader_ = leader;

  if (dst == "FFFF") {
    ++broadcasts_;
    for (std::size_t to = 0; to < replicas_.size(); ++to) {
      if (static_cast<int>(to) == from_replica) continue;
      ++total_msgs_;
      forward(from_replica, static_cast<int>(to), datagram);
    }
  } else if (int to = replica_index(dst); to >= 0) {
    ++total_msgs_;
    forward(from_replica, to, datagram);
  } else if (client_index(dst) >= 0) {
    on_reply(j, dst);
  }
  if (total_msgs_ > config_.max_packets && !storm_) {
    storm_ = true;
    problems_.push_back(fmt::format("packet storm: more than {} replica messages", config_.max_packets));
    done_ = true;
  }
}

bool CourseRun::may_deliver(int from, int to) {
  if (!side_.empty() && side_[static_cast<std::size_t>(from)] != side_[static_cast<std::size_t>(to)]) return false;
  if (blocked_.count({from, to})) return false;
  return !drop_rng_.chance(config_.drops);
}

void CourseRun::forward(int from, int to, std::string_view datagram) {
  Replica& target = replicas_[static_cast<std::size_t>(to)];
  if (!target.alive || !target.endpoint) return;
  if (!may_deliver(from, to)) {
    if (datagram_log_) fmt::print(datagram_log_, "{:.6f} {} {} lost\n", now(), replicas_[static_cast<std::size_t>(from)].id, target.id);
    return;
  }
  spend(options_.relay.forward);
  target.socket->send_to(datagram, *target.endpoint);
}

void CourseRun::new_operation(int client_index_) {
  Client& c = clients_[static_cast<std::size_t>(client_index_)];
  test::Operation op;
  op.client = static_cast<std::uint64_t>(client_index_);
  const bool can_get = !c.last_ok.empty();
  if (rng_.chance(config_.mix) && can_get) {
    op.kind = test::OpKind::kGet;
    auto it = c.last_ok.begin();
    std::advance(it, static_cast<long>(rng_.between(0, c.last_ok.size() - 1)));
    op.key = it->first;
  } else {
    op.kind = test::OpKind::kPut;
    if (c.keys.empty() || rng_.chance(0.3)) {
      c.keys.push_back(fmt::format("{:016x}{:016x}", rng_.next(), rng_.next()));
    }
    op.key = c.keys[rng_.between(0, c.keys.size() - 1)];
    op.value = fmt::format("{:016x}{:016x}", rng_.next(), ++value_counter_);
    c.in_flight[op.key].insert(op.value);
  }
  op.invoked_us = static_cast<std::int64_t>(now() * 1e6);
  history_.push_back(op);
  send_operation(client_index_, history_.size() - 1);
}

void CourseRun::send_operation(int client, std::size_t op_index) {
  Client& c = clients_[static_cast<std::size_t>(client)];
  const test::Operation& op = history_[op_index];
  std::vector<int> alive = alive_replicas();
  if (alive.empty()) return;
  int target = replica_index(c.leader);
  if (target < 0 || !replicas_[static_cast<std::size_t>(target)].alive || !replicas_[static_cast<std::size_t>(target)].endpoint) {
    target = alive[target_rng_.between(0, alive.size() - 1)];
  }
  const std::string mid = fmt::format("{}-{}", c.id, ++mid_counter_);
  json request = {{"src", c.id},  {"dst", replicas_[static_cast<std::size_t>(target)].id},
                  {"leader", "FFFF"}, {"type", op.kind == test::OpKind::kGet ? "get" : "put"},
                  {"MID", mid},   {"key", op.key}};
  if (op.kind == test::OpKind::kPut) request["value"] = op.value;
  requests_.emplace(mid, Request{client, op_index, now()});
  ++requests_sent_;
  const Replica& to = replicas_[static_cast<std::size_t>(target)];
  if (datagram_log_) fmt::print(datagram_log_, "{:.6f} {} {} {} {}\n", now(), c.id, to.id, request.value("type", ""), mid);
  to.socket->send_to(request.dump(), *to.endpoint);
}

void CourseRun::on_reply(const json& j, const std::string& client_id) {
  const int ci = client_index(client_id);
  Client& c = clients_[static_cast<std::size_t>(ci)];
  auto mid_it = j.find("MID");
  if (mid_it == j.end() || !mid_it->is_string()) {
    ++incorrect_;
    problems_.push_back("a reply without a MID");
    return;
  }
  auto it = requests_.find(mid_it->get<std::string>());
  if (it == requests_.end()) return;
  Request& request = it->second;
  const std::string type = j.value("type", "");
  latencies_.push_back(now() - request.sent_at);
  if (request.answered) {
    if (request.answer == "ok" && type == "ok") {
      ++duplicates_;
    } else {
      ++incorrect_;
      problems_.push_back(fmt::format("MID {} answered '{}' after '{}'", it->first, type, request.answer));
    }
    return;
  }
  request.answered = true;
  request.answer = type;
  c.leader = j.value("leader", "FFFF");
  test::Operation& op = history_[request.op];
  if (type == "ok") {
    if (op.completed) return;  // an earlier attempt already finished it (cannot happen: earlier MIDs were answered)
    op.completed = true;
    op.completed_us = static_cast<std::int64_t>(now() * 1e6);
    if (op.kind == test::OpKind::kPut) {
      auto& flying = c.in_flight[op.key];
      if (auto f = flying.find(op.value); f != flying.end()) flying.erase(f);
      c.last_ok[op.key] = op.value;
      put_ok_times_.push_back(now());
    } else {
      const std::string value = j.value("value", "");
      const bool missing = j.value("status", "") == "not_found";
      op.read = missing ? std::nullopt : std::optional<std::string>(value);
      op.status = missing ? kv::Status::kNotFound : kv::Status::kOk;
      const auto& flying = c.in_flight[op.key];
      const auto last = c.last_ok.find(op.key);
      const bool expected = (last != c.last_ok.end() && last->second == value) || flying.count(value) > 0;
      if (!expected) {
        ++incorrect_;
        problems_.push_back(fmt::format("client {} read {}='{}', expected '{}'", c.id, op.key, value,
                                        last == c.last_ok.end() ? "" : last->second));
      }
    }
    return;
  }
  if (trace_) fmt::print(stderr, "{:.3f} {} to {} leader={} mid={}\n", now(), type, client_id, j.value("leader", ""), it->first);
  if (type == "fail") ++fail_answers_;
  else if (type != "redirect") {
    ++incorrect_;
    problems_.push_back(fmt::format("unknown reply type '{}'", type));
    return;
  }
  send_operation(ci, request.op);  // the course client retries at once, with a new MID
}

// The replicas' roles as their own messages show them: AppendEntries come from a leader, RequestVote (not a
// pre-vote) from a candidate, and a reply in a newer term — or an AppendEntries reply in the candidate's own term —
// from a follower. Commit indexes are the leaders' (carried on every AppendEntries).
void CourseRun::observe_role(int replica, const json& j, const std::string& type) {
  auto term_it = j.find("term");
  if (term_it == j.end() || !term_it->is_number_unsigned()) return;
  const auto term = term_it->get<std::uint64_t>();
  const auto state = timeline_->state(replica);
  if (replicas_[static_cast<std::size_t>(replica)].paused) return;
  if (type == "ae") {
    timeline_->set_state(now(), replica, test::LaneState::kLeader, term);
    if (auto c = j.find("commit"); c != j.end() && c->is_number_unsigned()) {
      timeline_->commit(now(), replica, c->get<std::uint64_t>());
    }
  } else if (type == "rv" && !j.value("pre", false)) {
    timeline_->set_state(now(), replica, test::LaneState::kCandidate, term);
  } else if (type == "aer" || type == "rvr" || type == "isr" || type == "rv") {
    const bool newer = term > timeline_->term(replica);
    const bool candidate_gave_up = type == "aer" && state == test::LaneState::kCandidate && term == timeline_->term(replica);
    if (newer || candidate_gave_up || state == test::LaneState::kDown) {
      timeline_->set_state(now(), replica, test::LaneState::kFollower, std::max(term, timeline_->term(replica)));
    }
  }
}

void CourseRun::kill(int index) {
  Replica& r = replicas_[static_cast<std::size_t>(index)];
  if (timeline_) {
    timeline_->event(now(), "kill", "kill " + r.id);
    timeline_->set_state(now(), index, test::LaneState::kDown, timeline_->term(index));
  }
  r.process->kill_and_wait(SIGKILL);
  r.alive = false;
  r.killed_at = now();
  kill_times_.push_back(now());
}

void CourseRun::apply_event(const CourseEvent& event) {
  std::vector<int> alive = alive_replicas();
  const int leader = replica_index(leader_);
  auto random_other = [&](int not_this) -> int {
    std::vector<int> others;
    for (int i : alive)
      if (i != not_this) others.push_back(i);
    return others.empty() ? -1 : others[fault_rng_.between(0, others.size() - 1)];
  };
  const auto n = replicas_.size();
  if (event.type == "kill_leader") {
    if (leader >= 0 && replicas_[static_cast<std::size_t>(leader)].alive) kill(leader);
  } else if (event.type == "kill_non_leader") {
    if (int victim = random_other(leader); victim >= 0) kill(victim);
  } else if (event.type == "part_easy" || event.type == "part_hard") {
    std::vector<int> order(n);
    for (std::size_t i = 0; i < n; ++i) order[i] = static_cast<int>(i);
    for (std::size_t i = n; i > 1; --i) std::swap(order[i - 1], order[fault_rng_.between(0, i - 1)]);
    if (event.type == "part_easy" && leader >= 0) {
      std::iter_swap(order.begin(), std::find(order.begin(), order.end(), leader));
    }
    side_.assign(n, 0);
    for (std::size_t i = 0; i < n / 2 + 1; ++i) side_[static_cast<std::size_t>(order[i])] = 1;
    if (timeline_) {
      std::vector<std::string> majority, minority;
      for (std::size_t i = 0; i < n; ++i) (side_[i] == 1 ? majority : minority).push_back(replicas_[i].id);
      const std::string what = fmt::format("{} {} | {}", event.type, fmt::join(majority, ","), fmt::join(minority, ","));
      timeline_->event(now(), "partition", what);
      timeline_->open_band(now(), "partition", what);
    }
  } else if (event.type == "part_end") {
    side_.clear();
    blocked_.clear();
    if (timeline_) {
      timeline_->event(now(), "heal", "part_end");
      timeline_->close_all_bands(now());
    }
  } else if (event.type == "part_oneway") {
    if (leader >= 0) {
      for (std::size_t i = 0; i < n; ++i)
        if (static_cast<int>(i) != leader) blocked_.insert({static_cast<int>(i), leader});
      if (timeline_) {
        const std::string what = "part_oneway: nobody reaches " + leader_;
        timeline_->event(now(), "partition", what);
        timeline_->open_band(now(), "oneway", what);
      }
    }
  } else if (event.type == "restart") {
    int oldest = -1;
    for (std::size_t i = 0; i < n; ++i) {
      const Replica& r = replicas_[i];
      if (!r.alive && (oldest < 0 || r.killed_at < replicas_[static_cast<std::size_t>(oldest)].killed_at)) {
        oldest = static_cast<int>(i);
      }
    }
    if (oldest >= 0) launch(oldest);
  } else if (event.type == "pause_leader" || event.type == "pause_non_leader") {
    const int victim = event.type == "pause_leader" ? leader : random_other(leader);
    if (victim >= 0 && replicas_[static_cast<std::size_t>(victim)].alive) {
      replicas_[static_cast<std::size_t>(victim)].process->signal(SIGSTOP);
      replicas_[static_cast<std::size_t>(victim)].paused = true;
      if (timeline_) {
        timeline_->event(now(), "pause", "pause " + replicas_[static_cast<std::size_t>(victim)].id);
        timeline_->set_state(now(), victim, test::LaneState::kPaused, timeline_->term(victim));
      }
    }
  } else if (event.type == "resume") {
    for (auto& r : replicas_) {
      if (r.paused) {
        r.process->signal(SIGCONT);
        r.paused = false;
        if (timeline_) {
          const int index = replica_index(r.id);
          timeline_->event(now(), "resume", "resume " + r.id);
          timeline_->set_state(now(), index, test::LaneState::kFollower, timeline_->term(index));
        }
      }
    }
  }
}

void CourseRun::plan_actions() {
  const double interval = config_.requests > 0 ? lifetime_ / config_.requests : lifetime_;
  for (int i = 0; i < config_.requests; ++i) {
    actions_.push_back({config_.start_wait + i * interval, 0, static_cast<std::size_t>(i)});
  }
  const double scale = lifetime_ / config_.lifetime;
  for (std::size_t i = 0; i < config_.events.size(); ++i) {
    actions_.push_back({config_.start_wait + config_.events[i].time * scale, 1, i});
  }
  std::stable_sort(actions_.begin(), actions_.end(), [](const Action& a, const Action& b) { return a.at < b.at; });
}

void CourseRun::fire_due_actions() {
  const double t = now();
  while (next_action_ < actions_.size() && actions_[next_action_].at <= t) {
    const Action& action = actions_[next_action_++];
    for (auto& r : replicas_) {
      if (r.alive && !r.process->running() && r.process->exited_by_itself()) {
        problems_.push_back(fmt::format("replica {} exited on its own (status {})", r.id, r.process->exit_status()));
        r.alive = false;
      }
    }
    if (action.kind == 0) {
      new_operation(static_cast<int>(rng_.between(0, clients_.size() - 1)));
    } else {
      apply_event(config_.events[action.index]);
      ++events_done_;
    }
  }
}

void CourseRun::report_progress() {
  const double t = now();
  if (t < next_progress_) return;
  next_progress_ = t + std::chrono::duration<double>(kProgressInterval).count();
  if (t < 1) return;
  const double total = config_.start_wait + lifetime_ + config_.end_wait;
  const auto answered = std::count_if(requests_.begin(), requests_.end(), [](const auto& r) { return r.second.answered; });
  progress(fmt::format("{:.0f} s of {:.0f} s: {} requests sent, {} answered; leader {}; {} of {} faults injected", t,
                       total, requests_sent_, answered, leader_, events_done_, config_.events.size()));
}

void CourseRun::finish(RunReport& report) {
  report.config = config_.name;
  report.total_msgs = total_msgs_;
  report.broadcasts = broadcasts_;
  report.duplicates = duplicates_;
  report.incorrect = incorrect_;
  report.fail_answers = fail_answers_;
  report.requests_sent = requests_sent_;
  report.packet_storm = storm_;
  int unanswered_gets = 0, unanswered_puts = 0, gets_sent = 0, puts_sent = 0;
  for (const auto& [mid, request] : requests_) {
    const bool get = history_[request.op].kind == test::OpKind::kGet;
    (get ? gets_sent : puts_sent)++;
    if (!request.answered) (get ? unanswered_gets : unanswered_puts)++;
  }
  report.unanswered = unanswered_gets + unanswered_puts;
  report.failures = report.fail_answers + report.unanswered;
  report.operations = static_cast<int>(history_.size());
  for (const auto& op : history_) (op.kind == test::OpKind::kGet ? report.gets : report.puts)++;
  if (!latencies_.empty()) {
    std::sort(latencies_.begin(), latencies_.end());
    report.median_latency = latencies_[latencies_.size() / 2];
  }

  // The course's correctness checks.
  report.problems = problems_;
  for (const auto& r : replicas_) {
    if (r.alive && r.process && !r.process->running() && r.process->exited_by_itself()) {
      report.problems.push_back(fmt::format("replica {} exited on its own", r.id));
    }
  }
  if (put_ok_times_.empty()) report.problems.push_back("no put was ever acknowledged: nothing stored");
  if (unanswered_gets > config_.unanswered_get_fraction * std::max(gets_sent, 1)) {
    report.problems.push_back(fmt::format("{} of {} gets unanswered", unanswered_gets, gets_sent));
  }
  if (unanswered_puts > config_.unanswered_put_fraction * std::max(puts_sent, 1)) {
    report.problems.push_back(fmt::format("{} of {} puts unanswered", unanswered_puts, puts_sent));
  }
  const double floor = config_.requests * (lifetime_ / config_.lifetime) * config_.replicas * (1 - config_.mix) * 0.5;
  if (report.total_msgs < floor) {
    report.problems.push_back(fmt::format("only {} replica messages (at least {:.0f} expected)", report.total_msgs, floor));
  }

  // What the course never checked. The check usually takes milliseconds but may use its whole budget, so it runs
  // beside a progress report.
  progress(fmt::format("checking the linearizability of {} operations", history_.size()));
  auto checking = std::async(std::launch::async,
                             [this] { return test::check_linearizability(history_, std::chrono::seconds(20)); });
  while (checking.wait_for(kProgressInterval) != std::future_status::ready) progress("still checking linearizability");
  const auto lin = checking.get();
  report.linearizable = lin.verdict;
  report.linearizability_note = lin.explanation;
  if (lin.verdict != test::Verdict::kLinearizable) {
    report.problems.push_back(fmt::format("linearizability: {} {}", test::verdict_name(lin.verdict), lin.explanation));
  }
  for (double kill_time : kill_times_) {
    auto next = std::upper_bound(put_ok_times_.begin(), put_ok_times_.end(), kill_time);
    if (next != put_ok_times_.end()) {
      report.failover_seconds = std::max(report.failover_seconds.value_or(0), *next - kill_time);
    }
  }

  report.metrics = {
      {"total_msgs", static_cast<double>(report.total_msgs), tier_of(report.total_msgs, config_.total_msgs)},
      {"failures", static_cast<double>(report.failures), tier_of(report.failures, config_.failures)},
      {"duplicates", static_cast<double>(report.duplicates), tier_of(report.duplicates, config_.duplicates)},
      {"median_latency", report.median_latency, tier_of(report.median_latency, config_.median_latency)},
  };
  report.passed = report.problems.empty();
  if (timeline_) {
    for (const auto& op : history_) {
      const std::optional<double> completed =
          op.completed ? std::optional<double>(op.completed_us / 1e6) : std::nullopt;
      timeline_->operation(op.invoked_us / 1e6, completed, op.kind == test::OpKind::kGet ? "get" : "put", op.completed);
    }
    timeline_->note(fmt::format("kvchaos {} (seed {}, lifetime {} s): {}", config_.name, options_.seed, lifetime_,
                                report.passed ? "PASS" : "FAIL"));
    timeline_->note(fmt::format("{} operations, {} replica messages, {} failures, median latency {:.4f} s, "
                                "linearizability: {}", report.operations, report.total_msgs, report.failures,
                                report.median_latency, test::verdict_name(report.linearizable)));
    for (const auto& p : report.problems) timeline_->note("problem: " + p);
    timeline_->finish(now());
    report.timeline = timeline_;
  }
}

RunReport CourseRun::run() {
  RunReport report;
  if (!options_.datagram_log.empty()) {
    datagram_log_ = std::fopen(options_.datagram_log.c_str(), "w");
    if (!datagram_log_) problems_.push_back("cannot write the datagram log " + options_.datagram_log);
  }
  for (int i = 0; i < config_.replicas; ++i) replicas_.push_back(Replica{hex_id(i), std::make_unique<SimSocket>()});
  for (int i = 0; i < kClients; ++i) clients_.push_back(Client{hex_id(config_.replicas + i)});
  if (options_.record_timeline) {
    std::vector<std::string> names;
    for (const auto& r : replicas_) names.push_back(r.id);
    timeline_ = std::make_shared<test::Timeline>(fmt::format("kvchaos {}", config_.name), names);
    // kvchaos sees only the datagrams it relays, not the replicas' state: say what follows from that.
    timeline_->explain(test::Timeline::Panel::kRoles,
                       "Roles as the replicas' own messages show them: AppendEntries come from a leader, RequestVote "
                       "from a candidate, a reply in a newer term from a follower. Pre-votes are not drawn, and a "
                       "replica that sends nothing keeps the role it last showed.");
    timeline_->explain(test::Timeline::Panel::kCommit,
                       "Commit indexes travel only on AppendEntries, which only a leader sends: a replica has a line "
                       "from the first time it led, flat whenever it is not leading, and none if it never led.");
  }
  started_ = Steady::now();
  if (datagram_log_) {
    // Lines carry seconds since the start; this puts them on the clock of the replicas' hop traces.
    fmt::print(datagram_log_, "# steady_clock_ns_at_0 {}\n",
               std::chrono::duration_cast<std::chrono::nanoseconds>(started_.time_since_epoch()).count());
  }
  progress(fmt::format("{} replicas, {} requests over {:.0f} s after {:.0f} s to start, {} faults", config_.replicas,
                       config_.requests, lifetime_, config_.start_wait, config_.events.size()));
  plan_actions();
  for (int i = 0; i < config_.replicas; ++i) launch(i);
  relay();
  for (auto& r : replicas_)
    if (r.process) r.process->kill_and_wait(SIGTERM);
  finish(report);
  return report;
}

}  // namespace

std::string tier_of(double value, const std::optional<Tiers>& tiers) {
  if (!tiers) return "-";
  if (value < tiers->bonus) return "bonus";
  if (value < tiers->full) return "full";
  if (value < tiers->partial) return "partial";
  return "none";
}

RunReport run_course(const CourseConfig& config, const RunOptions& options) {
  CourseRun run(config, options);
  return run.run();
}

}  // namespace coraft::chaos
