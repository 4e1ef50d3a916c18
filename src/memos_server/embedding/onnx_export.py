"""Turn a local sentence-transformers model into an ONNX file once, and keep it.

The ONNX Runtime runs the same network about 2.5x faster than torch for a single query on this
class of CPU (5 ms instead of 14 for all-MiniLM-L6-v2), with the same vectors (cosine 1.0). A plain
BERT with safetensors weights (all-MiniLM-L6-v2) is written without torch (``bert_onnx``, about a
second); any other model is exported through torch, which needs the ``torch`` extra. The file is
cached under the data directory, keyed by a digest of the weights and how it was made, so later
starts never convert again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

from memos_server.embedding.bert_graph import OPSET
from memos_server.embedding.bert_onnx import INPUTS, bert_config, write_bert_onnx
from memos_server.extras import require_torch

log = logging.getLogger(__name__)

_WEIGHTS = ("model.safetensors", "pytorch_model.bin")
_POOLING = {"pooling_mode_mean_tokens": "mean", "pooling_mode_cls_token": "cls"}


@dataclass(frozen=True)
class ModelLayout:
    """What the ONNX path needs to know of a sentence-transformers model directory."""

    directory: Path
    weights: Path
    tokenizer: Path
    pooling: str  # mean | cls
    max_seq_length: int


def read_layout(directory: Path) -> ModelLayout | None:
    """The model's layout, or None when it is not a plain Transformer + Pooling (+ Normalize).

    Vectors are always normalised, so a Normalize module changes nothing.
    """
    try:
        modules = json.loads((directory / "modules.json").read_text())
        kinds = [m["type"].rsplit(".", 1)[-1] for m in modules]
        if kinds not in (["Transformer", "Pooling"], ["Transformer", "Pooling", "Normalize"]):
            return None
        pooling_dir = directory / modules[1]["path"]
        pooling_config = json.loads((pooling_dir / "config.json").read_text())
        modes = [mode for key, mode in _POOLING.items() if pooling_config.get(key)]
        other = [k for k, v in pooling_config.items() if k.startswith("pooling_mode") and v]
        if len(modes) != 1 or len(other) != 1:
            return None
        config = json.loads((directory / "sentence_bert_config.json").read_text())
        weights = next(directory / w for w in _WEIGHTS if (directory / w).exists())
    except (OSError, ValueError, KeyError, IndexError, StopIteration):
        return None
    tokenizer = directory / "tokenizer.json"
    if not tokenizer.exists():
        return None
    return ModelLayout(
        directory=directory,
        weights=weights,
        tokenizer=tokenizer,
        pooling=modes[0],
        max_seq_length=int(config.get("max_seq_length", 512)),
    )


def cached_onnx(layout: ModelLayout, cache_dir: Path, *, via_torch: bool = False) -> Path:
    """The model's ONNX file in ``cache_dir``, written first if it is not there yet.

    ``via_torch``: export through torch even a model the torch-free builder can write (to compare
    the two).
    """
    config = None if via_torch else bert_config(layout.directory)
    with layout.weights.open("rb") as weights:
        digest = hashlib.file_digest(weights, "sha256").hexdigest()[:16]
    made_by = "torch" if config is None else "bert"
    target = cache_dir / f"{layout.directory.name}-{digest}-{made_by}-opset{OPSET}.onnx"
    if target.exists():
        return target
    if config is None:
        require_torch(f"exporting {layout.directory} to ONNX (not a plain BERT in safetensors)")
    cache_dir.mkdir(parents=True, exist_ok=True)
    log.info("preparing the model: %s to ONNX (once, by %s): %s", layout.directory, made_by, target)
    started = time.monotonic()
    partial = target.with_suffix(f".{os.getpid()}.partial")
    try:
        if config is None:
            _export(layout.directory, partial)
        else:
            write_bert_onnx(layout.directory, config, partial)
        partial.replace(target)  # atomic: another process never sees half a file
    finally:
        partial.unlink(missing_ok=True)
    log.info("model prepared in %.1f s", time.monotonic() - started)
    return target


def _export(directory: Path, target: Path) -> None:
    import torch
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(directory), device="cpu")
    network = model[0].auto_model.eval()

    class Encoder(torch.nn.Module):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.network = network

        def forward(
            self,
            input_ids: torch.Tensor,
            attention_mask: torch.Tensor,
            token_type_ids: torch.Tensor,
        ) -> torch.Tensor:
            out = self.network(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            )
            return out.last_hidden_state

    sample = model.tokenizer(["export"], return_tensors="pt")
    axes = {name: {0: "batch", 1: "tokens"} for name in (*INPUTS, "last_hidden_state")}
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            Encoder(),
            tuple(sample[name] for name in INPUTS),
            str(target),
            input_names=list(INPUTS),
            output_names=["last_hidden_state"],
            dynamic_axes=axes,
            opset_version=OPSET,
            dynamo=False,
        )
