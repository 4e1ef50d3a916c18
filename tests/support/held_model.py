"""A stand-in model for the batcher's tests: it records each batch it is given and holds it until
released, so that calls made meanwhile wait together."""

from __future__ import annotations

import threading


class HeldModel:
    def __init__(self) -> None:
        self.release = threading.Event()
        self.batches: list[list[str]] = []

    def encode(self, texts: list[str]) -> list[list[float]]:
        """Each text's vector is its length."""
        self.batches.append(texts)
        self.release.wait(5)
        return [[float(len(t))] for t in texts]
