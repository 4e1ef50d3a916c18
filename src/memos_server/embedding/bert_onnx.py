"""Write a plain BERT sentence-transformers model (all-MiniLM-L6-v2) as ONNX, without torch.

The folder's ``model.safetensors`` is read as numpy arrays and fed to the shared encoder
(``bert_graph``). The graph has the inputs and output the torch export had (``onnx_export``):
``input_ids``, ``attention_mask``, ``token_type_ids`` in, ``last_hidden_state`` out; pooling and
normalisation stay in ``onnx_local``. For all-MiniLM-L6-v2 its vectors match the torch export's
(cosine > 0.9999, tests/test_bert_onnx.py).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from memos_server.embedding.bert_graph import BertGraph, Config, Floats

INPUTS = ("input_ids", "attention_mask", "token_type_ids")
OUTPUT = "last_hidden_state"
# Part names of bert_graph -> the module path inside a Hugging Face BERT layer.
_LINEAR = {
    "q": "attention.self.query",
    "k": "attention.self.key",
    "v": "attention.self.value",
    "ao": "attention.output.dense",
    "fi": "intermediate.dense",
    "fo": "output.dense",
}
_NORMS = {"aln": "attention.output.LayerNorm", "oln": "output.LayerNorm"}


def bert_config(directory: Path) -> Config | None:
    """The encoder's shape, or None when the folder's model is not one this builder writes."""
    weights = directory / "model.safetensors"
    try:
        config = json.loads((directory / "config.json").read_text())
    except (OSError, ValueError):
        return None
    plain = (
        config.get("model_type") == "bert"
        and config.get("hidden_act", "gelu") == "gelu"
        and config.get("position_embedding_type", "absolute") == "absolute"
    )
    if not plain or not weights.exists():
        return None
    return Config(
        hidden=int(config["hidden_size"]),
        layers=int(config["num_hidden_layers"]),
        heads=int(config["num_attention_heads"]),
        ffn=int(config["intermediate_size"]),
        positions=int(config["max_position_embeddings"]),
        eps=float(config.get("layer_norm_eps", 1e-12)),
    )


def write_bert_onnx(directory: Path, config: Config, target: Path) -> None:
    import onnx
    from safetensors.numpy import load_file

    tensors = load_file(str(directory / "model.safetensors"))
    # Some checkpoints name every tensor under "bert."; the encoder is the same.
    tensors = {name.removeprefix("bert."): value for name, value in tensors.items()}
    model = _Builder(config, tensors).build(directory.name)
    onnx.save_model(model, str(target))


class _Builder(BertGraph):
    def __init__(self, config: Config, tensors: dict[str, np.ndarray[Any, Any]]) -> None:
        super().__init__(config)
        self.tensors = tensors

    def build(self, name: str) -> Any:
        ids, mask, _ = INPUTS
        hidden, _mask_f = self.encode(ids, mask)
        self.op("Identity", [hidden], out=OUTPUT)
        return self.model(name, INPUTS, OUTPUT, ["batch", "tokens", self.config.hidden])

    def fp32(self, name: str) -> Floats:
        value: Floats = self.tensors[name].astype(np.float32)
        return value

    def norm(self, name: str) -> tuple[Floats, Floats]:
        if name == "emb.ln":
            path = "embeddings.LayerNorm"
        else:
            layer, kind = name.split(".")
            path = f"encoder.layer.{layer.removeprefix('l')}.{_NORMS[kind]}"
        return self.fp32(f"{path}.weight"), self.fp32(f"{path}.bias")

    def linear(self, x: str, layer: int, part: str, cols: int) -> str:
        path = f"encoder.layer.{layer}.{_LINEAR[part]}"
        return self.dense(x, layer, part, self.fp32(f"{path}.weight"), self.fp32(f"{path}.bias"))

    def embeddings(self, ids: str) -> str:
        """Word + absolute position (from 0) + token type."""
        words = self.op(
            "Gather", [self.const("emb.word", self.fp32("embeddings.word_embeddings.weight")), ids]
        )
        types = self.op(
            "Gather",
            [
                self.const("emb.type", self.fp32("embeddings.token_type_embeddings.weight")),
                INPUTS[2],
            ],
        )
        table = self.fp32("embeddings.position_embeddings.weight")
        return self.op("Add", [self.op("Add", [words, types]), self.positions(ids, table)])
