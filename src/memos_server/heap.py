"""Python's cycle collector tuned for the long-running service (``serve``, each of its workers).

Two costs measured under search load (BENCHMARKS.md, "sixth round"):

- a full collection walked every object alive since start-up (some 240,000: the modules, the
  app's schemas and routes, the model's vocabulary) for 150-180 ms of CPU, with every request in
  flight stopped meanwhile; ``gc.freeze`` puts those out of the collector's sight for good, so a
  full collection walks only what requests left behind;
- the young generation, collected every 700 net allocations, ran about once every two requests:
  at 10,000 it runs a few times a minute.

Only ``serve`` settles the heap: the tests start and stop many apps in one process, and objects
frozen there would never be collected.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 10_000


def settle() -> None:
    """Collect once, freeze everything alive, then collect the young generation less often."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
