"""Receiving an upload: the request body streamed to disk, counted, never held in memory.

`receive_upload` reads `request.stream()` chunk by chunk into python-multipart's streaming
parser: the part named `file` goes straight to a temporary file, other fields (small, capped)
are kept as text. A body over the limit stops the upload at once (`UploadTooLarge`, HTTP 413),
whether Content-Length says so up front or the bytes show it. The uploaded file's name never
becomes a path: only a sanitized display name and a suffix from the allow-list are kept.
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from cunet.audio.formats import AUDIO_SUFFIXES
from cunet.errors import CunetError

FIELD_BYTES = 4096  # a form field's most bytes (instrument specs and flags are short)
MAX_FIELDS = 32


class UploadTooLarge(CunetError):
    """The request body is over the upload limit."""


class BadUpload(CunetError):
    """The request is not a multipart form with one audio `file` of an accepted type."""


@dataclass
class Upload:
    """A received upload: the file at `path` (a temporary file: move or delete it), its
    display `name`, its `suffix` from `AUDIO_SUFFIXES`, and the other form fields."""

    path: Path
    name: str
    suffix: str
    fields: dict = field(default_factory=dict)  # name -> [values], in order

    def discard(self) -> None:
        self.path.unlink(missing_ok=True)


def display_name(filename: str) -> str:
    """The last path component of a client's file name, printable, at most 120 characters."""
    name = re.split(r"[/\\]", filename)[-1]
    name = "".join(c for c in name if c.isprintable()).strip() or "upload"
    return name if len(name) <= 120 else name[:60] + "..." + name[-57:]


def accepted_suffix(name: str) -> str:
    suffix = Path(name).suffix.lower()
    if suffix not in AUDIO_SUFFIXES:
        raise BadUpload(f"{name}: not an accepted audio file type (accepted: {' '.join(AUDIO_SUFFIXES)})")
    return suffix


class _FormReceiver:
    """python-multipart callbacks: the `file` part into `sink`, other parts into `fields`."""

    def __init__(self, sink):
        self.sink = sink
        self.filename = None
        self.fields: dict = {}
        self._header_field = b""
        self._header_value = b""
        self._headers: dict = {}
        self._target = None  # "file", a field name, or None (ignored part)
        self._value = bytearray()
        self._count = 0
        self.complete = False  # the closing boundary was seen

    def callbacks(self) -> dict:
        return {
            "on_header_field": lambda data, start, end: self._add("_header_field", data[start:end]),
            "on_header_value": lambda data, start, end: self._add("_header_value", data[start:end]),
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._data,
            "on_part_end": self._part_end,
            "on_end": lambda: setattr(self, "complete", True),
        }

    def _add(self, attr, data: bytes) -> None:
        setattr(self, attr, getattr(self, attr) + data)

    def _header_end(self) -> None:
        self._headers[self._header_field.lower()] = self._header_value
        self._header_field = self._header_value = b""

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        self._headers = {}
        name = options.get(b"name", b"").decode("utf-8", "replace")
        self._count += 1
        if self._count > MAX_FIELDS:
            raise BadUpload(f"too many form fields (at most {MAX_FIELDS})")
        if name == "file" and b"filename" in options:
            if self.filename is not None:
                raise BadUpload("send one file per job (the form field 'file' appears twice)")
            self.filename = options[b"filename"].decode("utf-8", "replace")
            self._target = "file"
        else:
            self._target, self._value = name, bytearray()

    def _data(self, data, start, end) -> None:
        if self._target == "file":
            self.sink.write(data[start:end])
        elif self._target is not None:
            self._value += data[start:end]
            if len(self._value) > FIELD_BYTES:
                raise BadUpload(f"form field {self._target!r} is too long (at most {FIELD_BYTES} bytes)")

    def _part_end(self) -> None:
        if self._target not in (None, "file"):
            self.fields.setdefault(self._target, []).append(self._value.decode("utf-8", "replace"))
        self._target = None


def _boundary(request) -> bytes:
    content_type, options = parse_options_header(request.headers.get("content-type", ""))
    if content_type != b"multipart/form-data" or not options.get(b"boundary"):
        raise BadUpload("send the song as multipart/form-data with the audio in the field 'file'")
    return options[b"boundary"]


def _declared_length(request, max_bytes: int) -> None:
    text = request.headers.get("content-length")
    if text is not None and text.isdigit() and int(text) > max_bytes:
        raise UploadTooLarge(f"the upload is over the limit of {max_bytes / 1e6:g} MB")


def _feed(parser, chunk) -> None:
    """Parse one chunk (None: the end); a malformed body is a `BadUpload`."""
    try:
        parser.write(chunk) if chunk is not None else parser.finalize()
    except MultipartParseError as exc:
        raise BadUpload(f"malformed multipart form ({exc})") from None


async def receive_upload(request, folder: Path, max_bytes: int) -> Upload:
    """Stream a multipart upload's `file` into a new file in `folder`; see the module docstring.

    Raises `UploadTooLarge`, `BadUpload`, or Starlette's `ClientDisconnect`; nothing is left
    on disk then.
    """
    _declared_length(request, max_bytes)
    boundary = _boundary(request)
    fd, tmp = tempfile.mkstemp(prefix="upload-", dir=folder)
    path = Path(tmp)
    try:
        with os.fdopen(fd, "wb") as sink:
            receiver = _FormReceiver(sink)
            parser = MultipartParser(boundary, receiver.callbacks())
            received = 0
            async for chunk in request.stream():
                received += len(chunk)
                if received > max_bytes:
                    raise UploadTooLarge(f"the upload is over the limit of {max_bytes / 1e6:g} MB")
                _feed(parser, chunk)
            _feed(parser, None)
        if not receiver.complete:
            raise BadUpload("the upload is incomplete (the form ends before its closing boundary)")
        if receiver.filename is None:
            raise BadUpload("no file in the upload (send the audio in the form field 'file')")
        name = display_name(receiver.filename)
        return Upload(path, name, accepted_suffix(name), receiver.fields)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
