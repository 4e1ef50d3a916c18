"""A reindex's progress: a bar redrawn in place on a terminal, else a line now and then."""

from __future__ import annotations

import time
from typing import TextIO

from memos_server.services.reindex import Phase, Progress


class ProgressBar:
    """A reindex's progress: a bar redrawn in place on a terminal, else a line now and then."""

    WIDTH = 30
    LINE_EVERY_S = 5.0

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.tty = out.isatty()
        self.last_line = float("-inf")

    def __call__(self, progress: Progress) -> None:
        total = max(progress.total, 1)
        share = min(progress.done / total, 1.0)
        rate = progress.rate
        left = max(progress.total - progress.done, 0)
        eta = f", about {left / rate:.0f} s left" if rate > 0 and left else ""
        numbers = (
            f"{progress.done}/{progress.total} memories ({share:.0%}), "
            f"{rate:.1f}/s{eta} [{progress.phase}]"
        )
        if self.tty:
            filled = round(share * self.WIDTH)
            bar = "#" * filled + "-" * (self.WIDTH - filled)
            end = "\n" if progress.phase in (Phase.DONE, Phase.FAILED) else ""
            self.out.write(f"\rreindex {progress.model} [{bar}] {numbers}\x1b[K{end}")
            self.out.flush()
            return
        now = time.monotonic()
        if now - self.last_line >= self.LINE_EVERY_S or progress.phase != Phase.EMBEDDING:
            self.last_line = now
            print(f"reindex {progress.model}: {numbers}", file=self.out, flush=True)
