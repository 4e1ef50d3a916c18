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
    done = progress.done + progress.passages_done
    total = progress.total + progress.passages_total
    share = min(done / max(total, 1), 1.0)
    rate = progress.rate
    left = max(total - done, 0)
    eta = f", about {left / rate:.0f} s left" if rate > 0 and left else ""
    passages = (
        f", {progress.passages_done}/{progress.passages_total} passages"
        if progress.passages_total
        else ""
    )
    return share, (
        f"{progress.done}/{progress.total} memories{passages} ({share:.0%}), "
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


class RecordsBar:
    """An export's or an import's progress on a terminal: the kind of record at hand, how many
    of them are done of the header's count, and the rate."""

    WIDTH = 30

    def __init__(self, verb: str, out: TextIO) -> None:
        self.verb = verb
        self.out = out
        self.started = time.monotonic()
        self.records = 0
        self.last: tuple[str, int] | None = None

    def __call__(self, kind: str, done: int, total: int) -> None:
        self.records += done - (self.last[1] if self.last and self.last[0] == kind else 0)
        self.last = (kind, done)
        share = min(done / total, 1.0) if total else 1.0
        filled = round(share * self.WIDTH)
        bar = "#" * filled + "-" * (self.WIDTH - filled)
        rate = self.records / max(time.monotonic() - self.started, 1e-6)
        self.out.write(
            f"\r{self.verb} {kind} [{bar}] {done}/{total} ({share:.0%}), {rate:.0f} records/s\x1b[K"
        )
        self.out.flush()

    def close(self) -> None:
        if self.last is not None:
            self.out.write("\n")
            self.out.flush()


def records_progress(verb: str) -> RecordsBar | None:
    """A bar on stderr when it is a terminal; nothing otherwise (stdout may be the export)."""
    return RecordsBar(verb, sys.stderr) if sys.stderr.isatty() else None
