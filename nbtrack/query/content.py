"""Stored file content (artifacts, inputs, outputs) for previews: the first bytes of an object
by its sha256, and a guess whether it is text or an image a browser can show."""

from __future__ import annotations

from ..store.layout import Layout

IMAGE_TYPES = {b"\x89PNG\r\n\x1a\n": "image/png", b"\xff\xd8\xff": "image/jpeg", b"GIF87a": "image/gif",
               b"GIF89a": "image/gif", b"RIFF": "image/webp"}


def head(layout: Layout, sha256: str, limit: int) -> tuple[bytes, int]:
    """Up to ``limit`` bytes of the object ``sha256`` and its whole size (raises OSError when
    the store does not hold it)."""
    from ..store.objects import read_head

    return read_head(layout, sha256, limit)


def kind_of(data: bytes, path: str = "") -> tuple[str, str | None]:
    """("image", mime) for PNG/JPEG/GIF/WebP, ("text", None) for UTF-8 text, else ("binary", None).
    SVG is shown as text: as an image it could carry script."""
    for magic, mime in IMAGE_TYPES.items():
        if data.startswith(magic) and (mime != "image/webp" or data[8:12] == b"WEBP"):
            return "image", mime
    if b"\x00" in data[:8192]:
        return "binary", None
    try:
        data[:65536].decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(data[:65536]) - 4:  # not just a character cut at the limit
            return "binary", None
    return "text", None
