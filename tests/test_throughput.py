"""Throughput: workers and threads chosen by model size (dse.train.allocation), the cost model every time estimate
comes from (dse.analysis.cost) with its sources (the store's trained models, short probes), and what dse train,
dse findings --plan, dse power say about them."""

import json
import math

import numpy as np
import pytest

import dse
from conftest import cli, copy_study
from dse.analysis.cost import CostModel, Timing, fit_cost, plan_cost
from dse.train.allocation import (GPU_WORKERS, WORKERS, choose, worker_efficiency, worker_gain, worker_memory)

SMALL, LARGE = 5e6, 2e9  # flops per image


# ---- the choice of workers and threads
def test_tiny_models_on_two_cores_get_two_single_threaded_workers():
    a = choose("cpu", 2, pending=24, flops=SMALL, acts=1e5, data_bytes=40 << 20, memory=8 << 30)
    assert (a.workers, a.threads) == (2, 1)
    assert "2 worker(s) x 1 thread(s)" in a.reason and "faster" in a.reason


def test_one_pending_model_gets_every_thread():
    a = choose("cpu", 2, pending=1, flops=SMALL)
    assert (a.workers, a.threads) == (1, 2) and "one model pending" in a.reason


def test_a_large_model_that_fits_once_in_memory_gets_one_worker():
    # 2 GF at 224 px: ~20 M activations per image; a batch of 128 keeps ~41 GB in flight, twice that does not fit
    need = worker_memory(2e7, 128, 0)
    a = choose("cpu", 2, pending=10, flops=LARGE, acts=2e7, memory=int(need / 0.7 * 1.5))
    assert (a.workers, a.threads) == (1, 2) and "memory" in a.reason


def test_a_given_number_wins():
    a = choose("cpu", 2, pending=24, flops=SMALL, workers=1)
    assert (a.workers, a.threads) == (1, 2) and "as given" in a.reason
    assert choose("cpu", 8, pending=24, flops=SMALL, workers=2).threads == 4


def test_gpu_keeps_four_per_device_unless_fewer_models():
    assert choose("cuda:0", 16, pending=100, flops=SMALL).workers == GPU_WORKERS
    assert choose("cuda:0", 16, pending=2, flops=SMALL).workers == 2


def test_one_core_gets_one_worker():
    assert (choose("cpu", 1, pending=50, flops=SMALL).workers, choose("cpu", 1, pending=50).threads) == (1, 1)


def test_the_choice_minimises_the_time_to_train_the_pending_models():
    """ceil(n / w) rounds of w models at aggregate speed gain(w): more workers only for a saving of 5% or more."""
    for n in (2, 3, 5, 24):
        for f in (1e6, SMALL, 1e8, 5e9):
            g = worker_gain(f, 4)
            best, best_t = 1, float(n)
            for w in range(2, min(4, n) + 1):
                t = math.ceil(n / w) * w / (1 + (g - 1) * (w - 1) / 3)
                if t < 0.95 * best_t:
                    best, best_t = w, t
            assert choose("cpu", 4, pending=n, flops=f).workers == best
    # measured: at ~300 MF two workers gain 3%, not worth a second copy of everything
    assert choose("cpu", 2, pending=50, flops=3e8).workers == 1
    assert choose("cpu", 2, pending=3, flops=SMALL).workers == 2


def test_the_measured_table_interpolates_in_log_flops():
    (f0, g0, e0), (f1, g1, e1) = WORKERS[0], WORKERS[1]
    mid = math.sqrt(f0 * f1)
    assert worker_gain(mid) == pytest.approx((g0 + g1) / 2, abs=1e-6)
    assert worker_efficiency(mid, 2) == pytest.approx((e0 + e1) / 2, abs=1e-6)
    assert worker_gain(f0 / 10) == g0 and worker_gain(WORKERS[-1][0] * 10) == WORKERS[-1][1]
    assert all(g >= 1 and 0 < e <= 1 for _, g, e in WORKERS)


