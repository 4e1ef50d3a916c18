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


HUNDRED_PAGE_NEEDLE_PAGE = 73
HUNDRED_PAGE_QUERY = "蓝鲸号游轮的船长是谁？"

_ZH_SUBJECTS = ["航线", "客舱", "餐厅", "行李", "安全演习", "岸上观光", "退改规则", "医疗服务"]
_ZH_LINES = [
    "本章介绍{subject}的安排，第{page}页第{line}条。",
    "旅客应提前阅读{subject}说明，并遵守船方的指引。",
    "如有疑问，请联系前台，{subject}相关问题会在当天答复。",
    "{subject}的具体时间以每日船上通知为准，编号{page}-{line}。",
]
_EN_LINES = [
    "Section {page}.{line} explains the {subject} rules for every passenger on board.",
    "Passengers should read the {subject} notes before the ship leaves port.",
    "Questions about {subject} are answered at the front desk on the same day.",
]
_EN_SUBJECTS = ["itinerary", "cabin", "dining", "luggage", "safety drill", "excursion"]


def hundred_page_pdf() -> bytes:
    """A 100-page cruise handbook mixing Chinese and English lines; page 73 alone names the
    captain of the Blue Whale (the line ``HUNDRED_PAGE_QUERY`` asks about)."""
    pages: list[list[str]] = []
    for page in range(1, 101):
        lines = [f"第{page}章 Chapter {page}"]
        for line in range(1, 19):
            if line % 2:
                subject = _ZH_SUBJECTS[(page + line) % len(_ZH_SUBJECTS)]
                template = _ZH_LINES[(page * 7 + line) % len(_ZH_LINES)]
            else:
                subject = _EN_SUBJECTS[(page + line) % len(_EN_SUBJECTS)]
                template = _EN_LINES[(page * 5 + line) % len(_EN_LINES)]
            lines.append(template.format(subject=subject, page=page, line=line))
        if page == HUNDRED_PAGE_NEEDLE_PAGE:
            lines[9] = "蓝鲸号游轮的船长是周明远，他已经航海二十年。"
            lines[10] = "Captain Zhou Mingyuan has commanded the Blue Whale for twenty years."
        pages.append(lines)
    return make_pdf(pages)
