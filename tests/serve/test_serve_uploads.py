"""`receive_upload`: a multipart body parsed as it streams, in chunks of any size."""

import asyncio

import httpx
import pytest

from cunet.serve.uploads import BadUpload, UploadTooLarge, receive_upload


class StreamedRequest:
    """What `receive_upload` reads of a Starlette request: headers and `stream()`."""

    def __init__(self, body: bytes, content_type: str, chunk: int, declare_length: bool = True):
        self.body, self.chunk = body, chunk
        self.headers = {"content-type": content_type}
        if declare_length:
            self.headers["content-length"] = str(len(body))
        self.read = 0

    async def stream(self):
        for start in range(0, len(self.body), self.chunk):
            self.read += min(self.chunk, len(self.body) - start)
            yield self.body[start : start + self.chunk]


def form(files, data=None) -> tuple[bytes, str]:
    request = httpx.Request("POST", "http://x/api/jobs", files=files, data=data)
    return request.read(), request.headers["content-type"]


def receive(tmp_path, body, content_type, chunk, max_bytes=10_000_000):
    request = StreamedRequest(body, content_type, chunk)
    return asyncio.run(receive_upload(request, tmp_path, max_bytes)), request


@pytest.mark.parametrize("chunk", [1, 7, 4096, 1 << 20])
def test_file_and_fields_whatever_the_chunks(tmp_path, chunk):
    audio = bytes(range(256)) * 40 + b"\r\n--not-the-boundary\r\n" * 3
    body, content_type = form(
        {"file": ("My Song.FLAC", audio)}, {"instruments": ["vocals", "drums=0.5"], "wiener": "1"}
    )
    upload, _ = receive(tmp_path, body, content_type, chunk)
    assert upload.path.read_bytes() == audio and upload.path.parent == tmp_path
    assert (upload.name, upload.suffix) == ("My Song.FLAC", ".flac")
    assert upload.fields == {"instruments": ["vocals", "drums=0.5"], "wiener": ["1"]}


def test_body_over_the_limit_stops_reading(tmp_path):
    body, content_type = form({"file": ("a.wav", b"\0" * 200_000)})
    with pytest.raises(UploadTooLarge):
        receive(tmp_path, body, content_type, 4096, max_bytes=50_000)  # declared length: refused up front
    request = StreamedRequest(body, content_type, 4096, declare_length=False)
    with pytest.raises(UploadTooLarge):
        asyncio.run(receive_upload(request, tmp_path, 50_000))
    assert request.read <= 50_000 + 4096  # stopped at the first chunk past the limit
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "files, data, message",
    [
        ([("file", ("a.wav", b"1")), ("file", ("b.wav", b"2"))], None, "one file per job"),
        ({"file": ("a.wav", b"1")}, {"instruments": "v" * 5000}, "too long"),
        ({"other": ("a.wav", b"1")}, None, "no file"),
        ({"file": ("a.exe", b"1")}, None, "a.exe: not an accepted audio file type"),
    ],
)
def test_malformed_forms(tmp_path, files, data, message):
    body, content_type = form(files, data)
    with pytest.raises(BadUpload, match=message):
        receive(tmp_path, body, content_type, 1024)
    assert list(tmp_path.iterdir()) == []


def test_truncated_body_is_refused(tmp_path):
    body, content_type = form({"file": ("a.wav", b"x" * 1000)})
    with pytest.raises(BadUpload, match="incomplete"):
        receive(tmp_path, body[:-30], content_type, 256)
    assert list(tmp_path.iterdir()) == []
