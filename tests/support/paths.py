"""Where things are: the repository root and the model cache every test service shares."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Every test service shares one ONNX export of the model (made once, by the first to start).
MODEL_CACHE = ROOT / "test-artifacts" / "models"
