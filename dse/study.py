"""The public API: a study is one store of sweeps and everything done with them, from a notebook or the CLI.

    >>> import dse
    >>> study = dse.Study("dse.sqlite")                                         # doctest: +SKIP
    >>> study.sample("anynet_e", n=100, flops="2M:8M", resolution=28, stem="cifar", in_channels=1,
    ...              num_classes=10)                                            # doctest: +SKIP
    >>> study.train(budget="2ep", train_size=5000)                              # doctest: +SKIP
    >>> study.models()            # a pandas DataFrame, one row per model       # doctest: +SKIP
    >>> study.edf(["anynet_a", "anynet_e"]).plot()                              # doctest: +SKIP

Every ``dse`` command calls exactly these methods; their results are typed objects (``dse.analysis``)
with ``to_frame()``, ``plot(ax=None)`` and ``to_json()`` (what ``--json`` prints).

``Study`` is a facade: each topic lives in its own module of ``dse.api`` (sampling, training, speed, data,
analyses, planning, report), and this class puts them behind one front door.
"""

from __future__ import annotations

from dse.api.analyses import Analyses
from dse.api.common import StudyBase
from dse.api.data import Data, SweepStatus
from dse.api.findings import Findings
from dse.api.planning import Planning
from dse.api.report import Reporting
from dse.api.sampling import Sampling
from dse.api.speed import Speed
from dse.api.training import RunOptions, Training, TrainSummary
from dse.validate import STATUSES


class Study(Sampling, Training, Speed, Data, Analyses, Findings, Planning, Reporting, StudyBase):
    """One store (an SQLite file) of sweeps: sample, train, read populations, analyse, report.

    ``Study(path)`` opens the store, creating it on the first write (``create=False``: it must exist).

    >>> Study("s.sqlite")
    Study('s.sqlite')
    """


__all__ = ["STATUSES", "RunOptions", "Study", "SweepStatus", "TrainSummary"]
