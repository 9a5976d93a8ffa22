#include "raft/messages.hpp"

#include "raft/overloaded.hpp"

#include <fmt/format.h>

namespace coraft::raft {

Term term_of(const PeerPayload& payload) {
  return std::visit([](const auto& m) { return m.term; }, payload);
}

std::string_view type_name(const PeerPayload& payload) {
  return std::visit(Overloaded{
                        [](const RequestVote& m) -> std::string_view { return m.pre_vote ? "PreVote" : "RequestVote"; },
                        [](const RequestVoteReply& m) -> std::string_view {
                          return m.pre_vote ? "PreVoteReply" : "RequestVoteReply";
                        },
                        [](const AppendEntries&) -> std::string_view { return "AppendEntries"; },
                        [](const AppendEntriesReply&) -> std::string_view { return "AppendEntriesReply"; },
                        [](const InstallSnapshot&) -> std::string_view { return "InstallSnapshot"; },
                        [](const InstallSnapshotReply&) -> std::string_view { return "InstallSnapshotReply"; },
                        [](const TimeoutNow&) -> std::string_view { return "TimeoutNow"; },
                        [](const Refused&) -> std::string_view { return "Refused"; },
                    },
                    payload);
}

std::string describe(const PeerMessage& message) {
  const std::string head = fmt::format("{}->{} {}", message.from.str(), message.to.str(), type_name(message.payload));
  return std::visit(
      Overloaded{
          [&](const RequestVote& m) {
            return fmt::format("{} t={} last={}/{}{}", head, m.term, m.last_log_index, m.last_log_term,
                               m.transfer ? " transfer" : "");
          },
          [&](const RequestVoteReply& m) {
            return fmt::format("{} t={} {}", head, m.term, m.granted ? "granted" : "rejected");
          },
          [&](const AppendEntries& m) {
            return fmt::format("{} t={} prev={}/{} n={} commit={}{}", head, m.term, m.prev_log_index, m.prev_log_term,
                               m.entries.size(), m.leader_commit, m.quiet.empty() ? "" : fmt::format(" quiet={}", m.quiet.size()));
          },
          [&](const AppendEntriesReply& m) {
            if (m.success) return fmt::format("{} t={} ok match={}", head, m.term, m.match_index);
            return fmt::format("{} t={} reject prev={} hint={}/{}", head, m.term, m.rejected_prev, m.conflict_index,
                               m.conflict_term);
          },
          [&](const InstallSnapshot& m) {
            return fmt::format("{} t={} last={}/{} bytes {}+{} of {}{}", head, m.term, m.last_included_index,
                               m.last_included_term, m.offset, m.chunk.size(), m.total_bytes, m.done ? " done" : "");
          },
          [&](const InstallSnapshotReply& m) {
            return fmt::format("{} t={} last={} next={}{}", head, m.term, m.last_included_index, m.next_offset,
                               m.done ? " installed" : "");
          },
          [&](const TimeoutNow& m) { return fmt::format("{} t={}", head, m.term); },
          [&](const Refused& m) { return fmt::format("{} t={} {}", head, m.term, m.reason); },
      },
      message.payload);
}

}  // namespace coraft::raft
