"""Export a model's mask network to a LiteRT (`.tflite`) file that carries its cunet config.

The exported network maps the model's inputs to its sigmoid mask (the layer before the final
"estimate" multiply): "magnitude" (batch, freq_bins, frames, 1) float32 and, for a C-U-Net,
"condition" (batch, n_instruments) float32 -> "mask" (batch, freq_bins, frames, 1) in [0, 1],
in inference mode (dropout off, BatchNorm moving statistics). The batch dimension is left
free: the runtime resizes it. The route is Keras' `ExportArchive` (a SavedModel) ->
`tf.lite.TFLiteConverter`, with TFLite built-in ops only, so `ai-edge-litert` runs the file
without TensorFlow.

Every decoder block (Conv2DTranspose -> BatchNorm -> [Dropout] -> [ReLU]) is exported as
stride-1 convolutions with the BatchNorm and ReLU folded in, joined by `depth_to_space`
(`cunet.kernels.folded`, exact): with a free batch dimension the converter leaves
TRANSPOSE_CONV's output shape dynamic and XNNPACK does not take it, so LiteRT ran it in slow
reference kernels (a batch of 16 patches of the default model: 0.38 s against 0.245 s in
the sub-pixel form; docs/BENCHMARKS.md).

The file's FlatBuffer `metadata` table gets three named buffers (`cunet.separation.litert`
reads them without TensorFlow):

- "cunet-config": the YAML of `config.to_dict()`, as `cunet.model.files` embeds in `.keras` files;
- "cunet-weights-sha256": a SHA-256 of every other buffer (weights, converter metadata), so a
  damaged file is refused instead of giving wrong masks;
- "cunet-source": the `keras_fingerprint` of the `.keras` file it was exported from (empty when
  exported from a model in memory), so a `.tflite` beside a retrained `.keras` is detected.

This module imports TensorFlow and Keras only inside `export_tflite`, so the LiteRT path can
use `keras_fingerprint` and the metadata names without them.
"""

from __future__ import annotations

import hashlib
import tempfile
import zipfile
from pathlib import Path
from typing import Optional, Union

import yaml

from cunet.config import Config
from cunet.fileio import atomic_path
from cunet.model.files import ModelFileError

CONFIG_METADATA = "cunet-config"
CHECKSUM_METADATA = "cunet-weights-sha256"
SOURCE_METADATA = "cunet-source"
CUNET_METADATA = (CONFIG_METADATA, CHECKSUM_METADATA, SOURCE_METADATA)
BUFFER_ALIGNMENT = 16  # the TFLite schema's force_align for buffer data
# members of a .keras archive that do not describe the network (save date, Keras version)
_UNDESCRIPTIVE_MEMBERS = {"metadata.json"}


def mask_output(model):
    """The model's mask tensor (batch, freq_bins, frames, 1): the output of the layer "mask"."""
    return model.get_layer("mask").output


def mask_network(model):
    """A `keras.Model` from `model`'s inputs to its mask (shares the model's layers)."""
    import keras

    return keras.Model(model.inputs, mask_output(model), name=f"{model.name}_mask")


def keras_fingerprint(path: Union[str, Path]) -> str:
    """A hash of a `.keras` file's weights, architecture and embedded config.

    Taken from the archive's directory (member names, CRC-32s and sizes), so it costs no read
    of the weights; the save date and Keras version (`metadata.json`) are left out.
    """
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as archive:
            members = sorted(
                (info.filename, info.CRC, info.file_size)
                for info in archive.infolist()
                if info.filename not in _UNDESCRIPTIVE_MEMBERS
            )
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise ModelFileError(f"{path}: not a readable .keras model file ({exc})") from None
    text = "\n".join(f"{name} {crc:08x} {size}" for name, crc, size in members)
    return hashlib.sha256(text.encode()).hexdigest()


def weights_checksum(buffers) -> str:
    """SHA-256 over a sequence of buffer contents (bytes-like or None), in order."""
    digest = hashlib.sha256()
    for data in buffers:
        payload = b"" if data is None else memoryview(data).cast("B")
        digest.update(len(payload).to_bytes(8, "little"))
        digest.update(payload)
    return digest.hexdigest()


