#pragma once
// A picture of one run: per replica its role over time (follower, candidate, leader, with terms; down; paused), the
// faults (kills, restarts, partitions, pauses), each replica's commit index, and every client operation's latency.
// kvsim and kvchaos record into a Timeline and write it as one self-contained HTML file: the data is embedded as
// JSON and drawn as SVG by a small script in the page, so it opens anywhere without a network.
//
// Times are seconds from the start of the run. Recording is cheap (state changes only); rendering thins the commit
// series and the operations to what a screen can show, always keeping failed operations, and says so on the page.
// The page is as wide as the window and places every label by its measured width, so nothing is clipped.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace coraft::test {

enum class LaneState : std::uint8_t { kFollower, kCandidate, kLeader, kDown, kPaused };
std::string_view lane_state_name(LaneState state);

class Timeline {
 public:
  Timeline(std::string title, std::vector<std::string> replicas);

  // The replica's state from `t` on; nothing happens if neither state nor term changed.
  void set_state(double t, int replica, LaneState state, std::uint64_t term);
  LaneState state(int replica) const { return lanes_[static_cast<std::size_t>(replica)].state; }
  std::uint64_t term(int replica) const { return lanes_[static_cast<std::size_t>(replica)].term; }

  // A fault or other notable moment (kind: kill, restart, crash, wipe, pause, resume, partition, heal, ...).
  void event(double t, std::string kind, std::string text);
  // A fault that lasts (a partition): open it under a key, close it later (open bands end with the run).
  void open_band(double t, const std::string& key, std::string text);
  void close_band(double t, const std::string& key);
  void close_all_bands(double t);

  void commit(double t, int replica, std::uint64_t index);  // recorded only when it changes
  void operation(double invoked, std::optional<double> completed, std::string kind, bool ok);
  void note(std::string line);  // free text shown under the picture (the seed, the verdict, ...)
  // Says under a panel what it cannot show, and why (a recorder that sees only part of what happened). The page adds
  // what it leaves out itself (operations thinned to what a screen can show).
  enum class Panel : std::uint8_t { kFaults, kRoles, kCommit, kOperations };
  void explain(Panel panel, std::string text);

  // Ends every open span at `t`; html() and facts() describe the run up to there.
  void finish(double t);
  std::string html() const;

  // What was recorded, counted the way the page draws it (the rendering test compares the two).
  struct Facts {
    int role_spans = 0;     // spans of every state, every replica
    int leader_spans = 0;
    int events = 0;
    int bands = 0;
    int operations = 0;     // as drawn (thinned)
    int failed_operations = 0;
  };
  Facts facts() const;

 private:
  struct Span {
    double start = 0, end = 0;
    LaneState state = LaneState::kFollower;
    std::uint64_t term = 0;
  };
  struct Lane {
    std::string name;
    LaneState state = LaneState::kFollower;
    std::uint64_t term = 0;
    double since = 0;
    std::vector<Span> spans;
    std::vector<std::pair<double, std::uint64_t>> commits;
  };
  struct Event {
    double t = 0;
    std::string kind, text;
  };
  struct Band {
    double start = 0, end = -1;
    std::string text;
  };
  struct Op {
    double invoked = 0;
    double completed = -1;  // < 0: never answered
    std::string kind;
    bool ok = false;
  };
  std::vector<Op> drawn_operations() const;

  std::string title_;
  std::vector<Lane> lanes_;
  std::vector<Event> events_;
  std::vector<Band> bands_;
  std::map<std::string, std::size_t> open_bands_;
  std::vector<Op> ops_;
  std::vector<std::string> notes_;
  std::map<Panel, std::vector<std::string>> captions_;
  double end_ = 0;
};

}  // namespace coraft::test
