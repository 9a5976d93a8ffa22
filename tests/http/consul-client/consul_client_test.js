// A stranger's client against coraft: the npm `consul` package (node-consul, written for HashiCorp Consul) drives a
// three-replica coraft cluster through its HTTP API, unchanged, while the leader is SIGKILLed: set (with flags),
// get, keys (with a separator), recurse, cas, delete (one key and a prefix), status, and a watch that must see a change
// made through kvctl after the leader died. Every wait has a deadline; every process started is killed on every exit.
//   node consul_client_test.js BIN_DIR WORK_DIR
"use strict";

const assert = require("assert/strict");
const { spawn, execFile } = require("child_process");
const fs = require("fs");
const path = require("path");
const Consul = require("consul");

const [binDir, workDir] = process.argv.slice(2);
if (!binDir || !workDir) {
  console.error("usage: node consul_client_test.js BIN_DIR WORK_DIR");
  process.exit(2);
}

const children = new Map(); // id -> ChildProcess
process.on("exit", () => {
  for (const child of children.values()) child.kill("SIGKILL");
});
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => process.exit(1));

function log(...args) {
  console.log(`[${(performance.now() / 1000).toFixed(2)}s]`, ...args);
}

// Six free loopback ports, reserved by consul-client-test.sh (outside the kernel's ephemeral range, with a lock per
// port that this process inherits): a port found by binding port 0 here could go to another test's client socket
// before the replica binds it.
function reservedPorts() {
  const ports = (process.env.CORAFT_TEST_PORTS || "").split(" ").filter(Boolean).map(Number);
  assert.equal(ports.length, 6, "CORAFT_TEST_PORTS must hold six ports (run this through consul-client-test.sh)");
  return ports;
}

