"""The studio's HTTP API (Starlette's TestClient): real separations and every bad input.

Each bad request gets its status and one-line message, and the server keeps answering.
"""

import io
import threading
import time
import warnings
import zipfile

import numpy as np
import pytest
import soundfile as sf

from serve_fixtures import tone_mix

with warnings.catch_warnings():  # Starlette 1.x suggests httpx2; the installed httpx works
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from cunet.audio.reading import probe_audio
from cunet.errors import CunetError
from cunet.serve.app import STATIC, create_app
from cunet.serve.uploads import display_name


@pytest.fixture
def client(separator, tmp_path):
    with TestClient(create_app(separator, tmp_path / "data")) as client:
        yield client


def post(client, path, name=None, **data):
    with open(path, "rb") as f:
        return client.post("/api/jobs", files={"file": (name or path.name, f)}, data=data)


def wait_done(client, job_id, timeout=60):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        job = client.get(f"/api/jobs/{job_id}").json()
        if job["status"] in ("done", "failed"):
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not finish in {timeout} s")


def assert_alive(client):
    assert client.get("/api/info").status_code == 200


def read_wav(data: bytes):
    samples, rate = sf.read(io.BytesIO(data), dtype="float32")
    return samples, rate


def test_info_and_page(client, separator):
    info = client.get("/api/info").json()
    assert info["instruments"] == separator.instruments
    assert info["runtime"] == separator.runtime
    assert {"wav", "flac"} <= set(info["formats"])
    assert "musdb-mini" in info["trained_on"]
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    text = page.text
    for asset in sorted(STATIC.iterdir()):
        response = client.get(f"/static/{asset.name}")
        assert response.status_code == 200
        text += response.text
    # nothing loaded from other sites: every script, stylesheet, import and fetch is local
    for pattern in (
        'src="http',
        '<link rel="stylesheet" href="http',
        "url(http",
        "@import",
        'fetch("http',
        'from "http',
    ):
        assert pattern not in text


def test_other_sites_cannot_post_or_read(client, separator, tmp_path):
    assert "default-src 'self'" in client.get("/").headers["content-security-policy"]
    song = tone_mix(tmp_path / "t.wav", seconds=0.5)
    with open(song, "rb") as f:
        files = {"file": ("t.wav", f.read())}
    refused = client.post("/api/jobs", files=files, headers={"Origin": "http://evil.example"})
    assert refused.status_code == 403 and "other sites" in refused.json()["error"]
    assert client.post("/api/jobs", files=files, headers={"Origin": "http://testserver"}).status_code == 202
    with TestClient(create_app(separator, tmp_path / "local", allowed_hosts=["127.0.0.1"])) as local:
        assert local.get("/api/info").status_code == 400  # Host: testserver
        assert local.get("http://127.0.0.1/api/info").status_code == 200


def test_separation_every_instrument_equals_separate_file(client, separator, tmp_path):
    song = tone_mix(tmp_path / "tones.wav")
    response = post(client, song)
    assert response.status_code == 202
    job = wait_done(client, response.json()["id"])
    assert job["status"] == "done" and job["error"] is None and job["progress"] == 1.0
    assert [s["name"] for s in job["stems"]] == separator.instruments
    expected = separator.separate_file(song, tmp_path / "cli", None, progress=False)
    for stem in job["stems"]:
        got, rate = read_wav(client.get(stem["files"]["wav"]).content)
        want, want_rate = sf.read(str(expected[stem["name"]]), dtype="float32")
        assert rate == want_rate and np.array_equal(got, want)
    flac = separator.separate_file(song, tmp_path / "cli-flac", ["bass"], fmt="flac", progress=False)["bass"]
    response = client.get(job["stems"][0]["files"]["flac"])
    assert response.status_code == 200 and 'filename="tones-bass.flac"' in response.headers["content-disposition"]
    assert np.array_equal(sf.read(io.BytesIO(response.content))[0], sf.read(str(flac))[0])
    archive = zipfile.ZipFile(io.BytesIO(client.get(job["zip"]).content))
    assert sorted(archive.namelist()) == sorted(f"{name}.wav" for name in separator.instruments)
    assert np.array_equal(read_wav(archive.read("drums.wav"))[0], sf.read(str(expected["drums"]), dtype="float32")[0])


