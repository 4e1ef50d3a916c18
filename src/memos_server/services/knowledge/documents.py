"""Text out of a knowledge-base document: txt, md, html (and xml), json, pdf, docx.

Each format becomes a list of ``Block``s, a paragraph with the heading it sits under, so that
``passages`` can cut along the document's own structure. Libraries: ``pypdf`` (BSD, pure Python,
no system library) for PDF, ``python-docx`` (MIT) for Word, the standard library's
``html.parser`` for HTML and XML: nothing to install beside the wheels, and nothing that runs
what a document holds.

Parsing runs in a worker thread (it is CPU work) and raises ``DocumentError`` with a reason a
person can act on; the job records it as the file's failure.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from dataclasses import dataclass
from enum import StrEnum
from html.parser import HTMLParser

from memos_server.text.storable import storable
from memos_server.text.writing_systems import HAN, HANGUL, KANA

WHITE = re.compile(r"[ \t\r\f\v\u00a0\u3000]+")
BLANK_LINES = re.compile(r"\n\s*\n")
MD_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
# Word's own heading styles ("Heading 1", "Title"); localised copies keep these names inside.
DOCX_HEADING = re.compile(r"^(Heading|Title)\s*(\d*)$")
HTML_HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
HTML_BLOCKS = {"p", "div", "li", "tr", "br", "section", "article", "blockquote", "pre", "td"}
TIGHT = re.compile(f"[{HAN}{KANA}{HANGUL}\u3000-\u303f\uff00-\uffef]")
HTML_SKIPPED = {"script", "style", "head", "noscript", "template", "svg"}


class DocumentType(StrEnum):
    TXT = "txt"
    MD = "md"
    HTML = "html"
    XML = "xml"
    JSON = "json"
    PDF = "pdf"
    DOCX = "docx"


EXTENSIONS = {
    "txt": DocumentType.TXT,
    "text": DocumentType.TXT,
    "md": DocumentType.MD,
    "markdown": DocumentType.MD,
    "html": DocumentType.HTML,
    "htm": DocumentType.HTML,
    "xml": DocumentType.XML,
    "json": DocumentType.JSON,
    "pdf": DocumentType.PDF,
    "docx": DocumentType.DOCX,
}


class DocumentError(Exception):
    """The document cannot be read (corrupt, encrypted, empty) or breaks a limit."""


@dataclass(frozen=True)
class Limits:
    max_pages: int
    max_text_chars: int
    # Largest uncompressed size of a docx's parts together: a small zip can unpack to gigabytes.
    max_unpacked_bytes: int


@dataclass(frozen=True)
class Block:
    heading: str  # the headings it sits under, outermost first, joined by " > "
    text: str
    page: int | None = None


def detect_type(name: str | None, content: bytes) -> DocumentType | None:
    """The document's type from its name's extension, else from its first bytes."""
    if name and "." in name:
        found = EXTENSIONS.get(name.rsplit(".", 1)[1].strip().lower())
        if found is not None:
            return found
    if content.startswith(b"%PDF"):
        return DocumentType.PDF
    if content.startswith(b"PK\x03\x04"):
        return DocumentType.DOCX
    try:
        head = content[:2048].decode("utf-8").lstrip("\ufeff").lstrip()
    except UnicodeDecodeError:
        return None
    if head[:1] in ("{", "["):
        return DocumentType.JSON
    if head.lower().startswith(("<!doctype html", "<html")):
        return DocumentType.HTML
    if head.startswith("<?xml"):
        return DocumentType.XML
    return DocumentType.TXT


def pdf_pages(content: bytes) -> int | None:
    """A PDF's page count, or None if it cannot be opened (its job will say why)."""
    from pypdf import PdfReader

    try:
        return len(PdfReader(io.BytesIO(content)).pages)
    except Exception:  # pypdf raises many kinds for a damaged file
        return None