# ---- the cost model
def test_fit_cost_recovers_a_power_law_and_its_parts():
    f = np.array([1e6, 4e6, 16e6, 64e6])
    s = 3e-12 * f ** 0.8
    t = [Timing(x, y, eval_s=0.3 * y, overhead_s=0.5) for x, y in zip(f, s)]
    c = fit_cost(t)
    assert c.b == pytest.approx(0.8) and math.exp(c.a) == pytest.approx(3e-12)
    assert c.eval_ratio == pytest.approx(0.3) and c.overhead == pytest.approx(0.5) and c.n == 4
    assert (c.low, c.high) == (pytest.approx(1 / 1.3), pytest.approx(1.3))  # exact data: the minimum range
    # one model's seconds: overhead + epochs x (train + r x test) x s(F)
    want = 0.5 + 2 * (5000 + 0.3 * 2000) * 3e-12 * 8e6 ** 0.8
    assert c.model_seconds(8e6, 2, 5000, 2000) == pytest.approx(want)


def test_fit_cost_of_one_size_is_proportional_and_its_range_holds_the_timings():
    t = [Timing(4e6, 1e-3), Timing(4e6, 2e-3), Timing(4e6, 1.5e-3)]
    c = fit_cost(t)
    assert c.b == 1.0
    fitted = c.image_seconds(4e6)
    assert fitted == pytest.approx(1.5e-3)
    assert c.low * fitted <= 1e-3 * (1 + 1e-9) and 2e-3 <= c.high * fitted * (1 + 1e-9)
    with pytest.raises(ValueError):
        fit_cost([Timing(4e6, 0.0)])


def test_plan_cost_shares_the_models_among_workers():
    c = CostModel(a=math.log(1e-9), b=1.0, eval_ratio=0.0, overhead=1.0, low=0.8, high=1.25, n=3)
    models = [(1e6, 1, 1000, 0)] * 10  # each 1 + 1 s
    e1, e2 = plan_cost(c, models, 1), plan_cost(c, models, 2, efficiency=0.8)
    assert e1.seconds == pytest.approx(20) and e2.seconds == pytest.approx(20 / 2 / 0.8)
    assert (e1.low, e1.high) == (pytest.approx(16), pytest.approx(25))
    assert plan_cost(c, models[:1], 4).seconds == pytest.approx(2)  # never less than its longest model
    assert "s (range" in str(e1)


# ---- from the store and from probes
@pytest.fixture(scope="module")
def pair(pair_dir, tmp_path_factory):
    return copy_study(pair_dir, tmp_path_factory.mktemp("pair"))


def test_stored_timings_are_the_models_epoch_records(pair):
    st = dse.Study(pair / "dse.sqlite")
    t = st.stored_timings()
    with st.store() as s:
        ms = [m for n in ("a", "b") for m in s.models(n) if m.status == "done"]
        rows = {(r.sweep, r.idx): r for r in s.epoch_rows(["a", "b"])}
    assert len(t) == len(ms) == 12
    by = {m.train_flops: m for m in ms}
    for x in t:
        m = by[x.flops]
        r = rows[(m.sweep, m.idx)]
        assert x.train_s == pytest.approx(1 / r.images_per_s)
        # 64 training images at batch 32: 2 steps; the rest of the epoch is the evaluation of 32 test images
        assert x.eval_s == pytest.approx(max(0.0, r.seconds - 64 / r.images_per_s) / 32)
        assert x.overhead_s == pytest.approx(max(0.0, m.train_seconds - r.seconds))
    assert st.stored_timings(device="cuda") == []


@pytest.mark.slow
def test_probe_times_real_models(tmp_path):
    st = dse.Study(tmp_path / "s.sqlite")
    c = st.probe_cost([2e6, 8e6], (1, 28, 28), threads=1, per_size=1)
    assert c.n == 3 and c.source.startswith("timing 3 regnetx models")
    # a CPU trains a few-MF model at 28 px at thousands of images/s at most and far more than 10
    assert 1e-4 < c.image_seconds(4e6) < 0.1 and 0 < c.eval_ratio < 1.5 and c.b > 0


