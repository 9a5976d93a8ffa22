#include "timeline.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>

namespace coraft::test {

namespace {

// Beyond this many, operations are thinned to a stride (failed ones are always kept): a browser draws tens of
// thousands of circles slowly and a person cannot tell them apart anyway.
constexpr std::size_t kMaxDrawnOperations = 6000;
constexpr std::size_t kMaxCommitPoints = 1500;  // per replica

// The page's renderer. It reads the embedded JSON and draws SVG; every drawn element carries a class naming what it
// shows, so a headless browser's DOM can be checked against the run (tests/timeline/check-timeline.sh).
constexpr const char* kRenderer = R"JS((() => {
const D = JSON.parse(document.getElementById('timeline-data').textContent);
const NS = 'http://www.w3.org/2000/svg';
const container = document.getElementById('timeline');
// As wide as the window: the SVG scales with the page (width 100%), so it never needs a horizontal scrollbar, and
// labels are placed by their measured widths, so none runs off the edge or over another.
const W = Math.max(960, container.clientWidth), L = 120, R = 16, plotW = W - L - R;
const laneH = 24, laneGap = 6, rowH = 13;
const colours = {follower: '#cfd8dc', candidate: '#ffb74d', leader: '#43a047', down: '#e53935', paused: '#8e24aa'};
const lanePalette = ['#1e88e5', '#43a047', '#fb8c00', '#8e24aa', '#00897b', '#e53935', '#6d4c41', '#3949ab',
                     '#c0ca33', '#00acc1', '#d81b60', '#546e7a', '#fdd835', '#5e35b1', '#7cb342'];
const x = t => L + (D.end > 0 ? Math.max(0, Math.min(t, D.end)) / D.end : 0) * plotW;
const svg = document.createElementNS(NS, 'svg');
svg.setAttribute('style', 'width: 100%; height: auto; display: block');
container.appendChild(svg);  // in the page from the start, so that text can be measured
function el(name, attrs, parent, tip) {
  const e = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (tip) { const t = document.createElementNS(NS, 'title'); t.textContent = tip; e.appendChild(t); }
  (parent || svg).appendChild(e);
  return e;
}
function text(x0, y0, s, attrs, parent) {
  const e = el('text', Object.assign({x: x0, y: y0, 'font-size': 11}, attrs || {}), parent);
  e.textContent = s;
  return e;
}
const width = e => e.getComputedTextLength();
// Writes `s` with its first line's baseline at y0, on as many lines as keep it within maxW; returns the baseline of
// the line after.
function wrapped(x0, y0, s, maxW, attrs) {
  const lineH = rowH + 3;
  let e = text(x0, y0, '', attrs), line = '';
  for (const word of s.split(' ')) {
    e.textContent = line ? line + ' ' + word : word;
    if (line && width(e) > maxW) {
      e.textContent = line;
      y0 += lineH;
      e = text(x0, y0, word, attrs);
    }
    line = e.textContent;
  }
  return y0 + lineH;
}
const fmt = t => t.toFixed(3) + ' s';
const captions = D.captions || {};
// What a panel cannot show, in grey under it; returns the y below.
function explain(y0, lines) {
  for (const c of lines || []) y0 = wrapped(8, y0, c, W - 16, {fill: '#666', 'font-style': 'italic', 'font-size': 10});
  return y0;
}

let y = wrapped(8, 20, D.title, W - 16, {'font-size': 15, 'font-weight': 'bold'}) + 4;

// Time axis: tick labels centred on their ticks, kept inside the plot.
const axisY = y;
const step = D.end > 0 ? (() => {
  const raw = D.end / Math.max(4, Math.floor(plotW / 100)), p = Math.pow(10, Math.floor(Math.log10(raw)));
  for (const m of [1, 2, 5, 10]) if (raw <= m * p) return m * p;
  return 10 * p;
})() : 1;
for (let t = 0; t <= D.end + 1e-9; t += step) {
  el('line', {x1: x(t), x2: x(t), y1: axisY + 3, y2: axisY + 8, stroke: '#555', class: 'tick'});
  const label = text(x(t), axisY, (Math.round(t * 1000) / 1000) + 's', {'font-size': 10, fill: '#555'});
  const w = width(label);
  label.setAttribute('x', Math.min(Math.max(x(t) - w / 2, L), W - R - w));
}
y += 22;

// Faults: each label goes on the first row where it overlaps no other label: right of its line, or left of it when
// it would run past the edge.
const eventsTop = y;
text(8, eventsTop, 'faults', {'font-weight': 'bold'});
const rowEnds = [];
const placed = D.events.map(([t, kind, what]) => {
  // A white outline keeps a label readable where another fault's line crosses it.
  const label = text(0, 0, what, {'font-size': 10, fill: '#b71c1c', stroke: 'white', 'stroke-width': 3,
                                  'paint-order': 'stroke', 'stroke-linejoin': 'round'});
  const w = width(label);
  const left = x(t) + 2 + w <= W - R ? x(t) + 2 : x(t) - 2 - w;
  let row = rowEnds.findIndex(end => end + 6 <= left);
  if (row < 0) { row = rowEnds.length; rowEnds.push(0); }
  rowEnds[row] = left + w;
  label.setAttribute('x', left);
  label.setAttribute('y', eventsTop + row * rowH);
  return {t, kind, what, row, label};
});
const lanesTop = eventsTop + Math.max(1, rowEnds.length) * rowH;
const lanesBottom = lanesTop + D.lanes.length * (laneH + laneGap);
D.bands.forEach(([s, e, what]) => {
  el('rect', {x: x(s), y: lanesTop - 4, width: Math.max(1, x(e) - x(s)), height: lanesBottom - lanesTop + 8,
              fill: '#fff59d', opacity: 0.45, class: 'band'}, null, what + ': ' + fmt(s) + ' – ' + fmt(e));
});
placed.forEach(({t, kind, what, row}) => {
  el('line', {x1: x(t), x2: x(t), y1: eventsTop + 3 + row * rowH, y2: lanesBottom, stroke: '#b71c1c',
              'stroke-dasharray': '3,3', 'stroke-width': 1, class: 'event event-' + kind}, null, fmt(t) + ' ' + what);
});
placed.forEach(({label}) => svg.appendChild(label));  // over the lines

// Role lanes, then what the colours mean.
D.lanes.forEach((lane, i) => {
  const laneTop = lanesTop + i * (laneH + laneGap);
  text(8, laneTop + laneH / 2 + 4, lane.name, {'font-weight': 'bold', 'font-family': 'monospace'});
  lane.spans.forEach(([s, e, state, term]) => {
    const w = Math.max(0.5, x(e) - x(s));
    el('rect', {x: x(s), y: laneTop, width: w, height: laneH, fill: colours[state] || '#999',
                class: 'span role-' + state, 'data-term': term},
       null, `${lane.name} ${state}${state === 'down' ? '' : ' term ' + term}: ${fmt(s)} – ${fmt(e)}`);
    if (state === 'leader') {
      const label = text(x(s) + 3, laneTop + laneH / 2 + 4, 'T' + term, {fill: 'white'});
      if (width(label) + 6 > w) label.remove();  // no room inside the span: its tooltip still says it
    }
  });
});
let top = lanesBottom + 12;
let lx = L;
for (const [state, colour] of Object.entries(colours)) {
  el('rect', {x: lx, y: top - 10, width: 12, height: 12, fill: colour});
  lx += 16 + width(text(lx + 16, top, state)) + 18;
}
top = explain(top + 18, (captions.roles || []).concat(captions.faults || []));

// Commit index per replica; the legend names every lane, also those the run has no commit index for.
top += 14;
text(8, top, 'commit index', {'font-weight': 'bold'});
lx = L;
D.lanes.forEach((lane, i) => {
  const label = text(lx, top, lane.name + (lane.commits.length ? '' : ' (no data)'),
                     {fill: lane.commits.length ? lanePalette[i % lanePalette.length] : '#999', 'font-size': 10});
  lx += width(label) + 14;
});
const commitCaptions = (captions.commit || []).slice();
if (D.commit_sample_seconds > 0) {
  commitCaptions.push(`Each line keeps one change per ${fmt(D.commit_sample_seconds)} at most (and the last): ` +
                      'quicker steps merge into one.');
}
top = explain(top + 16, commitCaptions);
const chartH = 130;
let maxCommit = 1;
D.lanes.forEach(l => l.commits.forEach(([, c]) => { maxCommit = Math.max(maxCommit, c); }));
el('rect', {x: L, y: top, width: plotW, height: chartH, fill: 'none', stroke: '#ddd'});
text(L - 4, top + 10, String(maxCommit), {'text-anchor': 'end', 'font-size': 10});
text(L - 4, top + chartH, '0', {'text-anchor': 'end', 'font-size': 10});
D.lanes.forEach((lane, i) => {
  if (!lane.commits.length) return;
  const cy = c => top + chartH - (c / maxCommit) * chartH;
  let points = '', prev = 0;
  for (const [t, c] of lane.commits) { points += `${x(t)},${cy(prev)} ${x(t)},${cy(c)} `; prev = c; }
  points += `${x(D.end)},${cy(prev)}`;
  el('polyline', {points, fill: 'none', stroke: lanePalette[i % lanePalette.length], 'stroke-width': 1.5,
                  class: 'commit'}, null, lane.name + ' commit index');
});
top += chartH;

// Client operations: latency (log scale) against completion time; never-answered ones as crosses on the top edge.
top += 28;
text(8, top, 'client latency', {'font-weight': 'bold'});
lx = L;
for (const [what, colour] of [['● answered ok', '#1e88e5'], ['● answered fail', '#e53935'],
                              ['× never answered (at the time it was sent)', '#e53935'], ['latency on a log scale', '#555']]) {
  lx += width(text(lx, top, what, {fill: colour, 'font-size': 10})) + 16;
}
const opsCaptions = (captions.ops || []).slice();
if (D.ops_recorded > D.ops.length) {
  opsCaptions.push(`${D.ops.length} of ${D.ops_recorded} operations drawn (an even sample, and every one without ` +
                   'an answer): more would only blur together.');
}
top = explain(top + 16, opsCaptions);
const latH = 150;
el('rect', {x: L, y: top, width: plotW, height: latH, fill: 'none', stroke: '#ddd'});
let maxMs = 1;
D.ops.forEach(([s, e]) => { if (e !== null) maxMs = Math.max(maxMs, (e - s) * 1000); });
const lo = Math.log10(0.05), hi = Math.log10(maxMs * 1.2);
const ly = ms => top + latH - (Math.log10(Math.max(ms, 0.05)) - lo) / (hi - lo) * latH;
for (const ms of [0.1, 1, 10, 100, 1000, 10000]) {
  if (ms > maxMs * 1.2) break;
  el('line', {x1: L, x2: L + plotW, y1: ly(ms), y2: ly(ms), stroke: '#eee'});
  text(L - 4, ly(ms) + 3, ms + ' ms', {'text-anchor': 'end', 'font-size': 10});
}
D.ops.forEach(([s, e, kind, ok]) => {
  if (e === null) {
    const cx = x(s), cy = top + 4;
    el('path', {d: `M${cx - 3},${cy - 3}L${cx + 3},${cy + 3}M${cx - 3},${cy + 3}L${cx + 3},${cy - 3}`,
                stroke: '#e53935', class: 'op op-failed'}, null, `${kind} invoked at ${fmt(s)}: no answer`);
  } else {
    const ms = (e - s) * 1000;
    el('circle', {cx: x(e), cy: ly(ms), r: 1.6, fill: ok ? '#1e88e5' : '#e53935',
                  class: ok ? 'op op-ok' : 'op op-failed'}, null, `${kind} ${ms.toFixed(2)} ms at ${fmt(e)}`);
  }
});
top += latH + 28;

// Notes: the run's own lines (seed, verdict, how to reproduce).
D.notes.forEach(n => { top = wrapped(8, top, n, W - 16, {'font-family': 'monospace'}); });
svg.setAttribute('viewBox', `0 0 ${W} ${top}`);
document.body.setAttribute('data-rendered', 'yes');
})();
)JS";

