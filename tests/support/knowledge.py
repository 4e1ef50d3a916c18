"""Documents the knowledge-base tests upload, built in the test (PDF with reportlab, Word with
python-docx), and the calls they share."""

from __future__ import annotations

import base64
import io
import time
import zipfile
from typing import Any

from tests.support.api import Api


def b64(content: bytes) -> str:
    return base64.b64encode(content).decode()


def make_pdf(pages: list[list[str]]) -> bytes:
    """A PDF with these lines on its pages; Chinese drawn with reportlab's built-in CID font."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    out = io.BytesIO()
    drawing = canvas.Canvas(out, pagesize=A4)
    for lines in pages:
        y = 800
        for line in lines:
            cjk = any("\u4e00" <= ch <= "\u9fff" for ch in line)
            drawing.setFont("STSong-Light" if cjk else "Helvetica", 12)
            drawing.drawString(50, y, line)
            y -= 30
        drawing.showPage()
    drawing.save()
    return out.getvalue()


def make_docx(sections: list[tuple[str, list[str]]]) -> bytes:
    """A Word document: each section a Heading 1 and its paragraphs."""
    import docx

    document = docx.Document()
    for heading, paragraphs in sections:
        document.add_heading(heading, level=1)
        for text in paragraphs:
            document.add_paragraph(text)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def zip_bomb_docx(unpacked_bytes: int) -> bytes:
    """A small .docx-shaped zip whose one part unpacks to ``unpacked_bytes``."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", b"a" * unpacked_bytes)
    return out.getvalue()


def create_base(api: Api, name: str = "shop") -> str:
    data = api.ok("/create/knowledgebase", {"knowledgebase_name": name})
    base_id: str = data["id"]
    return base_id


def upload(api: Api, base_id: str, *files: tuple[str, bytes]) -> list[dict[str, Any]]:
    body = {
        "knowledgebase_id": base_id,
        "file": [{"name": name, "content": b64(content)} for name, content in files],
    }
    added: list[dict[str, Any]] = api.ok("/add/knowledgebase-file", body)
    return added


def settled(api: Api, file_ids: list[str], timeout_s: float = 90) -> list[dict[str, Any]]:
    """The files once none is running any more."""
    deadline = time.monotonic() + timeout_s
    while True:
        data = api.ok("/get/knowledgebase-file", {"file_ids": file_ids})
        files: list[dict[str, Any]] = data["file_detail_list"]
        if all(f["status"] != "running" for f in files):
            return files
        assert time.monotonic() < deadline, files
        time.sleep(0.2)


def passages_of(result: dict[str, Any]) -> list[dict[str, Any]]:
    return [m for m in result["memory_detail_list"] if m.get("source") == "knowledgebase"]


def memories_of(result: dict[str, Any]) -> list[dict[str, Any]]:
    return [m for m in result["memory_detail_list"] if m.get("source") != "knowledgebase"]
