#!/usr/bin/env python3
"""One command that proves dse's GPU path and measures it: correctness (tests/test_gpu.py), the speed of one
process and of a sweep with 1-8 workers per GPU against the pycls-style loop, and a mini-study end to end.

    scripts/gpu_check.sh [--out DIR] [--quick] [--dry-run]

Each step runs in its own process under its own time limit, so one hang cannot eat the rest. Writes
DIR/gpu_check.json and DIR/gpu_check.md (the table, also printed). --dry-run does every step with tiny sizes on the
CPU (the graph path emulated), so the script is exercised where no GPU is: CI runs it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

# the goals these figures are held against (measured on this GPU class, see docs/performance.md)
PYCLS_400MF = 1_600        # img/s of pycls's own trainer on RegNetX-400MF at 32 px
ONE_PROCESS_400MF = 34_000  # img/s of one graph-captured process at batch 128
GOAL_RATIO = 100           # aggregate dse throughput on one GPU / pycls's trainer
GOAL_STUDY_MIN = 30        # a 500-model x 10-epoch Fashion-MNIST (60k images) study, minutes

# (step, time limit in s: full, quick, dry run)
STEPS = [("correctness", (240, 150, 300)), ("one_process", (90, 60, 150)), ("sweep", (180, 90, 240)),
         ("study", (150, 80, 240))]
# a dry run takes 60-80 s in all on a quiet 2-core machine and several times that on a loaded one (CI's): its limits
# only stop a hang, so they leave room for a machine 4x slower


def sizes(quick: bool, dry: bool) -> dict:
    if dry:
        return {"res": 16, "batch": 32, "steps": 6, "sweep_models": 4, "workers": [1, 2], "sweep_train": 512,
                "study_models": 4, "study_epochs": 1, "study_train": 600, "loader_workers": 0}
    if quick:
        return {"res": 32, "batch": 128, "steps": 100, "sweep_models": 8, "workers": [1, 4], "sweep_train": 20_000,
                "study_models": 16, "study_epochs": 1, "study_train": None, "loader_workers": 8}
    return {"res": 32, "batch": 128, "steps": 200, "sweep_models": 16, "workers": [1, 2, 4, 8], "sweep_train": 50_000,
            "study_models": 32, "study_epochs": 2, "study_train": None, "loader_workers": 8}


# ---- the steps (each runs in a child process: python gpu_check.py --step NAME) ----

def step_correctness(a, sz, out: Path) -> dict:
    """tests/test_gpu.py (marked gpu) under pytest; every test's outcome."""
    xml = out / "gpu_tests.xml"
    env = {**os.environ, **({"DSE_GPU_DRY_RUN": "1"} if a.dry_run else {})}
    p = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist", "-m", "gpu",
                        str(ROOT / "tests" / "test_gpu.py"), f"--junitxml={xml}"], cwd=ROOT, env=env,
                       capture_output=True, text=True)
    tests = {}
    for case in ET.parse(xml).getroot().iter("testcase"):
        kids = {c.tag: (c.get("message") or "")[:300] for c in case}
        outcome = "failed" if ("failure" in kids or "error" in kids) else "skipped" if "skipped" in kids else "passed"
        tests[case.get("name")] = {"outcome": outcome, "seconds": round(float(case.get("time") or 0), 2),
                                   **({"why": kids.get("failure") or kids.get("error") or kids.get("skipped")}
                                      if outcome != "passed" else {})}
    ok = p.returncode == 0 and tests and all(t["outcome"] != "failed" for t in tests.values())
    return {"ok": bool(ok), "tests": tests, "tail": p.stdout[-1500:] if not ok else ""}


def _device(a) -> str:
    return "cpu" if a.dry_run else "cuda"


def _arch(dry: bool):
    from dse.models import regnet_arch

    return regnet_arch(8, 16, 12, 2.5, 1, 8) if dry else regnet_arch(22, 24, 24.48, 2.54, 1, 16)  # RegNetX-400MF