std::string_view panel_name(Timeline::Panel panel) {
  switch (panel) {
    case Timeline::Panel::kFaults: return "faults";
    case Timeline::Panel::kRoles: return "roles";
    case Timeline::Panel::kCommit: return "commit";
    case Timeline::Panel::kOperations: return "ops";
  }
  return "?";
}

}  // namespace

std::string_view lane_state_name(LaneState state) {
  switch (state) {
    case LaneState::kFollower: return "follower";
    case LaneState::kCandidate: return "candidate";
    case LaneState::kLeader: return "leader";
    case LaneState::kDown: return "down";
    case LaneState::kPaused: return "paused";
  }
  return "?";
}

Timeline::Timeline(std::string title, std::vector<std::string> replicas) : title_(std::move(title)) {
  for (auto& name : replicas) lanes_.push_back(Lane{std::move(name)});
}

void Timeline::set_state(double t, int replica, LaneState state, std::uint64_t term) {
  if (replica < 0 || static_cast<std::size_t>(replica) >= lanes_.size()) return;
  Lane& lane = lanes_[static_cast<std::size_t>(replica)];
  if (lane.state == state && lane.term == term) return;
  if (t > lane.since) lane.spans.push_back(Span{lane.since, t, lane.state, lane.term});
  lane.state = state;
  lane.term = term;
  lane.since = t;
}

