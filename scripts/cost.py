#!/usr/bin/env python3
"""Cost per application message and per commit, lightweight vs coordinated,
from `commsim run --json` counts (docs/performance.md).

    cargo build --release && python3 scripts/cost.py 10 50 100

For each size and kind it writes three scenarios (idle, 200 messages, 6
commits) to a temporary directory, runs them, and prints one JSON line:
(loaded run - idle run) / count for bytes, Olm and MLS operations and wall
time. KINDS=coordinated limits the kinds."""
import json, subprocess, sys, os, tempfile
BIN = os.environ.get("COMMSIM", "target/release/commsim")
OUT = tempfile.mkdtemp(prefix="commsim-cost-")
def scenario(kind, n, load):
    ops = ""
    rate = 0.0
    if load == "msgs":
        rate = 10.0  # 20 s x 10/s = 200 messages: enough to stand out of the idle cost
    if load == "commits":
        # 6 commits spread out: removals in lightweight (the op message is the
        # commit's equivalent), self-updates in coordinated
        for i in range(6):
            at = 3 + 3 * i
            if kind == "coordinated":
                ops += f'\n[[workload.ops]]\nat = "{at}s"\nby = "m{i}"\nop = "update"\n'
            else:
                ops += f'\n[[workload.ops]]\nat = "{at}s"\nby = "m{i}"\nop = "remove"\ntarget = "m{n-1-i}"\n'
    group = '[group]\nkind = "coordinated"\n' if kind == "coordinated" else ""
    return f'''description = "cost"
seed = 1
variants = ["lww"]
{group}
[topology]
members = {n}
agents = {max(3, n // 8)}
servers = 1

[network]
latency = "10ms"
jitter = "5ms"

[workload]
start = "2s"
stop = "22s"
messages_per_s = {rate}
{ops}
[healing]
period = "5s"

[expect.lww]
delivery = "pass"
'''
def run(kind, n, load):
    path = os.path.join(OUT, f"{kind}-{n}-{load}.toml")
    open(path, "w").write(scenario(kind, n, load))
    out = subprocess.run([BIN, "run", path, "--json"], capture_output=True, text=True)
    d = json.loads(out.stdout.splitlines()[0])
    c = d["counts"]
    olm = c["crypto_ops_total"]
    mls = c["mls_ops"]
    mls_total = mls["commits"] + mls.get("commits_processed", 0) + mls["welcomes_joined"] + mls["encryptions"] + mls["decryptions"]
    return dict(bytes=c["bytes_on_wire"], datagrams=c["datagrams_sent"], olm=olm, mls=mls_total,
                wall=c["wall_ms"], msgs=c["messages_sent"])
rows = []
kinds = os.environ.get("KINDS", "lightweight,coordinated").split(",")
for n in [int(x) for x in sys.argv[1:]] or [10, 50, 100]:
    for kind in kinds:
        idle = run(kind, n, "idle")
        m = run(kind, n, "msgs")
        k = run(kind, n, "commits")
        nm = m["msgs"] - idle["msgs"]
        # commits: 6 ops; lightweight ops are messages themselves
        per = lambda r, key, cnt: (r[key] - idle[key]) / cnt
        row = dict(n=n, kind=kind, app_msgs=nm,
            msg_bytes=per(m, "bytes", nm), msg_olm=per(m, "olm", nm), msg_mls=per(m, "mls", nm), msg_wall_ms=per(m, "wall", nm),
            commit_bytes=per(k, "bytes", 6), commit_olm=per(k, "olm", 6), commit_mls=per(k, "mls", 6), commit_wall_ms=per(k, "wall", 6),
            idle_wall_ms=idle["wall"])
        rows.append(row)
        print(json.dumps(row), flush=True)