def test_power_quotes_the_cost_model_of_the_pilots(pair):
    st = dse.Study(pair / "dse.sqlite")
    r = st.power(["a", "b"], n="50,100", reps=100, effect=0.7)
    assert r.more_models and r.hours is not None
    est = st.cost_of_more(["a", "b"], r.more_models)
    assert r.hours == pytest.approx(est.seconds / 3600)
    assert r.hours_range[0] < r.hours < r.hours_range[1]
    assert json.loads(json.dumps(r.to_json()))["hours_range"] == list(r.hours_range)


# ---- what dse train says and does
def test_train_says_what_it_chose_first(tmp_path):
    from dse.validate import usable_cpus

    code, _, err = cli(tmp_path, "sample", "--space", "regnetx", "-n", "3", "--flops", "1M:3M", "--resolution", "16",
                       "--stem", "cifar", "--num-classes", "10")
    assert code == 0, err
    code, out, err = cli(tmp_path, "train", "--dataset", "synthetic", "--resolution", "16", "--train-size", "64",
                         "--test-size", "32", "--batch-size", "32", "--budget", "1ep", "--device", "cpu", "--plain")
    assert code == 0, err
    first = [ln for ln in out.splitlines() if not ln.startswith("dataset: SYNTHETIC")][0]
    want = choose("cpu", usable_cpus(), pending=3, flops=2e6)
    assert first.startswith(f"workers: {want.workers} worker(s)") or first.startswith("workers: 1 worker with")
    assert dse.Study(tmp_path / "dse.sqlite").status()[0].counts["done"] == 3


@pytest.mark.parametrize("value, message", [("many", "neither auto nor a whole number"),
                                            ("0", "--workers-per-gpu must be")])
def test_workers_option_refuses_bad_values(tmp_path, value, message):
    code, _, err = cli(tmp_path, "train", "--dataset", "synthetic", "--workers-per-gpu", value, "--device", "cpu")
    assert code == 2 and message in err


def test_workers_keyword_is_checked():
    from dse.api.training import RunOptions
    from dse.errors import ParamError

    with pytest.raises(ParamError, match="workers_per_device"):
        RunOptions(workers_per_device="many")
    assert RunOptions(workers_per_device="auto").workers_per_device == "auto"
    assert RunOptions().workers_per_device == "auto"


@pytest.mark.slow
def test_a_script_without_a_main_guard_trains_with_several_workers(tmp_path, all_cores):
    """Spawned workers do not run the caller's script again (spawn's default): a plain script that trains with two
    workers trains every model once and prints once."""
    import subprocess
    import sys

    script = tmp_path / "study.py"
    script.write_text(
        "import dse\n"
        "st = dse.Study('s.sqlite')\n"
        "st.sample('regnetx', n=2, flops='1M:3M', resolution=16, stem='cifar', in_channels=1, num_classes=10)\n"
        "r = st.train(dataset='synthetic', resolution=16, train_size=64, test_size=32, batch_size=32, budget='1ep',\n"
        "             device='cpu', workers_per_device=2)\n"
        "print('done', r.done, r.failed, r.pending)\n")
    p = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines() == ["done 2 0 0"], (p.stdout, p.stderr)


def test_a_busy_machine_slows_the_estimate_by_the_cores_shared():
    from dse.analysis.cost import load_factor
    from dse.train.probe import RunnableMeter

    # timed with 1 thread beside 2 other threads on 2 cores (2/3 of a core each); run with 2 workers (1/2 each)
    assert load_factor(2, 2, 1, 2) == pytest.approx(0.5 / (2 / 3))
    assert load_factor(2, 0, 1, 2) == 1.0 and load_factor(16, 3, 1, 4) == 1.0
    with RunnableMeter() as m:
        sum(range(3_000_000))  # this thread runnable, and the meter's while it reads
    assert m.mean is None or m.mean >= 1


@pytest.mark.parametrize("module", ["dse.train.allocation", "dse.analysis.cost", "dse.train.probe", "dse.units",
                                    "dse.validate", "dse.params", "dse.serve.views", "dse.train.options",
                                    "dse.tasks", "dse.models.lowlevel", "dse.train.metrics"])
def test_the_examples_in_the_docstrings_run(module):
    import doctest
    import importlib

    r = doctest.testmod(importlib.import_module(module))
    assert r.attempted >= 1 and r.failed == 0
