#include "sim_cluster.hpp"

#include "actors/sim_disk_worker.hpp"
#include "actors/spawn.hpp"
#include "sim_client.hpp"

#include <asio/io_context.hpp>
#include <fmt/format.h>

namespace coraft::test {

struct SimCluster::Slot {
  raft::NodeId id;
  raft::MemoryFileSystem disk;  // survives crashes; power cuts lose what it did not sync
  std::unique_ptr<asio::io_context> io;
  std::unique_ptr<actors::Clock> clock;
  std::unique_ptr<actors::SimDiskWorker> log_worker, snapshot_worker;
  std::unique_ptr<actors::Replica> replica;
  actors::Rng rng{0};
  int life = 0;
  bool paused = false;
  std::int64_t clock_rate_ppm = 1'000'000;
  Claims claims;  // what it told its peers, over all its lives
  std::uint64_t truncations_seen = 0;  // of this life's core
  bool spare = false;   // joins later (kvstore --join)
  bool joined = false;  // a spare that was started
};

namespace {
// Membership requests come from this client id; their answers are counted, not checked by a client model.
constexpr raft::NodeId kAdmin{0x0F00};
}  // namespace

SimCluster::SimCluster(SimOptions options)
    : options_(std::move(options)),
      control_(std::make_unique<asio::io_context>()),
      clients_io_(std::make_unique<asio::io_context>()),
      rng_(options_.seed),
      invariants_(options_.replicas + options_.spares) {
  world_.add_context(*control_);
  world_.add_context(*clients_io_);
  clients_clock_ = world_.make_clock(*clients_io_);
  network_ = std::make_unique<SimNetwork>(world_, *control_, rng_.fork(1000), [this](int to, raft::PeerMessage m) {
    if (auto* r = replica(to)) r->deliver(std::move(m));
  });
  network_->set_faults(options_.faults);
  for (int i = 0; i < options_.replicas + options_.spares; ++i) {
    auto slot = std::make_unique<Slot>();
    slot->id = raft::NodeId{static_cast<std::uint16_t>(i)};
    slot->spare = i >= options_.replicas;
    slot->rng = rng_.fork(static_cast<std::uint64_t>(i));
    if (options_.clock_skew_ppm > 0) {
      const auto skew = static_cast<std::uint64_t>(options_.clock_skew_ppm);
      slot->clock_rate_ppm = 1'000'000 - options_.clock_skew_ppm + static_cast<std::int64_t>(rng_.between(0, 2 * skew));
    }
    slots_.push_back(std::move(slot));
  }
  for (int i = 0; i < options_.replicas; ++i) restart(i);
  world_.set_after_step([this] {
    if (options_.check_invariants) check_invariants();
    if (step_observer_) step_observer_();
  });
}

SimCluster::~SimCluster() {
  for (auto& client : clients_) client->stop();
  for (int i = 0; i < size(); ++i)
    if (up(i)) crash(i);
  world_.set_after_step({});
}

raft::NodeId SimCluster::id(int slot) const { return slots_[static_cast<std::size_t>(slot)]->id; }

int SimCluster::slot_of(raft::NodeId id) const {
  for (std::size_t i = 0; i < slots_.size(); ++i)
    if (slots_[i]->id == id) return static_cast<int>(i);
  return -1;
}

bool SimCluster::up(int slot) const { return slots_[static_cast<std::size_t>(slot)]->replica != nullptr; }
bool SimCluster::paused(int slot) const { return slots_[static_cast<std::size_t>(slot)]->paused; }

actors::Replica* SimCluster::replica(int slot) {
  if (slot < 0 || slot >= size()) return nullptr;
  return slots_[static_cast<std::size_t>(slot)]->replica.get();
}

raft::MemoryFileSystem& SimCluster::disk(int slot) { return slots_[static_cast<std::size_t>(slot)]->disk; }

void SimCluster::restart(int slot) {
  Slot& s = *slots_[static_cast<std::size_t>(slot)];
  if (s.replica || (s.spare && !s.joined)) return;
  ++s.life;
  s.truncations_seen = 0;  // a new core counts from zero
  s.io = std::make_unique<asio::io_context>(1);
  world_.add_context(*s.io);
  s.clock = world_.make_clock(*s.io, s.clock_rate_ppm);
  actors::ReplicaOptions ro;
  ro.self = s.id;
  std::vector<raft::Member> initial;
  for (const auto& other : slots_) {
    if (other->spare) continue;
    if (other->id != s.id) ro.peers.push_back(other->id);
    initial.push_back(raft::Member{other->id, "", true, 0});
  }
  ro.initial_membership = raft::Membership::of_voters(initial);
  ro.join = s.spare;
  ro.timing = options_.timing;
  ro.lease_reads = options_.lease_reads;
  ro.snapshot_every_entries = options_.snapshot_every;
  ro.limits = options_.limits;
  ro.uniform_appends = options_.uniform_appends;
  ro.quiet_acks = options_.quiet_acks;
  ro.defer_spare_followers = options_.defer_spare_followers && !options_.uniform_appends;
  auto log = actors::make_logger(s.id.str(), s.clock.get());
  const auto life = static_cast<std::uint64_t>(s.life);
  s.log_worker = std::make_unique<actors::SimDiskWorker>(*s.clock, s.rng.fork(life * 16 + 1), options_.disk_latency_min,
                                                         options_.disk_latency_max);
  s.snapshot_worker = std::make_unique<actors::SimDiskWorker>(*s.clock, s.rng.fork(life * 16 + 2),
                                                              options_.disk_latency_min, options_.disk_latency_max);
  actors::StorageSetup storage;
  storage.fs = &s.disk;
  storage.options = raft::DiskStorageOptions{"data/" + s.id.str(), raft::FsyncPolicy::kAlways, options_.segment_bytes};
  storage.log_worker = s.log_worker.get();
  storage.snapshot_worker = s.snapshot_worker.get();
  s.replica = std::make_unique<actors::Replica>(*s.io, *s.clock, storage, s.rng.fork(life), ro, log);
  if (options_.check_invariants) invariants_.restarted(s.replica->core(), s.claims);
  s.replica->start();
  spawn_bridge(slot);
}

void SimCluster::join(int slot) {
  Slot& s = *slots_[static_cast<std::size_t>(slot)];
  s.joined = true;
  restart(slot);
}

bool SimCluster::joined(int slot) const {
  const Slot& s = *slots_[static_cast<std::size_t>(slot)];
  return !s.spare || s.joined;
}

void SimCluster::change_membership(actors::RequestKind kind, raft::NodeId id, raft::NodeId other) {
  std::optional<int> to = leader();
  if (!to) {
    for (int i = 0; i < size() && !to; ++i)
      if (up(i)) to = i;
  }
  if (!to) return;
  actors::ClientRequest request;
  request.client = kAdmin;
  request.mid = fmt::format("admin-{}", ++admin_requests_);
  request.kind = kind;
  request.key = id.valid() ? id.str() : "";
  request.value = other.valid() ? other.str() : "";
  send_request(*to, std::move(request));
}

void SimCluster::spawn_bridge(int slot) {
  Slot& s = *slots_[static_cast<std::size_t>(slot)];
  actors::Replica& r = *s.replica;
  // The simulated bridge: drains the replica's outbox into the simulated network.
  auto body = [](SimCluster& cluster, actors::Replica& replica, int from) -> asio::awaitable<void> {
    while (auto message = co_await replica.outbox().receive()) {
      if (auto* peer = std::get_if<actors::SendPeer>(&*message)) {
        cluster.slots_[static_cast<std::size_t>(from)]->claims.sent(peer->message);
        const int to = cluster.slot_of(peer->message.to);
        if (to >= 0) cluster.network_->send(from, to, std::move(peer->message));
      } else if (auto* reply = std::get_if<actors::SendClientReply>(&*message)) {
        if (cluster.reply_observer_) cluster.reply_observer_(from, reply->reply);
        cluster.network_->send_reliably(
            [&cluster, r = std::move(reply->reply)]() mutable { cluster.deliver_reply(std::move(r)); });
      }
    }
  };
  actors::spawn(s.io->get_executor(), s.id.str() + "/sim-bridge", body(*this, r, slot));
}

void SimCluster::stop_replica(int slot, bool power_lost) {
  Slot& s = *slots_[static_cast<std::size_t>(slot)];
  if (!s.replica) return;
  // The disk job under way stops after a random number of file changes (possibly all of them, possibly none), and
  // from then on the machine changes nothing: not even the final sync of a clean stop.
  // Mostly a few changes in: between a write and its sync is where a disk loses what it was told.
  auto changes = [this] { return rng_.chance(0.7) ? rng_.between(0, 2) : rng_.between(0, 12); };
  s.log_worker->interrupt(s.disk, changes());
  s.snapshot_worker->interrupt(s.disk, changes());
  s.disk.stop_after(0);
  s.replica->stop();
  world_.resume(*s.io);
  // Let every actor of this replica see its closed mailbox and return; nothing else runs meanwhile.
  for (int guard = 0; guard < 1000 && s.io->poll() > 0; ++guard) s.io->restart();
  world_.remove_context(*s.io);
  s.replica.reset();
  s.log_worker.reset();
  s.snapshot_worker.reset();
  s.clock.reset();
  s.io.reset();
  s.paused = false;
  if (power_lost) {
    const auto report = s.disk.power_cut([this](std::uint64_t n) { return rng_.between(0, n); });
    unsynced_writes_lost_ += report.writes_lost;
  } else {
    s.disk.resume();
  }
}

void SimCluster::crash(int slot) { stop_replica(slot, false); }

bool SimCluster::disk_busy(int slot) const {
  const Slot& s = *slots_[static_cast<std::size_t>(slot)];
  return s.replica && s.log_worker->busy();
}

void SimCluster::power_cut(int slot) {
  ++power_cuts_;
  stop_replica(slot, true);
}

void SimCluster::power_cut_all() {
  ++power_cuts_;
  for (int i = 0; i < size(); ++i) stop_replica(i, true);
}

void SimCluster::pause(int slot) {
  Slot& s = *slots_[static_cast<std::size_t>(slot)];
  if (!s.replica) return;
  s.paused = true;
  world_.pause(*s.io);
}

void SimCluster::resume(int slot) {
  Slot& s = *slots_[static_cast<std::size_t>(slot)];
  if (!s.replica) return;
  s.paused = false;
  world_.resume(*s.io);
}

std::optional<int> SimCluster::leader() {
  std::optional<int> best;
  raft::Term best_term = 0;
  for (int i = 0; i < size(); ++i) {
    auto* r = replica(i);
    if (!r || paused(i) || r->core().role() != raft::Role::kLeader) continue;
    if (!best || r->core().term() > best_term) {
      best = i;
      best_term = r->core().term();
    }
  }
  return best;
}

bool SimCluster::run_until(const std::function<bool()>& done, actors::Micros limit) {
  return world_.run_until(done, world_.now() + limit);
}

void SimCluster::check_invariants() {
  std::vector<const raft::RaftCore*> live;
  for (int i = 0; i < size(); ++i)
    if (auto* r = replica(i)) live.push_back(&r->core());
  invariants_.check_matches(live);
  for (int i = 0; i < size(); ++i) {
    auto* r = replica(i);
    if (!r) continue;
    Slot& s = *slots_[static_cast<std::size_t>(i)];
    if (r->core().truncations() != s.truncations_seen) {
      s.truncations_seen = r->core().truncations();
      s.claims.truncated(r->core().last_truncated_from());
    }
    invariants_.observe(i, s.life, r->core(), r->applied_index(), r->store().digest());
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Clients

void SimCluster::send_request(int slot, actors::ClientRequest request) {
  network_->send_reliably([this, slot, request = std::move(request)]() mutable {
    if (auto* r = replica(slot)) r->deliver(std::move(request));
  });
}

void SimCluster::deliver_reply(actors::ClientReply reply) {
  if (!answered_.insert({reply.client.value, reply.mid}).second) {
    double_answers_.push_back(fmt::format("{} answered twice", reply.mid));
  }
  for (auto& client : clients_) {
    if (client->id() == reply.client) {
      client->on_reply(std::move(reply));
      return;
    }
  }
  if (reply.client == kAdmin) {
    if (reply.kind == actors::ReplyKind::kOk) ++membership_changes_;
    return;
  }
  stray_replies_[reply.client.value].push_back(std::move(reply));
}

void SimCluster::start_clients(const ClientOptions& options, std::uint64_t max_ops_each) {
  client_options_.push_back(std::make_unique<ClientOptions>(options));  // SimClient keeps a reference
  const ClientOptions& kept = *client_options_.back();
  for (int i = 0; i < options.clients; ++i) {
    const raft::NodeId id{static_cast<std::uint16_t>(0x1000 + clients_.size())};
    clients_.push_back(std::make_unique<SimClient>(*this, id, kept, rng_.fork(0x5000 + clients_.size()), max_ops_each));
    clients_.back()->start();
  }
}

void SimCluster::read_burst(int reads) {
  for (auto& client : clients_) client->read_burst(reads);
}

void SimCluster::point_clients_at(int slot, double fraction) {
  for (auto& client : clients_)
    if (rng_.chance(fraction)) client->retarget(slot);
}

void SimCluster::stop_clients() {
  for (auto& client : clients_) client->stop();
}

bool SimCluster::all_clients_idle() const {
  for (const auto& client : clients_)
    if (!client->idle()) return false;
  return true;
}

std::uint64_t SimCluster::completed_ops() const {
  std::uint64_t n = 0;
  for (const auto& client : clients_) n += client->completed();
  return n;
}

std::vector<std::string> SimCluster::outstanding_ops() const {
  std::vector<std::string> out;
  for (const auto& client : clients_)
    if (client->in_operation()) out.push_back(describe(client->current()));
  return out;
}

History SimCluster::history() const {
  History all;
  for (const auto& client : clients_) all.insert(all.end(), client->history().begin(), client->history().end());
  return all;
}

std::string describe(const Operation& op) {
  const char* kind = op.kind == OpKind::kGet ? "get" : op.kind == OpKind::kPut ? "put" : op.kind == OpKind::kDelete ? "del" : "cas";
  std::string text = fmt::format("client {:04X} {} {}", op.client, kind, op.key);
  if (op.kind == OpKind::kPut || op.kind == OpKind::kCas) text += " " + op.value;
  if (op.kind == OpKind::kCas) text += fmt::format(" if {}", op.expected.value_or("<absent>"));
  text += fmt::format(" [{:.6f}s", static_cast<double>(op.invoked_us) / 1e6);
  if (op.completed) {
    text += fmt::format(" .. {:.6f}s] -> {}", static_cast<double>(op.completed_us) / 1e6, kv::status_name(op.status));
    if (op.kind == OpKind::kGet) text += " " + op.read.value_or("<absent>");
  } else {
    text += " .. ?]";
  }
  return text;
}

}  // namespace coraft::test
