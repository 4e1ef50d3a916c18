"""Knowledge bases on the wire: create/delete a base, add/get/delete its documents."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from memos_server.api.schemas.common import Id, ListedId, TopLevelRequest, epoch_ms
from memos_server.storage.models import KnowledgeFile


class CreateKnowledgebaseRequest(TopLevelRequest):
    knowledgebase_name: str = Field(min_length=1, description="The base's name.")
    knowledgebase_description: str | None = Field(default=None, description="What it holds.")


class CreateKnowledgebaseData(BaseModel):
    id: str = Field(description="The new base's id (32 hex digits).")


class DeleteKnowledgebaseRequest(TopLevelRequest):
    knowledgebase_id: Id = Field(min_length=1)


class SuccessData(BaseModel):
    success: bool


class FileInput(BaseModel):
    """One document of a JSON upload (unknown fields are ignored)."""

    model_config = ConfigDict(extra="ignore")

    content: str = Field(
        min_length=1,
        description="The document as base64 (a data: URL prefix allowed), or an http(s) URL "
        "fetched by the document's job when MEMOS_KNOWLEDGE__URL_FETCH is on (refused otherwise).",
    )
    name: str | None = Field(
        default=None, description="File name; its extension gives the type (txt, md, pdf, ...)."
    )


class AddKnowledgebaseFileRequest(TopLevelRequest):
    knowledgebase_id: Id = Field(min_length=1)
    file: list[FileInput] = Field(description="The documents (at most 20).")


class AddedFile(BaseModel):
    id: str
    name: str
    sizeMB: float = Field(description="Size in MB (the Cloud's field name).")
    status: str = Field(description="running, completed or failed.")
    task_id: str = Field(description="Its processing task, for /get/status.")


class GetKnowledgebaseFileRequest(TopLevelRequest):
    file_ids: list[ListedId] | None = Field(default=None, description="These documents (or:)")
    knowledgebase_id: Id | None = Field(default=None, description="One page of this base's.")
    type: str | None = Field(default=None, description="Accepted and ignored.")
    page: int | None = Field(default=None, ge=1, description="Page (default 1).")
    page_size: int | None = Field(default=None, ge=1, le=100, description="Default 10, max 100.")


class FileDetail(BaseModel):
    id: str
    knowledgebase_id: str
    name: str
    type: str
    size: str = Field(description="Size in bytes, as a string (the Cloud's type).")
    size_bytes: int
    sizeMB: float
    status: str = Field(description="running, completed or failed.")
    reason: str | None = Field(description="Why it failed (null unless failed).")
    passages: int = Field(description="Passages search can return from it.")
    task_id: str
    create_time: int | None
    update_time: int | None


class GetKnowledgebaseFileData(BaseModel):
    file_detail_list: list[FileDetail]
    total: int
    page: int
    page_size: int


class DeleteKnowledgebaseFileRequest(TopLevelRequest):
    file_ids: list[ListedId] = Field(min_length=1)


def size_mb(size_bytes: int) -> float:
    return size_bytes / 1_048_576


def added_file(file: KnowledgeFile) -> AddedFile:
    return AddedFile(
        id=file.id.hex,
        name=file.name,
        sizeMB=size_mb(file.size_bytes),
        status=file.status,
        task_id=str(file.task_id),
    )


def file_detail(file: KnowledgeFile) -> FileDetail:
    return FileDetail(
        id=file.id.hex,
        knowledgebase_id=file.knowledgebase_id.hex,
        name=file.name,
        type=file.type,
        size=str(file.size_bytes),
        size_bytes=file.size_bytes,
        sizeMB=size_mb(file.size_bytes),
        status=file.status,
        reason=file.error,
        passages=file.passages,
        task_id=str(file.task_id),
        create_time=epoch_ms(file.created_at),
        update_time=epoch_ms(file.updated_at),
    )


# The multipart form add_knowledgebase_file_form sends, for OpenAPI (the route reads it itself).
def _inline(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` with its ``$defs`` put in place of their references (none is recursive)."""
    defs = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if ref.startswith("#/$defs/"):
                return resolve(dict(defs[ref.removeprefix("#/$defs/")]))
            return {key: resolve(value) for key, value in node.items()}
        if isinstance(node, list):
            return [resolve(item) for item in node]
        return node

    resolved: dict[str, Any] = resolve(schema)
    return resolved


UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            # Inline: the route reads its body itself (JSON or multipart), so FastAPI never
            # puts this model into the schema's components for a reference to point at.
            "application/json": {
                "schema": _inline(AddKnowledgebaseFileRequest.model_json_schema())
            },
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {
                            "type": "array",
                            "items": {"type": "string", "format": "binary"},
                            "description": "One part per document, each named file.",
                        },
                        "knowledgebase_id": {
                            "type": "string",
                            "description": "Or as the query parameter knowledgebase_id.",
                        },
                    },
                }
            },
        },
    }
}