function run(file, args) {
  return new Promise((resolve) => {
    execFile(file, args, { timeout: 30000 }, (error, stdout, stderr) =>
      resolve({ code: error ? (error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// A "false" answer (a compare-and-set that lost): the client's HTTP layer (papi) resolves a JSON false as undefined,
// against Consul itself too.
function assertFalse(answer) {
  assert.ok(answer === false || answer === undefined, `expected false, got ${answer}`);
}

// Retries `operation` until it succeeds or `ms` passes: while the leader is being replaced, a client gets errors
// (Consul's clients retry too). An assertion failure is not retried.
async function retry(what, operation, ms = 20000) {
  const giveUp = Date.now() + ms;
  for (let attempt = 1; ; ++attempt) {
    try {
      return await operation();
    } catch (error) {
      if (error instanceof assert.AssertionError) throw error;
      if (Date.now() > giveUp) throw new Error(`${what}: still failing after ${ms} ms: ${error.message}`);
      if (attempt === 1 || attempt % 10 === 0) log(`${what}: ${error.message}; retrying`);
      await sleep(100);
    }
  }
}

async function waitFor(what, condition, ms) {
  const giveUp = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > giveUp) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(20);
  }
}

async function main() {
  fs.rmSync(workDir, { recursive: true, force: true });
  fs.mkdirSync(workDir, { recursive: true });
  const kvctl = path.join(binDir, "kvctl");
  const kvstore = path.join(binDir, "kvstore");

  // A cluster with peer authentication and a client token, so that the token travels as Consul's clients send it.
  for (const file of ["cluster.key", "client.token"]) {
    const made = await run(kvctl, ["keygen", path.join(workDir, file)]);
    assert.equal(made.code, 0, made.stderr);
  }
  const token = fs.readFileSync(path.join(workDir, "client.token"), "utf8").trim();
  const ids = ["0000", "0001", "0002"];
  const udp = {}, http = {};
  const ports = reservedPorts();
  ids.forEach((id, i) => {
    udp[id] = ports[2 * i];
    http[id] = ports[2 * i + 1];
  });
  const cluster = {
    replicas: Object.fromEntries(ids.map((id) => [id, { udp: `127.0.0.1:${udp[id]}`, http: `127.0.0.1:${http[id]}` }])),
    election_timeout_ms: [150, 300],
    heartbeat_ms: 50,
    key_file: "cluster.key",
    client_token_file: "client.token",
  };
  const clusterFile = path.join(workDir, "cluster.json");
  fs.writeFileSync(clusterFile, JSON.stringify(cluster, null, 2));

  const start = (id) => {
    const logFile = fs.openSync(path.join(workDir, `${id}.log`), "a");
    const child = spawn(
      kvstore,
      ["--config", clusterFile, "--id", id, "--data-dir", path.join(workDir, id), "--fsync", "none", "--log-level", "info"],
      { stdio: ["ignore", logFile, logFile] },
    );
    children.set(id, child);
  };
  ids.forEach(start);

  const consul = Object.fromEntries(
    ids.map((id) => [id, new Consul({ host: "127.0.0.1", port: http[id], defaults: { token, timeout: 5000 } })]),
  );
  const raftAddress = Object.fromEntries(ids.map((id) => [`127.0.0.1:${udp[id]}`, id]));
  const leaderOf = async (id) => raftAddress[await consul[id].status.leader()];

  let leader;
  await waitFor("a leader", async () => {
    try {
      leader = await leaderOf("0000");
      return leader !== undefined;
    } catch {
      return false;
    }
  }, 10000);
  const followers = ids.filter((id) => id !== leader);
  log(`leader ${leader}, followers ${followers.join(" ")}`);

  // Without the token the KV API refuses, as Consul's ACLs do.
  const stranger = new Consul({ host: "127.0.0.1", port: http[leader] });
  await assert.rejects(stranger.kv.get("app/x"), (error) => error.response.statusCode === 403);

  // The calls, through every replica (a follower forwards to the leader).
  async function exercise(round, through) {
    const c = consul[through];
    const prefix = `app${round}/`;
    assert.equal(await retry("set", () => c.kv.set(`${prefix}config/a`, "one")), true);
    assert.equal(await retry("set flags", () => c.kv.set({ key: `${prefix}config/b`, value: "two", flags: 42 })), true);
    assert.equal(await retry("set", () => c.kv.set(`${prefix}top`, "three")), true);

    const a = await retry("get", () => c.kv.get(`${prefix}config/a`));
    assert.equal(a.Key, `${prefix}config/a`);
    assert.equal(a.Value, "one");
    assert.ok(a.CreateIndex > 0 && a.ModifyIndex >= a.CreateIndex);
    assert.equal((await retry("get", () => c.kv.get(`${prefix}config/b`))).Flags, 42);
    assert.equal(await retry("get missing", () => c.kv.get(`${prefix}missing`)), undefined);

    assert.deepEqual(await retry("keys", () => c.kv.keys({ key: prefix, separator: "/" })), [`${prefix}config/`, `${prefix}top`]);
    assert.deepEqual(await retry("keys", () => c.kv.keys(`${prefix}config/`)), [`${prefix}config/a`, `${prefix}config/b`]);
    const all = await retry("recurse", () => c.kv.get({ key: prefix, recurse: true }));
    assert.deepEqual(all.map((e) => [e.Key, e.Value]), [
      [`${prefix}config/a`, "one"],
      [`${prefix}config/b`, "two"],
      [`${prefix}top`, "three"],
    ]);

    // Compare-and-set on the ModifyIndex: the first wins, a stale index loses, 0 means "only if absent".
    assert.equal(await retry("cas", () => c.kv.set({ key: `${prefix}config/a`, value: "uno", cas: a.ModifyIndex })), true);
    assertFalse(await retry("cas", () => c.kv.set({ key: `${prefix}config/a`, value: "eins", cas: a.ModifyIndex })));
    assert.equal((await retry("get", () => c.kv.get(`${prefix}config/a`))).Value, "uno");
    assertFalse(await retry("cas 0", () => c.kv.set({ key: `${prefix}config/a`, value: "x", cas: 0 })));
    assert.equal(await retry("cas 0", () => c.kv.set({ key: `${prefix}new`, value: "x", cas: 0 })), true);

    assert.equal(await retry("del", () => c.kv.del(`${prefix}top`)), true);
    assert.equal(await retry("get deleted", () => c.kv.get(`${prefix}top`)), undefined);
    assert.equal(await retry("del recurse", () => c.kv.del({ key: prefix, recurse: true })), true);
    assert.equal(await retry("recurse after del", () => c.kv.get({ key: prefix, recurse: true })), undefined);

    assert.equal((await retry("peers", () => c.status.peers())).length, 3);
    log(`round ${round} through ${through}: set, get, keys, recurse, cas, delete: ok`);
  }

  for (const id of ids) await exercise(`-${id}`, id);

  // A watch on a follower that will outlive the leader.
  const watcher = followers[0];
  const seen = [];
  const watch = consul[watcher].watch({
    method: consul[watcher].kv.get,
    options: { key: "watched", wait: "10s" },
    backoffFactor: 50,
    backoffMax: 1000,
  });
  watch.on("change", (data) => {
    seen.push(data === undefined ? null : data.Value);
    log(`watch on ${watcher}: ${data === undefined ? "(no key)" : data.Value}`);
  });
  watch.on("error", (error) => log(`watch error (it retries): ${error.message}`));
  await waitFor("the watch's first answer", () => seen.length >= 1, 10000);
  const put = await run(kvctl, ["--cluster", clusterFile, "put", "watched", "before"]);
  assert.equal(put.code, 0, put.stderr);
  await waitFor("the watch to see a put through kvctl", () => seen.includes("before"), 10000);

  // Kill the leader in the middle of everything; the others elect a new one.
  log(`SIGKILL the leader ${leader}`);
  children.get(leader).kill("SIGKILL");
  const during = exercise("-during", followers[1]);  // calls while the cluster has no leader, retried
  const changed = await run(kvctl, ["--cluster", clusterFile, "--timeout", "20", "put", "watched", "after"]);
  assert.equal(changed.code, 0, changed.stderr);
  await waitFor("the watch to see kvctl's put after the leader died", () => seen.includes("after"), 15000);
  await during;
  const newLeader = await retry("leader", async () => {
    const id = await leaderOf(followers[0]);
    if (id === undefined || id === leader) throw new Error("no new leader yet");
    return id;
  });
  log(`new leader ${newLeader}`);
  for (const id of followers) await exercise(`-after-${id}`, id);
  watch.end();

  // The killed replica comes back and catches up; reads through it see everything.
  start(leader);
  assert.equal(await retry("read through the restarted replica", async () => {
    const entry = await consul[leader].kv.get("watched");
    return entry.Value;
  }), "after");
  log("the restarted replica serves the latest value");
  for (const c of Object.values(consul)) c.destroy();
  stranger.destroy();
}

main().then(
  () => {
    log("PASS");
    process.exit(0);
  },
  (error) => {
    console.error("FAIL:", error.stack || error);
    console.error(`logs in ${workDir}`);
    process.exit(1);
  },
);
