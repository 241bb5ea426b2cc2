"""Progress of a training run: a live table on a terminal, plain log lines otherwise."""

from __future__ import annotations

import sys
import time

from dse.store.db import Store


def _dur(s: float) -> str:
    s = int(max(0, s))
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


class Progress:
    """Models done/total, the running models' epochs, aggregate images/s and an ETA, read from the store."""

    def __init__(self, db, sweeps, epochs_total: int, live: bool | None = None, out=None, log=None):
        self.store = Store(db, create=False)
        self.sweeps, self.E = list(sweeps), epochs_total
        self.out = out or sys.stdout
        self.live = self.out.isatty() if live is None else live
        self.t0 = time.time()
        self.finished_before = self._finished()
        self._live = None
        self._last_line = 0.0
        self._last_finished = self.finished_before
        self.workers = 1
        self._within, self._last_step = {}, 0.0
        self._rate, self._last_rate = {}, None  # img/s of the models this process trains, and of the last one
        self._seen_rate = None  # the last aggregate the store showed (worker processes report through it only)
        self._log = log
        from dse.tasks import task_of

        self.tasks = {n: task_of(self.store.sweep(n).regime) for n in self.sweeps}  # how each sweep's results read

    def _counts(self):
        c = self.store.status_counts()
        tot = {k: sum(c[s][k] for s in self.sweeps if s in c) for k in ("pending", "running", "done", "failed",
                                                                        "diverged")}
        return tot

    def _finished(self):
        c = self._counts()
        return c["done"] + c["failed"] + c["diverged"]

    def summary(self) -> str:
        c = self._counts()
        total = sum(c.values())
        fin = c["done"] + c["failed"] + c["diverged"]
        run = self.store.running(self.sweeps)
        ips = sum(r["images_per_s"] or 0 for r in run)
        if ips:
            self._seen_rate = ips
        elif self._last_rate or self._seen_rate:  # between two models (or before a first epoch): the last rate seen
            ips = self._last_rate or self._seen_rate
        new = fin - self.finished_before
        el = time.time() - self.t0
        eta = "?"
        if new > 0:
            eta = _dur(el / new * (c["pending"] + c["running"]))
        bad = f", {c['failed']} failed, {c['diverged']} diverged" if c["failed"] or c["diverged"] else ""
        return (f"{fin}/{total} models done{bad} | {len(run)} running, {c['pending']} pending | {ips:,.0f} img/s "
                f"| elapsed {_dur(el)} | ETA {eta}")

    def begin(self, workers, devices):
        self.workers = workers
        self.log(f"training with {workers} worker(s) on {', '.join(devices)}")
        if self.live:
            from rich.console import Console
            from rich.live import Live

            self._live = Live(self._render(), console=Console(file=self.out), refresh_per_second=2, transient=False)
            self._live.start()

    def _render(self):
        from rich.console import Group
        from rich.table import Table
        from rich.text import Text

        t = Table(show_edge=False)
        for c in ("sweep", "id", "epoch", "img/s", "device"):
            t.add_column(c, justify="left" if c in ("sweep", "device") else "right")
        for r in self.store.running(self.sweeps):
            frac = self._within.get((r["sweep"], r["idx"]))
            within = f" +{100 * frac:.0f}%" if frac else ""
            t.add_row(r["sweep"], str(r["idx"]), f"{r['epochs'] or 0}/{self.E}{within}",
                      f"{r['images_per_s'] or 0:,.0f}", r["device"] or "")
        return Group(Text(self.summary(), style="bold"), t)

    def event(self, kind, **kw):
        """From an in-process worker: start/step/epoch/end of a model."""
        if kind == "step":
            self._within[(kw["sweep"], kw["idx"])] = kw["frac"]
            if not self.live or time.time() - self._last_step < 0.5:
                return
            self._last_step = time.time()
        elif kind in ("epoch", "end"):
            self._within.pop((kw["sweep"], kw["idx"]), None)
            if kind == "epoch":
                self._rate[(kw["sweep"], kw["idx"])] = kw["row"].images_per_s
            elif (kw["sweep"], kw["idx"]) in self._rate:
                self._last_rate = self._rate.pop((kw["sweep"], kw["idx"]))
        if self.live:
            self._live.update(self._render())
            return
        name = f"{kw.get('sweep')}/{kw.get('idx')}"
        if kind == "epoch":
            r, m, low = kw["row"], self._metric(kw.get("sweep")), self._low(kw.get("sweep"))
            self._print(f"{name} epoch {r.epoch}/{kw.get('epochs') or self.E}: loss {r.train_loss:.3f}, train "
                        f"{m.fmt(r.train_error, 1)}, {'validation' if low else 'test'} {m.fmt(r.test_error)}, "
                        f"{r.images_per_s:,.0f} {'patches' if low else 'img'}/s")
        elif kind == "end":
            m = self._metric(kw.get("sweep"))
            res = f"{m.name} {m.fmt(kw['error'])}" if kw.get("error") is not None else kw["status"]
            why = f" ({kw['reason']})" if kw.get("reason") else ""
            self._print(f"{name} {kw['status']}: {res}{why} in {kw['seconds']:.1f} s | {self.summary()}")
            self._last_finished = self._finished()
        elif kind == "start" and kw.get("resume"):
            self._print(f"{name} resumes after epoch {kw['resume']} (checkpoint)")

    def _metric(self, sweep):
        from dse.tasks import ERROR

        t = self.tasks.get(sweep)
        return t.metric if t else ERROR

    def _low(self, sweep) -> bool:
        t = self.tasks.get(sweep)
        return bool(t and t.low_level)

    def poll(self):
        """From the parent of worker processes: refresh the display, or print a line on change."""
        if self.live:
            self._live.update(self._render())
            return
        fin = self._finished()
        now = time.time()
        if fin != self._last_finished or now - self._last_line > 30:
            self._last_finished = fin
            self._print(self.summary())

    def _print(self, line):
        self._last_line = time.time()
        print(line, file=self.out, flush=True)

    def log(self, msg):
        if self._log is not None:
            self._log(msg)
        elif self._live is not None:
            self._live.console.print(msg)
        else:
            print(msg, file=sys.stderr, flush=True)

    def close(self):
        if self._live is not None:
            self._live.update(self._render())
            self._live.stop()
        self.store.close()
