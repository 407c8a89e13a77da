"""A `cunet prepare` stem cache packed to 16 bits for the GPU machine's 64 MiB transfer, and back.

    python scripts/gpu_cache.py pack .gpucache .gpucache16     # here, after `cunet prepare`
    python scripts/gpu_cache.py unpack .gpucache16 /tmp/cache  # there (gpu_check.sh does it)

Samples are stored as int16 (clipped to [-1, 1), steps of 2^-15, the `int16` of
`config.data.storage`) and unpacked to the float32 `.npy` files `open_cache` reads; the manifest
is copied unchanged, so the unpacked cache opens with the config it was prepared for.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np

SCALE = 32768.0


def pack(source: Path, target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy2(source / "manifest.json", target / "manifest.json")
    for path in sorted(source.glob("*.npy")):
        samples = np.clip(np.load(path), -1.0, 1.0 - 1.0 / SCALE)
        np.save(target / path.name, np.round(samples * SCALE).astype(np.int16))


def unpack(source: Path, target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy2(source / "manifest.json", target / "manifest.json")
    for path in sorted(source.glob("*.npy")):
        np.save(target / path.name, np.load(path).astype(np.float32) * np.float32(1.0 / SCALE))


if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] not in ("pack", "unpack"):
        sys.exit(__doc__)
    (pack if sys.argv[1] == "pack" else unpack)(Path(sys.argv[2]), Path(sys.argv[3]))
