"""Photos and files of projects: what is accepted (checked by content, never by name),
how images are re-encoded, and how files are kept under the media directory.

Limits (see docs/projects.md):
- a photo: 10 MB, at most 40 megapixels (checked from its header, before decoding); kept at
  most 2400 px wide or high, with a 480 px thumbnail; EXIF and other metadata are dropped,
  the EXIF orientation applied; two photos decoded at once per process, the next waits;
- a 3D model (STL, 3MF) or a drawing (SVG, DXF): 50 MB; a 3MF unpacks to at most 200 MB;
- 20 files per step, 200 per project, 500 MB per project;
- one upload request carries at most 64 MB (more files: send them in several goes).
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import secrets
import struct
import tempfile
import threading
import zipfile
from dataclasses import dataclass
from pathlib import Path
from xml.parsers import expat

from PIL import Image, ImageOps, UnidentifiedImageError

from fabbooking.errors import Refused
from fabbooking.projects.tables import MediaKind
from fabbooking.settings import media_dir

log = logging.getLogger("fabbooking")

MB = 1024 * 1024
MAX_IMAGE_BYTES = 10 * MB
MAX_FILE_BYTES = 50 * MB
MAX_REQUEST_BYTES = 64 * MB
MAX_FILES_PER_STEP = 20
MAX_FILES_PER_PROJECT = 200
MAX_PROJECT_BYTES = 500 * MB
MAX_IMAGE_PIXELS = 40_000_000
MAX_EDGE = 2400
THUMB_EDGE = 480
MAX_3MF_UNPACKED = 200 * MB
MAX_3MF_ENTRIES = 2000

RASTER_FORMATS = {"JPEG", "PNG", "WEBP", "GIF"}
# Photos decoded at once, per process: each may hold a full-size picture for a moment (a
# 40 MP PNG: about 200 MB), so more uploads at once wait rather than add up.
PHOTOS_DECODED_AT_ONCE = 2
_DECODING = threading.BoundedSemaphore(PHOTOS_DECODED_AT_ONCE)


@dataclass(frozen=True)
class Prepared:
    """An accepted upload, ready to be written: what it is and the bytes to keep."""

    kind: MediaKind
    content_type: str
    extension: str
    data: bytes
    thumbnail: bytes | None = None
    width: int | None = None
    height: int | None = None


def prepare(data: bytes) -> Prepared:
    """Recognise an upload by its content and make it safe to keep; raise Refused
    (``file_too_big``, ``bad_image``, ``image_too_large``, ``zip_too_big``,
    ``unknown_file_type``) otherwise."""
    if _looks_like_raster(data):
        if len(data) > MAX_IMAGE_BYTES:
            raise Refused("file_too_big", status=413, megabytes=MAX_IMAGE_BYTES // MB)
        with _DECODING:
            return _reencode_image(data)
    if len(data) > MAX_FILE_BYTES:
        raise Refused("file_too_big", status=413, megabytes=MAX_FILE_BYTES // MB)
    if data.startswith(b"PK\x03\x04"):
        return _check_3mf(data)
    if _is_binary_stl(data):
        return Prepared(MediaKind.model, "model/stl", "stl", data)
    text = _as_text(data)
    if text is not None:
        head = text.lstrip("\ufeff \t\r\n")[:1000]
        if head.startswith("<") and _is_svg(data):
            return Prepared(MediaKind.drawing, "image/svg+xml", "svg", data)
        if head.lower().startswith("solid") and "facet" in text[:100_000] and "vertex" in text[:100_000]:
            return Prepared(MediaKind.model, "model/stl", "stl", data)
        if _is_dxf(text):
            return Prepared(MediaKind.drawing, "image/vnd.dxf", "dxf", data)
    raise Refused("unknown_file_type")


def _looks_like_raster(data: bytes) -> bool:
    return (data.startswith((b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a"))
            or (data[:4] == b"RIFF" and data[8:12] == b"WEBP"))


def _reencode_image(data: bytes) -> Prepared:
    try:
        with Image.open(io.BytesIO(data)) as source:
            if source.format not in RASTER_FORMATS:
                raise Refused("bad_image")
            width, height = source.size
            if width * height > MAX_IMAGE_PIXELS:
                raise Refused("image_too_large", megapixels=MAX_IMAGE_PIXELS // 1_000_000)
            source.seek(0)  # an animated GIF or WebP keeps its first frame
            keep_alpha = source.mode in ("RGBA", "LA", "PA") or (
                source.mode == "P" and "transparency" in source.info)
            image = _small_enough(source, "RGBA" if keep_alpha else "RGB")
            out = io.BytesIO()
            if keep_alpha:
                image.save(out, "PNG", optimize=True)
                content_type, extension = "image/png", "png"
            else:
                image.save(out, "JPEG", quality=85, optimize=True)
                content_type, extension = "image/jpeg", "jpg"
            thumb = image.copy()
            thumb.thumbnail((THUMB_EDGE, THUMB_EDGE))
            thumb_out = io.BytesIO()
            thumb.save(thumb_out, "WEBP", quality=80)
    except Refused:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError,
            struct.error, EOFError, KeyError, IndexError):
        raise Refused("bad_image") from None
    return Prepared(MediaKind.image, content_type, extension, out.getvalue(), thumb_out.getvalue(),
                    image.width, image.height)


_SHRINKS_AS_IS = ("L", "LA", "RGB", "RGBA", "CMYK", "YCbCr")


def _small_enough(source: Image.Image, mode: str) -> Image.Image:
    """The photo at most MAX_EDGE wide or high, upright, in ``mode``, holding as little of
    the full-size picture in memory as the format allows: a JPEG is decoded already scaled
    down (draft), and every format is shrunk before it is turned or converted, so a 40 MP
    photo is never copied at full size (see docs/performance.md, « Photo uploads »)."""
    if source.mode not in _SHRINKS_AS_IS:  # palette (GIF: resized in colour), 16-bit…: small anyway
        source.load()
        image = source.convert(mode)
    else:
        source.draft(mode, (MAX_EDGE, MAX_EDGE))
        image = source
    image.thumbnail((MAX_EDGE, MAX_EDGE))
    return ImageOps.exif_transpose(image).convert(mode)


def _is_binary_stl(data: bytes) -> bool:
    if len(data) < 84:
        return False
    (count,) = struct.unpack_from("<I", data, 80)
    return count > 0 and len(data) == 84 + 50 * count


def _as_text(data: bytes) -> str | None:
    if b"\x00" in data[:8192]:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        try:
            return data.decode("latin-1")
        except UnicodeDecodeError:  # pragma: no cover - latin-1 decodes every byte
            return None


def _check_3mf(data: bytes) -> Prepared:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            entries = archive.infolist()
            if len(entries) > MAX_3MF_ENTRIES or sum(e.file_size for e in entries) > MAX_3MF_UNPACKED:
                raise Refused("zip_too_big", megabytes=MAX_3MF_UNPACKED // MB)
            model = next((e for e in entries if e.filename.lower() == "3d/3dmodel.model"), None)
            if model is None:
                raise Refused("unknown_file_type")
            with archive.open(model) as stream:
                head = stream.read(4096)
    except Refused:
        raise
    except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError, RuntimeError):
        raise Refused("unknown_file_type") from None
    if b"<model" not in head:
        raise Refused("unknown_file_type")
    return Prepared(MediaKind.model, "model/3mf", "3mf", data)


class _Unsafe(Exception):
    pass


def _is_svg(data: bytes) -> bool:
    """Well-formed XML whose root is <svg>, parsed without DTDs or entities (refused, so
    no entity expansion and nothing fetched)."""
    parser = expat.ParserCreate(namespace_separator=" ")
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    roots: list[str] = []

    def refuse(*_args: object) -> None:
        raise _Unsafe

    def start(name: str, _attributes: object) -> None:
        if not roots:
            roots.append(name.rsplit(" ", 1)[-1])

    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    parser.ExternalEntityRefHandler = refuse
    parser.StartElementHandler = start
    try:
        parser.Parse(data, True)
    except (expat.ExpatError, _Unsafe, ValueError):
        return False
    return roots == ["svg"]


def _is_dxf(text: str) -> bool:
    lines = [line.strip() for line in text[:200_000].splitlines()[:20_000]]
    while lines and not lines[0]:
        lines.pop(0)
    if len(lines) < 4 or lines[0] != "0" or lines[1] != "SECTION":
        return False
    return "ENTITIES" in lines or "EOF" in lines


# --- keeping files -------------------------------------------------------------------

def new_stored_name(extension: str) -> str:
    """A random path under the media directory: never anything the user typed."""
    token = secrets.token_urlsafe(24)
    return f"{token[:2].lower()}/{token}.{extension}"


def path_of(stored: str) -> Path:
    root = media_dir().resolve()
    path = (root / stored).resolve()
    if root not in path.parents:
        raise Refused.not_found("ce fichier", "this file")
    return path


def write_atomically(stored: str, data: bytes) -> Path:
    """Write to a temporary file beside the target, then rename: a reader never sees half
    a file. A media directory that cannot be written is refused as ``media_storage_failed``
    (and logged with its cause, for the people who run the server)."""
    path = path_of(stored)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
    except OSError as exc:
        log.error("cannot write in the media directory %s: %s", path.parent, exc)
        raise Refused("media_storage_failed", status=503) from None
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    return path


def remove(*stored: str) -> None:
    """Forget files (a failed upload, a deleted project); a missing file is no error."""
    for name in stored:
        if name:
            with contextlib.suppress(OSError, Refused):
                path_of(name).unlink()
