"""A local OpenAI-compatible chat server that tests script, reached over real HTTP.

It serves ``POST /v1/chat/completions`` the way OpenAI-compatible endpoints do, records every
request it receives, and answers what the current script says: a JSON text, an HTTP error, a
refusal of ``response_format``, or a delay longer than the client's timeout. A request with
``stream: true`` is answered as server-sent events (``chat.completion.chunk`` objects, then
``data: [DONE]``), with reasoning first as ``reasoning_content`` if the reply has any, or an
error event partway if the script breaks the stream off.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from memos_server.embedding.base import estimate_tokens

TASK_MARKERS = {
    # A group chat's prompts are the same tasks (their English headings start the same).
    "facts": (
        "# Task: extract fact memories",
        "# 任务：抽取事实记忆",
        "# 任务：抽取群聊中的事实记忆",
    ),
    "preferences": (
        "# Task: extract preference memories",
        "# 任务：抽取偏好记忆",
        "# 任务：抽取群聊中的偏好记忆",
    ),
    "events": ("# Task: extract event memories", "# 任务：抽取事件记忆"),
    "reconcile": ("# Task: reconcile memories", "# 任务：整合记忆"),
    "feedback": ("# Task: apply the user's feedback", "# 任务：根据用户反馈修正记忆"),
    "chat": ("# Task: answer with the user's memories", "# 任务：结合用户记忆回答"),
    "profile": ("# Task: update the user's profile", "# 任务：更新用户画像"),
}


def task_of(request: dict[str, Any]) -> str:
    """Which of the service's prompts a request carries (in its first message)."""
    first = request["messages"][0]["content"]
    for task, markers in TASK_MARKERS.items():
        if any(marker in first for marker in markers):
            return task
    return "other"


@dataclass
class Reply:
    content: str = ""
    status: int = 200
    error: str = "server error"
    delay_s: float = 0.0
    reasoning: str = ""  # sent as ``reasoning_content``, as DeepSeek and Qwen do
    chunks: list[str] | None = None  # how a stream splits ``content`` (default: 4 characters)
    break_after: int | None = None  # a stream sends this many chunks, then an error event
    unfinished: bool = False  # a stream's pieces, then the end of the body: no finish, no [DONE]
    raw: bytes | None = None  # a 200 whose body is this as it is (not a chat completion)
    raw_type: str = "application/json"
    drip_s: float = 0.0  # the body's bytes sent one a drip_s apart, after the headers

    def pieces(self) -> list[str]:
        if self.chunks is not None:
            return self.chunks
        return _split(self.content)


def _json_bytes(value: Any) -> bytes:
    """JSON as UTF-8, characters as they are; a lone surrogate (a broken model's) as its
    ``\\ud800`` escape, which is valid JSON where the raw character is not UTF-8."""
    try:
        return json.dumps(value, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        return json.dumps(value).encode()


def reply_json(value: Any) -> Reply:
    return Reply(content=json.dumps(value, ensure_ascii=False))


Script = Callable[[dict[str, Any]], Reply]


class FakeLLM:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.rejects_response_format = False
        self._script: Script = lambda request: reply_json({"memories": [], "preferences": []})
        self._lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                request = json.loads(self.rfile.read(length))
                owner._answer(self, request)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def script(self, answers: dict[str, Reply | Callable[[dict[str, Any]], Reply]]) -> None:
        """Answer each prompt (facts, preferences, reconcile) as given; forget earlier requests."""

        def run(request: dict[str, Any]) -> Reply:
            answer = answers.get(task_of(request), reply_json({}))
            return answer(request) if callable(answer) else answer

        with self._lock:
            self._script = run
            self.requests = []
            self.rejects_response_format = False

    def calls(self, task: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            return [r for r in self.requests if task is None or task_of(r) == task]

    def _answer(self, handler: BaseHTTPRequestHandler, request: dict[str, Any]) -> None:
        with self._lock:
            self.requests.append(request)
            script, rejects = self._script, self.rejects_response_format
        if rejects and "response_format" in request:
            self._send(
                handler,
                400,
                {
                    "error": {
                        "message": "response_format is not supported by this model",
                        "type": "invalid_request_error",
                        "param": "response_format",
                    }
                },
            )
            return
        reply = script(request)
        if reply.delay_s:
            time.sleep(reply.delay_s)
        if reply.status != 200:
            self._send(handler, reply.status, {"error": {"message": reply.error}})
            return
        if reply.raw is not None:
            self._write(handler, 200, reply.raw, reply.raw_type, reply.drip_s)
            return
        if request.get("stream"):
            self._stream(handler, request, reply)
            return
        message: dict[str, Any] = {"role": "assistant", "content": reply.content}
        if reply.reasoning:
            message["reasoning_content"] = reply.reasoning
        prompt = sum(estimate_tokens(m.get("content") or "") for m in request["messages"])
        self._send(
            handler,
            200,
            drip_s=reply.drip_s,
            body={
                "id": f"chatcmpl-{len(self.requests)}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": request.get("model", "fake"),
                "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
                "usage": {
                    "prompt_tokens": prompt,
                    "completion_tokens": estimate_tokens(reply.content),
                    "total_tokens": prompt + estimate_tokens(reply.content),
                },
            },
        )

    def _stream(
        self, handler: BaseHTTPRequestHandler, request: dict[str, Any], reply: Reply
    ) -> None:
        def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
            return {
                "id": f"chatcmpl-{len(self.requests)}",
                "object": "chat.completion.chunk",
                "created": int(time.time()),
                "model": request.get("model", "fake"),
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }

        events = [chunk({"role": "assistant", "content": ""})]
        events += [chunk({"reasoning_content": piece}) for piece in _split(reply.reasoning)]
        pieces = reply.pieces()
        if reply.break_after is not None:
            events += [chunk({"content": piece}) for piece in pieces[: reply.break_after]]
            events.append({"error": {"message": "upstream stream broke", "type": "server_error"}})
        else:
            events += [chunk({"content": piece}) for piece in pieces]
            if not reply.unfinished:
                events.append(chunk({}, "stop"))
        try:
            handler.send_response(200)
            handler.send_header("Content-Type", "text/event-stream")
            handler.send_header("Cache-Control", "no-cache")
            handler.end_headers()
            for event in events:
                handler.wfile.write(b"data: " + _json_bytes(event) + b"\n\n")
                handler.wfile.flush()
            if reply.break_after is None and not reply.unfinished:
                handler.wfile.write(b"data: [DONE]\n\n")
            handler.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass
        handler.close_connection = True

    @staticmethod
    def _send(
        handler: BaseHTTPRequestHandler, status: int, body: dict[str, Any], drip_s: float = 0.0
    ) -> None:
        FakeLLM._write(handler, status, _json_bytes(body), "application/json", drip_s)

    @staticmethod
    def _write(
        handler: BaseHTTPRequestHandler, status: int, data: bytes, kind: str, drip_s: float
    ) -> None:
        """``data`` as the body; with ``drip_s``, a blank (JSON ignores it) every ``drip_s``
        seconds for a while first: bytes keep coming, the answer does not."""
        blanks = 6 if drip_s else 0
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", kind)
            handler.send_header("Content-Length", str(blanks + len(data)))
            handler.end_headers()
            for _ in range(blanks):
                handler.wfile.write(b" ")
                handler.wfile.flush()
                time.sleep(drip_s)
            handler.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout test)


def _split(text: str) -> list[str]:
    return [text[i : i + 4] for i in range(0, len(text), 4)]