void Timeline::event(double t, std::string kind, std::string text) {
  events_.push_back(Event{t, std::move(kind), std::move(text)});
}

void Timeline::open_band(double t, const std::string& key, std::string text) {
  close_band(t, key);
  open_bands_[key] = bands_.size();
  bands_.push_back(Band{t, -1, std::move(text)});
}

void Timeline::close_band(double t, const std::string& key) {
  auto it = open_bands_.find(key);
  if (it == open_bands_.end()) return;
  bands_[it->second].end = t;
  open_bands_.erase(it);
}

void Timeline::close_all_bands(double t) {
  while (!open_bands_.empty()) close_band(t, open_bands_.begin()->first);
}

void Timeline::commit(double t, int replica, std::uint64_t index) {
  if (replica < 0 || static_cast<std::size_t>(replica) >= lanes_.size()) return;
  auto& commits = lanes_[static_cast<std::size_t>(replica)].commits;
  if (!commits.empty() && commits.back().second == index) return;
  commits.emplace_back(t, index);
}

void Timeline::operation(double invoked, std::optional<double> completed, std::string kind, bool ok) {
  ops_.push_back(Op{invoked, completed.value_or(-1), std::move(kind), ok && completed.has_value()});
}

void Timeline::note(std::string line) { notes_.push_back(std::move(line)); }

