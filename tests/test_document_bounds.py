"""What bounds the work a hostile document can cause before it fails, called in process: a docx
of countless tiny paragraphs, and a PDF whose pages hold more text than a document may."""

from __future__ import annotations

import io
import time
import zipfile

import pytest

from memos_server.services.knowledge.documents import (
    MAX_DOCX_PARAGRAPHS,
    DocumentError,
    DocumentType,
    Limits,
    extract,
)
from tests.support.knowledge import make_docx, make_pdf

LIMITS = Limits(max_pages=500, max_text_chars=5_000_000, max_unpacked_bytes=64_000_000)


def paragraphs_docx(count: int) -> bytes:
    """A docx-shaped zip whose body holds ``count`` one-letter paragraphs (compresses to little)."""
    body = b"<w:document><w:body>" + b"<w:p><w:r><w:t>a</w:t></w:r></w:p>" * count
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", body + b"</w:body></w:document>")
    return out.getvalue()


def test_a_docx_of_countless_paragraphs_is_refused_before_it_is_parsed() -> None:
    bomb = paragraphs_docx(MAX_DOCX_PARAGRAPHS + 1)
    assert len(bomb) < 200_000  # small on the wire
    started = time.perf_counter()
    with pytest.raises(DocumentError, match="paragraphs, more than"):
        extract(bomb, DocumentType.DOCX, LIMITS)
    assert time.perf_counter() - started < 5  # counted, not parsed


def test_paragraphs_split_across_reads_are_counted_once() -> None:
    from memos_server.services.knowledge.documents import _docx_paragraphs

    for count in (0, 1, 29_000, 31_000, 60_000):  # 35 bytes each: tags across 1 MiB reads
        with zipfile.ZipFile(io.BytesIO(paragraphs_docx(count))) as archive:
            assert _docx_paragraphs(archive) == count


def test_a_real_docx_still_reads() -> None:
    document = make_docx([("退货政策", ["七天无理由退货。", "Refunds within 7 days."])])
    blocks = extract(document, DocumentType.DOCX, LIMITS)
    assert [b.text for b in blocks] == ["七天无理由退货。", "Refunds within 7 days."]


def test_a_pdf_stops_at_the_text_limit() -> None:
    pdf = make_pdf([["A line of text on a page, repeated."] * 20] * 5)
    small = Limits(max_pages=500, max_text_chars=1_000, max_unpacked_bytes=10_000_000)
    with pytest.raises(DocumentError, match="more than 1,000 characters"):
        extract(pdf, DocumentType.PDF, small)
    assert extract(pdf, DocumentType.PDF, LIMITS)
