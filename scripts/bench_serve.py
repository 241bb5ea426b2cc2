"""What a live page costs training: dse train's throughput alone, and beside dse serve with a client that does
what the page does (every 2 s: /api/version, and when the store changed every view the page draws).

Runs alternate (alone, served, alone, served, ...) so a busy machine hurts both alike; the figure is the ratio
of the median images/s, each run's images over its wall time. Synthetic data: no data set needed.

    python scripts/bench_serve.py [--models 16] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

DSE = [sys.executable, "-m", "dse"]
SAMPLE = ["--flops", "2M:6M", "--resolution", "28", "--stem", "cifar", "--num-classes", "10"]
TRAIN = ["--dataset", "synthetic", "--resolution", "28", "--train-size", "2048", "--test-size", "256",
         "--batch-size", "64", "--budget", "2ep", "--device", "cpu", "--plain"]
PAGE = ["/api/status", "/api/edf", "/api/edf.svg", "/api/power?sweeps=ref,s", "/api/undertraining", "/api/models",
        "/api/section/budget", "/api/section/complexity"]  # (params and refine: computed when the user asks)


def run(*args, cwd):
    subprocess.run([*DSE, *args], cwd=cwd, check=True, capture_output=True, text=True)


def client(base: str, stop: threading.Event, counts: dict):
    """The page: poll the version every 2 s; when it changed, fetch every view."""
    version = None
    while not stop.is_set():
        try:
            with urllib.request.urlopen(base + "/api/version", timeout=30) as r:
                v = json.loads(r.read())["version"]
            counts["polls"] += 1
            if v != version:
                version = v
                for p in PAGE:
                    try:
                        with urllib.request.urlopen(base + p, timeout=120) as r:
                            r.read()
                    except urllib.error.HTTPError:  # a view with nothing to show yet (422): the page says so
                        counts["empty"] += 1
                counts["redraws"] += 1
        except OSError:
            counts["errors"] += 1
        stop.wait(2.0)


def one(folder: Path, base_db: Path, served: bool, n: int) -> dict:
    db = folder / "dse.sqlite"
    shutil.copy(base_db, db)
    server = None
    stop, counts = threading.Event(), {"polls": 0, "redraws": 0, "empty": 0, "errors": 0}
    if served:
        server = subprocess.Popen([*DSE, "serve", "--db", str(db), "--port", "0"], cwd=folder,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        url = server.stdout.readline().split(" at ", 1)[1].split(" ", 1)[0].rstrip("/")
        t = threading.Thread(target=client, args=(url, stop, counts), daemon=True)
        t.start()
        time.sleep(3)  # the first redraw of the page, before training starts
    t0 = time.perf_counter()
    run("train", "--sweep", "s", *TRAIN, cwd=folder)
    wall = time.perf_counter() - t0
    if server:
        stop.set()
        server.terminate()
        server.wait(10)
    images = n * 2 * 2048
    return {"served": served, "wall_s": wall, "img_s": images / wall, **counts}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", type=int, default=16)
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        run("sample", "--space", "anynet_a", "-n", "12", *SAMPLE, "--sweep", "ref", cwd=tmp)
        run("train", "--sweep", "ref", *TRAIN, cwd=tmp)  # a trained sweep beside: the page's EDF, KS and power
        run("sample", "--space", "regnetx", "-n", str(a.models), *SAMPLE, "--sweep", "s", cwd=tmp)
        base = tmp / "base.sqlite"
        shutil.copy(tmp / "dse.sqlite", base)
        rows = []
        for i in range(a.rounds):
            for served in (False, True):
                d = tmp / f"r{i}{int(served)}"
                d.mkdir()
                rows.append(one(d, base, served, a.models))
                r = rows[-1]
                print(f"round {i + 1}, {'served' if served else 'alone '}: {r['img_s']:,.0f} img/s "
                      f"({r['wall_s']:.1f} s; page polls {r['polls']}, redraws {r['redraws']}, empty views "
                      f"{r['empty']}, errors {r['errors']})",
                      flush=True)
    alone = statistics.median(r["img_s"] for r in rows if not r["served"])
    served = statistics.median(r["img_s"] for r in rows if r["served"])
    print(f"median: alone {alone:,.0f} img/s, served {served:,.0f} img/s: the page costs training "
          f"{100 * (1 - served / alone):+.1f}% of its throughput")


if __name__ == "__main__":
    main()
