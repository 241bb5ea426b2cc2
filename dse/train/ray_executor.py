"""`dse train --executor ray`: the same engine inside Ray actors; the driver owns the store.

The driver claims models from the SQLite store (with a lease that the same lease keeper as local workers,
``dse.train.lease.Leases``, extends), hands
each to an idle actor, and writes the per-epoch rows and the result when they come back, so the store
never has to sit on a shared file system. Actors are long-lived (one per slot: a GPU fraction, or a CPU),
load the dataset once from --data-dir on their own node, keep it on their device and train model after
model with ``dse.train.engine.train_model``. An actor or node that dies mid-model gets the model
retried on a fresh actor (bounded), then marked failed with the reason. Ctrl-C cancels the running
models and gives them back; a driver that dies leaves them to be reclaimed by the next run.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict

from dse.errors import DseError
from dse.store.db import Store, worker_id
from dse.train.allocation import GPU_WORKERS
from dse.train.lease import Leases
from dse.train.restore import DEFAULT_PATCH
from dse.train.worker import _reason, low_level, model_protocol, stored_size, trained_with


def _ray():
    try:
        import ray
    except ImportError:
        raise DseError("--executor ray needs Ray, an optional extra: pip install 'dse[ray]' "
                       "(or pip install ray)") from None
    return ray


class _Trainer:
    """One Ray actor: the dataset on its device, the engine, model after model."""

    def __init__(self, protocol, data_dir, graph, threads, low: bool = False):
        import torch

        from dse.train.engine import DeviceData
        from dse.train.restore import clean_for
        from dse.train.worker import load_data

        torch.set_num_threads(max(1, threads))
        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        if self.device == "cuda":
            torch.backends.cudnn.benchmark = False
        self.p, self.graph = protocol, graph
        self.dd = clean_for(protocol, data_dir) if low else DeviceData(load_data(protocol, data_dir), self.device,
                                                                       augment=protocol.augment)

    def where(self):
        import socket

        return {"pid": os.getpid(), "host": socket.gethostname(), "device": self.device}

    def train(self, arch: dict, seed: int, protocol=None, resolution: int | None = None, regime: dict | None = None,
              settings: dict | None = None):
        from dse.models.arch import Arch
        from dse.models.precision import Precision
        from dse.train.engine import train_model
        from dse.train.restore import train_restore_model
        from dse.train.worker import low_level

        t0 = time.time()
        if low_level([regime]):
            out = train_restore_model(Arch.from_dict(arch), regime, self.dd, protocol or self.p, seed=seed,
                                      device=self.device, graph=self.graph, log=lambda m: None,
                                      precision=Precision.of(settings))
        else:
            out = train_model(Arch.from_dict(arch), self.dd, protocol or self.p, seed=seed, graph=self.graph,
                              log=lambda m: None, resolution=resolution, precision=Precision.of(settings))
        return {"status": out.status, "error": out.error, "best_error": out.best_error, "epochs": out.epochs,
                "seconds": time.time() - t0, "reason": out.reason, "rows": [asdict(r) for r in out.rows],
                "device": self.device}


H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes([0, 0, 0, 4, 0, 0, 0, 0, 0])  # client preface + SETTINGS


def _speaks_grpc(host: str, port: int, timeout: float) -> str | None:
    """None when a server at host:port answers like a Ray head (gRPC: its first frame is an HTTP/2 SETTINGS
    frame), else why not."""
    import socket

    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            sock.sendall(H2_PREFACE)
            head = b""
            while len(head) < 9:
                chunk = sock.recv(9 - len(head))
                if not chunk:
                    break
                head += chunk
    except socket.timeout:
        return "it accepted the connection but did not answer"
    except OSError as e:
        return e.strerror or str(e)
    if len(head) == 9 and head[3] == 4:  # frame type 4: SETTINGS
        return None
    shown = head[:9].decode("ascii", "replace").strip() or "nothing"
    return f"something answers there, but not Ray (its first bytes: {shown!r})"


# a method each kind of Ray head serves, called with an empty request (a valid protobuf message): the GCS of
# `ray start --head` (HOST:6379) and the Ray Client server (ray://HOST:10001)
RAY_METHODS = {"gcs": "/ray.rpc.NodeInfoGcsService/GetClusterId", "client": "/ray.rpc.RayletDriver/ClusterInfo"}


def _hpack_literal(name: str, value: str) -> bytes:
    """One HPACK header field, literal without indexing, new name, no Huffman (RFC 7541 6.2.2)."""
    def string(s: str) -> bytes:
        b, n, out = s.encode(), len(s.encode()), bytearray()
        if n < 127:
            out.append(n)
        else:  # 7-bit prefix integer (RFC 7541 5.1)
            out.append(127)
            n -= 127
            while n >= 128:
                out.append(n % 128 + 128)
                n //= 128
            out.append(n)
        return bytes(out) + b
    return b"\x00" + string(name) + string(value)


def _frame(kind: int, flags: int, stream: int, payload: bytes = b"") -> bytes:
    return len(payload).to_bytes(3, "big") + bytes([kind, flags]) + stream.to_bytes(4, "big") + payload


def _grpc_status(block: bytes) -> int | None:
    """grpc-status from a HEADERS block when written as a literal (as gRPC's core writes it), else None."""
    i = block.find(b"grpc-status")
    if i < 0 or i + 12 >= len(block):
        return None
    n = block[i + 11] & 0x7F
    digits = block[i + 12:i + 12 + n]
    return int(digits) if block[i + 11] < 0x80 and digits.isdigit() else None


def _is_ray(host: str, port: int, client: bool, timeout: float) -> str | None:
    """None when the gRPC server at host:port serves Ray's own service (a Ray head), else why not. Two calls on
    one connection: a method of Ray's (stream 1) and a method no server has (stream 3). Any gRPC server answers
    the second UNIMPLEMENTED (status 12); a Ray head answers the first otherwise (a message, or a status such as
    UNAUTHENTICATED: Ray wants its cluster id), a server without Ray's service answers it like the second."""
    import socket

    path = RAY_METHODS["client" if client else "gcs"]

    def call(stream: int, method: str) -> bytes:
        headers = b"".join(_hpack_literal(k, v) for k, v in (
            (":method", "POST"), (":scheme", "http"), (":path", method), (":authority", f"{host}:{port}"),
            ("content-type", "application/grpc"), ("te", "trailers")))
        return _frame(1, 4, stream, headers) + _frame(0, 1, stream, b"\x00" * 5)  # HEADERS; DATA: an empty message

    request = H2_PREFACE + _frame(4, 0, 0) + call(1, path) + call(3, "/dse.NoSuchService/Probe")
    answers = {}  # {stream: "message" or its grpc-status}
    deadline = time.monotonic() + timeout
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(request)
            buf = b""
            while time.monotonic() < deadline and len(answers) < 2:
                sock.settimeout(max(0.05, deadline - time.monotonic()))
                chunk = sock.recv(65536)
                if not chunk:
                    break
                buf += chunk
                while len(buf) >= 9:
                    n, kind, flags = int.from_bytes(buf[:3], "big"), buf[3], buf[4]
                    stream = int.from_bytes(buf[5:9], "big") & 0x7FFFFFFF
                    if len(buf) < 9 + n:
                        break
                    payload, buf = buf[9:9 + n], buf[9 + n:]
                    if kind == 4 and not flags & 1:  # the server's SETTINGS: acknowledge them
                        sock.sendall(_frame(4, 1, 0))
                    elif kind == 0 and stream in (1, 3) and n > 0:  # a message: that method exists
                        answers.setdefault(stream, "message")
                    elif kind == 1 and stream in (1, 3) and flags & 1:  # the status that ends the call
                        answers.setdefault(stream, _grpc_status(payload))
                    elif kind == 3 and stream in (1, 3):  # RST_STREAM
                        answers.setdefault(stream, None)
                    elif kind == 7:  # GOAWAY
                        return "it refused Ray's request: not a Ray head"
    except socket.timeout:
        pass
    except OSError as e:
        return e.strerror or str(e)
    ray_, other = answers.get(1, "none"), answers.get(3, "none")
    if ray_ == "none":
        return "it accepted the connection but did not answer Ray's request"
    if ray_ == "message" or (isinstance(ray_, int) and ray_ != 12 and other == 12):
        return None
    return f"a gRPC server, but not a Ray head (Ray's {path.rsplit('/', 1)[1]} is not served there)"


def check_address(address, timeout: float = 5.0) -> None:
    """A HOST:PORT (or ray://HOST:PORT) address must answer like a Ray head (gRPC) within ``timeout`` seconds in
    all, name resolution included: Ray itself retries an unreachable or wrong one for minutes."""
    if not address or address in ("auto", "local"):
        return
    if not isinstance(address, str):
        raise DseError(f"--address must be auto or HOST:PORT, got {address!r}")
    hostport = address.split("://", 1)[-1]
    host, _, port = hostport.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise DseError(f"--address {address[:200]!r}: expected auto or HOST:PORT (e.g. 10.0.0.5:6379)")
    import threading

    why = ["no answer within %g s" % timeout]
    start = time.monotonic()

    def probe():
        h, p = host.strip("[]"), int(port)
        why[0] = _speaks_grpc(h, p, timeout)
        if why[0] is None:  # it speaks gRPC: is it Ray?
            why[0] = _is_ray(h, p, address.startswith("ray://"), max(0.5, timeout - (time.monotonic() - start)))

    t = threading.Thread(target=probe, daemon=True)  # a name that does not resolve can block far longer
    t.start()
    t.join(timeout + 0.5)
    if why[0] is not None:
        raise DseError(f"--address {address}: no Ray head answers there ({why[0]}); start one with `ray start "
                       f"--head` on that machine, or pass --address auto for the one on this machine")


def run_ray(db, sweeps, protocol, opts, progress, address=None, gpus_per_model=None, max_concurrent=None,
            max_retries: int = 2):
    """Train the pending models of ``sweeps`` on a Ray cluster (``address``) or a local Ray instance."""
    ray = _ray()
    from ray.exceptions import GetTimeoutError, RayActorError, RayTaskError

    check_address(address)
    try:
        ray.init(address=address, include_dashboard=False, log_to_driver=False,
                 logging_level="warning", ignore_reinit_error=True)
    except (ConnectionError, RuntimeError, ValueError) as e:
        raise DseError(f"cannot start or reach Ray ({'address ' + address if address else 'local instance'}): "
                       f"{e}. Start a head with `ray start --head` and pass --address auto or HOST:PORT") from None
    res = ray.cluster_resources()
    gpus, cpus = res.get("GPU", 0.0), res.get("CPU", 1.0)
    if gpus_per_model is None:
        k = opts.workers_per_device
        gpus_per_model = 1.0 / (k if isinstance(k, int) else GPU_WORKERS) if gpus else 0.0
    if gpus_per_model and not gpus:
        raise DseError(f"--gpus-per-model {gpus_per_model}: the Ray cluster has no GPUs")
    slots = int(gpus / gpus_per_model) if gpus_per_model else int(cpus)
    slots = max(1, min(slots, max_concurrent or slots))
    cpus_each = 1 if gpus_per_model else max(1, int(cpus // slots))
    Actor = ray.remote(_Trainer).options(num_gpus=gpus_per_model, num_cpus=cpus_each, max_restarts=0)

    with Store(db, create=False) as st:
        regimes = {n: st.sweep(n).regime or {} for n in sweeps}
    low = low_level(regimes.values())

    def new_actor():
        return Actor.remote(protocol, opts.data_dir, opts.graph, cpus_each, low)

    wid = worker_id()
    leases = Leases(db, wid, opts.lease_s)
    leases.start()
    progress.begin(slots, [f"ray ({int(cpus)} CPUs, {gpus:g} GPUs, {gpus_per_model:g} GPU per model)"])
    idle = [new_actor() for _ in range(slots)]
    inflight = {}
    store = Store(db, create=False)
    try:
        while True:
            while idle:
                m = store.claim(sweeps, wid, opts.lease_s, "ray")
                if m is None:
                    break
                try:  # a model's own settings can be out of range (an old store): it fails, it is never held
                    p, res = model_protocol(protocol, m)
                    store.reset_epochs(m.sweep, m.idx, wid, 0, trained=trained_with(
                        p, res, m, p.resolution or DEFAULT_PATCH if low else stored_size(protocol)))
                except Exception as e:  # noqa: BLE001 - one model's failure must not stop the driver
                    store.finish(m.sweep, m.idx, wid, "failed", reason=_reason(e), seconds=0.0)
                    progress.event("end", sweep=m.sweep, idx=m.idx, status="failed", error=None, seconds=0.0,
                                   reason=_reason(e))
                    continue
                a = idle.pop()
                fut = a.train.remote(m.arch.to_dict(), protocol.model_seed(m.idx), p, res, regimes.get(m.sweep),
                                     settings=m.settings)
                inflight[fut] = (a, m, time.time())
                leases.hold(m.sweep, m.idx)
                progress.event("start", sweep=m.sweep, idx=m.idx, device="ray", resume=0)
            if not inflight:
                break
            done, _ = ray.wait(list(inflight), num_returns=1, timeout=1.0)
            progress.poll()
            for fut in done:
                a, m, t0 = inflight.pop(fut)
                sweep, idx = m.sweep, m.idx
                leases.drop(sweep, idx)
                try:
                    r = ray.get(fut)
                except RayActorError as e:  # the actor's process or node died: retry on a fresh actor
                    why = str(e).strip().splitlines()[0][:300]
                    if m.attempts > max_retries:
                        store.finish(sweep, idx, wid, "failed", reason=f"worker died {m.attempts} times: {why}",
                                     seconds=time.time() - t0)
                    else:
                        store.release(sweep, idx, wid)
                        progress.log(f"{sweep}/{idx}: worker died ({why}); retrying")
                    ray.kill(a)
                    idle.append(new_actor())
                    continue
                except (RayTaskError, GetTimeoutError) as e:  # the model itself failed
                    cause = getattr(e, "cause", None) or e
                    reason = f"{type(cause).__name__}: {str(cause).strip().splitlines()[-1][:300]}"
                    store.finish(sweep, idx, wid, "failed", reason=reason, seconds=time.time() - t0)
                    progress.event("end", sweep=sweep, idx=idx, status="failed", error=None,
                                   seconds=time.time() - t0, reason=reason)
                    idle.append(a)
                    continue
                for row in r["rows"]:
                    store.add_epoch(sweep, idx, wid, row, opts.lease_s)
                store.finish(sweep, idx, wid, status=r["status"], error=r["error"], best_error=r["best_error"],
                             epochs=r["epochs"], seconds=r["seconds"],
                             reason=r["reason"], device=f"ray:{r['device']}")
                progress.event("end", sweep=sweep, idx=idx, status=r["status"], error=r["error"],
                               seconds=r["seconds"], reason=r["reason"])
                idle.append(a)
    except KeyboardInterrupt:
        for fut, (a, m, _) in inflight.items():
            ray.kill(a)  # actor tasks cannot be force-cancelled; killing the actor stops the model
            store.release(m.sweep, m.idx, wid)
        # a model claimed the moment Ctrl-C came (not yet, or no longer, in flight) is this driver's too
        for r in store.running(sweeps):
            if r["worker"] == wid:
                store.release(r["sweep"], r["idx"], wid)
        raise
    finally:
        leases.stop()
        store.close()
        ray.shutdown()
