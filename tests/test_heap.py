"""The cycle collector as ``serve`` tunes it (``memos_server.heap``), in a process of its own: a
frozen heap in the test process would never be collected."""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import gc
from memos_server import heap
kept = [[i] for i in range(1000)]
heap.settle()
print(gc.get_freeze_count(), gc.get_threshold()[0], heap.YOUNG_THRESHOLD)
"""


def test_settling_freezes_what_is_alive_and_collects_the_young_less_often() -> None:
    out = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True
    ).stdout
    frozen, young, wanted = (int(word) for word in out.split())
    assert frozen >= 1000  # the start-up objects, these lists among them
    assert young == wanted > 700  # Python's default is 700
