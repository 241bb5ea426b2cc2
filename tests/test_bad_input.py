"""Bad input (issue 13, the numbers and hangs part): each case is a command, its expected exit code 2 and a
fragment of the message; the store's content is unchanged after every failing command."""

import hashlib
import sqlite3

import pytest

SAMPLE = ["--flops", "1M:3M", "--resolution", "28", "--stem", "cifar", "--in-channels", "1", "--num-classes", "10"]
SYN = ["--dataset", "synthetic", "--resolution", "16", "--train-size", "64", "--test-size", "16"]

CASES = [
    (["sample", "--space", "regnetx", "-n", "1000000000", *SAMPLE, "--sweep", "big"], "from 1 to 1,000,000"),
    (["sample", "--space", "regnetx", "-n", "3", "--seed", "9223372036854775808", *SAMPLE, "--sweep", "s2"],
     "--seed must be an integer from 0 to 2^63-1"),
    (["sample", "--space", "regnetx", "-n", "3", "--max-params", "inf", *SAMPLE, "--sweep", "s3"], "--max-params"),
    (["train", *SYN, "--lr", "inf"], "--lr must be a finite number > 0"),
    (["train", *SYN, "--lr", "1e400"], "--lr must be a finite number > 0"),
    (["train", *SYN, "--lr", "nan"], "--lr must be a finite number > 0"),
    (["train", *SYN, "--momentum", "2"], "--momentum must be a finite number >= 0 and < 1"),
    (["train", *SYN, "--weight-decay", "inf"], "--weight-decay must be a finite number >= 0"),
    (["train", *SYN, "--weight-decay", "-1"], "--weight-decay must be a finite number >= 0"),
    (["train", *SYN, "--budget", "100000000000000000000ep"], "at most 100,000 epochs"),
    (["train", *SYN, "--budget", "10000000000it"], "at most 1,000,000,000 steps"),
    (["train", *SYN, "--workers-per-gpu", "64", "--device", "cpu"], "--workers-per-gpu must be from 1 to"),
    (["train", *SYN, "--seed", "9223372036854775808"], "--seed must be an integer from 0 to 2^63-1"),
    (["train", *SYN, "--batch-size", "100000000"], "--batch-size must be an integer >= 1 and <= 65536"),
    (["bootstrap", "--param", "depth", "--seed", "-1"], "--seed must be an integer from 0"),
    (["bootstrap", "--param", "depth", "--n-boot", "10000000000"], "--n-boot must be an integer >= 1"),
    (["bootstrap", "--param", "depth", "--ci", "nan"], "--ci must be a finite number"),
    (["bootstrap", "--param", "depth", "--frac", "inf"], "--frac must be a finite number"),
    (["budget-check", "--sweep", "s", "--factors", "inf"], "each factor must be > 1"),
    (["plot", "rank", "--x", "lr", "--good", "nan"], "--good"),
]


def _digest(db) -> str:
    """A hash of every table's rows (the store's content)."""
    con = sqlite3.connect(db)
    h = hashlib.sha256()
    for (t,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"):
        for row in con.execute(f"SELECT * FROM {t} ORDER BY 1, 2"):
            h.update(repr(row).encode())
    con.close()
    return h.hexdigest()


@pytest.fixture
def store(run, tmp_path):
    code, _, err = run("sample", "--space", "regnetx", "-n", "3", *SAMPLE, "--sweep", "s")
    assert code == 0, err
    return tmp_path / "dse.sqlite"


@pytest.mark.parametrize("args, fragment", CASES, ids=[" ".join(a[:1] + a[-2:]) for a, _ in CASES])
def test_bad_input_exits_2_and_changes_nothing(run, store, args, fragment):
    before = _digest(store)
    code, out, err = run(*args)
    assert code == 2, (out, err)
    assert fragment in err and "Traceback" not in err, err
    assert _digest(store) == before
