"""The timings of a store: each model's measured milliseconds per batch on a device (with the spread of the
repeats), and the time fits ``dse speed`` stores per device, mode and batch. A part of ``Store``."""

from __future__ import annotations

import json
from datetime import datetime, timezone

from dse.errors import StoreDamaged
from dse.store.decode import salvage
from dse.store.records import SpeedRecord
from dse.validate import is_number


class Speeds:
    """Speed measurements and time fits (mixed into ``Store``)."""

    def add_speed(self, sweep: str, idx: int, device: str, mode: str, batch: int, ms: float, torch_version: str,
                  c=None, spread: float | None = None):
        """Store one timing (replacing an earlier one of the same model, device, mode and batch) with the spread of
        its repeats; ``c``: inside a write transaction already open."""
        row = (sweep, idx, device, mode, int(batch), float(ms), torch_version,
               datetime.now(timezone.utc).isoformat(timespec="seconds"), None if spread is None else float(spread))
        q = ("INSERT OR REPLACE INTO speeds (sweep, idx, device, mode, batch, ms, torch, measured, spread) "
             "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")
        if c is not None:
            c.execute(q, row)
            return
        with self.write() as c:
            c.execute(q, row)

    def speeds(self, sweeps, device: str | None = None, mode: str | None = None,
               batch: int | None = None) -> list[SpeedRecord]:
        """Timings of the models of ``sweeps`` (optionally of one device, mode, batch), by sweep and model."""
        out = []
        for s in sweeps:
            q, args = "SELECT * FROM speeds WHERE sweep = ?", [s]
            for k, v in (("device", device), ("mode", mode), ("batch", batch)):
                if v is not None:
                    q += f" AND {k} = ?"
                    args.append(v)
            for r in self.con.execute(q + " ORDER BY idx, device, mode, batch", args):
                if not (is_number(r["ms"]) and r["ms"] > 0 and isinstance(r["batch"], int)):
                    raise StoreDamaged(f"{self.path} is damaged: sweep {s!r}, model {r['idx']}: a timing holds "
                                       f"{r['ms']!r} ms at batch {r['batch']!r}. {salvage(self.path)}")
                out.append(SpeedRecord(**dict(r)))
        return out

    def speed_devices(self) -> list[tuple[str, int]]:
        """(device, number of timings) of every device measured, most measured first."""
        return [(r[0], r[1]) for r in self.con.execute(
            "SELECT device, COUNT(*) AS n FROM speeds GROUP BY device ORDER BY n DESC, device")]

    def set_speed_fit(self, device: str, mode: str, batch: int, model: dict) -> None:
        with self.write() as c:
            c.execute("INSERT OR REPLACE INTO speed_fits VALUES (?, ?, ?, ?)",
                      (device, mode, int(batch), json.dumps(model, sort_keys=True)))

    def speed_fits(self) -> list[dict]:
        return [{"device": r[0], "mode": r[1], "batch": r[2], **self._fit_json(r[3])}
                for r in self.con.execute("SELECT device, mode, batch, model FROM speed_fits ORDER BY device")]

    def _fit_json(self, raw) -> dict:
        try:
            d = json.loads(raw)
            if not (isinstance(d, dict) and len(d.get("coef") or ()) == 2 and all(map(is_number, d["coef"]))
                    and is_number(d.get("intercept"))):
                raise ValueError("not a fit {coef: [a, b], intercept: c}")
            return d
        except (ValueError, TypeError) as e:
            raise StoreDamaged(f"{self.path} is damaged: a stored speed fit does not decode ({e}); run dse speed "
                               f"again to replace it") from None