def _engine_rate(arch, data, dev, steps, batch, graph) -> float:
    """Images/s of dse's engine: (steps + 3) minus 3 optimizer steps, timed, so build and capture cancel out."""
    import torch

    from dse.train.engine import DeviceData, train_model
    from dse.train.protocol import Protocol

    dd = DeviceData(data, dev)
    t = {}
    for n in (3, steps + 3):
        if dev == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        out = train_model(arch, dd, Protocol(dataset="synthetic", budget=f"{n}it", batch_size=batch), seed=0,
                          graph=graph, log=lambda m: None)
        t[n] = time.perf_counter() - t0
    return steps * batch / (t[steps + 3] - t[3]), out.graph


def step_one_process(a, sz, out: Path) -> dict:
    """One process, RegNetX-400MF at 32 px, batch 128: the engine with the CUDA graph and without, and the
    pycls-style loop (DataLoader, fp32, per-step .item()) on the same model and data."""
    from bench_train import plain_loop

    from dse.train.data import synthetic

    dev, arch = _device(a), _arch(a.dry_run)
    data = synthetic((3, sz["res"], sz["res"]), max(sz["batch"] * (sz["steps"] + 8), 4096), 1024)
    graph_on = "emulate" if a.dry_run else "on"
    on, replayed = _engine_rate(arch, data, dev, sz["steps"], sz["batch"], graph_on)
    off, _ = _engine_rate(arch, data, dev, sz["steps"], sz["batch"], "off")
    base = plain_loop(arch, data, dev, sz["steps"], batch=sz["batch"], workers=sz["loader_workers"])
    return {"ok": True, "img_s_graph": round(on), "img_s_eager": round(off), "img_s_pycls_style": round(base),
            "graph_replayed": bool(replayed) or a.dry_run, "ratio_one_process": round(on / base, 2)}


