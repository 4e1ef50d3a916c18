"""Knowledge bases: create and delete them, upload, list and delete their documents.

Every base belongs to one project. A base id another project holds answers 50123 (not linked to
this project), one nobody holds 50120, as the Cloud does; a document of another project's base
answers 50123 too. An upload is checked whole before anything is stored (type, base64, sizes,
a PDF's pages): a refused request stores nothing. Each accepted document gets a task (its
``task_id`` for /get/status) and a ``knowledge`` job, queued in the same transaction; the job
(``services.knowledge.ingest``) makes its passages.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from memos_server.errors import (
    BadRequest,
    FileTooLarge,
    InvalidBase64,
    KnowledgeBaseNotFound,
    KnowledgeBaseNotLinked,
    NotFound,
    RequiredFieldEmpty,
    TooManyFiles,
    UnsupportedFileType,
    UrlFetchOff,
)
from memos_server.services.knowledge.documents import (
    EXTENSIONS,
    DocumentType,
    detect_type,
    pdf_pages,
)
from memos_server.services.knowledge.fetch import file_name
from memos_server.services.tasks import TaskKind
from memos_server.settings import Settings
from memos_server.storage.models import KnowledgeBase, KnowledgeFile, KnowledgePassage, Task
from memos_server.storage.paging import offset_of
from memos_server.storage.repositories.jobs import JobRepository
from memos_server.storage.repositories.knowledge import BaseCounts, KnowledgeRepository
from memos_server.storage.repositories.tasks import TaskRepository
from memos_server.storage.vocabulary import FileStatus, JobKind, TaskStatus

ALL = "all"  # knowledgebase_ids=["all"]: every base of the project
MAX_NAME_CHARS = 200
MAX_DESCRIPTION_CHARS = 2_000


def short_name(name: str) -> str:
    """A document's name within ``MAX_NAME_CHARS``: a longer one loses the end of its stem and
    keeps its extension (up to 16 characters), which says what the document is."""
    if len(name) <= MAX_NAME_CHARS:
        return name
    stem, dot, extension = name.rpartition(".")
    if not dot or not stem or len(extension) > 16:
        return name[:MAX_NAME_CHARS]
    return f"{stem[: MAX_NAME_CHARS - len(extension) - 2]}….{extension}"


@dataclass(frozen=True)
class Upload:
    """One document of an upload: its bytes, or (JSON ``content`` of http(s)://...) a URL."""

    name: str | None
    content: bytes | None = None
    url: str | None = None


@dataclass(frozen=True)
class FilePassages:
    """A document with one page of its passages (in the document's order)."""

    file: KnowledgeFile
    passages: list[KnowledgePassage]
    total: int  # the document's passages, over all pages


def decode_content(content: str) -> Upload:
    """A JSON upload's ``content``: a URL, or base64 (a ``data:...;base64,`` prefix allowed)."""
    text = content.strip()
    if text.lower().startswith(("http://", "https://")):
        return Upload(name=None, url=text)
    if text.startswith("data:") and "," in text:
        text = text.split(",", 1)[1]
    try:
        return Upload(name=None, content=base64.b64decode(text, validate=True))
    except (binascii.Error, ValueError):
        raise InvalidBase64(
            "file content is neither an http(s) URL nor valid base64 (standard alphabet)"
        ) from None


def url_parses(url: str) -> bool:
    try:
        httpx.URL(url)
    except httpx.InvalidURL:
        return False
    return True


def parse_id(raw: str, what: str) -> uuid.UUID:
    try:
        return uuid.UUID(raw.strip())
    except (ValueError, AttributeError):
        if what == "knowledge base":
            raise KnowledgeBaseNotFound(f"knowledge base {raw!r} not found") from None
        raise NotFound(f"{what} {raw!r} not found") from None


class KnowledgeService:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.limits = settings.knowledge

    async def create(
        self, session: AsyncSession, *, project_id: uuid.UUID, name: str, description: str | None
    ) -> KnowledgeBase:
        name = name.strip()
        if not name:
            raise RequiredFieldEmpty("knowledgebase_name is empty")
        if len(name) > MAX_NAME_CHARS or len(description or "") > MAX_DESCRIPTION_CHARS:
            raise BadRequest(
                f"knowledgebase_name is limited to {MAX_NAME_CHARS} characters and "
                f"knowledgebase_description to {MAX_DESCRIPTION_CHARS}"
            )
        return await KnowledgeRepository(session).add_base(
            KnowledgeBase(
                id=uuid.uuid4(), project_id=project_id, name=name, description=description
            )
        )

    async def own_base(
        self, session: AsyncSession, *, project_id: uuid.UUID, base_id: str
    ) -> KnowledgeBase:
        parsed = parse_id(base_id, "knowledge base")
        base = (await KnowledgeRepository(session).bases([parsed])).get(parsed)
        if base is None:
            raise KnowledgeBaseNotFound(f"knowledge base {base_id!r} not found")
        if base.project_id != project_id:
            raise KnowledgeBaseNotLinked(
                f"knowledge base {base_id!r} is not linked to this API key's project"
            )
        return base

    async def delete(self, session: AsyncSession, *, project_id: uuid.UUID, base_id: str) -> None:
        """The base, its documents and their passages, at once (search stops finding them)."""
        base = await self.own_base(session, project_id=project_id, base_id=base_id)
        await KnowledgeRepository(session).delete_base(base.id)

    async def bases_with_counts(
        self, session: AsyncSession, *, project_id: uuid.UUID, offset: int, limit: int
    ) -> tuple[list[BaseCounts], int]:
        """One page of the project's bases, newest first, with their documents' counts."""
        return await KnowledgeRepository(session).bases_with_counts(project_id, offset, limit)

    async def search_bases(
        self, session: AsyncSession, *, project_id: uuid.UUID, base_ids: Sequence[str]
    ) -> list[uuid.UUID]:
        """The bases a search names: ``["all"]`` is every base of the project."""
        wanted = [b.strip() for b in base_ids if b.strip()]
        if not wanted:
            return []
        repository = KnowledgeRepository(session)
        if any(b.lower() == ALL for b in wanted):
            return await repository.base_ids_of(project_id)
        return list(
            dict.fromkeys(
                [
                    (await self.own_base(session, project_id=project_id, base_id=b)).id
                    for b in wanted
                ]
            )
        )

    def check_url(self, upload: Upload) -> tuple[Upload, DocumentType | None]:
        """A document named by URL: refused unless ``url_fetch`` is on (fetching addresses a
        client chooses is request forgery waiting to happen), then taken as it is. Its addresses
        are checked, and it is fetched, by its job (``fetch.py``); its type is its name's, or,
        when the URL's path has no known extension, the fetched bytes' (``None`` until then)."""
        if not self.limits.url_fetch:
            raise UrlFetchOff()
        url = upload.url or ""
        if len(url) > self.limits.url_max_chars:
            raise BadRequest(
                f"the URL is {len(url):,} characters, more than {self.limits.url_max_chars:,} "
                "(MEMOS_KNOWLEDGE__URL_MAX_CHARS)"
            )
        if not url_parses(url):
            raise BadRequest("the document URL is not a valid URL")
        name = upload.name or file_name(httpx.URL(url))
        if name is None or "." not in name:
            return Upload(name=name, url=url), None
        kind = EXTENSIONS.get(name.rsplit(".", 1)[1].strip().lower())
        return Upload(name=name, url=url), kind

    async def check_uploads(
        self, uploads: Sequence[Upload]
    ) -> list[tuple[Upload, DocumentType | None]]:
        """Each document with its type, or the first reason to refuse the whole upload."""
        if not uploads:
            raise RequiredFieldEmpty("file is empty: send at least one document")
        if len(uploads) > self.limits.max_files_per_upload:
            raise TooManyFiles(
                f"{len(uploads)} documents in one upload, more than "
                f"{self.limits.max_files_per_upload} (MEMOS_KNOWLEDGE__MAX_FILES_PER_UPLOAD)"
            )
        checked: list[tuple[Upload, DocumentType | None]] = []
        for upload in uploads:
            if upload.url is not None:
                checked.append(self.check_url(upload))
                continue
            content = upload.content or b""
            label = upload.name or "document"
            if not content:
                raise RequiredFieldEmpty(f"{label} is empty")
            if len(content) > self.limits.max_file_bytes:
                raise FileTooLarge(
                    f"{label} is {len(content):,} bytes, more than {self.limits.max_file_bytes:,} "
                    "(MEMOS_KNOWLEDGE__MAX_FILE_BYTES)"
                )
            kind = detect_type(upload.name, content)
            if kind is None:
                raise UnsupportedFileType(
                    f"{label}: unsupported file type; send txt, md, html, xml, json, pdf or docx"
                )
            if kind is DocumentType.PDF:
                pages = await asyncio.to_thread(pdf_pages, content)
                if pages is not None and pages > self.limits.max_pages:
                    raise FileTooLarge(
                        f"{label} has {pages} pages, more than {self.limits.max_pages} "
                        "(MEMOS_KNOWLEDGE__MAX_PAGES)"
                    )
            checked.append((upload, kind))
        return checked

    async def add_files(
        self,
        session: AsyncSession,
        *,
        project_id: uuid.UUID,
        base_id: str,
        uploads: Sequence[Upload],
    ) -> list[KnowledgeFile]:
        """Store the documents and queue a job for each (status ``running``)."""
        checked = await self.check_uploads(uploads)
        base = await self.own_base(session, project_id=project_id, base_id=base_id)
        tasks, jobs = TaskRepository(session), JobRepository(session)
        files: list[KnowledgeFile] = []
        for upload, kind in checked:
            task = await tasks.add(
                Task(
                    id=uuid.uuid4(),
                    project_id=project_id,
                    kind=TaskKind.ADD_KNOWLEDGEBASE_FILE,
                    user_id="",
                    conversation_id=str(base.id),
                    status=TaskStatus.RUNNING,
                )
            )
            files.append(
                KnowledgeFile(
                    id=uuid.uuid4(),
                    project_id=project_id,
                    knowledgebase_id=base.id,
                    task_id=task.id,
                    name=short_name(upload.name or f"document.{kind or 'url'}"),
                    type=kind or "",  # a URL's without an extension: known once fetched
                    size_bytes=len(upload.content or b""),
                    status=FileStatus.RUNNING,
                    content=upload.content,
                    source_url=upload.url,
                )
            )
            # One base's documents run one after another; different bases' side by side.
            await jobs.enqueue(
                task.id,
                project_id,
                f"knowledgebase:{base.id}",
                self.settings.jobs.max_attempts,
                kind=JobKind.KNOWLEDGE,
            )
        await KnowledgeRepository(session).add_files(files)
        return files

    async def files(
        self, session: AsyncSession, *, project_id: uuid.UUID, file_ids: Sequence[str]
    ) -> list[KnowledgeFile]:
        """These documents, in the order asked; any unknown: 40001, another project's: 50123."""
        parsed = [parse_id(raw, "file") for raw in file_ids]
        found = {f.id: f for f in await KnowledgeRepository(session).files(parsed)}
        for raw, file_id in zip(file_ids, parsed, strict=True):
            file = found.get(file_id)
            if file is None:
                raise NotFound(f"file {raw!r} not found")
            if file.project_id != project_id:
                raise KnowledgeBaseNotLinked(
                    f"file {raw!r} belongs to a knowledge base not linked to this project"
                )
        return [found[file_id] for file_id in dict.fromkeys(parsed)]

    async def files_of_base(
        self,
        session: AsyncSession,
        *,
        project_id: uuid.UUID,
        base_id: str,
        page: int,
        page_size: int,
    ) -> tuple[list[KnowledgeFile], int]:
        base = await self.own_base(session, project_id=project_id, base_id=base_id)
        return await KnowledgeRepository(session).files_of_base(
            base.id, offset_of(page, page_size), page_size
        )

    async def delete_files(
        self, session: AsyncSession, *, project_id: uuid.UUID, file_ids: Sequence[str]
    ) -> None:
        """The documents and their passages, at once; a job still running on one finds it gone."""
        files = await self.files(session, project_id=project_id, file_ids=file_ids)
        await KnowledgeRepository(session).delete_files([f.id for f in files])

    async def file_passages(
        self,
        session: AsyncSession,
        *,
        project_id: uuid.UUID,
        file_id: str,
        offset: int,
        limit: int,
    ) -> FilePassages:
        """A document of the project and one page of its passages; unknown: 40001, another
        project's: 50123 (as /get/knowledgebase-file)."""
        [file] = await self.files(session, project_id=project_id, file_ids=[file_id])
        passages, total = await KnowledgeRepository(session).passages_of_file(
            file.id, offset, limit
        )
        return FilePassages(file, passages, total)
