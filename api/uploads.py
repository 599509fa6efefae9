"""Read multipart/form-data requests as they stream in.

    receive_file(request, field=, directory=, max_bytes=)   -> the file's path
    FormReader(request)     text fields, then a file part's bytes as an async stream

The body is parsed as it arrives (python-multipart's push parser) and the
named part written to disk chunk by chunk, so an upload is never held whole in
memory. A body larger than ``max_bytes`` answers 413 as soon as it is seen to
be (from Content-Length, or while it streams); the partial file is removed.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import Request
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from api.errors import ApiError

if TYPE_CHECKING:
    # Only a typing alias: the module defines it under TYPE_CHECKING.
    from python_multipart.multipart import MultipartCallbacks


def multipart_body(field: str, description: str) -> dict[str, Any]:
    """The OpenAPI requestBody of a route that takes one file as the form field ``field``."""
    return {
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": [field],
                        "properties": {
                            field: {
                                "type": "string",
                                "format": "binary",
                                "description": description,
                            }
                        },
                    }
                }
            },
        }
    }


# Largest text field a streamed form may carry; files are the only big parts.
MAX_FORM_FIELD_BYTES = 64 * 1024


@dataclass(frozen=True)
class FormFile:
    """A file part that has begun: its field name and what its headers say."""

    name: str
    filename: str | None
    content_type: str | None


class _FormEvents:
    """The push parser's callbacks as a queue of events: fields whole, file data in pieces."""

    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []
        self._headers: dict[bytes, bytes] = {}
        self._header_name = b""
        self._header_value = b""
        self._file: FormFile | None = None
        self._field: tuple[str, bytearray] | None = None

    def callbacks(self) -> MultipartCallbacks:
        return {
            "on_part_begin": self._part_begin,
            "on_header_field": self._header_field,
            "on_header_value": self._header_value_part,
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._part_data,
            "on_part_end": self._part_end,
        }

    def _part_begin(self) -> None:
        self._headers = {}

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def _header_value_part(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _header_end(self) -> None:
        self._headers[self._header_name.lower()] = self._header_value
        self._header_name = self._header_value = b""

    def _headers_finished(self) -> None:
        _kind, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        name = options.get(b"name", b"").decode("utf-8", "replace")
        if b"filename" in options:
            filename = options[b"filename"].decode("utf-8", "replace") or None
            declared = self._headers.get(b"content-type", b"").decode("latin-1").strip()
            self._file = FormFile(name, filename, declared or None)
            self.events.append(("file", self._file))
        else:
            self._field = (name, bytearray())

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._file is not None:
            self.events.append(("data", data[start:end]))
        elif self._field is not None:
            self._field[1].extend(data[start:end])
            if len(self._field[1]) > MAX_FORM_FIELD_BYTES:
                raise ApiError(
                    422,
                    f"the form field {self._field[0]!r} is longer than {MAX_FORM_FIELD_BYTES} "
                    "bytes",
                    field=self._field[0],
                )

    def _part_end(self) -> None:
        if self._file is not None:
            self.events.append(("end", self._file))
        elif self._field is not None:
            name, value = self._field
            self.events.append(("field", (name, value.decode("utf-8", "replace"))))
        self._file = None
        self._field = None


class FormReader:
    """A multipart/form-data body read as it arrives, never held whole.

    ``fields`` collects the text fields read so far; ``next_file`` reads on to
    the next file part, and ``file_bytes`` streams that part's bytes. Raises
    ApiError 422 for a body that is not multipart or does not parse.
    """

    def __init__(
        self, request: Request, *, expected: str = "send the upload as multipart/form-data"
    ) -> None:
        kind, options = parse_options_header(request.headers.get("content-type"))
        boundary = options.get(b"boundary")
        if kind != b"multipart/form-data" or not boundary:
            raise ApiError(422, expected)
        self.fields: dict[str, str] = {}
        self._queue = _FormEvents()
        self._parser = MultipartParser(boundary, self._queue.callbacks())
        self._body = request.stream().__aiter__()
        self._ended = False

    async def _next_event(self) -> tuple[str, Any] | None:
        while not self._queue.events:
            if self._ended:
                return None
            try:
                chunk = await self._body.__anext__()
            except StopAsyncIteration:
                self._ended = True
                self._finalize()
                continue
            try:
                self._parser.write(chunk)
            except MultipartParseError as exc:
                raise ApiError(422, f"the multipart body does not parse: {exc}") from exc
        return self._queue.events.pop(0)

    def _finalize(self) -> None:
        try:
            self._parser.finalize()
        except MultipartParseError as exc:
            raise ApiError(422, f"the multipart body does not parse: {exc}") from exc

    async def next_file(self) -> FormFile | None:
        """Read on, collecting text fields, to the start of the next file part (None: none)."""
        while (event := await self._next_event()) is not None:
            kind, value = event
            if kind == "field":
                name, text = value
                self.fields.setdefault(name, text)
            elif kind == "file":
                return value
        return None

    async def file_bytes(self) -> AsyncIterator[bytes]:
        """Yield the current file part's bytes as they arrive, to its end."""
        while (event := await self._next_event()) is not None:
            kind, value = event
            if kind == "end":
                return
            if kind == "data":
                yield value
        raise ApiError(422, "the multipart body ends inside a file")

    async def rest(self) -> None:
        """Read the remaining parts' text fields; a later file is refused."""
        if await self.next_file() is not None:
            raise ApiError(422, "send one file per request")


async def receive_file(
    request: Request, *, field: str, directory: Path | None, max_bytes: int
) -> Path:
    """Write the file of the form field ``field`` to a new file in ``directory``.

    The caller removes the file. Only the first part of that name counts.
    Answers 413 past ``max_bytes`` (from Content-Length, or while the files
    stream), 422 when the body is not multipart or lacks the field.
    """
    too_large = ApiError(
        413, f"the upload is larger than the limit of {max_bytes} bytes", field=field
    )
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise too_large
    reader = FormReader(request, expected=f"send the file as multipart/form-data in {field!r}")
    descriptor, name = tempfile.mkstemp(prefix="upload-", dir=directory)
    path = Path(name)
    try:
        found = False
        received = 0
        with os.fdopen(descriptor, "wb") as sink:
            while (part := await reader.next_file()) is not None:
                wanted = part.name == field and not found
                async for data in reader.file_bytes():
                    received += len(data)
                    if received > max_bytes:
                        raise too_large
                    if wanted:
                        sink.write(data)
                found = found or wanted
        if not found:
            raise ApiError(422, f"Missing parameter {field}", field=field)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path