def export_tflite(model, config: Config, out_path: Union[str, Path], source: Optional[Union[str, Path]] = None) -> Path:
    """Write `model`'s mask network with `config` embedded to `out_path` (a `.tflite` file),
    atomically; `source` is the `.keras` file the model was loaded from, if any. `model` may
    be in stock layers or in the CPU forms of `cunet.kernels.switch.use_cpu_kernels`."""
    out_path = Path(out_path)
    if out_path.suffix != ".tflite":
        raise ModelFileError(f"LiteRT model files end in .tflite: {out_path}")
    # Keras here, not at the top: the LiteRT path uses `keras_fingerprint` and the metadata names
    from cunet.kernels.folded import folded_model
    from cunet.model.parts import stock_model

    fingerprint = keras_fingerprint(source) if source is not None else ""
    # stock layers: the CPU forms of `cunet.kernels` use ops that are not TFLite built-ins
    flatbuffer = _convert(mask_network(folded_model(stock_model(model, config))), config)
    flatbuffer = _with_metadata(
        flatbuffer,
        {
            CONFIG_METADATA: yaml.safe_dump(config.to_dict(), sort_keys=False).encode(),
            SOURCE_METADATA: fingerprint.encode(),
        },
    )
    with atomic_path(out_path, suffix=".tflite") as tmp:
        tmp.write_bytes(flatbuffer)
    return out_path


def _convert(mask_model, config: Config) -> bytes:
    """The mask network as a TFLite flatbuffer of built-in ops, batch dimension free."""
    import keras
    import tensorflow as tf

    signature = [tf.TensorSpec((None, config.patch.freq_bins, config.patch.frames, 1), tf.float32, name="magnitude")]
    if config.conditioned:
        signature.append(tf.TensorSpec((None, len(config.instruments)), tf.float32, name="condition"))

    def serve(*inputs):
        return {"mask": mask_model(list(inputs) if len(inputs) > 1 else inputs[0], training=False)}

    with tempfile.TemporaryDirectory(prefix="cunet-export-") as saved_model:
        archive = keras.export.ExportArchive()
        archive.track(mask_model)
        archive.add_endpoint("serve", serve, input_signature=signature)
        archive.write_out(saved_model, verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(saved_model, signature_keys=["serve"])
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
        try:
            return converter.convert()
        except Exception as exc:  # the converter raises its own types for unsupported ops
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelFileError(f"cannot convert the mask network to LiteRT: {reason}") from None


def _with_metadata(flatbuffer: bytes, entries: dict) -> bytes:
    """`flatbuffer` with `entries` (name -> bytes) appended to its `metadata` table, and the
    weights checksum over the buffers it had."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    model = schema.ModelT.InitFromPackedBuf(bytearray(flatbuffer), 0)
    buffers = model.buffers or []
    if any(buffer.offset > 1 for buffer in buffers):  # weights past the 2 GB flatbuffer limit
        raise ModelFileError("the mask network is too large for a single .tflite flatbuffer")
    entries = {**entries, CHECKSUM_METADATA: weights_checksum(b.data for b in buffers).encode()}
    model.metadata = list(model.metadata or [])
    for name, data in entries.items():
        buffer = schema.BufferT()
        buffer.data = _as_uint8(data)
        buffers.append(buffer)
        entry = schema.MetadataT()
        entry.name, entry.buffer = name, len(buffers) - 1
        model.metadata.append(entry)
    model.buffers = [_AlignedBuffer(b, schema) for b in buffers]
    builder = flatbuffers.Builder(len(flatbuffer) + 4096)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def _as_uint8(data):
    import numpy as np

    return np.frombuffer(bytes(data), np.uint8)


class _AlignedBuffer:
    """A `BufferT` packed with its data aligned to `BUFFER_ALIGNMENT` bytes, as the TFLite
    converter writes it (the generated `BufferT.Pack` aligns to 1 byte only)."""

    def __init__(self, buffer, schema):
        self.buffer, self.schema = buffer, schema

    def Pack(self, builder):  # noqa: N802 (the flatbuffers object API's name)
        schema, data = self.schema, self.buffer.data
        vector = None
        if data is not None:
            payload = bytes(memoryview(data).cast("B"))
            builder.StartVector(1, len(payload), BUFFER_ALIGNMENT)
            builder.head = builder.head - len(payload)
            builder.Bytes[builder.head : builder.head + len(payload)] = payload
            vector = builder.EndVector()
        schema.BufferStart(builder)
        if vector is not None:
            schema.BufferAddData(builder, vector)
        schema.BufferAddOffset(builder, self.buffer.offset)
        schema.BufferAddSize(builder, self.buffer.size)
        return schema.BufferEnd(builder)
