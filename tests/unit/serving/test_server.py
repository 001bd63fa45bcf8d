"""The model server over real loopback sockets: SageMaker's /ping and /invocations, its error statuses, and the
guarantees that keep one client from hurting another."""

from __future__ import annotations

import io
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.linear_model import Ridge

from smflow.local_sagemaker.containers.transform import run_transform_job
from smflow.local_sagemaker.store import LocalStore
from smflow.serving.handler import load_handler
from smflow.serving.server import ModelLoadError, start_in_thread
from tests.unit.serving.conftest import FEATURES, csv_rows, invoke, request, server_config, write_model

IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
SLOW_OR_FAILING = """
import time
import numpy as np

def model_fn(model_dir):
    return None

def predict_fn(data, model):
    if data[0][0] < 0:
        raise RuntimeError("the model refuses negative first features")
    if data[0][0] > 100:
        time.sleep(float(data[0][0]) / 1000)  # 100+ ms: a slow model
    return data.sum(axis=1)
"""


def rows(count: int, seed: int = 3) -> np.ndarray:
    return np.round(np.random.default_rng(seed).normal(size=(count, FEATURES)), 6)


def single(ridge_dir: Path) -> dict[str, Any]:
    return {"containers": [{"name": "ridge", "model_dir": str(ridge_dir)}]}


def test_ping_and_csv_json_npy_round_trips_equal_the_handler_and_the_batch_transform(
    start: Any, ridge_dir: Path, ridge: Ridge, tmp_path: Path
) -> None:
    server = start(**single(ridge_dir))
    ping = request(server.port, "GET", "/ping")
    assert (ping.status, ping.body) == (200, b"")
    handler = load_handler(ridge_dir)
    data = rows(6)

    csv = invoke(server.port, csv_rows(data))
    assert (csv.status, csv.headers["content-type"]) == (200, "text/csv")
    assert (csv.body, "text/csv") == handler.invoke(csv_rows(data), "text/csv", "text/csv")
    assert np.allclose(np.array(csv.body.split(), dtype=float), ridge.predict(data.astype(np.float32)))

    as_json = invoke(server.port, json.dumps(data.tolist()).encode(), "application/json", "application/json")
    assert as_json.status == 200
    assert as_json.body == handler.invoke(json.dumps(data.tolist()).encode(), "application/json", "application/json")[0]
    buffer = io.BytesIO()
    np.save(buffer, data)
    npy = invoke(server.port, buffer.getvalue(), "application/x-npy", "application/x-npy")
    assert (npy.status, npy.headers["content-type"]) == (200, "application/x-npy")
    assert np.array_equal(np.load(io.BytesIO(npy.body)), ridge.predict(data))
    no_accept = invoke(server.port, csv_rows(data[:1]), accept=None)  # the container default: JSON
    assert (no_accept.status, no_accept.headers["content-type"]) == (200, "application/json")

    # The batch transform of the same rows (one request per record) answers line for line what the server does.
    store = LocalStore(tmp_path / "store")
    store.upload_tar(ridge_dir, "s3://bucket/model/model.tar.gz")
    store.write_bytes("s3://bucket/in/rows.csv", csv_rows(data))
    model = {"ModelName": "ridge", "PrimaryContainer": {"Image": IMAGE, "ModelDataUrl": "s3://bucket/model/model.tar.gz"}}
    transform = {"TransformJobName": "t", "ModelName": "ridge", "BatchStrategy": "SingleRecord",
                 "TransformInput": {"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://bucket/in/"}},
                                    "ContentType": "text/csv", "SplitType": "Line"},
                 "TransformOutput": {"S3OutputPath": "s3://bucket/out", "Accept": "text/csv", "AssembleWith": "Line"},
                 "TransformResources": {"InstanceType": "ml.m5.large", "InstanceCount": 1}}
    run_transform_job(transform, model, store, tmp_path / "job", io.StringIO())
    batch = store.read_bytes("s3://bucket/out/rows.csv.out").decode().splitlines()
    real_time = [invoke(server.port, csv_rows(data[i:i + 1])).body.decode().strip() for i in range(len(data))]
    assert batch == real_time


