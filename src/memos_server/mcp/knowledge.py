"""The knowledge-base tools, named and shaped like ``memos-api-mcp``'s: ``create_knowledge_base``,
``add_kb_document``, ``get_kb_documents``, ``delete_kb_documents``, ``remove_knowledge_base``.

As for the memory tools, each builds the REST endpoint's request model (every limit and rule of
the API holds), calls ``tools`` and answers a few lines for the model with the REST answer's
``data`` as structured content; add_kb_document's list is under ``files`` (structured content is
an object). Documents go as base64, or as an http(s) URL when the server fetches URLs
(``MEMOS_KNOWLEDGE__URL_FETCH``); memos-api-mcp reads local file paths on its client's machine,
but these tools run in the server, so a path is never read: it is refused as content that is
neither base64 nor a URL.
"""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver import Context, MCPServer
from mcp.types import CallToolResult, ToolAnnotations
from pydantic import BaseModel, ConfigDict, Field

from memos_server.api.schemas.knowledge import (
    AddedFile,
    AddKnowledgebaseFileRequest,
    CreateKnowledgebaseData,
    CreateKnowledgebaseRequest,
    DeleteKnowledgebaseFileRequest,
    DeleteKnowledgebaseRequest,
    GetKnowledgebaseFileData,
    SuccessData,
)
from memos_server.mcp import text, tools
from memos_server.mcp.answers import Resolve, answer, as_tool_errors
from memos_server.mcp.descriptions import (
    ADD_KB_DOCUMENT,
    CREATE_KNOWLEDGE_BASE,
    DELETE_KB_DOCUMENTS,
    GET_KB_DOCUMENTS,
    REMOVE_KNOWLEDGE_BASE,
)


class Document(BaseModel):
    """One document for a knowledge base."""

    model_config = ConfigDict(extra="allow")
    content: str = Field(
        description="The document as base64 (a data: URL allowed), or an http(s) URL if this "
        "server fetches URLs."
    )
    file_name: str | None = Field(
        default=None, description="Its file name, e.g. 'policy.pdf': the extension gives the type."
    )
    mime_type: str | None = Field(default=None, description="Accepted, not needed.")


class AddedFiles(BaseModel):
    files: list[AddedFile] = Field(description="The documents, each with its id and status.")


BaseId = Annotated[str, Field(description="The knowledge base's id.")]
FileIds = Annotated[list[str], Field(description="The documents' ids (from add_kb_document).")]


def add_knowledge_tools(server: MCPServer, resolve: Resolve) -> None:
    @server.tool(name="create_knowledge_base", description=CREATE_KNOWLEDGE_BASE)
    async def create_knowledge_base(
        knowledgebase_name: Annotated[str, Field(description="Its name.")],
        ctx: Context,
        knowledgebase_description: Annotated[
            str | None, Field(description="What it holds.")
        ] = None,
    ) -> Annotated[CallToolResult, CreateKnowledgebaseData]:
        caller = await resolve(ctx)
        with as_tool_errors():
            body = CreateKnowledgebaseRequest.model_validate(
                {
                    "knowledgebase_name": knowledgebase_name,
                    "knowledgebase_description": knowledgebase_description,
                }
            )
            data = await tools.create_knowledge_base(caller, body)
        return answer(text.base_created_text(knowledgebase_name, data), data)

    @server.tool(name="add_kb_document", description=ADD_KB_DOCUMENT)
    async def add_kb_document(
        knowledgebase_id: BaseId,
        file: Annotated[list[Document], Field(description="The documents (at most 20).")],
        ctx: Context,
    ) -> Annotated[CallToolResult, AddedFiles]:
        caller = await resolve(ctx)
        with as_tool_errors():
            body = AddKnowledgebaseFileRequest.model_validate(
                {
                    "knowledgebase_id": knowledgebase_id,
                    "file": [{"content": f.content, "name": f.file_name} for f in file],
                }
            )
            added = await tools.add_kb_document(caller, body)
        return answer(text.documents_added_text(added), AddedFiles(files=added))

    @server.tool(
        name="get_kb_documents",
        description=GET_KB_DOCUMENTS,
        annotations=ToolAnnotations(read_only_hint=True),
    )
    async def get_kb_documents(
        file_ids: FileIds, ctx: Context
    ) -> Annotated[CallToolResult, GetKnowledgebaseFileData]:
        caller = await resolve(ctx)
        with as_tool_errors():
            body = DeleteKnowledgebaseFileRequest.model_validate({"file_ids": file_ids})
            data = await tools.get_kb_documents(caller, body)
        return answer(text.documents_text(data), data)

    @server.tool(
        name="delete_kb_documents",
        description=DELETE_KB_DOCUMENTS,
        annotations=ToolAnnotations(destructive_hint=True, idempotent_hint=True),
    )
    async def delete_kb_documents(
        file_ids: FileIds, ctx: Context
    ) -> Annotated[CallToolResult, SuccessData]:
        caller = await resolve(ctx)
        with as_tool_errors():
            body = DeleteKnowledgebaseFileRequest.model_validate({"file_ids": file_ids})
            data = await tools.delete_kb_documents(caller, body)
        return answer(text.removed_text(f"{len(file_ids)} document(s)"), data)

    @server.tool(
        name="remove_knowledge_base",
        description=REMOVE_KNOWLEDGE_BASE,
        annotations=ToolAnnotations(destructive_hint=True, idempotent_hint=True),
    )
    async def remove_knowledge_base(
        knowledgebase_id: BaseId, ctx: Context
    ) -> Annotated[CallToolResult, SuccessData]:
        caller = await resolve(ctx)
        with as_tool_errors():
            body = DeleteKnowledgebaseRequest.model_validate({"knowledgebase_id": knowledgebase_id})
            data = await tools.remove_knowledge_base(caller, body)
        return answer(text.removed_text("the knowledge base and its documents"), data)