void Timeline::explain(Panel panel, std::string text) { captions_[panel].push_back(std::move(text)); }

void Timeline::finish(double t) {
  end_ = std::max(end_, t);
  for (std::size_t i = 0; i < lanes_.size(); ++i) {
    Lane& lane = lanes_[i];
    if (end_ > lane.since) lane.spans.push_back(Span{lane.since, end_, lane.state, lane.term});
    lane.since = end_;
  }
  close_all_bands(end_);
}

std::vector<Timeline::Op> Timeline::drawn_operations() const {
  const std::size_t stride = ops_.size() > kMaxDrawnOperations ? (ops_.size() + kMaxDrawnOperations - 1) / kMaxDrawnOperations : 1;
  std::vector<Op> drawn;
  for (std::size_t i = 0; i < ops_.size(); ++i) {
    if (i % stride == 0 || !ops_[i].ok) drawn.push_back(ops_[i]);
  }
  return drawn;
}

Timeline::Facts Timeline::facts() const {
  Facts f;
  for (const auto& lane : lanes_) {
    f.role_spans += static_cast<int>(lane.spans.size());
    f.leader_spans += static_cast<int>(std::count_if(lane.spans.begin(), lane.spans.end(),
                                                     [](const Span& s) { return s.state == LaneState::kLeader; }));
  }
  f.events = static_cast<int>(events_.size());
  f.bands = static_cast<int>(bands_.size());
  for (const auto& op : drawn_operations()) {
    ++f.operations;
    f.failed_operations += !op.ok;
  }
  return f;
}

std::string Timeline::html() const {
  using nlohmann::json;
  json data;
  data["title"] = title_;
  data["end"] = end_;
  data["notes"] = notes_;
  data["captions"] = json::object();
  for (const auto& [panel, lines] : captions_) data["captions"][std::string(panel_name(panel))] = lines;
  data["ops_recorded"] = ops_.size();
  data["lanes"] = json::array();
  bool commits_thinned = false;
  for (const auto& lane : lanes_) {
    json l;
    l["name"] = lane.name;
    l["spans"] = json::array();
    for (const auto& s : lane.spans) l["spans"].push_back({s.start, s.end, lane_state_name(s.state), s.term});
    l["commits"] = json::array();
    const double min_gap = end_ / kMaxCommitPoints;
    double last = -1;
    for (std::size_t i = 0; i < lane.commits.size(); ++i) {
      const auto& [t, index] = lane.commits[i];
      if (i + 1 == lane.commits.size() || last < 0 || t - last >= min_gap) {
        l["commits"].push_back({t, index});
        last = t;
      }
    }
    commits_thinned = commits_thinned || l["commits"].size() < lane.commits.size();
    data["lanes"].push_back(std::move(l));
  }
  data["commit_sample_seconds"] = commits_thinned ? end_ / kMaxCommitPoints : 0.0;
  data["events"] = json::array();
  for (const auto& e : events_) data["events"].push_back({e.t, e.kind, e.text});
  data["bands"] = json::array();
  for (const auto& b : bands_) data["bands"].push_back({b.start, b.end < 0 ? end_ : b.end, b.text});
  data["ops"] = json::array();
  for (const auto& op : drawn_operations()) {
    data["ops"].push_back({op.invoked, op.completed < 0 ? json(nullptr) : json(op.completed), op.kind, op.ok});
  }
  // "</" cannot appear inside the script element: escape it in the JSON text.
  std::string payload = data.dump();
  for (std::size_t at = payload.find("</"); at != std::string::npos; at = payload.find("</", at + 2)) {
    payload.replace(at, 2, "<\\/");
  }
  std::string page;
  page += "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>coraft timeline</title>\n";
  page += "<style>body{font-family:sans-serif;margin:12px;background:#fff}svg text{font-family:sans-serif}</style>\n";
  page += "</head><body>\n<div id=\"timeline\"></div>\n";
  page += "<script type=\"application/json\" id=\"timeline-data\">" + payload + "</script>\n";
  page += "<script>" + std::string(kRenderer) + "</script>\n</body></html>\n";
  return page;
}

}  // namespace coraft::test
