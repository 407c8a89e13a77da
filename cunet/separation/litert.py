"""Mask estimation with the LiteRT interpreter (`ai-edge-litert`): no TensorFlow, no Keras.

`cunet.model.export.export_tflite` writes a model's mask network as a `.tflite` file with its
cunet config embedded; `LiteRTMasks` runs it on CPU (XNNPACK) and is interchangeable with the
TensorFlow mask estimator: same call, same masks to float precision. Nothing on this path
imports TensorFlow or Keras, which keeps a separation process small and quick to start.
"""

from __future__ import annotations

import functools
import os
import sys
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Optional, Union

import numpy as np
import yaml

from cunet.config import Config, ConfigError, config_from_dict
from cunet.model.export import (
    CHECKSUM_METADATA,
    CONFIG_METADATA,
    CUNET_METADATA,
    SOURCE_METADATA,
    keras_fingerprint,
    weights_checksum,
)
from cunet.model.files import ModelFileError

INPUT_NAMES = ("magnitude", "condition")


def litert_available() -> bool:
    """Whether the `ai-edge-litert` interpreter imports here."""
    try:
        from ai_edge_litert.interpreter import Interpreter  # noqa: F401
    except ImportError:
        return False
    return True


def read_tflite_metadata(path: Union[str, Path]) -> dict:
    """The cunet metadata of a `.tflite` file (name -> bytes), its weights checksum verified.

    Raises `ModelFileError` for a missing, damaged or non-cunet file.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"model file not found: {path}")
    stat = path.stat()
    return dict(_verified_metadata(str(path), stat.st_ino, stat.st_size, stat.st_mtime_ns))


@functools.lru_cache(maxsize=8)
def _verified_metadata(path: str, inode: int, size: int, mtime_ns: int) -> dict:
    """`read_tflite_metadata` of one version of a file: loading a separator resolves the
    runtime and reads the config several times, each a read and SHA-256 of the whole file."""
    path = Path(path)
    data = path.read_bytes()
    try:
        entries, others = _metadata_buffers(data)
    except Exception as exc:  # a damaged flatbuffer fails in many ways (struct, index, type)
        raise ModelFileError(f"{path}: not a readable .tflite model file ({type(exc).__name__})") from None
    if CONFIG_METADATA not in entries:
        raise ModelFileError(f"{path}: not a cunet model (no embedded cunet config)")
    if entries.get(CHECKSUM_METADATA, b"").decode(errors="replace") != weights_checksum(others):
        raise ModelFileError(f"{path}: damaged .tflite model file (weights checksum mismatch)")
    return entries


def read_tflite_config(path: Union[str, Path]) -> Config:
    """The config embedded in a cunet `.tflite` file."""
    entries = read_tflite_metadata(path)
    try:
        return config_from_dict(yaml.safe_load(entries[CONFIG_METADATA]))
    except (ConfigError, yaml.YAMLError) as exc:
        raise ModelFileError(f"{path}: embedded config is invalid: {exc}") from None


def paired_tflite(keras_path: Union[str, Path]) -> Optional[Path]:
    """The `.tflite` file beside a `.keras` file when it was exported from that very file
    (same `keras_fingerprint`), else None."""
    keras_path = Path(keras_path)
    candidate = keras_path.with_suffix(".tflite")
    if not candidate.is_file():
        return None
    try:
        source = read_tflite_metadata(candidate).get(SOURCE_METADATA, b"").decode()
        return candidate if source == keras_fingerprint(keras_path) else None
    except ModelFileError:
        return None


def _metadata_buffers(data: bytes) -> tuple:
    """({cunet metadata name: bytes}, [every other buffer's data, in order]) of a flatbuffer."""
    from ai_edge_litert import schema_py_generated as schema

    if len(data) < 8 or data[4:8] != b"TFL3":
        raise ValueError("no TFLite file identifier")
    model = schema.Model.GetRootAs(data, 0)
    named = {}
    for i in range(model.MetadataLength()):
        entry = model.Metadata(i)
        name = (entry.Name() or b"").decode()
        if name in CUNET_METADATA:
            named[entry.Buffer()] = name
    entries, others = {}, []
    for i in range(model.BuffersLength()):
        buffer = model.Buffers(i)
        if buffer.Offset() > 1:  # data stored after the flatbuffer
            content = data[buffer.Offset() : buffer.Offset() + buffer.Size()]
        else:
            content = None if buffer.DataIsNone() else buffer.DataAsNumpy()
        if i in named:
            entries[named[i]] = b"" if content is None else bytes(content)
        else:
            others.append(content)
    return entries, others


class LiteRTMasks:
    """The mask network of a cunet `.tflite` file, run by the LiteRT interpreter.

    Args:
        tflite_path: a `.tflite` file written by `cunet.model.export.export_tflite`.
        config: the config the caller separates with; the file's embedded config must equal it.
        batch_size: patches per interpreter call.
        threads: each interpreter's CPU threads (XNNPACK).
        interpreters: how many calls may run at once, each on its own interpreter (created
            when first needed, reused by any thread); further callers wait. One is as fast
            as two for two callers on a 2-core CPU (XNNPACK uses both cores) and ~70 MB smaller.

    Call arguments:
        patches: (N, freq_bins, frames, 1) float32 magnitude patches.
        condition: (n_instruments,) float32 condition vector for a C-U-Net, None for a U-Net.

    Returns:
        (N, freq_bins, frames) float32 masks in [0, 1].

    Safe to call from several threads.
    """

    def __init__(
        self,
        tflite_path: Union[str, Path],
        config: Config,
        batch_size: int = 16,
        threads: int = 2,
        interpreters: int = 1,
    ):
        self.tflite_path = Path(tflite_path)
        self.config = config
        self.batch_size = int(batch_size)
        self.threads = int(threads)
        self.interpreters = int(interpreters)
        embedded = read_tflite_config(self.tflite_path)
        if embedded.to_dict() != config.to_dict():
            raise ModelFileError(f"{self.tflite_path}: its embedded config does not match the model's")
        self._lock = threading.Lock()
        self._slots = threading.Semaphore(self.interpreters)
        self._idle = [self._new_runner()]  # fails here, not in a worker thread, on a file LiteRT refuses

    def __call__(self, patches: np.ndarray, condition: Optional[np.ndarray] = None) -> np.ndarray:
        if self.config.conditioned and condition is None:
            raise ValueError("a C-U-Net's masks need a condition vector")
        patches = np.asarray(patches, np.float32)
        out = np.empty(patches.shape[:3], np.float32)
        with self._slots:
            with self._lock:
                runner = self._idle.pop() if self._idle else None
            runner = runner or self._new_runner()
            try:
                for i in range(0, len(patches), self.batch_size):
                    batch = patches[i : i + self.batch_size]
                    out[i : i + len(batch)] = runner(batch, condition)[..., 0]
            finally:
                with self._lock:
                    self._idle.append(runner)
        return out

    def _new_runner(self) -> "_Runner":
        from ai_edge_litert.interpreter import Interpreter

        try:
            # from the path: LiteRT maps the file, so its weights are shared pages, not a copy
            with _quiet_stderr():  # LiteRT logs "INFO: Created ... XNNPACK delegate" on every load
                interpreter = Interpreter(model_path=str(self.tflite_path), num_threads=self.threads)
                interpreter.allocate_tensors()  # applies the delegate now, here, not in a model thread
        except (ValueError, RuntimeError) as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelFileError(f"{self.tflite_path}: LiteRT cannot load it: {reason}") from None
        runner = _Runner(interpreter, len(self.config.instruments))
        expected = INPUT_NAMES if self.config.conditioned else INPUT_NAMES[:1]
        if sorted(runner.inputs) != sorted(expected):
            raise ModelFileError(f"{self.tflite_path}: inputs {sorted(runner.inputs)} are not a cunet mask network's")
        return runner


@contextmanager
def _quiet_stderr():
    """File descriptor 2 sent to /dev/null for the block (LiteRT's C++ logging writes there)."""
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


class _Runner:
    """One interpreter, resized to the batch it is given: (B, F, T, 1) -> (B, F, T, 1) masks."""

    def __init__(self, interpreter, n_instruments: int):
        self.interpreter = interpreter
        self.n_instruments = n_instruments
        self.inputs = {_input_name(d["name"]): d["index"] for d in interpreter.get_input_details()}
        self.output = interpreter.get_output_details()[0]["index"]
        self.batch = 0  # the batch size its tensors are allocated for

    def __call__(self, batch: np.ndarray, condition: Optional[np.ndarray]) -> np.ndarray:
        interpreter = self.interpreter
        if self.batch != len(batch):
            for name, index in self.inputs.items():
                shape = batch.shape if name == "magnitude" else (len(batch), self.n_instruments)
                interpreter.resize_tensor_input(index, shape, strict=True)
            interpreter.allocate_tensors()
            self.batch = len(batch)
        interpreter.set_tensor(self.inputs["magnitude"], np.ascontiguousarray(batch))
        if "condition" in self.inputs:
            vector = np.asarray(condition, np.float32).reshape(1, -1)
            interpreter.set_tensor(self.inputs["condition"], np.repeat(vector, len(batch), axis=0))
        interpreter.invoke()
        return interpreter.get_tensor(self.output)


def _input_name(tensor_name: str) -> str:
    """ "serving_default_magnitude:0" or "serve_magnitude:0" -> "magnitude"."""
    base = tensor_name.split(":")[0]
    return next((name for name in INPUT_NAMES if base.endswith(name)), base)