def test_errors_answer_with_a_status_and_a_message_and_the_server_keeps_serving(start: Any, tmp_path: Path) -> None:
    model_dir = write_model(tmp_path / "model", source=SLOW_OR_FAILING)
    server = start(containers=[{"name": "m", "model_dir": str(model_dir)}], max_payload_bytes=1000)
    good = b"1,2,3,4\n"

    def still_serving() -> None:
        answer = invoke(server.port, good)
        assert (answer.status, answer.body) == (200, b"10.0\n")

    answers = {
        "unsupported": invoke(server.port, good, "application/xml"),
        "bad accept": invoke(server.port, good, accept="image/png"),
        "ragged csv": invoke(server.port, b"1,2,3\n1,2\n"),
        "text csv": invoke(server.port, b"a,b,c,d\n"),
        "bad json": invoke(server.port, b"[1, 2", "application/json"),
        "handler raises": invoke(server.port, b"-1,2,3,4\n"),
        "too large": invoke(server.port, b"1," * 600),
        "no route": request(server.port, "GET", "/nowhere"),
        "wrong method": request(server.port, "GET", "/invocations"),
    }
    statuses = {name: answer.status for name, answer in answers.items()}
    assert statuses == {"unsupported": 415, "bad accept": 415, "ragged csv": 400, "text csv": 400, "bad json": 400,
                        "handler raises": 500, "too large": 413, "no route": 404, "wrong method": 405}
    assert "application/xml" in answers["unsupported"].json()["message"]
    assert "malformed text/csv payload" in answers["ragged csv"].json()["message"]
    assert answers["handler raises"].json() == {
        "code": 500, "type": "ModelError",
        "message": "the model failed: RuntimeError: the model refuses negative first features"}
    assert "1,000-byte limit" in answers["too large"].json()["message"]
    still_serving()

    # A chunked body has no Content-Length: it is counted as it arrives, and the connection closes at the limit.
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as raw:
        raw.sendall(b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\n"
                    b"Transfer-Encoding: chunked\r\n\r\n" + (b"1f4\r\n" + b"1," * 250 + b"\r\n") * 3)
        reply = _read_until_closed(raw)
    assert reply.startswith(b"HTTP/1.1 413 ") and b"Connection: close" in reply
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as raw:
        raw.sendall(b"NOT HTTP AT ALL\r\n\r\n")
        assert _read_until_closed(raw).startswith(b"HTTP/1.1 400 ")
    still_serving()