def test_custom_condition_and_wiener(client, separator, tmp_path):
    song = tone_mix(tmp_path / "tones.flac")
    job = wait_done(client, post(client, song, instruments="vocals=0.5+drums", wiener="true").json()["id"])
    assert job["status"] == "done" and [s["name"] for s in job["stems"]] == ["vocals=0.5+drums"]
    assert job["wiener"] is True and job["instruments"] == ["vocals=0.5+drums"]
    written = separator.separate_file(song, tmp_path / "cli", ["vocals=0.5+drums"], wiener=True, progress=False)
    got, _ = read_wav(client.get(job["stems"][0]["files"]["wav"]).content)
    assert np.array_equal(got, sf.read(str(written["vocals=0.5+drums"]), dtype="float32")[0])


def test_mp3_download_equals_separate_file_and_refuses_what_mp3_cannot_hold(client, separator, tmp_path):
    song = tone_mix(tmp_path / "tones.wav")
    job = wait_done(client, post(client, song, instruments="bass").json()["id"])
    written = separator.separate_file(song, tmp_path / "cli", ["bass"], fmt="mp3", progress=False)["bass"]
    response = client.get(job["stems"][0]["files"]["mp3"])
    assert response.status_code == 200 and response.content == written.read_bytes()
    wide = tmp_path / "wide.wav"  # mp3 holds 1 or 2 channels
    sf.write(str(wide), np.tile(sf.read(str(song))[0][:8000, :1], (1, 3)), 22050)
    job = wait_done(client, post(client, wide, instruments="bass").json()["id"])
    response = client.get(job["stems"][0]["files"]["mp3"])
    assert response.status_code == 422
    assert response.json()["error"].startswith("wide.wav: mp3 holds 1 or 2 channels")
    assert client.get(job["stems"][0]["files"]["flac"]).status_code == 200
    assert_alive(client)


def cli_message(path, name) -> str:
    """The one line `cunet separate` prints for this input, with the upload's name for its path."""
    with pytest.raises(CunetError) as caught:
        probe_audio(path)
    return str(caught.value).replace(str(path), name)


@pytest.mark.parametrize("content", [b"", b"this is not audio\n" * 50], ids=["empty", "not-audio"])
def test_undecodable_uploads_get_the_cli_message(client, tmp_path, content):
    path = tmp_path / "song.wav"
    path.write_bytes(content)
    response = post(client, path)
    assert response.status_code == 400
    assert response.json()["error"] == cli_message(path, "song.wav")
    assert str(tmp_path) not in response.json()["error"]
    assert_alive(client)


def test_bad_requests(client, separator, tmp_path):
    song = tone_mix(tmp_path / "tones.wav", seconds=0.5)
    with pytest.raises(CunetError) as caught:
        separator.parse_instruments(["vocals", "kazoo=2"])
    cases = [
        (post(client, song, instruments=["vocals", "kazoo=2"]), 400, str(caught.value)),
        (post(client, song, wiener="maybe"), 400, "wiener must be true or false"),
        (post(client, song, name="notes.txt"), 400, "notes.txt: not an accepted audio file type"),
        (client.post("/api/jobs", data={"wiener": "true"}, files={"other": ("x.wav", b"1")}), 400, "no file"),
        (client.post("/api/jobs", content=b"raw", headers={"content-type": "audio/wav"}), 400, "multipart"),
    ]
    for response, status, message in cases:
        assert response.status_code == status, response.text
        assert message in response.json()["error"]
        assert_alive(client)
    assert list((tmp_path / "data" / "incoming").iterdir()) == []
    assert list((tmp_path / "data" / "jobs").iterdir()) == []


