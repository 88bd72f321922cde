"""``fabbooking backup PATH`` and ``fabbooking restore PATH [--force]``."""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime
from pathlib import Path

from fabbooking import __version__
from fabbooking.backups import databases
from fabbooking.backups.archive import KIND_LABELS, Manifest, extract, read_manifest, write_archive
from fabbooking.backups.media import WORK_PREFIX, media_files, remove, swap_in
from fabbooking.cli.guard import run
from fabbooking.errors import CommandRefused
from fabbooking.settings import load_settings, media_dir


def backup(path: Path) -> str:
    """Write the archive; return the sentence to print."""
    target = _archive_path(path)
    database = load_settings().database
    if database.kind == "sqlite" and not Path(database.path).is_file():
        raise CommandRefused(f"there is no SQLite database at {database.path}: nothing to back up. "
                             "Check FABBOOKING_DATABASE_URL.")
    applied = _applied_migrations()
    files = media_files(media_dir())
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".fabbooking-backup-") as work:
        saved = Path(work) / "database"
        if database.kind == "sqlite":
            databases.save_sqlite(database, saved)
        else:
            databases.save_postgres(database, saved)
        manifest = Manifest(fabbooking_version=__version__, database=database.kind, migrations=applied,
                            created_at=datetime.now(UTC).isoformat(timespec="seconds"), media_files=len(files))
        write_archive(target, manifest, saved, files)
    return f"Backup written to {target}: the {KIND_LABELS[database.kind]} database and {len(files)} media file(s)."


def _archive_path(path: Path) -> Path:
    if path.is_dir():
        return path / f"fabbooking-backup-{datetime.now(UTC):%Y%m%d-%H%M%S}.tar.gz"
    if path.exists():
        raise CommandRefused(f"{path} already exists; a backup never overwrites a file. Give a new "
                             "file name, or a folder (the backup is then named after the date and time).")
    if not path.parent.is_dir():
        raise CommandRefused(f"the folder {path.parent} does not exist. Create it, or give a path "
                             "in an existing folder.")
    return path


def _applied_migrations() -> list[str]:
    from fabbooking.migrations import applied_migrations

    applied = run(applied_migrations)
    assert isinstance(applied, list)
    if not applied:
        raise CommandRefused(f"the database {load_settings().database.label} has no Fabbooking tables: "
                             "nothing to back up. Check FABBOOKING_DATABASE_URL.")
    return applied


def restore(path: Path, force: bool) -> str:
    """Put the archive's database and media back; return the sentence to print."""
    manifest = read_manifest(path)
    database = load_settings().database
    _check_kind(manifest, database.kind)
    _check_known_migrations(path, manifest)
    root = media_dir()
    if not force:
        _check_empty(database.label, root)
    root.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=root, prefix=WORK_PREFIX))
    try:
        saved = work / "database"
        count = extract(path, manifest, saved, work)
        _check_database_file(path, manifest, saved)
        if database.kind == "sqlite":
            databases.load_sqlite(saved, database)
        else:
            databases.load_postgres(saved, database, work)
        swap_in(work / "media", root, work / "replaced")
    finally:
        remove(work)
    return _restored_sentence(manifest, count, database.label, root)


def _check_kind(manifest: Manifest, kind: str) -> None:
    if manifest.database != kind:
        raise CommandRefused(
            f"this backup holds a {KIND_LABELS[manifest.database]} database, but FABBOOKING_DATABASE_URL "
            f"names a {KIND_LABELS[kind]} one. Restore it into a {KIND_LABELS[manifest.database]} "
            "database (set FABBOOKING_DATABASE_URL accordingly). Nothing was restored."
        )


def _check_known_migrations(path: Path, manifest: Manifest) -> None:
    from fabbooking.migrations import known_migrations

    unknown = sorted(set(manifest.migrations) - set(known_migrations()))
    if unknown:
        raise CommandRefused(
            f"{path} was made by a newer Fabbooking ({manifest.fabbooking_version}, with migrations this "
            f"version does not know: {', '.join(unknown)}). Install that version, then restore. "
            "Nothing was restored."
        )


def _check_empty(label: str, root: Path) -> None:
    from fabbooking.backups.emptiness import tables_with_rows

    filled = run(tables_with_rows)
    assert isinstance(filled, list)
    files = media_files(root)
    problems = []
    if filled:
        problems.append(f"the database {label} holds data (tables {', '.join(filled[:5])}"
                        f"{'…' if len(filled) > 5 else ''})")
    if files:
        problems.append(f"the media folder {root} holds {len(files)} file(s)")
    if problems:
        raise CommandRefused(
            f"{' and '.join(problems)}. A restore goes into an empty database and an empty media folder. "
            "To replace what is there (it will be lost), run the command again with --force. "
            "Nothing was restored."
        )


def _check_database_file(path: Path, manifest: Manifest, saved: Path) -> None:
    whole = (databases.check_sqlite_file(saved) if manifest.database == "sqlite"
             else databases.check_postgres_file(saved))
    if not whole:
        raise CommandRefused(f"{path} is not a usable Fabbooking backup (its database file is damaged). "
                             "Nothing was restored. Use another backup.")


def _restored_sentence(manifest: Manifest, media_count: int, label: str, root: Path) -> str:
    from fabbooking.migrations import known_migrations

    sentence = (f"Restored the backup of {manifest.created_at}: the database into {label} and "
                f"{media_count} media file(s) into {root}.")
    if set(known_migrations()) - set(manifest.migrations):
        sentence += " It comes from an older version: run 'fabbooking migrate' before starting the app."
    return sentence
