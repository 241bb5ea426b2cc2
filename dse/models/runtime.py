"""Runtime predicted from complexity: ms = sum(coef_i * term_i) + intercept, the least-squares fit that
``dse speed`` stores (``dse.analysis.speed.fit_speed`` makes it) and ``dse sample --max-ms`` predicts with.

    >>> f = SpeedFit(("flops", "acts"), [1e-8, 1e-6], 0.5, 1.0)
    >>> float(f.predict({"flops": 4e8, "acts": 2e6}))
    6.5
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class SpeedFit:
    """ms = sum(coef_i * term_i) + intercept, least squares, with its coefficient of determination R^2."""

    terms: tuple
    coef: list
    intercept: float
    r2: float

    def predict(self, cx: dict) -> np.ndarray:
        """The predicted ms of models with complexity ``cx`` ({term: array}); the one prediction dse makes."""
        return sum(c * np.asarray(cx[t], dtype=np.float64) for c, t in zip(self.coef, self.terms)) + self.intercept

    def to_json(self) -> dict:
        return {"terms": list(self.terms), "coef": list(self.coef), "intercept": self.intercept, "r2": self.r2}

    @classmethod
    def from_json(cls, d: dict) -> "SpeedFit":
        """A stored fit (or a regime's ``ms_cap``); fits stored before ``terms`` was kept are flops + acts."""
        return cls(tuple(d.get("terms") or ("flops", "acts")), list(d["coef"]), float(d["intercept"]),
                   float(d.get("r2", float("nan"))))