def extract(content: bytes, kind: DocumentType, limits: Limits) -> list[Block]:
    """The document's paragraphs under their headings, in reading order."""
    if kind is DocumentType.PDF:
        blocks = _pdf(content, limits)
    elif kind is DocumentType.DOCX:
        blocks = _docx(content, limits)
    else:
        text = _decode(content)
        if kind is DocumentType.MD:
            blocks = _markdown(text)
        elif kind in (DocumentType.HTML, DocumentType.XML):
            blocks = _html(text)
        elif kind is DocumentType.JSON:
            blocks = _json(text)
        else:
            blocks = _paragraphs(text, "")
    # What Postgres text cannot hold: NUL (a PDF's or a text file's), and lone surrogates (a
    # JSON document's "\ud800" escapes).
    blocks = [
        Block(_storable(b.heading), text, b.page) for b in blocks if (text := _storable(b.text))
    ]
    if sum(len(b.text) for b in blocks) > limits.max_text_chars:
        raise DocumentError(
            f"the document holds more than {limits.max_text_chars:,} characters of text "
            "(MEMOS_KNOWLEDGE__MAX_TEXT_CHARS)"
        )
    if not blocks:
        raise DocumentError("no text found in the document (a scanned PDF needs OCR first)")
    return blocks


def _decode(content: bytes) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return content.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise DocumentError("the text is neither UTF-8 nor GB18030")


def _storable(text: str) -> str:
    """``text`` without NUL, and with lone surrogates as U+FFFD."""
    return storable(text).strip()


def _clean(text: str) -> str:
    return WHITE.sub(" ", text).strip()


def _paragraphs(text: str, heading: str, page: int | None = None) -> list[Block]:
    out: list[Block] = []
    for chunk in BLANK_LINES.split(text.replace("\r\n", "\n")):
        lines = [_clean(line) for line in chunk.split("\n")]
        joined = _join_lines([line for line in lines if line])
        if joined:
            out.append(Block(heading, joined, page))
    return out


def _join_lines(lines: list[str]) -> str:
    """Lines of one paragraph as one line: a space between Latin words, none inside Chinese."""
    out = ""
    for line in lines:
        if out and not (joins_tight(out[-1]) and joins_tight(line[0])):
            out += " "
        out += line
    return out


def joins_tight(char: str) -> bool:
    """No space between two such characters when lines are joined: Chinese, Japanese, Korean
    and their punctuation (。，（ ...)."""
    return TIGHT.match(char) is not None


class _Headings:
    """The heading path a paragraph sits under."""

    def __init__(self) -> None:
        self.levels: list[tuple[int, str]] = []

    def enter(self, level: int, title: str) -> None:
        self.levels = [(lv, t) for lv, t in self.levels if lv < level] + [(level, title)]

    @property
    def path(self) -> str:
        return " > ".join(title for _, title in self.levels)


def _markdown(text: str) -> list[Block]:
    headings = _Headings()
    out: list[Block] = []
    pending: list[str] = []
    fence = False

    def flush() -> None:
        if pending:
            out.extend(_paragraphs("\n".join(pending), headings.path))
            pending.clear()

    for line in text.replace("\r\n", "\n").split("\n"):
        if line.lstrip().startswith("```"):
            fence = not fence
            continue
        match = None if fence else MD_HEADING.match(line)
        if match:
            flush()
            headings.enter(len(match.group(1)), _clean(match.group(2)))
        else:
            pending.append(line)
    flush()
    return out


