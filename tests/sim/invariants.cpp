#include "invariants.hpp"

#include "raft/overloaded.hpp"

#include <fmt/format.h>

namespace coraft::test {

InvariantChecker::InvariantChecker(int replicas) : replicas_(static_cast<std::size_t>(replicas)) {}

void InvariantChecker::violation(std::string text) {
  if (violations_.size() < 100) violations_.push_back(std::move(text));
}

void Claims::sent(const raft::PeerMessage& message) {
  std::visit(Overloaded{
                 [&](const raft::RequestVote& m) {
                   if (!m.pre_vote) term = std::max(term, m.term);  // a PreVote names a term not entered yet
                 },
                 [&](const raft::RequestVoteReply& m) {
                   if (m.pre_vote) {
                     if (!m.granted) term = std::max(term, m.term);
                     return;
                   }
                   term = std::max(term, m.term);
                   if (m.granted) {
                     vote_term = m.term;
                     voted_for = message.to;
                   }
                 },
                 [&](const raft::AppendEntriesReply& m) {
                   term = std::max(term, m.term);
                   if (m.success) acknowledged = m.match_index;
                 },
                 [&](const raft::InstallSnapshotReply& m) {
                   term = std::max(term, m.term);
                   if (m.done) acknowledged = m.last_included_index;
                 },
                 [&](const auto& m) { term = std::max(term, m.term); },
             },
             message.payload);
}

void InvariantChecker::check_log_matching(Replica& r, const raft::RaftCore& core) {
  // Log Matching (§5.3), checked one link at a time: an entry (index, term) follows the same term everywhere. By
  // induction two logs that share an entry share everything before it.
  const raft::Log& log = core.log();
  if (r.linked_upto > log.last_index() || log.term_at(r.linked_upto) != r.linked_term ||
      r.linked_base != std::make_pair(log.base_index(), log.base_term())) {
    // Truncated, or a snapshot replaced the log's start (which changes what the first entries follow): look again
    // from the log's start.
    r.linked_upto = log.base_index();
    r.linked_base = {log.base_index(), log.base_term()};
  }
  for (raft::Index i = r.linked_upto + 1; i <= log.last_index(); ++i) {
    const raft::Term term = *log.term_at(i);
    const raft::Term previous = *log.term_at(i - 1);
    auto [it, inserted] = previous_term_of_.emplace(std::make_pair(i, term), previous);
    if (!inserted && it->second != previous) {
      violation(fmt::format("{}: log matching: its entry {} (term {}) follows term {}, elsewhere term {}",
                            core.self().str(), i, term, previous, it->second));
    }
  }
  r.linked_upto = log.last_index();
  r.linked_term = log.last_term();
}

void InvariantChecker::check_configuration_change(Replica& r, const raft::RaftCore& core) {
  // Joint consensus (dissertation §4.3): while it leads, a leader moves between configurations only by entering a
  // joint one whose old voters are its current voters, or by leaving the joint one for its new voters; learners and
  // identities may change alone. Anything else could let two majorities decide without overlapping.
  if (core.role() != raft::Role::kLeader) {
    r.membership_term = 0;
    return;
  }
  const raft::Membership& now = core.membership();
  if (r.membership_term != core.term() || core.membership_index() < r.membership_index) {
    r.membership_term = core.term();
    r.membership_index = core.membership_index();
    r.membership = now;
    return;
  }
  if (core.membership_index() == r.membership_index) return;
  const raft::Membership& before = r.membership;
  const bool legal = before.joint() ? !now.joint() && now.voters() == before.voters()
                                    : (now.joint() ? now.outgoing_voters() == before.voters()
                                                   : now.voters() == before.voters());
  if (!legal) {
    violation(fmt::format("leader {} of term {} went from configuration {} to {} (entry {})", core.self().str(),
                          core.term(), before.describe(), now.describe(), core.membership_index()));
  }
  r.membership_index = core.membership_index();
  r.membership = now;
}

void InvariantChecker::check_matches(const std::vector<const raft::RaftCore*>& live) {
  raft::Term highest = 0;
  for (const auto* core : live) highest = std::max(highest, core->term());
  for (const auto* leader : live) {
    if (leader->role() != raft::Role::kLeader || leader->term() != highest) continue;
    for (const auto* follower : live) {
      const raft::Progress* progress = follower != leader ? leader->progress(follower->self()) : nullptr;
      if (!progress || progress->match() == 0) continue;
      const raft::Index match = progress->match();
      const auto ours = leader->log().term_at(match);
      const auto theirs = follower->log().term_at(match);
      if (!ours || match < follower->log().base_index()) continue;  // compacted: compared before it went
      if (theirs != ours) {
        violation(fmt::format("leader {} of term {} counts {} as holding entry {} (term {}), but {} holds {}",
                              leader->self().str(), leader->term(), follower->self().str(), match, *ours,
                              follower->self().str(),
                              theirs ? fmt::format("term {} there", *theirs)
                                     : fmt::format("a log that ends at {}", follower->log().last_index())));
      }
    }
  }
}

void InvariantChecker::restarted(const raft::RaftCore& core, const Claims& claims) {
  const std::string who = core.self().str();
  if (core.term() < claims.term) {
    violation(fmt::format("{}: restarted in term {} but had spoken in term {}", who, core.term(), claims.term));
  }
  if (claims.vote_term != 0 && core.term() == claims.vote_term && core.voted_for() != claims.voted_for) {
    violation(fmt::format("{}: restarted in term {} with vote {} but had granted its vote to {}", who, core.term(),
                          core.voted_for().str(), claims.voted_for.str()));
  }
  if (core.log().last_index() < claims.acknowledged) {
    violation(fmt::format("{}: restarted with a log ending at {} but had acknowledged entries up to {}", who,
                          core.log().last_index(), claims.acknowledged));
  }
}

void InvariantChecker::observe(int slot, int life, const raft::RaftCore& core, raft::Index applied_index,
                               std::uint64_t store_digest) {
  Replica& r = replicas_[static_cast<std::size_t>(slot)];
  const std::string who = core.self().str();
  if (r.life != life) {  // restarted: volatile state starts over (restarted() checked what must not)
    r.life = life;
    r.term = 0;
    r.commit = 0;
    r.verified_upto = 0;
    r.leader_verified_upto = 0;
    r.leader_term = 0;
    r.linked_upto = 0;
    r.linked_term = 0;
    r.linked_base = {0, 0};
    r.membership_term = 0;
  }

  if (core.term() < r.term) violation(fmt::format("{}: term went back from {} to {}", who, r.term, core.term()));
  r.term = std::max(r.term, core.term());
  if (core.commit_index() < r.commit) {
    violation(fmt::format("{}: commit index went back from {} to {}", who, r.commit, core.commit_index()));
  }
  r.commit = std::max(r.commit, core.commit_index());

  if (core.role() == raft::Role::kLeader) {
    auto [it, inserted] = leader_of_term_.emplace(core.term(), core.self());
    if (!inserted && it->second != core.self()) {
      violation(fmt::format("two leaders in term {}: {} and {}", core.term(), it->second.str(), who));
    }
  }

  const raft::Log& log = core.log();
  if (core.commit_index() > log.last_index()) {
    violation(fmt::format("{}: commit index {} is beyond its log's end {}", who, core.commit_index(), log.last_index()));
    return;
  }
  check_log_matching(r, core);
  check_configuration_change(r, core);

  // Committed prefix: compare what this replica committed with what everyone committed before; extend the record.
  // Entries can be committed, applied and compacted between two observations; the record then skips them (a
  // snapshot's digest is compared through the state machine check below) and goes on comparing what follows.
  while (committed_.size() + 1 < log.first_index() && committed_.size() < core.commit_index()) {
    committed_.push_back(CommittedEntry{0, {}, core.term(), false});
  }
  for (raft::Index i = r.verified_upto + 1; i <= core.commit_index(); ++i) {
    if (i < log.first_index()) continue;  // compacted: it was compared before it went
    const raft::EntryPtr& entry = log.at(i);
    if (i <= committed_.size()) {
      CommittedEntry& known = committed_[i - 1];
      if (!known.known) {
        known = CommittedEntry{entry->term, entry->data, known.observed_in_term, true};
      } else if (known.term != entry->term || known.data != entry->data) {
        violation(fmt::format("{}: committed entry {} is {}/'{}' but was committed as {}/'{}'", who, i, entry->term,
                              entry->data, known.term, known.data));
      }
    } else if (i == committed_.size() + 1) {
      committed_.push_back(CommittedEntry{entry->term, entry->data, core.term()});
    }
  }
  r.verified_upto = std::max(r.verified_upto, core.commit_index());
  // Entries this replica has not committed itself may extend the record only once it commits them; entries beyond
  // the record's end on another replica are caught when the record reaches them.

  // Leader Completeness.
  if (core.role() == raft::Role::kLeader) {
    if (r.leader_term != core.term()) {
      r.leader_term = core.term();
      r.leader_verified_upto = 0;
    }
    for (raft::Index i = r.leader_verified_upto + 1; i <= committed_.size(); ++i) {
      const CommittedEntry& known = committed_[i - 1];
      if (known.observed_in_term > core.term() || !known.known) continue;
      r.leader_verified_upto = i;
      if (i < log.first_index()) continue;
      if (log.term_at(i) != known.term) {
        violation(fmt::format("leader {} of term {} lacks committed entry {} (term {})", who, core.term(), i,
                              known.term));
      }
    }
  }

  // State machine safety: equal applied index, equal state.
  if (applied_index > 0) {
    auto [it, inserted] = digest_at_.emplace(applied_index, store_digest);
    if (!inserted && it->second != store_digest) {
      violation(fmt::format("{}: state after applying {} differs from another replica's", who, applied_index));
    }
  }
}

}  // namespace coraft::test
