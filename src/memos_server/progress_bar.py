"""A reindex's progress: a bar redrawn in place on a terminal, else a line now and then.

The bar is for a person at a terminal only: ``reindex_progress`` draws it on stderr when stderr is
one and the logs are plain text; otherwise (JSON logs, a pipe) the progress is a log line every
few seconds, in the logs' own format, never a bar written into them.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from typing import TextIO

from memos_server.services.reindex import Phase, Progress

log = logging.getLogger("memos_server.reindex")

LINE_EVERY_S = 5.0


def _numbers(progress: Progress) -> tuple[float, str]:
    total = max(progress.total, 1)
    share = min(progress.done / total, 1.0)
    rate = progress.rate
    left = max(progress.total - progress.done, 0)
    eta = f", about {left / rate:.0f} s left" if rate > 0 and left else ""
    return share, (
        f"{progress.done}/{progress.total} memories ({share:.0%}), "
        f"{rate:.1f}/s{eta} [{progress.phase}]"
    )


class ProgressBar:
    """A reindex's progress: a bar redrawn in place on a terminal, else a line now and then."""

    WIDTH = 30
    LINE_EVERY_S = LINE_EVERY_S

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.tty = out.isatty()
        self.last_line = float("-inf")

    def __call__(self, progress: Progress) -> None:
        share, numbers = _numbers(progress)
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


class ProgressLog:
    """The same progress as a log line every ``LINE_EVERY_S`` seconds and at each phase."""

    def __init__(self) -> None:
        self.last_line = float("-inf")

    def __call__(self, progress: Progress) -> None:
        now = time.monotonic()
        if now - self.last_line >= LINE_EVERY_S or progress.phase != Phase.EMBEDDING:
            self.last_line = now
            log.info("reindex %s: %s", progress.model, _numbers(progress)[1])


def reindex_progress(text_logs: bool) -> Callable[[Progress], None]:
    """The bar on stderr for a terminal with text logs, else progress log lines."""
    if text_logs and sys.stderr.isatty():
        return ProgressBar(sys.stderr)
    return ProgressLog()
