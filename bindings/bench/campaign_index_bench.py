#!/usr/bin/python3
"""How the campaign index scales: plans 100,000 runs (4 grid points x 25,000 seeds of quickstart), stores a
result row for each as run() would (synthetic figures: no simulation runs), then times missing(), results(),
summary() and reopening the directory. PYTHONPATH=build/python /usr/bin/python3 bindings/bench/campaign_index_bench.py
"""
import json, sqlite3, tempfile, time, pathlib, random
import dmm
d = pathlib.Path(tempfile.mkdtemp()) / "big"
t0 = time.perf_counter()
c = dmm.Campaign(d, scenario=str(pathlib.Path(__file__).resolve().parents[2] / "scenarios" / "quickstart.yaml"), grid={"nrd.period": ["250ms", "500ms", "1s", "2s"]}, seeds=range(25000))
t1 = time.perf_counter()
print(f"plan 100,000 runs: {t1-t0:.2f} s; missing(): ", end="")
m = c.missing(); t2 = time.perf_counter(); print(f"{len(m)} rows in {t2-t1:.2f} s")
# stored results as run() would write them (synthetic figures)
rows = []
for run_id, point, seed, mode in c._runs:
    fig = {"sessions": random.randint(900, 1100), "completed": 1000, "failed": 0, "delivered_mbps": random.random() * 50}
    rows.append((run_id, json.dumps(point, sort_keys=True), seed, mode, "ok", None, 1.0, "0.1.0", "2026-12-07T00:00:00+00:00", json.dumps(fig)))
c._db.execute("BEGIN"); c._db.executemany("INSERT INTO runs VALUES (?,?,?,?,?,?,?,?,?,?)", rows); c._db.execute("COMMIT")
t3 = time.perf_counter()
r = c.results(); t4 = time.perf_counter(); print(f"results(): {len(r)} rows in {t4-t3:.2f} s")
s = c.summary(); t5 = time.perf_counter(); print(f"summary(): {len(s)} rows in {t5-t4:.2f} s")
o = dmm.Campaign.open(d); t6 = time.perf_counter(); print(f"open(): {t6-t5:.2f} s; status {o.status()}; missing {len(o.missing())} ({time.perf_counter()-t6:.2f} s)")
print("index size MB", round((d / "index.sqlite").stat().st_size / 1e6, 1))