def test_unknown_ids_and_traversal_get_404(client, tmp_path):
    job = wait_done(client, post(client, tone_mix(tmp_path / "t.wav", seconds=0.5)).json()["id"])
    base = f"/api/jobs/{job['id']}"
    paths = [
        "/api/jobs/" + "A" * 22,
        "/api/jobs/..%2F..%2Fetc%2Fpasswd",
        "/api/jobs/%2e%2e",
        "/api/jobs/x/stems/bass.wav",
        f"{base}/stems/..%2Fjob.json",
        f"{base}/stems/..%2F..%2F{job['id']}%2Fjob.json.wav",
        f"{base}/stems/job.json",
        f"{base}/stems/bass.exe",
        f"{base}/stems/kazoo.wav",
        f"{base}/stems/input.wav",
        f"{base}/stems.zip?format=..%2Fx",
        "/api/jobs/" + "A" * 22 + "/stems.zip",
        "/static/..%2F..%2Fapp.py",
    ]
    for path in paths:
        response = client.get(path)
        assert response.status_code == 404, path
    assert client.get(f"{base}/stems/bass.wav").status_code == 200
    assert_alive(client)


def test_upload_name_never_becomes_a_path(client, tmp_path):
    response = post(client, tone_mix(tmp_path / "t.wav", seconds=0.5), name="..\\..\\../evil song.WAV")
    job = wait_done(client, response.json()["id"])
    assert job["status"] == "done" and job["name"] == "evil song.WAV"
    assert not list(tmp_path.rglob("evil*"))
    folder = tmp_path / "data" / "jobs" / job["id"]
    assert sorted(p.name for p in folder.iterdir()) == ["job.json", "stems"]  # the upload removed once separated
    job = wait_done(client, post(client, tmp_path / "t.wav", name="Chanson d'été.wav").json()["id"])
    assert job["name"] == "Chanson d'été.wav"
    response = client.get(job["stems"][0]["files"]["wav"])
    assert "filename*=utf-8''Chanson%20d%27%C3%A9t%C3%A9-bass.wav" in response.headers["content-disposition"]


def test_display_names():
    assert display_name("C:\\music\\a\x07b.mp3") == "ab.mp3"
    assert display_name("../..") == ".."  # a name only: it never becomes a path
    assert display_name("/") == "upload"
    assert len(display_name("x" * 500 + ".wav")) == 120


def test_failed_job_reports_the_cli_message(client, tmp_path):
    path = tmp_path / "nan.wav"
    x = np.zeros((4000, 2), np.float32)
    x[100, 0] = np.nan
    sf.write(str(path), x, 8000, subtype="FLOAT")
    job = wait_done(client, post(client, path).json()["id"])
    assert job["status"] == "failed" and "NaN" in job["error"] and job["error"].startswith("nan.wav")
    assert str(tmp_path) not in job["error"]
    assert client.get(f"/api/jobs/{job['id']}/stems/bass.wav").status_code == 409
    assert client.get(f"/api/jobs/{job['id']}/stems.zip").status_code == 409
    assert_alive(client)


class HeldSeparator:
    """The real separator, but each separation waits for `release` (to fill the queue)."""

    def __init__(self, separator):
        self.separator = separator
        self.release = threading.Event()

    def __getattr__(self, name):
        return getattr(self.separator, name)

    def separate_file(self, *args, **kwargs):
        self.release.wait(30)
        return self.separator.separate_file(*args, **kwargs)


def test_bounded_queue_positions_and_503(separator, tmp_path):
    held = HeldSeparator(separator)
    song = tone_mix(tmp_path / "t.wav", seconds=0.5)
    with TestClient(create_app(held, tmp_path / "data", max_queued=2)) as client:
        ids = [post(client, song).json()["id"]]
        end = time.monotonic() + 10
        while client.get(f"/api/jobs/{ids[0]}").json()["status"] != "running" and time.monotonic() < end:
            time.sleep(0.02)
        ids += [post(client, song).json()["id"] for _ in range(2)]
        assert [client.get(f"/api/jobs/{i}").json()["queue_position"] for i in ids] == [None, 0, 1]
        full = post(client, song)
        assert full.status_code == 503 and "queue is full" in full.json()["error"]
        held.release.set()
        assert [wait_done(client, i)["status"] for i in ids] == ["done"] * 3
