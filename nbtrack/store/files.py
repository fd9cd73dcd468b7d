"""A stored file by its path: the few questions the layers above ``store/`` ask of one.

Above the store, code names stored files through :class:`~nbtrack.store.layout.Layout`
(and the record modules built on it) and asks here, never opening, stating or listing
them itself; each answer holds for a local folder and an ``s3://`` prefix alike (a
:class:`~nbtrack.store.objectstore.RemotePath` answers the same questions with requests).
Folders are listed by ``layout.visible_files`` / ``subfolders``, written by ``atomic``.
"""

from __future__ import annotations

import json
from pathlib import Path


def is_file(path: Path) -> bool:
    """Whether a file (an object) is stored at ``path``."""
    return path.is_file()


def is_folder(path: Path) -> bool:
    """Whether ``path`` holds anything: a folder, or a prefix with objects under it."""
    return path.is_dir()


def read_json(path: Path) -> object:
    """The JSON value stored at ``path``: ``FileNotFoundError`` when there is none,
    ``ValueError`` when it is not JSON."""
    return json.loads(path.read_bytes())


def remove(path: Path) -> None:
    """Delete the file at ``path`` (gone already is fine), and its folder once empty
    (an object store has no folders to remove)."""
    path.unlink(missing_ok=True)
    try:
        path.parent.rmdir()
    except OSError:
        pass  # not empty: others' files stay