def step_sweep(a, sz, out: Path) -> dict:
    """A sweep of identical RegNetX-400MF models through Study.train (the `dse train` engine and workers) with
    1, 2, 4, 8 workers on the GPU: aggregate images/s, models/hour, and the fixed cost per model (build,
    capture, evaluation: a model's seconds minus its images over its training rate)."""
    import dse
    from bench_train import plain_loop

    from dse.train.data import synthetic

    dev, arch = _device(a), _arch(a.dry_run)
    rows = [",".join(f"{p}{i + 1}" for p in "dwbg" for i in range(arch.stages)) + ",error"]
    rows += [",".join(map(str, [*arch.depths, *arch.widths, *arch.bottlenecks, *arch.group_widths, ""]))]
    res = {}
    n, n_train = sz["sweep_models"], sz["sweep_train"]
    for k in sz["workers"]:
        with tempfile.TemporaryDirectory() as d:
            Path(d, "p.csv").write_text("\n".join(rows[:1] + rows[1:] * n) + "\n")
            st = dse.Study(Path(d, "s.sqlite"))
            st.import_table(Path(d, "p.csv"), "s", resolution=sz["res"], stem="cifar", num_classes=10)
            t0 = time.perf_counter()
            done = st.train(budget="1ep", dataset="synthetic", resolution=sz["res"], train_size=n_train,
                            test_size=max(256, n_train // 5), batch_size=sz["batch"], device=dev,
                            workers_per_device=k if dev == "cuda" else min(k, os.cpu_count() or 1))
            wall = time.perf_counter() - t0
            ep = st.epochs()
            m = st.models()
        imgs = n * (n_train // sz["batch"]) * sz["batch"]
        fixed = [float(s) - sum(imgs / n / r for r in ep[ep.id == i].images_per_s)
                 for i, s in zip(m.id, m.train_seconds)]
        res[str(k)] = {"done": done.done, "wall_s": round(wall, 1), "img_s": round(imgs / wall),
                       "models_per_hour": round(n / wall * 3600),
                       "fixed_s_per_model": round(float(sorted(fixed)[len(fixed) // 2]), 2)}
    data = synthetic((3, sz["res"], sz["res"]), max(sz["batch"] * (sz["steps"] + 8), 4096), 1024)
    base = plain_loop(arch, data, dev, sz["steps"], batch=sz["batch"], workers=sz["loader_workers"])
    best = max(res.values(), key=lambda r: r["img_s"])
    ok = all(r["done"] == n for r in res.values())
    return {"ok": ok, "workers": res, "img_s_pycls_style": round(base), "best_img_s": best["img_s"],
            "ratio_vs_pycls_style": round(best["img_s"] / base, 1),
            "ratio_vs_pycls_trainer": round(best["img_s"] / PYCLS_400MF, 1) if not a.dry_run else None}


def step_study(a, sz, out: Path) -> dict:
    """Two spaces (anynet_a, regnetx) at 2-8 MF on 28 px Fashion-MNIST (the subset that travels in tests/data),
    n models each, trained, then edf --compare and the report into the output folder."""
    import dse

    data_dir = ROOT / "tests" / "data" / "fashion-mnist"
    for old in out.glob("study.sqlite*"):  # a fresh study each run (the folder may hold an earlier one)
        old.unlink()
    st = dse.Study(out / "study.sqlite")
    n = sz["study_models"]
    for space in ("anynet_a", "regnetx"):
        st.sample(space, n=n, flops="2M:8M", resolution=28, stem="cifar", in_channels=1, num_classes=10)
    t0 = time.perf_counter()
    done = st.train(budget=f"{sz['study_epochs']}ep", data_dir=data_dir, train_size=sz["study_train"],
                    batch_size=128 if not a.dry_run else 64, device=_device(a))
    wall = time.perf_counter() - t0
    cmp = st.edf(["anynet_a", "regnetx"])
    cmp.figure().savefig(out / "edf.png")
    st.report(out / "report.html")
    ep = st.epochs()
    imgs = float((ep.images_per_s * ep.seconds).sum()) or 1.0  # images seen, from each epoch's rate and time
    rate = imgs / wall
    projected = 500 * 10 * 60_000 / rate / 60  # minutes for the goal study at this aggregate rate
    return {"ok": done.done == 2 * n, "models": 2 * n, "done": done.done, "epochs": sz["study_epochs"],
            "wall_s": round(wall, 1), "img_s": round(rate), "ks_p": round(cmp.ks[0].pvalue, 4),
            "projected_500x10_min": round(projected, 1), "files": ["edf.png", "report.html", "study.sqlite"]}


# ---- the parent: environment, steps under time limits, the table ----

def environment(dry: bool) -> dict:
    import torch

    env = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "python": platform.python_version(),
           "torch": torch.__version__, "cuda": torch.version.cuda, "mode": "dry run (CPU)" if dry else "GPU"}
    if torch.cuda.is_available():
        env["gpu"] = torch.cuda.get_device_name()
        env["gpus"] = torch.cuda.device_count()
    try:
        import ray  # noqa: F401

        env["ray"] = ray.__version__
    except ImportError:
        env["ray"] = None
    return env


def run_step(name: str, limit: float, a) -> dict:
    cmd = [sys.executable, __file__, "--step", name, "--out", str(a.out)] + (["--quick"] if a.quick else []) + \
          (["--dry-run"] if a.dry_run else [])
    t0 = time.perf_counter()
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=limit, cwd=ROOT)
    except subprocess.TimeoutExpired as e:
        tail = (e.stderr or b"")[-1500:]
        return {"ok": False, "status": f"timed out after {limit:.0f} s", "seconds": round(time.perf_counter() - t0, 1),
                "tail": tail.decode(errors="replace") if isinstance(tail, bytes) else tail}
    secs = round(time.perf_counter() - t0, 1)
    last = p.stdout.strip().splitlines()[-1] if p.stdout.strip() else ""
    try:
        r = json.loads(last)
    except ValueError:
        return {"ok": False, "status": f"crashed (exit {p.returncode})", "seconds": secs,
                "tail": (p.stderr or p.stdout)[-1500:]}
    return {**r, "status": "ok" if r.get("ok") else "failed", "seconds": secs}


def table(report: dict) -> str:
    e, s = report["environment"], report["steps"]
    lines = [f"# dse GPU check ({e['mode']})", "",
             f"{e['date']}; {e.get('gpu', 'no GPU')}; torch {e['torch']} (CUDA {e['cuda']}); Python {e['python']}; "
             f"Ray {e['ray'] or 'not installed'}", "",
             "| step | status | figure | measured | goal |", "|---|---|---|---|---|"]

    def row(step, figure, value, goal=""):
        lines.append(f"| {step} | {s.get(step, {}).get('status', 'not run')} | {figure} | {value} | {goal} |")

    c = s.get("correctness", {})
    tests = c.get("tests", {})
    row("correctness", "tests passed / run", f"{sum(t['outcome'] == 'passed' for t in tests.values())} / {len(tests)}",
        "all")
    for name, t in tests.items():
        if t["outcome"] != "passed":
            lines.append(f"| | {t['outcome']} | {name} | {t.get('why', '')[:120]} | |")
    o = s.get("one_process", {})
    row("one_process", "img/s, CUDA graph on / off", f"{o.get('img_s_graph', '-'):,} / {o.get('img_s_eager', '-'):,}"
        if "img_s_graph" in o else "-", f"~{ONE_PROCESS_400MF:,} (400MF, batch 128)")
    row("one_process", "img/s, pycls-style loop; ratio",
        f"{o.get('img_s_pycls_style', '-')}; {o.get('ratio_one_process', '-')}x",
        f"pycls's trainer ~{PYCLS_400MF:,}")
    w = s.get("sweep", {})
    for k, r in (w.get("workers") or {}).items():
        row("sweep", f"{k} worker(s): img/s, models/hour, fixed s/model",
            f"{r['img_s']:,}, {r['models_per_hour']:,}, {r['fixed_s_per_model']}")
    row("sweep", "best aggregate / pycls's trainer", f"{w.get('ratio_vs_pycls_trainer') or '-'}x "
        f"(vs the pycls-style loop here: {w.get('ratio_vs_pycls_style', '-')}x)", f">= {GOAL_RATIO}x")
    st = s.get("study", {})
    row("study", "models, wall s, img/s", f"{st.get('done', '-')}/{st.get('models', '-')}, {st.get('wall_s', '-')}, "
        f"{st.get('img_s', '-')}")
    row("study", "projected 500 models x 10 epochs x 60k images", f"{st.get('projected_500x10_min', '-')} min",
        f"< {GOAL_STUDY_MIN} min")
    lines += ["", "Step times: " + ", ".join(f"{k} {v.get('seconds', '-')} s" for k, v in s.items())]
    return "\n".join(lines) + "\n"


def out_folder(path: str) -> Path:
    """--out as a folder we can write (created); else one line naming it and exit 2 (no traceback)."""
    out = Path(path)
    try:
        out = out.resolve()
        out.mkdir(parents=True, exist_ok=True)
        probe = out / f".gpu_check_probe_{os.getpid()}"
        probe.write_text("")
        probe.unlink()
    except (OSError, RuntimeError) as e:
        why = "it is a file, not a folder" if out.exists() and not out.is_dir() else getattr(e, "strerror", None) or e
        print(f"gpu_check: --out {path}: cannot write there ({why}); give a folder this user may write, e.g. "
              f"--out gpu_check_out", file=sys.stderr)
        sys.exit(2)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="gpu_check_out", help="Output folder (created).")
    ap.add_argument("--quick", action="store_true", help="Smaller sizes: about 3 minutes.")
    ap.add_argument("--dry-run", action="store_true", help="Every step with tiny sizes on the CPU.")
    ap.add_argument("--step", help=argparse.SUPPRESS)
    a = ap.parse_args()
    a.out = out_folder(a.out)
    sz = sizes(a.quick, a.dry_run)
    if a.step:  # a child: one step, its result as the last line of standard output
        try:
            r = globals()[f"step_{a.step}"](a, sz, a.out)
        except Exception as e:  # noqa: BLE001 - reported in the table, the other steps go on
            import traceback

            traceback.print_exc()
            r = {"ok": False, "error": f"{type(e).__name__}: {e}"[:500]}
        print(json.dumps(r, default=str))
        return
    report = {"environment": environment(a.dry_run), "sizes": sz, "steps": {}}
    i = 2 if a.dry_run else 1 if a.quick else 0
    for name, limits in STEPS:
        print(f"[gpu_check] {name} (limit {limits[i]} s) ...", file=sys.stderr, flush=True)
        report["steps"][name] = run_step(name, limits[i], a)
        print(f"[gpu_check] {name}: {report['steps'][name]['status']} in {report['steps'][name]['seconds']} s",
              file=sys.stderr, flush=True)
    (a.out / "gpu_check.json").write_text(json.dumps(report, indent=1, default=str))
    md = table(report)
    (a.out / "gpu_check.md").write_text(md)
    print(md)
    sys.exit(0 if all(s.get("ok") for s in report["steps"].values()) else 1)


if __name__ == "__main__":
    main()
