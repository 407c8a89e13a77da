"""Helpers for the `cunet serve` tests: a real uvicorn server in a thread, generated songs."""

import contextlib
import socket
import threading
import time
from pathlib import Path

import numpy as np
import soundfile as sf

EXAMPLE = Path(__file__).resolve().parents[2] / "cunet" / "examples" / "bloom-lights-12s.ogg"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running_server(separator, data_dir, **kwargs):
    """The studio app served by uvicorn on 127.0.0.1 and a free port; yields its URL."""
    import uvicorn

    from cunet.serve.app import create_app

    port = free_port()
    config = uvicorn.Config(create_app(separator, data_dir, **kwargs), host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    end = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > end or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        server.should_exit = True
        thread.join(10)


def tone_mix(path: Path, seconds: float = 3.0, rate: int = 22050) -> Path:
    """A short stereo song: a bass tone, a melody tone and noise bursts (a 16-bit wav)."""
    t = np.arange(int(seconds * rate)) / rate
    bass = 0.3 * np.sin(2 * np.pi * 55 * t)
    melody = 0.2 * np.sin(2 * np.pi * 440 * t * (1 + 0.1 * np.sin(2 * np.pi * 0.5 * t)))
    bursts = 0.2 * np.random.default_rng(0).standard_normal(len(t)) * (np.sin(2 * np.pi * 2 * t) > 0.9)
    mix = np.stack([bass + melody + bursts, bass + 0.8 * melody + bursts], axis=1)
    sf.write(str(path), mix.astype(np.float32), rate, subtype="PCM_16")
    return path
