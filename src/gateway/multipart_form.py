"""A small, bounded ``multipart/form-data`` parser for uploads (``/v1/audio/transcriptions``).

Starlette's ``request.form()`` needs the ``python-multipart`` package, which this project does not ship (it is not
in the dependency set, and the Worker bundle should stay small). Uploads here are already read whole and
size-limited by ``read_body``, so a parser over those bytes is enough: split on the boundary (``bytes.split`` is
linear and copes with any binary content), and let the stdlib ``email`` header parser read each part's headers
(quoted parameters, RFC 2231 ``filename*=``).
"""

from __future__ import annotations

from dataclasses import dataclass
from email.parser import BytesHeaderParser
from email.policy import HTTP

from gateway.errors import InvalidRequest, UnsupportedMediaType

MAX_PARTS = 32
MAX_PART_HEADER_BYTES = 8 * 1024
MAX_BOUNDARY_LENGTH = 70  # RFC 2046


@dataclass(frozen=True)
class FormPart:
    name: str
    data: bytes
    filename: str | None = None
    content_type: str | None = None

    def text(self) -> str:
        try:
            return self.data.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidRequest(f"form field {self.name!r} is not UTF-8 text") from None


def boundary_of(content_type: str) -> bytes:
    header = BytesHeaderParser(policy=HTTP).parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode("latin-1"))
    if header.get_content_type() != "multipart/form-data":
        raise UnsupportedMediaType("send the request as multipart/form-data")
    boundary = header.get_param("boundary")
    if not isinstance(boundary, str) or not 1 <= len(boundary) <= MAX_BOUNDARY_LENGTH:
        raise InvalidRequest("the multipart/form-data Content-Type has no valid boundary")
    return boundary.encode("latin-1")


def parse_form(body: bytes, content_type: str) -> dict[str, list[FormPart]]:
    """Parts by field name, in order. Raises ``InvalidRequest`` for anything that is not a well-formed form."""
    try:
        boundary = boundary_of(content_type)
    except UnicodeEncodeError:
        raise InvalidRequest("the Content-Type header is not valid") from None
    # Every delimiter is CRLF--boundary; prefixing CRLF lets the first one (at the very start) match too.
    segments = (b"\r\n" + body).split(b"\r\n--" + boundary)
    if len(segments) < 2:
        raise InvalidRequest("the multipart body has no parts (boundary not found)")
    if len(segments) > MAX_PARTS + 2:  # the preamble and the closing delimiter are segments too
        raise InvalidRequest(f"the form has more than {MAX_PARTS} parts")
    form: dict[str, list[FormPart]] = {}
    closed = False
    for segment in segments[1:]:
        if segment.startswith(b"--"):
            closed = True
            break
        part = _parse_part(segment)
        form.setdefault(part.name, []).append(part)
    if not closed:
        raise InvalidRequest("the multipart body is truncated (no closing boundary)")
    return form


def _parse_part(segment: bytes) -> FormPart:
    # After the boundary: optional whitespace, CRLF, headers, a blank line, the content.
    line_end = segment.find(b"\r\n")
    if line_end < 0 or segment[:line_end].strip(b" \t"):
        raise InvalidRequest("malformed multipart boundary line")
    rest = segment[line_end + 2 :]
    if rest.startswith(b"\r\n"):
        raw_headers, content = b"", rest[2:]
    else:
        raw_headers, separator, content = rest.partition(b"\r\n\r\n")
        if not separator:
            raise InvalidRequest("a multipart part has no blank line after its headers")
    if len(raw_headers) > MAX_PART_HEADER_BYTES:
        raise InvalidRequest("a multipart part has oversized headers")
    headers = BytesHeaderParser(policy=HTTP).parsebytes(raw_headers + b"\r\n\r\n")
    if headers.get_content_disposition() != "form-data":
        raise InvalidRequest("every multipart part needs Content-Disposition: form-data")
    name = headers.get_param("name", header="content-disposition")
    if not isinstance(name, str) or not name:
        raise InvalidRequest("a multipart part has no field name")
    content_type = headers.get_content_type() if headers.get("content-type") else None
    return FormPart(name=name, data=content, filename=headers.get_filename(), content_type=content_type)
