#include "raft/membership.hpp"

#include "raft/bytes.hpp"

#include <fmt/format.h>

namespace coraft::raft {
namespace {

constexpr std::uint8_t kFormat = 1;

bool holds(const std::vector<NodeId>& ids, NodeId id) { return std::find(ids.begin(), ids.end(), id) != ids.end(); }

std::string ids_text(const std::vector<NodeId>& ids) {
  std::string out;
  for (NodeId id : ids) out += (out.empty() ? "" : ",") + id.str();
  return out.empty() ? "none" : out;
}

}  // namespace

Membership Membership::of_voters(const std::vector<Member>& members) {
  Membership m;
  m.members_ = members;
  for (auto& member : m.members_) member.voter = true;
  m.sort();
  return m;
}

void Membership::sort() {
  std::sort(members_.begin(), members_.end(), [](const Member& a, const Member& b) { return a.id < b.id; });
  std::sort(outgoing_.begin(), outgoing_.end());
  std::sort(removed_.begin(), removed_.end());
}

const Member* Membership::find(NodeId id) const {
  for (const auto& m : members_)
    if (m.id == id) return &m;
  return nullptr;
}

bool Membership::is_voter(NodeId id) const {
  const Member* m = find(id);
  return (m && m->voter) || holds(outgoing_, id);
}

std::vector<NodeId> Membership::voters() const {
  std::vector<NodeId> out;
  for (const auto& m : members_)
    if (m.voter) out.push_back(m.id);
  return out;
}

bool Membership::was_removed(NodeId id) const { return holds(removed_, id); }

Membership Membership::with_learner(Member member) const {
  Membership next = *this;
  member.voter = false;
  next.members_.push_back(std::move(member));
  next.sort();
  return next;
}

Membership Membership::entering_joint(std::vector<NodeId> incoming) const {
  Membership next = *this;
  next.outgoing_ = voters();
  for (auto& m : next.members_) m.voter = holds(incoming, m.id);
  next.sort();
  return next;
}

Membership Membership::leaving_joint() const {
  Membership next = *this;
  // Whoever voted only in the outgoing configuration leaves the cluster with it: its id is spent for good.
  std::vector<Member> kept;
  for (const auto& m : next.members_) {
    if (!m.voter && holds(outgoing_, m.id)) next.removed_.push_back(m.id);
    else kept.push_back(m);
  }
  next.members_ = std::move(kept);
  next.outgoing_.clear();
  next.sort();
  return next;
}

Membership Membership::without_learner(NodeId id) const {
  Membership next = *this;
  std::erase_if(next.members_, [&](const Member& m) { return m.id == id; });
  next.removed_.push_back(id);
  next.sort();
  return next;
}

Membership Membership::with_incarnation(NodeId id, std::uint64_t incarnation) const {
  Membership next = *this;
  for (auto& m : next.members_)
    if (m.id == id) m.incarnation = incarnation;
  return next;
}

std::string Membership::encode() const {
  std::string out;
  ByteWriter w(out);
  w.u8(kFormat);
  w.u32(static_cast<std::uint32_t>(members_.size()));
  for (const auto& m : members_) {
    w.u16(m.id.value);
    w.bytes(m.address);
    w.u8(m.voter ? 1 : 0);
    w.u64(m.incarnation);
  }
  for (const auto* ids : {&outgoing_, &removed_}) {
    w.u32(static_cast<std::uint32_t>(ids->size()));
    for (NodeId id : *ids) w.u16(id.value);
  }
  return out;
}

std::optional<Membership> Membership::decode(std::string_view bytes) {
  ByteReader r(bytes);
  Membership m;
  std::uint8_t format = 0;
  std::uint32_t count = 0;
  if (!r.u8(format) || format != kFormat || !r.u32(count) || count > bytes.size()) return std::nullopt;
  for (std::uint32_t i = 0; i < count; ++i) {
    Member member;
    std::uint8_t voter = 0;
    if (!r.u16(member.id.value) || !member.id.valid() || !r.bytes(member.address) || !r.u8(voter) || voter > 1 ||
        !r.u64(member.incarnation) || m.contains(member.id)) {
      return std::nullopt;
    }
    member.voter = voter == 1;
    m.members_.push_back(std::move(member));
  }
  for (auto* ids : {&m.outgoing_, &m.removed_}) {
    if (!r.u32(count) || count > bytes.size()) return std::nullopt;
    for (std::uint32_t i = 0; i < count; ++i) {
      NodeId id;
      if (!r.u16(id.value) || !id.valid() || holds(*ids, id)) return std::nullopt;
      ids->push_back(id);
    }
  }
  if (!r.done() || m.voters().empty()) return std::nullopt;
  for (NodeId id : m.removed_)
    if (m.contains(id)) return std::nullopt;
  m.sort();
  return m;
}

std::string Membership::describe() const {
  std::vector<NodeId> learners;
  for (const auto& member : members_)
    if (!member.voter && !holds(outgoing_, member.id)) learners.push_back(member.id);
  std::string out = "voters " + ids_text(voters());
  if (joint()) out += " (joint, leaving " + ids_text(outgoing_) + ")";
  if (!learners.empty()) out += ", learners " + ids_text(learners);
  return out;
}

}  // namespace coraft::raft