class _HtmlText(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.headings = _Headings()
        self.blocks: list[Block] = []
        self.parts: list[str] = []
        self.skipping = 0
        self.heading_level: int | None = None

    def flush(self) -> None:
        text = _clean("".join(self.parts))
        self.parts.clear()
        if not text:
            return
        if self.heading_level is not None:
            self.headings.enter(self.heading_level, text)
        else:
            self.blocks.append(Block(self.headings.path, text))

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in HTML_SKIPPED:
            self.skipping += 1
        elif tag in HTML_HEADINGS:
            self.flush()
            self.heading_level = HTML_HEADINGS[tag]
        elif tag in HTML_BLOCKS:
            self.flush()

    def handle_endtag(self, tag: str) -> None:
        if tag in HTML_SKIPPED:
            self.skipping = max(0, self.skipping - 1)
        elif tag in HTML_HEADINGS:
            self.flush()
            self.heading_level = None
        elif tag in HTML_BLOCKS:
            self.flush()

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(data)


def _html(text: str) -> list[Block]:
    parser = _HtmlText()
    parser.feed(text)
    parser.close()
    parser.flush()
    return parser.blocks


def _json(text: str) -> list[Block]:
    try:
        value = json.loads(text)
        # Pretty-printed, one top-level entry a paragraph: keys stay beside their values.
        entries = (
            value.items()
            if isinstance(value, dict)
            else enumerate(value if isinstance(value, list) else [value])
        )
        out: list[Block] = []
        for key, item in entries:
            rendered = json.dumps(item, ensure_ascii=False, indent=1)
            out.append(Block(str(key) if isinstance(value, dict) else "", _clean(rendered)))
    except RecursionError:
        raise DocumentError("the JSON is nested too deeply to read") from None
    except ValueError as error:
        raise DocumentError(f"not valid JSON: {error}") from None
    return [b for b in out if b.text]


def _pdf(content: bytes, limits: Limits) -> list[Block]:
    from pypdf import PdfReader

    try:
        reader = PdfReader(io.BytesIO(content))
        if reader.is_encrypted:
            raise DocumentError("the PDF is encrypted; upload an unprotected copy")
        pages = reader.pages
        if len(pages) > limits.max_pages:
            raise DocumentError(
                f"the PDF has {len(pages)} pages, more than {limits.max_pages} "
                "(MEMOS_KNOWLEDGE__MAX_PAGES)"
            )
        out: list[Block] = []
        characters = 0
        for number, page in enumerate(pages, start=1):
            text = page.extract_text() or ""
            characters += len(text)
            if characters > limits.max_text_chars:  # stop reading at once, not after every page
                raise DocumentError(
                    f"the PDF holds more than {limits.max_text_chars:,} characters of text "
                    "(MEMOS_KNOWLEDGE__MAX_TEXT_CHARS)"
                )
            out.extend(_paragraphs(text, "", number))
        return out
    except DocumentError:
        raise
    except Exception as error:  # pypdf raises many kinds for a damaged file
        raise DocumentError(f"the PDF cannot be read ({type(error).__name__}: {error})") from None


# A 500-page text holds about 15,000 paragraphs.
MAX_DOCX_PARAGRAPHS = 100_000
_PARAGRAPH_TAGS = (b"<w:p>", b"<w:p ")


def _docx_paragraphs(archive: zipfile.ZipFile) -> int:
    """Paragraph tags in the document's body, read a megabyte at a time."""
    try:
        body = archive.open("word/document.xml")
    except KeyError:
        return 0
    count, tail = 0, b""
    with body:
        while chunk := body.read(1 << 20):
            window = tail + chunk
            count += sum(window.count(tag) for tag in _PARAGRAPH_TAGS)
            # The last bytes may hold the start of a tag that the next chunk ends (too short to
            # hold a whole one, so nothing is counted twice).
            tail = window[-4:]
    return count


def _docx(content: bytes, limits: Limits) -> list[Block]:
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
            if unpacked > limits.max_unpacked_bytes:
                raise DocumentError(
                    f"the document unpacks to {unpacked:,} bytes, more than "
                    f"{limits.max_unpacked_bytes:,}: refused as a likely zip bomb"
                )
            # python-docx builds an object per paragraph (a 70 MB body of one-letter paragraphs
            # took minutes and gigabytes): count them first, streaming, in bounded memory.
            paragraphs = _docx_paragraphs(archive)
            if paragraphs > MAX_DOCX_PARAGRAPHS:
                raise DocumentError(
                    f"the document has {paragraphs:,} paragraphs, more than "
                    f"{MAX_DOCX_PARAGRAPHS:,}: split it into smaller documents"
                )
    except zipfile.BadZipFile:
        raise DocumentError("the .docx file is damaged (not a zip archive)") from None
    import docx

    try:
        document = docx.Document(io.BytesIO(content))
    except Exception as error:  # python-docx raises many kinds for a damaged file
        raise DocumentError(f"the .docx cannot be read ({type(error).__name__}: {error})") from None
    headings = _Headings()
    out: list[Block] = []
    for paragraph in document.paragraphs:
        text = _clean(paragraph.text)
        if not text:
            continue
        style = paragraph.style.name if paragraph.style is not None else ""
        match = DOCX_HEADING.match(style or "")
        if match:
            headings.enter(int(match.group(2) or 0) if match.group(1) == "Heading" else 0, text)
        else:
            out.append(Block(headings.path, text))
    for table in document.tables:
        for row in table.rows:
            cells = [_clean(cell.text) for cell in row.cells]
            line = " | ".join(dict.fromkeys(c for c in cells if c))
            if line:
                out.append(Block(headings.path, line))
    return out
