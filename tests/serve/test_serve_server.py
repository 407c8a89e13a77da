"""`cunet serve` as a real server: raw-socket uploads (limits while streaming, disconnects),
restarts over the same data dir, expiry, and the command line itself."""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from cunet.cli import main
from cunet.serve.storage import RESTART_ERROR, Job, JobStore, new_job_id
from serve_fixtures import free_port, running_server, tone_mix

BOUNDARY = "cunetboundary"
LIMIT_MB = 1


def head(port: int, length=None, chunked=False) -> bytes:
    lines = [
        "POST /api/jobs HTTP/1.1",
        f"Host: 127.0.0.1:{port}",
        f"Content-Type: multipart/form-data; boundary={BOUNDARY}",
    ]
    lines.append("Transfer-Encoding: chunked" if chunked else f"Content-Length: {length}")
    part = f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="big.wav"\r\n\r\n'
    return ("\r\n".join(lines) + "\r\n\r\n").encode(), part.encode()


def response_status(sock: socket.socket) -> int:
    sock.settimeout(10)
    data = b""
    while b"\r\n" not in data:
        more = sock.recv(4096)
        if not more:
            break
        data += more
    return int(data.split(b" ")[1])


def get(url: str) -> int:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status


def incoming_empty(data: Path) -> bool:
    end = time.monotonic() + 5
    while list((data / "incoming").iterdir()) and time.monotonic() < end:
        time.sleep(0.05)
    return not list((data / "incoming").iterdir())


@pytest.fixture
def server(separator, tmp_path):
    with running_server(separator, tmp_path / "data", max_upload_mb=LIMIT_MB) as url:
        yield url, int(url.rsplit(":", 1)[1].strip("/")), tmp_path / "data"


def test_declared_oversize_is_refused_before_the_body(server):
    url, port, _ = server
    headers, _ = head(port, length=50_000_000)
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(headers)  # no body at all: the answer comes from Content-Length alone
        assert response_status(sock) == 413
    assert get(url + "api/info") == 200


def test_streamed_oversize_stops_the_upload(server):
    """A chunked body (no Content-Length) over the limit: 413 once the limit is passed; the
    rest of the 40 MB is never read, and no partial file stays."""
    url, port, data = server
    headers, part = head(port, chunked=True)
    chunk = b"\0" * 65536
    sent = 0
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(headers + b"%x\r\n%s\r\n" % (len(part), part))
        try:
            for _ in range(640):
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass
        assert response_status(sock) == 413
    assert sent < 20_000_000  # the server stopped reading near the 1 MB limit
    assert incoming_empty(data)
    assert get(url + "api/info") == 200


def test_client_disconnecting_mid_upload(server):
    url, port, data = server
    headers, part = head(port, length=900_000)
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(headers + part + b"\0" * 200_000)
        time.sleep(0.2)
    assert incoming_empty(data)
    assert get(url + "api/info") == 200


def test_restart_serves_finished_jobs_and_fails_interrupted_ones(separator, tmp_path):
    data = tmp_path / "data"
    song = tone_mix(tmp_path / "t.wav", seconds=0.5)
    with running_server(separator, data) as url:
        job_id = _post(url, song)
        while json.load(urllib.request.urlopen(f"{url}api/jobs/{job_id}"))["status"] != "done":
            time.sleep(0.05)
    store = JobStore(data)
    interrupted = Job(new_job_id(), "x.wav", ".wav", status="running")
    store.folder(interrupted.id).mkdir()
    store.save(interrupted)
    half_made = store.folder(new_job_id())
    (half_made / "stems").mkdir(parents=True)  # a folder whose state was never written
    with running_server(separator, data) as url:
        done = json.load(urllib.request.urlopen(f"{url}api/jobs/{job_id}"))
        assert done["status"] == "done" and get(url + done["stems"][0]["files"]["wav"].lstrip("/")) == 200
        failed = json.load(urllib.request.urlopen(f"{url}api/jobs/{interrupted.id}"))
        assert failed["status"] == "failed" and failed["error"] == RESTART_ERROR
        assert not half_made.exists()


def _post(url: str, song: Path) -> str:
    body = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="{song.name}"\r\n\r\n'.encode()
        + song.read_bytes()
        + f"\r\n--{BOUNDARY}--\r\n".encode()
    )
    request = urllib.request.Request(
        f"{url}api/jobs",
        data=body,
        method="POST",
        headers={"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"},
    )
    return json.load(urllib.request.urlopen(request))["id"]


def test_expiry_removes_only_old_ended_jobs(tmp_path):
    store = JobStore(tmp_path)
    store.prepare()
    now = time.time()
    jobs = {
        "old": Job(new_job_id(), "a.wav", ".wav", status="done", finished=now - 7200),
        "new": Job(new_job_id(), "b.wav", ".wav", status="failed", finished=now - 60),
        "queued": Job(new_job_id(), "c.wav", ".wav", created=now - 7200),
    }
    for job in jobs.values():
        store.folder(job.id).mkdir()
        store.save(job)
    assert store.expire(3600, now) == [jobs["old"].id]
    assert sorted(p.name for p in store.jobs.iterdir()) == sorted(j.id for j in (jobs["new"], jobs["queued"]))


def test_command_line_binds_localhost_and_warns_otherwise(tmp_path):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    ports = free_port(), free_port()
    serve = [sys.executable, "-m", "cunet", "serve"]
    commands = [
        [*serve, "--port", str(ports[0]), "--data-dir", str(tmp_path / "a")],
        [*serve, "--port", str(ports[1]), "--data-dir", str(tmp_path / "b"), "--host", "127.0.0.2"],
    ]
    processes = [subprocess.Popen(c, stderr=subprocess.PIPE, text=True, env=env) for c in commands]
    try:
        _wait_up(f"http://127.0.0.1:{ports[0]}/api/info")
        _wait_up(f"http://127.0.0.2:{ports[1]}/api/info")
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.2", ports[0]), timeout=2).close()
        rebound = urllib.request.Request(f"http://127.0.0.1:{ports[0]}/api/info", headers={"Host": "evil.example"})
        with pytest.raises(urllib.error.HTTPError) as caught:  # a site whose name resolves here
            urllib.request.urlopen(rebound, timeout=10)
        assert caught.value.code == 400
    finally:
        for process in processes:
            process.terminate()
    errors = [p.communicate(timeout=20)[1] for p in processes]
    assert "warning" not in errors[0] and f"http://127.0.0.1:{ports[0]}/" in errors[0]
    assert "warning: listening on 127.0.0.2" in errors[1] and "no authentication" in errors[1]


def _wait_up(url: str) -> None:
    end = time.monotonic() + 60
    while True:
        try:
            assert get(url) == 200
            return
        except (urllib.error.URLError, ConnectionError):
            if time.monotonic() > end:
                raise
            time.sleep(0.1)


@pytest.mark.parametrize("option", [["--keep-hours", "0"], ["--max-upload-mb", "-1"], ["--port", "70000"]])
def test_command_line_refuses_bad_options(option, capsys):
    assert main(["serve", *option]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_command_line_refuses_a_port_in_use(capsys):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        assert main(["serve", "--port", str(busy.getsockname()[1])]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot listen on 127.0.0.1" in err