def _read_until_closed(raw: socket.socket) -> bytes:
    chunks = []
    while chunk := raw.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def test_keep_alive_and_pipelined_requests_are_answered_in_order(start: Any, ridge_dir: Path, ridge: Ridge) -> None:
    server = start(**single(ridge_dir))
    data = rows(3)
    wire = b"".join(b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\nAccept: text/csv\r\n"
                    b"Content-Length: %d\r\n\r\n%s" % (len(csv_rows(data[i:i + 1])), csv_rows(data[i:i + 1]))
                    for i in range(3))
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as raw:
        raw.sendall(wire + b"GET /ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        reply = _read_until_closed(raw)
    parts = reply.split(b"HTTP/1.1 200 OK\r\n")[1:]
    assert len(parts) == 4
    values = [float(part.split(b"\r\n\r\n", 1)[1]) for part in parts[:3]]
    assert np.allclose(values, ridge.predict(data.astype(np.float32)))
    assert b"Connection: close" in parts[3]


def test_a_client_that_half_closes_after_its_request_gets_the_answer_then_the_end(start: Any,
                                                                                 ridge_dir: Path) -> None:
    server = start(**single(ridge_dir))
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as raw:
        raw.sendall(b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\nContent-Length: 8\r\n\r\n"
                    b"1,2,3,4\n")
        raw.shutdown(socket.SHUT_WR)
        started = time.monotonic()
        reply = _read_until_closed(raw)
    assert reply.startswith(b"HTTP/1.1 200 OK") and time.monotonic() - started < 2


def test_a_stalled_client_does_not_block_others_and_times_out_with_408(start: Any, ridge_dir: Path) -> None:
    server = start(**single(ridge_dir), read_timeout_seconds=1.0)
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as stalled:
        stalled.sendall(b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\n"
                        b"Content-Length: 100\r\n\r\n1,2")  # and then nothing
        started = time.monotonic()
        for _ in range(5):
            assert invoke(server.port, b"1,2,3,4\n").status == 200
        assert time.monotonic() - started < 0.9  # answered while the stalled request still waits
        reply = _read_until_closed(stalled)
    assert reply.startswith(b"HTTP/1.1 408 ")
    assert time.monotonic() - started < 3


def test_an_idle_connection_closes_keep_alive_seconds_after_its_last_answer_not_its_first(
    start: Any, ridge_dir: Path
) -> None:
    """Each request moves the connection's deadline; the loop's timer, set for the first, fires early and waits
    for the rest of the new one (the lazy timer of http_protocol._arm)."""
    server = start(**single(ridge_dir), keep_alive_seconds=0.8, read_timeout_seconds=0.8)
    wire = (b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\nContent-Length: 8\r\n\r\n"
            b"1,2,3,4\n")
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as raw:
        raw.sendall(wire)
        assert raw.recv(65536).startswith(b"HTTP/1.1 200 OK")
        first = time.monotonic()
        time.sleep(0.5)
        raw.sendall(wire)
        assert raw.recv(65536).startswith(b"HTTP/1.1 200 OK")
        last = time.monotonic()
        assert raw.recv(65536) == b""  # closed by the server
        closed = time.monotonic()
    assert closed - first > 1.1  # not 0.8 s after the first answer
    assert 0.6 < closed - last < 3.0  # 0.8 s, give or take a busy machine


def test_a_slow_model_runs_off_the_event_loop_so_ping_still_answers(start: Any, tmp_path: Path) -> None:
    model_dir = write_model(tmp_path / "model", source=SLOW_OR_FAILING)
    server = start(containers=[{"name": "m", "model_dir": str(model_dir)}])
    slow: dict[str, Any] = {}
    worker = threading.Thread(target=lambda: slow.update(answer=invoke(server.port, b"800,0,0,0\n")))
    worker.start()
    time.sleep(0.1)
    started = time.monotonic()
    assert request(server.port, "GET", "/ping").status == 200
    assert time.monotonic() - started < 0.3
    worker.join()
    assert slow["answer"].status == 200 and slow["answer"].body == b"800.0\n"


def test_a_model_that_outlasts_the_timeout_answers_504(start: Any, tmp_path: Path) -> None:
    model_dir = write_model(tmp_path / "model", source=SLOW_OR_FAILING)
    server = start(containers=[{"name": "m", "model_dir": str(model_dir)}], request_timeout_seconds=0.2)
    answer = invoke(server.port, b"600,0,0,0\n")
    assert answer.status == 504 and "did not answer within 0.2 s" in answer.json()["message"]


def test_ping_is_503_while_the_model_loads_and_a_failed_load_is_reported(tmp_path: Path) -> None:
    slow_load = write_model(tmp_path / "slow", source="""
        import time
        def model_fn(model_dir):
            time.sleep(0.5)
            return None
        def transform_fn(model, body, content_type, accept):
            return "ok", "text/plain"
    """)
    server = start_in_thread(server_config(containers=[{"name": "m", "model_dir": str(slow_load)}]), wait_loaded=False)
    try:
        loading = request(server.port, "GET", "/ping")
        assert loading.status == 503 and loading.json()["type"] == "ModelNotReady"
        assert server.server is not None and server.server.app.loaded.wait(5)
        assert request(server.port, "GET", "/ping").status == 200
    finally:
        server.stop()
    broken = write_model(tmp_path / "broken", source="def model_fn(model_dir):\n    raise OSError('no weights')\n")
    with pytest.raises(ModelLoadError, match=r"model_fn\('.*broken'\) failed: OSError: no weights"):
        start_in_thread(server_config(containers=[{"name": "m", "model_dir": str(broken)}]))


def _spawn(config: dict[str, Any], tmp_path: Path) -> tuple[subprocess.Popen[str], int]:
    ready = tmp_path / "ready.json"
    path = tmp_path / "server.json"
    path.write_text(json.dumps({**config, "ready_file": str(ready)}))
    process = subprocess.Popen([sys.executable, "-m", "smflow.serving.server", "--config", str(path)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while not ready.exists():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "no ready file"
        time.sleep(0.05)
    announced = json.loads(ready.read_text())
    assert announced["pid"] == process.pid
    return process, int(announced["port"])


def test_sigterm_finishes_the_request_in_flight_then_exits_0(tmp_path: Path) -> None:
    model_dir = write_model(tmp_path / "model", source=SLOW_OR_FAILING)
    process, port = _spawn({"containers": [{"name": "m", "model_dir": str(model_dir)}]}, tmp_path)
    try:
        deadline = time.monotonic() + 30
        while request(port, "GET", "/ping").status != 200:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        slow: dict[str, Any] = {}
        worker = threading.Thread(target=lambda: slow.update(answer=invoke(port, b"700,0,0,0\n")))
        worker.start()
        time.sleep(0.2)
        os.kill(process.pid, signal.SIGTERM)
        worker.join(10)
        assert slow["answer"].status == 200 and slow["answer"].body == b"700.0\n"
        assert process.wait(10) == 0
        with pytest.raises(OSError):
            request(port, "GET", "/ping", timeout=1)
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate()


def test_the_process_reports_a_bad_config_or_a_failed_load_and_exits_non_zero(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"mode": "MultiModel", "containers": [{"name": "m"}]}))
    done = subprocess.run([sys.executable, "-m", "smflow.serving.server", "--config", str(bad)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert 'mode "MultiModel" needs "multi_model"' in done.stderr and "Traceback" not in done.stderr
    broken = write_model(tmp_path / "broken", source="def model_fn(model_dir):\n    raise OSError('no weights')\n")
    # One process listens before it loads (its ready file comes first), then reports the failed load ...
    process, _ = _spawn({"containers": [{"name": "m", "model_dir": str(broken)}], "workers": 1}, tmp_path)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 1
    assert "the model did not load" in stderr and "OSError: no weights" in stderr
    # ... and a multi-worker server (one per CPU by default) never announces itself, and exits 1 the same way.
    config = tmp_path / "workers.json"
    config.write_text(json.dumps({"containers": [{"name": "m", "model_dir": str(broken)}], "workers": 2,
                                  "ready_file": str(tmp_path / "workers-ready.json")}))
    done = subprocess.run([sys.executable, "-m", "smflow.serving.server", "--config", str(config)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and not (tmp_path / "workers-ready.json").exists()
    assert "the model did not load" in done.stderr and "OSError: no weights" in done.stderr
    assert "Traceback" not in done.stderr


PID_ECHO = """
    import os
    def model_fn(model_dir):
        return None
    def transform_fn(model, body, content_type, accept):
        return str(os.getpid()), "text/plain"
"""


def _two_workers(tmp_path: Path) -> tuple[subprocess.Popen[str], int, set[int]]:
    """A two-worker server whose model answers its worker's pid, and both pids (new connections land on
    either worker)."""
    model_dir = write_model(tmp_path / "model", source=PID_ECHO)
    process, port = _spawn({"containers": [{"name": "m", "model_dir": str(model_dir)}], "workers": 2}, tmp_path)
    pids: set[int] = set()
    deadline = time.monotonic() + 30
    while len(pids) < 2 and time.monotonic() < deadline:
        answer = invoke(port, b"x", accept="text/plain")
        if answer.status == 200:
            pids.add(int(answer.body))
    return process, port, pids


def test_workers_share_one_port_and_stop_together(tmp_path: Path) -> None:
    process, _, pids = _two_workers(tmp_path)
    try:
        assert len(pids) == 2 and process.pid not in pids
        os.kill(process.pid, signal.SIGTERM)
        assert process.wait(15) == 0
        for pid in pids:
            with pytest.raises(ProcessLookupError):
                os.kill(pid, 0)
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate()


def test_workers_stop_when_their_supervisor_is_killed(tmp_path: Path) -> None:
    """A supervisor killed outright forwards no signal; its workers notice their parent is gone and stop."""
    process, port, pids = _two_workers(tmp_path)
    try:
        assert len(pids) == 2
        process.kill()
        process.wait(10)
        deadline = time.monotonic() + 10
        while any(_running(pid) for pid in pids) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(_running(pid) for pid in pids)
        with pytest.raises(OSError):
            request(port, "GET", "/ping", timeout=1)
    finally:
        for pid in pids:
            if _running(pid):
                os.kill(pid, signal.SIGKILL)
        process.communicate()


def _running(pid: int) -> bool:
    """Alive and not a zombie (an orphaned worker is reaped by init, or lingers as Z under a subreaper)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def test_a_server_runs_one_worker_per_cpu_unless_told_and_a_multi_model_server_one() -> None:
    from smflow.serving.config import ServerConfig
    from smflow.serving.server import cpu_count, worker_count

    single = {"containers": [{"name": "m", "model_dir": "/tmp/m"}]}
    assert worker_count(ServerConfig.model_validate(single)) == cpu_count() == len(os.sched_getaffinity(0))
    assert worker_count(ServerConfig.model_validate({**single, "workers": 3})) == 3
    pinned = {"containers": [{"name": "m", "model_dir": "/tmp/m",
                              "environment": {"SAGEMAKER_MODEL_SERVER_WORKERS": "1"}}]}
    assert worker_count(ServerConfig.model_validate(pinned)) == 1
    multi = {"mode": "MultiModel", "containers": [{"name": "m"}], "multi_model": {"model_root": "/tmp/root"}}
    assert worker_count(ServerConfig.model_validate(multi)) == 1


def test_a_worker_told_to_stop_while_its_model_loads_exits_at_once(tmp_path: Path) -> None:
    """SIGTERM during a long model_fn: the supervisor and its workers are gone in seconds, not after the load."""
    slow = write_model(tmp_path / "slow", source="""
        import time
        def model_fn(model_dir):
            time.sleep(60)
        def transform_fn(model, body, content_type, accept):
            return "late", "text/plain"
    """)
    config = tmp_path / "server.json"
    config.write_text(json.dumps({"containers": [{"name": "m", "model_dir": str(slow)}], "workers": 2}))
    process = subprocess.Popen([sys.executable, "-m", "smflow.serving.server", "--config", str(config)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(3)  # the workers are in model_fn by now
        assert process.poll() is None
        started = time.monotonic()
        os.kill(process.pid, signal.SIGTERM)
        assert process.wait(20) == 0
        assert time.monotonic() - started < 10
        _, stderr = process.communicate(timeout=5)
        assert "stopped while the model loaded" in stderr and "Traceback" not in stderr
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
