"""Bad input to the newer surfaces, each refused naming what is wrong: repeated baselines, a sweep that is no
reference network, NaN pilots, a sequential test without looks, a store in a read-only folder."""

import sqlite3

import numpy as np
import pytest

import dse
from conftest import cli, copy_study
from dse.errors import DseError, ParamError


@pytest.fixture(scope="module")
def pair(pair_dir, tmp_path_factory):
    return copy_study(pair_dir, tmp_path_factory.mktemp("refusals"))


def test_a_baseline_named_three_ways_is_timed_once(pair, tmp_path):
    from conftest import copy_study

    db = copy_study(pair, tmp_path) / "dse.sqlite"
    st = dse.Study(db)
    refs = st._baselines("resnet56,RESNET56, resnet56", ["a"])
    assert refs == ["resnet56@16px"]
    with sqlite3.connect(db) as c:
        assert [r for (r,) in c.execute("SELECT name FROM sweeps WHERE source = 'reference'")] == ["resnet56@16px"]


def test_edf_reference_must_be_a_reference_network(pair, tmp_path):
    from conftest import copy_study

    db = copy_study(pair, tmp_path) / "dse.sqlite"
    code, _, err = cli(tmp_path, "edf", "--compare", "a", "b", "--reference", "a", "--db", db)
    assert code == 2 and "--reference 'a' is a sampled sweep, not a reference network" in err


def test_power_refuses_a_nan_pilot_and_a_sequential_test_without_looks():
    from dse.analysis.power import power_analysis, sequential_decision

    good = np.arange(10.0)
    with pytest.raises(ParamError, match="finite"):
        power_analysis(np.r_[good[:9], np.nan], good)
    with pytest.raises(ParamError, match="max_n must be an integer >= 1"):
        sequential_decision([good], [good + 1], max_n=0)
    with pytest.raises(ParamError, match="finite"):
        sequential_decision([np.r_[good, np.inf]], [good], max_n=20)


def test_a_store_in_a_read_only_folder_says_why(tmp_path, monkeypatch):
    """(root ignores file modes, so the folder's answer is given by monkeypatch; SQLite refuses as it would)"""
    import os

    from dse.store import db as dbmod

    folder = tmp_path / "ro"
    folder.mkdir()
    real = os.access
    monkeypatch.setattr(dbmod.os, "access", lambda p, m: False if str(p) == str(folder) else real(p, m))

    def refuse(self, target, uri=False):
        raise sqlite3.OperationalError("unable to open database file")

    monkeypatch.setattr(dbmod.Store, "_connect", refuse)
    with pytest.raises(DseError, match=r"its folder .*ro is read-only for this user \(no write permission\)"):
        dbmod.Store(folder / "s.sqlite")
    assert not (folder / "s.sqlite").exists()
