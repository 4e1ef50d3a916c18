"""Knowledge bases: create/knowledgebase, delete/knowledgebase, add/get/delete knowledgebase-file.

``add/knowledgebase-file`` takes either JSON (``file: [{content: base64 | url, name}]``) or the
multipart form the SDK's ``add_knowledgebase_file_form`` sends (parts named ``file``,
``knowledgebase_id`` as a query parameter); the route reads the body itself to accept both.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from memos_server.api.deps import KnowledgeDep, ProjectDep, RuntimeDep, SessionDep
from memos_server.api.responses import ERRORS, NOT_FOUND
from memos_server.api.schemas.common import Envelope
from memos_server.api.schemas.input_rules import body_problem
from memos_server.api.schemas.knowledge import (
    UPLOAD_BODY,
    AddedFile,
    AddKnowledgebaseFileRequest,
    CreateKnowledgebaseData,
    CreateKnowledgebaseRequest,
    DeleteKnowledgebaseFileRequest,
    DeleteKnowledgebaseRequest,
    GetKnowledgebaseFileData,
    GetKnowledgebaseFileRequest,
    SuccessData,
    added_file,
    file_detail,
)
from memos_server.api.transaction import commit_now
from memos_server.errors import BadRequest, RequiredFieldEmpty
from memos_server.services.knowledge.bases import Upload, decode_content

router = APIRouter(tags=["knowledge"], responses={**ERRORS, **NOT_FOUND})

DEFAULT_PAGE_SIZE = 10


@router.post(
    "/create/knowledgebase",
    response_model=Envelope[CreateKnowledgebaseData],
    summary="Create a knowledge base",
    operation_id="create_knowledgebase",
)
async def create_knowledgebase(
    body: CreateKnowledgebaseRequest,
    project: ProjectDep,
    session: SessionDep,
    knowledge: KnowledgeDep,
) -> Envelope[CreateKnowledgebaseData]:
    """A new, empty knowledge base of this key's project."""
    base = await knowledge.create(
        session,
        project_id=project,
        name=body.knowledgebase_name,
        description=body.knowledgebase_description,
    )
    return Envelope(data=CreateKnowledgebaseData(id=base.id.hex))


@router.post(
    "/delete/knowledgebase",
    response_model=Envelope[SuccessData],
    summary="Delete a knowledge base",
    operation_id="delete_knowledgebase",
)
async def delete_knowledgebase(
    body: DeleteKnowledgebaseRequest,
    project: ProjectDep,
    session: SessionDep,
    knowledge: KnowledgeDep,
) -> Envelope[SuccessData]:
    """The base with its documents and passages; search stops finding them at once."""
    await knowledge.delete(session, project_id=project, base_id=body.knowledgebase_id)
    return Envelope(data=SuccessData(success=True))


async def read_upload(request: Request) -> tuple[str, list[Upload]]:
    """The base id and documents of a JSON or multipart upload."""
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        # The form's files are spooled to temporary files: closed when the block ends.
        async with request.form() as form:
            base_id = request.query_params.get("knowledgebase_id") or form.get("knowledgebase_id")
            uploads = [
                Upload(name=part.filename, content=await part.read())
                for part in form.getlist("file")
                if isinstance(part, UploadFile)
            ]
        if not isinstance(base_id, str) or not base_id.strip():
            raise RequiredFieldEmpty("knowledgebase_id is empty")
        # The form's strings, held to the rules a JSON body's are (no NUL, no lone surrogate).
        fields = {"knowledgebase_id": base_id, "file": [{"name": u.name} for u in uploads]}
        problem = body_problem(fields)
        if problem is not None:
            raise BadRequest(problem)
        return base_id, uploads
    try:
        body = AddKnowledgebaseFileRequest.model_validate_json(await request.body())
    except ValidationError as error:
        raise RequestValidationError(error.errors(include_url=False)) from None
    uploads = []
    for item in body.file:
        decoded = decode_content(item.content)
        uploads.append(Upload(name=item.name, content=decoded.content, url=decoded.url))
    return body.knowledgebase_id, uploads


@router.post(
    "/add/knowledgebase-file",
    response_model=Envelope[list[AddedFile]],
    summary="Add documents to a knowledge base",
    operation_id="add_knowledgebase_file",
    openapi_extra=UPLOAD_BODY,
)
async def add_knowledgebase_file(
    request: Request,
    project: ProjectDep,
    session: SessionDep,
    knowledge: KnowledgeDep,
    runtime: RuntimeDep,
) -> Envelope[list[AddedFile]]:
    """Store the documents; each is parsed, cut into passages and embedded by a job
    (``status: running``; poll /get/status with its ``task_id`` or /get/knowledgebase-file)."""
    base_id, uploads = await read_upload(request)
    files = await knowledge.add_files(session, project_id=project, base_id=base_id, uploads=uploads)
    await commit_now(session)  # the worker, woken now, must find the documents' jobs
    if runtime.worker is not None:
        runtime.worker.wake()
    return Envelope(data=[added_file(f) for f in files])


@router.post(
    "/get/knowledgebase-file",
    response_model=Envelope[GetKnowledgebaseFileData],
    summary="Get knowledge-base documents",
    operation_id="get_knowledgebase_file",
)
async def get_knowledgebase_file(
    body: GetKnowledgebaseFileRequest,
    project: ProjectDep,
    session: SessionDep,
    knowledge: KnowledgeDep,
) -> Envelope[GetKnowledgebaseFileData]:
    """Documents by ``file_ids``, or one page of a base's (``knowledgebase_id``), with status."""
    page, size = body.page or 1, body.page_size or DEFAULT_PAGE_SIZE
    if bool(body.file_ids) == bool(body.knowledgebase_id):
        raise BadRequest("send exactly one of file_ids and knowledgebase_id")
    if body.file_ids:
        files = await knowledge.files(session, project_id=project, file_ids=body.file_ids)
        total, page, size = len(files), 1, max(1, len(files))
    else:
        assert body.knowledgebase_id is not None
        files, total = await knowledge.files_of_base(
            session, project_id=project, base_id=body.knowledgebase_id, page=page, page_size=size
        )
    return Envelope(
        data=GetKnowledgebaseFileData(
            file_detail_list=[file_detail(f) for f in files],
            total=total,
            page=page,
            page_size=size,
        )
    )


@router.post(
    "/delete/knowledgebase-file",
    response_model=Envelope[SuccessData],
    summary="Delete knowledge-base documents",
    operation_id="delete_knowledgebase_file",
)
async def delete_knowledgebase_file(
    body: DeleteKnowledgebaseFileRequest,
    project: ProjectDep,
    session: SessionDep,
    knowledge: KnowledgeDep,
) -> Envelope[SuccessData]:
    """The documents and their passages; search stops finding them at once."""
    await knowledge.delete_files(session, project_id=project, file_ids=body.file_ids)
    return Envelope(data=SuccessData(success=True))
