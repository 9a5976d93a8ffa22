#!/usr/bin/env python3
"""The least a replica can do under the course simulator's relay: a stand-in replica for kvchaos --replica.

No elections, no log, no retransmissions, no checks: replica 0000 leads for good. A put goes to every follower in one
FFFF datagram, the first (replicas // 2) followers answer it, and the leader answers the client once they have (one
relay pass out, one back, one for the answer). A get is answered at once from the leader's copy. A request that
reaches a follower is redirected to 0000. So kvchaos's median with this stand-in is the relay's floor for a put that
a majority holds before it is answered, on fault-free configs (simple-1, simple-2); nothing else survives a fault.

  kvchaos tests/chaos/configs/simple-2.json --replica tests/bench/course-floor.py
  CORAFT_FLOOR_EARLY=1 ...   the leader answers a put at once, before any follower has it (unsafe: a leader that
                             dies loses it). What such a replica's median looks like.
  CORAFT_FLOOR_CHAIN=1 ...   a put goes down a chain instead: the leader sends it to the first follower a majority
                             needs, each of those sends it to the next, and the last one answers the leader (one
                             datagram per pass, one more pass per follower a majority needs). The other floor.
"""
import json
import os
import socket
import sys


def main():
    if len(sys.argv) < 3 or sys.argv[1] in ("-h", "--help"):
        print(__doc__.strip())
        return 0 if len(sys.argv) > 1 else 64
    port, me, others = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
    early = os.environ.get("CORAFT_FLOOR_EARLY") == "1"
    chain = os.environ.get("CORAFT_FLOOR_CHAIN") == "1"
    leader = min([me] + others)
    needed = sorted(others)[: (len(others) + 1) // 2] if me == leader else []  # answer for a majority
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    simulator = ("127.0.0.1", port)

    def send(message):
        message.update(src=me, leader=leader)
        sock.sendto(json.dumps(message).encode(), simulator)

    send({"dst": "FFFF", "type": "hello"})
    store, waiting = {}, {}  # waiting: MID -> [client, followers still to answer]
    while True:
        m = json.loads(sock.recv(65536))
        kind = m.get("type")
        if kind in ("get", "put") and me != leader:
            send({"dst": m["src"], "type": "redirect", "MID": m["MID"]})
        elif kind == "get":
            send({"dst": m["src"], "type": "ok", "MID": m["MID"], "value": store.get(m["key"], "")})
        elif kind == "put":
            store[m["key"]] = m["value"]
            if early:
                send({"dst": m["src"], "type": "ok", "MID": m["MID"]})
            if chain:
                waiting[m["MID"]] = [m["src"], {needed[-1]}]
                send({"dst": needed[0], "type": "ae", "MID": m["MID"], "key": m["key"], "value": m["value"],
                      "chain": needed[1:]})
                continue
            waiting[m["MID"]] = [m["src"], set(needed)]
            send({"dst": "FFFF", "type": "ae", "MID": m["MID"], "key": m["key"], "value": m["value"],
                  "answer": needed})
        elif kind == "ae":
            store[m["key"]] = m["value"]
            if "chain" in m:
                rest = m["chain"]
                if rest:
                    send({"dst": rest[0], "type": "ae", "MID": m["MID"], "key": m["key"], "value": m["value"],
                          "chain": rest[1:]})
                else:
                    send({"dst": leader, "type": "aer", "MID": m["MID"]})
            elif me in m["answer"]:
                send({"dst": leader, "type": "aer", "MID": m["MID"]})
        elif kind == "aer" and m["MID"] in waiting:
            client, pending = waiting[m["MID"]]
            pending.discard(m["src"])
            if not pending:
                del waiting[m["MID"]]
                if not early:
                    send({"dst": client, "type": "ok", "MID": m["MID"]})


if __name__ == "__main__":
    sys.exit(main())
