"""Request bodies whose numbers keep the digits the client wrote.

Python's JSON parser reads ``1e-200000`` as ``0.0`` and ``0.1000000000000000000001`` as ``0.1``.
A filter compares numbers exactly (``filters``), so it needs the digits. Here every JSON
number with a fraction or an exponent becomes a ``JsonNumber``: a float like any other for every
field, every check and ``json.dumps`` (which writes ``float.__repr__``), whose ``repr`` is the
text the client sent. Integers need nothing: Python reads them exactly.

Used by the routes that take a filter (``route_class=ExactNumbersRoute``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute


class JsonNumber(float):
    """A float that remembers the JSON text it was read from."""

    text: str

    def __new__(cls, text: str) -> JsonNumber:
        number = super().__new__(cls, text)
        number.text = text
        return number

    def __repr__(self) -> str:
        return self.text


class ExactNumbersRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = json.loads(await self.body(), parse_float=JsonNumber)
        return self._json


class ExactNumbersRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def exact_numbers(request: Request) -> Response:
            return await handler(ExactNumbersRequest(request.scope, request.receive))

        return exact_numbers
