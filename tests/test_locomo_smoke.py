"""The LoCoMo benchmark keeps working: one conversation, through the real script and API."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from tests.support.paths import ROOT

OVERALL = re.compile(r"\| \*\*overall\*\* \| " + r" \| ".join([r"([\d.]+)"] * 4) + r" \|")
DATASET = ROOT.parent / "shared" / "bench-data" / "locomo" / "locomo10.json"


@pytest.mark.slow
def test_one_locomo_conversation() -> None:
    if not DATASET.exists():
        pytest.skip(f"LoCoMo is not beside the checkout ({DATASET})")
    completed = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "locomo.py"), "--conversations", "1"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        cwd=ROOT,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    overall = re.search(
        r"\| \*\*overall\*\* \| ([\d.]+) \| ([\d.]+) \| ([\d.]+) \| ([\d.]+) \|", completed.stdout
    )
    assert overall, completed.stdout
    r5, r10, r25, r50 = (float(x) for x in overall.groups())
    assert r5 <= r10 <= r25 <= r50
    # A floor well under what this conversation gives (to catch breakage, not to benchmark).
    assert r10 >= 50.0
    assert "197 questions with evidence" in completed.stdout
