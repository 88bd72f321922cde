"""The media folder in a backup: listed to save, swapped in on restore."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

# Restore's work folder, made inside the media folder so that moving files in and out of
# it is a rename on one file system (even when the media folder is a mount point).
WORK_PREFIX = ".fabbooking-restore-"


def media_files(root: Path) -> list[tuple[Path, str]]:
    """Every regular file under ``root`` (path, path relative to root), sorted; none when
    the folder does not exist yet. Symbolic links and restore work folders are left out."""
    found = []
    for folder, subfolders, files in os.walk(root):
        subfolders[:] = sorted(d for d in subfolders if not (folder == str(root) and d.startswith(WORK_PREFIX)))
        for name in sorted(files):
            path = Path(folder) / name
            if path.is_file() and not path.is_symlink():
                found.append((path, path.relative_to(root).as_posix()))
    return found


def swap_in(staged: Path, root: Path, replaced: Path) -> None:
    """Put the entries of ``staged`` in ``root``, moving what ``root`` held into ``replaced``."""
    replaced.mkdir(exist_ok=True)
    for entry in list(root.iterdir()):
        if not entry.name.startswith(WORK_PREFIX):
            entry.rename(replaced / entry.name)
    if staged.is_dir():
        for entry in list(staged.iterdir()):
            entry.rename(root / entry.name)


def remove(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)
