"""The backup archive: a tar.gz holding ``manifest.json``, the database (``database.sqlite3``
or ``database.pgdump``), the media files under ``media/``, and last ``checksums.json`` (the
sha256 of every file, computed as it was written). Restore checks every file against it:
tar stops reading at its end marker, before gzip's own check, and a damaged deflate stream
can still decode into wrong bytes."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import tarfile
import time
import zlib
from dataclasses import asdict, dataclass
from pathlib import Path

from fabbooking.errors import CommandRefused

FORMAT = "fabbooking-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
CHECKSUMS = "checksums.json"
DATABASE_FILES = {"sqlite": "database.sqlite3", "postgres": "database.pgdump"}
MEDIA = "media"
KIND_LABELS = {"sqlite": "SQLite", "postgres": "PostgreSQL"}


@dataclass(frozen=True)
class Manifest:
    fabbooking_version: str
    database: str  # "sqlite" | "postgres"
    migrations: list[str]  # "app:id", as applied to the saved database
    created_at: str  # ISO 8601, UTC
    media_files: int
    format: str = FORMAT
    format_version: int = FORMAT_VERSION


def write_archive(target: Path, manifest: Manifest, database_file: Path, media_files: list[tuple[Path, str]]) -> None:
    """Write the archive at ``target`` (which must not exist yet): a temporary file beside
    it, renamed once complete, so a failed backup leaves no half-archive."""
    partial = target.with_name(f".{target.name}.partial")
    try:
        with tarfile.open(partial, "w:gz", compresslevel=6) as archive:
            _add_bytes(archive, MANIFEST, json.dumps(asdict(manifest), indent=2).encode())
            checksums = {DATABASE_FILES[manifest.database]: _add_file(
                archive, database_file, DATABASE_FILES[manifest.database])}
            for path, relative in media_files:
                checksums[f"{MEDIA}/{relative}"] = _add_file(archive, path, f"{MEDIA}/{relative}")
            _add_bytes(archive, CHECKSUMS, json.dumps(checksums, indent=1).encode())
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)


class _Hashing:
    """A file read through, its sha256 computed on the way."""

    def __init__(self, raw: io.BufferedReader) -> None:
        self.raw = raw
        self.sha256 = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(size)
        self.sha256.update(data)
        return data


def _add_file(archive: tarfile.TarFile, path: Path, name: str) -> str:
    info = archive.gettarinfo(path, arcname=name)
    with path.open("rb") as raw:
        reader = _Hashing(raw)
        archive.addfile(info, reader)  # type: ignore[arg-type]
    return reader.sha256.hexdigest()


def _add_bytes(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = int(time.time())
    archive.addfile(info, io.BytesIO(data))


def _not_a_backup(path: Path, why: str) -> CommandRefused:
    return CommandRefused(
        f"{path} is not a usable Fabbooking backup ({why}). Nothing was restored. Give the path "
        "of an archive written by 'fabbooking backup'; if it was copied, copy it again."
    )


def read_manifest(path: Path) -> Manifest:
    """The archive's manifest, checked; CommandRefused when ``path`` is not a backup."""
    if not path.exists():
        raise CommandRefused(f"there is no file {path}. Give the path of a backup archive "
                             "written by 'fabbooking backup'.")
    if not path.is_file():
        raise CommandRefused(f"{path} is a folder, not a backup archive. Give the path of the "
                             "archive file itself.")
    try:
        with tarfile.open(path, "r:gz") as archive:
            member = archive.getmember(MANIFEST)
            extracted = archive.extractfile(member)
            raw = json.loads(extracted.read()) if extracted else None
    except KeyError:
        raise _not_a_backup(path, "it has no manifest.json") from None
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile, ValueError) as exc:
        raise _not_a_backup(path, f"not a readable tar.gz archive: {exc}") from None
    except OSError as exc:
        raise CommandRefused(f"cannot read {path} ({exc.strerror}). Check that the file is "
                             "readable by this user.") from None
    return _checked_manifest(path, raw)


def _checked_manifest(path: Path, raw: object) -> Manifest:
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise _not_a_backup(path, "its manifest is not a Fabbooking backup's")
    if raw.get("format_version") != FORMAT_VERSION:
        raise CommandRefused(
            f"{path} is a backup in format {raw.get('format_version')!r}, which this version of "
            f"Fabbooking does not read (it reads format {FORMAT_VERSION}). Restore it with the "
            f"Fabbooking version that wrote it ({raw.get('fabbooking_version', '?')})."
        )
    try:
        manifest = Manifest(**raw)
    except TypeError:
        raise _not_a_backup(path, "its manifest lacks fields") from None
    if manifest.database not in DATABASE_FILES or not isinstance(manifest.migrations, list):
        raise _not_a_backup(path, "its manifest names no known database kind")
    return manifest


def extract(path: Path, manifest: Manifest, database_to: Path, media_to: Path) -> int:
    """Unpack the database file to ``database_to`` and the media files to ``media_to``/media/,
    reading the whole archive (so a damaged one fails here, before anything is replaced).
    Returns the number of media files."""
    expected_database = DATABASE_FILES[manifest.database]
    found: dict[str, str] = {}
    checksums: object = None
    try:
        with tarfile.open(path, "r:gz") as archive:
            for member in archive:
                if member.name == MANIFEST:
                    continue
                if member.name == CHECKSUMS and member.isfile():
                    extracted = archive.extractfile(member)
                    checksums = json.loads(extracted.read()) if extracted else None
                elif member.name == expected_database and member.isfile():
                    found[member.name] = _extract_file(archive, member, database_to)
                elif member.name.startswith(f"{MEDIA}/") and member.isfile():
                    tarfile.data_filter(member, str(media_to))  # nothing outside the folder, no links
                    found[member.name] = _extract_file(archive, member, media_to / member.name)
                elif not member.isdir():
                    raise _not_a_backup(path, f"it holds an unexpected entry {member.name!r}")
    except tarfile.FilterError as exc:
        raise _not_a_backup(path, f"an entry would be written outside the media folder: {exc}") from None
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile, ValueError) as exc:
        raise _not_a_backup(path, f"the archive is damaged: {exc}") from None
    if expected_database not in found:
        raise _not_a_backup(path, f"it holds no {expected_database}")
    if checksums != found:
        raise _not_a_backup(path, "the archive is damaged: its files do not match their checksums")
    return len(found) - 1


def _extract_file(archive: tarfile.TarFile, member: tarfile.TarInfo, to: Path) -> str:
    """Write the member's bytes to ``to``; return their sha256."""
    source = archive.extractfile(member)
    assert source is not None
    sha256 = hashlib.sha256()
    to.parent.mkdir(parents=True, exist_ok=True)
    with to.open("wb") as out:
        while chunk := source.read(1 << 20):
            sha256.update(chunk)
            out.write(chunk)
    return sha256.hexdigest()
