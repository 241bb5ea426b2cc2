"""dse serve: the live page and its JSON, read-only beside training, and locked down (issue 31)."""

from __future__ import annotations

import json
import shutil
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

import dse
from conftest import cli, copy_study
from dse.serve.server import make_server, url_of
from conftest import digest as _digest

SAMPLE = ["--flops", "1M:3M", "--resolution", "16", "--stem", "cifar", "--num-classes", "10"]
SYN = ["--dataset", "synthetic", "--resolution", "16", "--train-size", "64", "--test-size", "32", "--batch-size", "32",
       "--budget", "1ep", "--device", "cpu", "--plain"]
XSS = "<script>alert(1)</script>"


@pytest.fixture(scope="module")
def trained(pair_dir, tmp_path_factory):
    """Sweeps a and b of 6 models each, trained 1 epoch on synthetic data (conftest.trained_pair)."""
    return copy_study(pair_dir, tmp_path_factory.mktemp("serve"))


@pytest.fixture
def store(trained, tmp_path):
    return copy_study(trained, tmp_path) / "dse.sqlite"


class Served:
    """A server on a free port in a thread; ``get(path)`` -> (status, headers, body bytes)."""

    def __init__(self, db, **kw):
        self.srv = make_server(db, port=0, **kw)
        self.host, self.port = self.srv.server_address[:2]
        self.thread = threading.Thread(target=self.srv.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
        self.thread.start()

    def get(self, path, method="GET", data=None, headers=None):
        req = urllib.request.Request(f"http://{self.host}:{self.port}{path}", method=method, data=data,
                                     headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, dict(r.headers), r.read()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read()

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


@pytest.fixture
def served(store):
    s = Served(store)
    yield s
    s.close()


def test_the_json_is_what_the_library_says(served, store):
    st = dse.Study(store)
    code, _, body = served.get("/api/status")
    assert code == 200
    status = json.loads(body)
    assert [x["sweep"] for x in status["sweeps"]] == ["a", "b"] and status["sweeps"][0]["done"] == 6
    assert status["sweeps"][0]["models_per_hour"] > 0 and status["sweeps"][0]["hours_left"] == 0.0
    code, _, body = served.get("/api/edf?sweeps=a,b")
    assert code == 200 and json.loads(body) == json.loads(json.dumps(st.edf(["a", "b"]).to_json()))
    code, headers, body = served.get("/api/edf.svg")
    assert code == 200 and headers["Content-Type"] == "image/svg+xml" and body.startswith(b"<svg")
    code, _, body = served.get("/api/power?sweeps=a,b&reps=200")
    assert code == 200 and json.loads(body)["pilot_n"] == [6, 6]
    code, _, body = served.get("/api/models?sweeps=a&status=done")
    rows = json.loads(body)["rows"]
    assert code == 200 and len(rows) == 6 and {r["sweep"] for r in rows} == {"a"}
    code, _, body = served.get("/api/model?sweeps=b&id=3")
    m = json.loads(body)
    assert code == 200 and m["id"] == 3 and len(m["epochs"]) == 1 and m["epochs"][0]["test_error"] == m["error"]
    code, _, body = served.get("/api/section/refine")
    assert code == 200 and b"log10 size" in body
    code, headers, body = served.get("/")
    # one script, dse's own (same origin, no CDN), and no inline script: the CSP allows none
    assert code == 200 and body.count(b"<script") == 1 and b'<script src="page.js"></script>' in body
    assert "default-src 'self'" in headers["Content-Security-Policy"]
    script_src = next(x for x in headers["Content-Security-Policy"].split(";") if "script-src" in x)
    assert "unsafe-inline" not in script_src
    code, headers, body = served.get("/page.js")
    assert code == 200 and headers["Content-Type"].startswith("text/javascript") and b"poll()" in body


def test_views_are_recomputed_only_when_the_store_changes(served, store):
    # the copied store may carry a WAL that the first reader's close checkpoints (a change of the files, not the
    # data): read once before taking the version
    served.get("/api/edf")
    v1 = json.loads(served.get("/api/version")[2])["version"]
    served.get("/api/edf")
    calls = []
    real = served.srv.views.study.edf
    served.srv.views.study.edf = lambda *a, **k: calls.append(1) or real(*a, **k)
    served.get("/api/edf")
    assert calls == [] and json.loads(served.get("/api/version")[2])["version"] == v1  # served from the cache
    dse.Study(store).set_results("a", {0: 1.5})  # another process writes
    assert json.loads(served.get("/api/version")[2])["version"] != v1
    assert json.loads(served.get("/api/edf")[2])["sweeps"]["a"]["min"] == 1.5 and calls == [1]


def test_user_strings_are_escaped(served, store):
    con = sqlite3.connect(store)
    con.execute("INSERT INTO sweeps (name, space_name, space, regime, seed, source, created, dse_version) "
                "SELECT ?, ?, space, regime, seed, source, created, dse_version FROM sweeps WHERE name = 'a'",
                (XSS, XSS))
    con.execute("UPDATE models SET sweep = ? WHERE sweep = 'b'", (XSS,))
    con.execute("UPDATE sweeps SET protocol = (SELECT protocol FROM sweeps WHERE name = 'a') WHERE name = ?", (XSS,))
    con.commit()
    con.close()
    code, _, body = served.get("/api/status")
    assert code == 200 and XSS.encode() not in body and b"\\u003cscript\\u003e" in body
    assert XSS in [x["sweep"] for x in json.loads(body)["sweeps"]]  # the same text, once parsed
    code, _, body = served.get("/api/section/summary")
    assert code == 200 and XSS.encode() not in body and b"&lt;script&gt;alert(1)&lt;/script&gt;" in body


def test_a_token_is_required_beyond_localhost(store):
    s = Served(store, host="127.0.0.2")  # any host but 127.0.0.1/localhost/::1 needs one: made here
    try:
        assert s.srv.token and len(s.srv.token) >= 16 and f"?token={s.srv.token}" in url_of(s.srv)
        assert s.get("/api/status")[0] == 403 and s.get("/")[0] == 403
        assert s.get("/api/status?token=wrong-token-xxxxxxxx")[0] == 403
        assert s.get(f"/api/status?token={s.srv.token}")[0] == 200
        assert s.get("/api/status", headers={"X-DSE-Token": s.srv.token})[0] == 200
    finally:
        s.close()
    from dse.errors import ParamError

    with pytest.raises(ParamError, match="token must be at least 16"):
        make_server(store, port=0, token="short")


@pytest.mark.parametrize("path,status", [
    ("/../../etc/passwd", 404), ("/%2e%2e/%2e%2e/etc/passwd", 404), ("/api/section/../../../etc/passwd", 404),
    ("/api/../dse.sqlite", 404), ("/dse.sqlite", 404), ("/api/nothing", 404),
    ("/api/power?sweeps=a", 400), ("/api/power?sweeps=a,b&reps=99999999", 400), ("/api/power?sweeps=a,b&reps=x", 400),
    ("/api/model?sweeps=a&id=x", 400), ("/api/model?sweeps=a&id=99", 400), ("/api/model?sweeps=a", 400),
    ("/api/models?status=zzz", 400), ("/api/edf?sweeps=nosuch", 400), ("/api/section/nosuch", 404),
    ("/api/status?" + "&".join(f"x{i}=1" for i in range(40)), 400)])
def test_bad_paths_and_parameters(served, store, path, status):
    before = _digest(store)
    code, headers, body = served.get(path)
    assert code == status and headers["Content-Type"] == "application/json", (path, code, body[:200])
    assert json.loads(body)["error"] and b"Traceback" not in body and b"root:" not in body
    assert _digest(store) == before


def test_writes_bodies_and_long_requests_are_refused(served):
    assert served.get("/api/status", method="POST", data=b"x")[0] == 405
    assert served.get("/api/status", method="DELETE")[0] == 405
    with socket.create_connection((served.host, served.port), timeout=10) as s:
        s.sendall(b"GET /api/status HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello")
        assert b" 413 " in s.recv(4096).split(b"\r\n")[0]
    with socket.create_connection((served.host, served.port), timeout=10) as s:
        s.sendall(b"GET /" + b"a" * 10_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        assert b" 414 " in s.recv(4096).split(b"\r\n")[0]


def test_a_missing_or_damaged_store_is_shown_and_recovers(tmp_path, trained):
    db = tmp_path / "later.sqlite"
    s = Served(db)
    try:
        code, _, body = s.get("/api/status")
        assert code == 503 and "no store at" in json.loads(body)["error"]
        db.write_bytes(b"this is not a store")
        code, _, body = s.get("/api/status")
        assert code == 503 and "not a dse store" in json.loads(body)["error"]
        db.unlink()
        src, dst = sqlite3.connect(trained / "dse.sqlite"), sqlite3.connect(db)
        src.backup(dst)  # a consistent copy (a plain file copy can miss what is still in the -wal file)
        dst.close()
        src.close()
        code, _, body = s.get("/api/status")
        assert code == 200 and json.loads(body)["sweeps"][0]["done"] == 6  # recovered, same server
    finally:
        s.close()


def test_a_flood_of_200_connections_does_not_stall_it(served, store):
    """100 clients that send half a request and wait, 100 that ask for the status at once: every real request is
    answered, and the server still answers afterwards; the store is unchanged."""
    before = _digest(store)
    slow = []
    for _ in range(100):
        c = socket.create_connection((served.host, served.port), timeout=10)
        c.sendall(b"GET /api/status HTTP/1.1\r\nHost: x\r\n")  # never finished
        slow.append(c)
    codes = []

    def one():
        codes.append(served.get("/api/version")[0])

    threads = [threading.Thread(target=one) for _ in range(100)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert codes.count(200) == 100 and time.monotonic() - t0 < 60
    for c in slow:
        c.close()
    assert served.get("/api/status")[0] == 200
    assert _digest(store) == before


def _cdp(port_file: Path, timeout=30):
    """The page's DevTools websocket (Chromium's remote debugging), once the browser is up."""
    import websocket

    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if port_file.exists() and port_file.read_text().strip():
            port = int(port_file.read_text().split()[0])
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=5) as r:
                    pages = [p for p in json.loads(r.read()) if p.get("type") == "page"]
                if pages:
                    return websocket.create_connection(pages[0]["webSocketDebuggerUrl"], timeout=30,
                                                       suppress_origin=True)
            except OSError:
                pass
        time.sleep(0.3)
    raise AssertionError("chromium's DevTools did not come up")


def _evaluate(ws, expr: str, counter=[0]):
    counter[0] += 1
    ws.send(json.dumps({"id": counter[0], "method": "Runtime.evaluate",
                        "params": {"expression": expr, "returnByValue": True}}))
    while True:
        msg = json.loads(ws.recv())
        if msg.get("id") == counter[0]:
            return msg["result"]["result"].get("value")


@pytest.mark.slow
def test_the_page_updates_itself_in_a_real_browser_while_training(trained, tmp_path):
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if not exe:
        pytest.skip("Debian chromium not installed (.ci/run installs it)")
    pytest.importorskip("websocket", reason="websocket-client (a test dependency) drives the browser")
    copy_study(trained, tmp_path)
    db = tmp_path / "dse.sqlite"
    con = sqlite3.connect(db)  # a hostile name, as another tool might write it: it must show as text
    con.execute("UPDATE sweeps SET space_name = ? WHERE name = 'b'", (XSS,))
    con.commit()
    con.close()
    code, _, err = cli(tmp_path, "sample", "--space", "anynet_a", "-n", "14", *SAMPLE, "--sweep", "a")
    assert code == 0, err
    exe_dse = Path(sys.executable).with_name("dse")
    server = subprocess.Popen([str(exe_dse), "serve", "--db", str(db), "--port", "0", "--heavy-every", "1",
                               "--priority", "normal"],
                              stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    browser = trainer = None
    try:
        line = server.stdout.readline()
        url = line.split(" at ", 1)[1].split(" ", 1)[0]
        browser = subprocess.Popen([exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                                    "--no-first-run", "--disable-background-networking", "--disable-component-update",
                                    "--disable-sync", "--remote-debugging-port=0",
                                    f"--user-data-dir={tmp_path / 'chr'}",
                                    "--window-size=1280,2000", url],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        ws = _cdp(tmp_path / "chr" / "DevToolsActivePort")
        history = "document.getElementById('history').textContent"
        t0 = time.monotonic()
        while not (_evaluate(ws, history) or "").strip() and time.monotonic() - t0 < 60:
            time.sleep(0.5)
        first = _evaluate(ws, history).strip().splitlines()
        assert first and "done 12" in first[-1], first
        trainer = subprocess.Popen([str(exe_dse), "train", "--db", str(db), *SYN], stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE, text=True)
        assert trainer.wait(240) == 0, trainer.stderr.read()
        t0 = time.monotonic()
        while "done 20" not in (_evaluate(ws, history) or "") and time.monotonic() - t0 < 120:
            time.sleep(0.5)
        lines = _evaluate(ws, history).strip().splitlines()
        shown = _evaluate(ws, "document.getElementById('err').textContent + ' | ' + "
                              "document.getElementById('sub').textContent")
        assert "done 20" in lines[-1], (lines, shown)  # the page saw the new models without a reload
        sizes = {x.split(" edf ")[1] for x in lines}
        assert len(sizes) >= 2, lines  # and redrew the EDF
        assert _evaluate(ws, "document.querySelectorAll('script').length") == 1  # the name did not become a script
        assert XSS in _evaluate(ws, "document.body.innerText")  # it shows as text
        assert _evaluate(ws, "performance.getEntriesByType('navigation').length") == 1  # never reloaded
    finally:
        for p in (trainer, browser, server):
            if p and p.poll() is None:
                p.terminate()
                p.wait(10)


def test_the_page_lists_nothing_of_its_own(served):
    """The statuses and the report's sections the page shows come from their registries (/api/meta), not from the
    page's script: a section's title is the report's, and no status name is typed in the script or the HTML."""
    from dse.api.report import SECTIONS
    from dse.validate import STATUSES

    code, _, body = served.get("/api/meta")
    meta = json.loads(body)
    assert code == 200 and meta["statuses"] == list(STATUSES)
    assert meta["sections"] == [{"id": x.id, "title": x.title, "live": x.live} for x in SECTIONS if x.live]
    assert {x["live"] for x in meta["sections"]} == {"live", "demand"}
    page = served.get("/")[2] + served.get("/page.js")[2]
    for word in (*STATUSES[:1], *STATUSES[3:], *(x.title for x in SECTIONS if x.live)):
        assert word.encode() not in page, word
    code, headers, css = served.get("/page.css")
    assert code == 200 and headers["Content-Type"].startswith("text/css") and b"#err" in css


def test_a_new_view_is_one_table_entry(served, monkeypatch):
    """A view is one entry of dse.serve.views.ROUTES; its declared query parameters are checked by their Checks
    (a bad value: 400 naming it)."""
    from dse.params import Int
    from dse.serve.views import ROUTES, View

    monkeypatch.setitem(ROUTES, "/api/toy", View("application/json", lambda v, q, rest: {
        "n": q.get("n", 1), "sweeps": len(v.study.sweeps())}, {"n": Int(1, 9)}))
    assert json.loads(served.get("/api/toy?n=3")[2]) == {"n": 3, "sweeps": 2}
    code, _, body = served.get("/api/toy?n=10")
    assert code == 400 and "n must be an integer >= 1 and <= 9" in json.loads(body)["error"]
    assert served.get("/api/toy?n=x")[0] == 400


def test_a_view_that_reads_another_while_the_store_changes_does_not_deadlock(store):
    """A section reads the progress view inside its own computation; the store changing in between must not
    make the server wait on itself."""
    from dse.serve import Views

    v = Views(dse.Study(store, create=False))
    done = []

    def outer():
        dse.Study(store).set_results("a", {0: 2.5})  # another process writes: the version changes meanwhile
        return v.progress()["sweeps"][0]["best_error"]

    t = threading.Thread(target=lambda: done.append(v.get(("outer",), outer, heavy=True)), daemon=True)
    t.start()
    t.join(30)
    assert done == [2.5]


def _raw(served, data: bytes) -> bytes:
    """Send ``data`` as it is and read the whole answer."""
    with socket.create_connection((served.host, served.port), timeout=10) as c:
        c.sendall(data)
        out = b""
        while chunk := c.recv(65536):
            out += chunk
    return out


@pytest.mark.parametrize("host, code", [("attacker.example", 403), ("attacker.example:{port}", 403),
                                        ("127.0.0.1:{port}", 200), ("localhost:{port}", 200), ("[::1]:{port}", 200),
                                        ("localhost:1", 403), ("127.0.0.1.evil.example", 403)])
def test_without_a_token_only_requests_for_localhost_are_answered(served, host, code):
    """DNS rebinding: a page elsewhere whose name resolves to 127.0.0.1 sends its own name as Host."""
    got, _, body = served.get("/api/models", headers={"Host": host.format(port=served.port)})
    assert got == code, body
    if code == 403:
        assert "Host" in json.loads(body)["error"]


def test_with_a_token_any_host_is_answered_with_the_token(store):
    s = Served(store, token="t" * 24)
    try:
        assert s.get(f"/api/version?token={'t' * 24}", headers={"Host": "dse.example:80"})[0] == 200
        assert s.get("/api/version", headers={"Host": "dse.example:80"})[0] == 403
    finally:
        s.close()


@pytest.mark.parametrize("method", ["TRACE", "CONNECT", "BREW", "PROPFIND"])
def test_every_other_method_gets_the_json_405(served, method):
    out = _raw(served, f"{method} /api/status HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    head, _, body = out.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.0 405") or head.startswith(b"HTTP/1.1 405"), out[:200]
    assert json.loads(body)["status"] == 405


def test_a_chunked_body_is_refused(served):
    out = _raw(served, b"GET /api/status HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n"
                       b"Connection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
    assert b" 413 " in out.split(b"\r\n")[0] and b"no body" in out


def test_the_printed_url_quotes_the_token(store):
    token = "a&b#c%d+e/f?g=h!ijklmnop"
    s = Served(store, token=token)
    try:
        url = url_of(s.srv)
        assert "&b" not in url and "#" not in url and url.endswith("?token=a%26b%23c%25d%2Be%2Ff%3Fg%3Dh%21ijklmnop")
        with urllib.request.urlopen(url.replace("/?", "/api/version?"), timeout=10) as r:
            assert r.status == 200
    finally:
        s.close()


def test_make_server_refuses_what_is_no_store_path():
    from dse.errors import ParamError

    for bad in (None, 5, ""):
        with pytest.raises(ParamError, match="db"):
            make_server(bad, port=0)


def test_ipv6_loopback_is_served(store):
    if not socket.has_ipv6:
        pytest.skip("no IPv6 here")
    try:
        s = Served(store, host="::1")
    except dse.DseError as e:
        pytest.skip(f"::1 cannot be bound here: {e}")
    try:
        with urllib.request.urlopen(f"http://[::1]:{s.port}/api/version", timeout=10) as r:
            assert r.status == 200
    finally:
        s.close()


_TRICKLE = r"""
import resource, sys, threading
resource.setrlimit(resource.RLIMIT_NOFILE, (1024, 1024))
from dse.serve.server import make_server
srv = make_server(sys.argv[1], port=0)
print(srv.server_address[1], flush=True)
srv.serve_forever(poll_interval=0.1)
"""


@pytest.mark.slow
def test_a_thousand_trickling_clients_do_not_stop_it(store, tmp_path):
    """1,100 clients each sending a header byte at a time, under a 1,024 open-files limit: a normal client is still
    answered within 2 s, and the server prints no traceback."""
    (tmp_path / "srv.py").write_text(_TRICKLE)
    p = subprocess.Popen([sys.executable, str(tmp_path / "srv.py"), str(store)], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        port = int(p.stdout.readline())
        clients, stop = [], threading.Event()
        for _ in range(1100):
            try:
                c = socket.create_connection(("127.0.0.1", port), timeout=5)
                c.setblocking(False)
                clients.append(c)
            except OSError:
                pass

        def trickle():
            line = b"GET /api/status HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 100
            i = 0
            while not stop.is_set() and i < len(line):
                for c in clients:
                    try:
                        c.send(line[i:i + 1])
                    except OSError:
                        pass
                i += 1
                stop.wait(1.0)

        t = threading.Thread(target=trickle, daemon=True)
        t.start()
        time.sleep(2)
        for _ in range(3):
            t0 = time.monotonic()
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/version", timeout=10) as r:
                assert r.status == 200
            assert time.monotonic() - t0 < 2.0
            time.sleep(1)
        stop.set()
        t.join()
        for c in clients:
            c.close()
        assert len(clients) >= 1000
    finally:
        p.terminate()
        _, err = p.communicate(timeout=30)
    assert "Traceback" not in err, err[-2000:]
