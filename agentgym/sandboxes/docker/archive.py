"""Tar archives: how files travel into and out of a sandbox."""

from __future__ import annotations

import io
import os
import tarfile
from collections.abc import Mapping
from dataclasses import dataclass

#: Fixed mtime of generated archives (deterministic bytes).
MTIME = 1_700_000_000


@dataclass(frozen=True)
class FileEntry:
    """A regular file read from a sandbox: its permission bits and bytes."""

    mode: int
    data: bytes


def make_tar(files: Mapping[str, bytes | str | FileEntry], *, uid: int = 1000,
             gid: int = 1000) -> bytes:
    """A tar archive of ``{relative path: content}`` owned by ``uid:gid`` (fixed mtime).

    Plain contents get mode 0644; a :class:`FileEntry` keeps its mode's executable bits.
    """
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for name, content in sorted(files.items()):
            mode = 0o644
            if isinstance(content, FileEntry):
                mode = 0o755 if content.mode & 0o100 else 0o644
                content = content.data
            data = content.encode("utf-8") if isinstance(content, str) else bytes(content)
            info = tarfile.TarInfo(name.lstrip("/"))
            info.size, info.uid, info.gid, info.mode = len(data), uid, gid, mode
            info.mtime = MTIME
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def tar_directory(path: str | os.PathLike[str], *, uid: int = 1000, gid: int = 1000) -> bytes:
    """A tar archive of a host directory's contents (recursively), owned by ``uid:gid``."""

    def owner(info: tarfile.TarInfo) -> tarfile.TarInfo:
        info.uid, info.gid, info.uname, info.gname = uid, gid, "", ""
        return info

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for entry in sorted(os.listdir(path)):
            tar.add(os.path.join(path, entry), arcname=entry, filter=owner)
    return buf.getvalue()


def read_regular_files(archive: bytes) -> dict[str, FileEntry]:
    """``{path: FileEntry}`` of the regular files in a tar archive (other members ignored);
    paths are normalized to have no leading ``./``."""
    files: dict[str, FileEntry] = {}
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        for member in tar:
            if not member.isreg():
                continue
            handle = tar.extractfile(member)
            if handle is None:
                continue
            name = member.name
            while name.startswith("./"):
                name = name[2:]
            files[name] = FileEntry(member.mode, handle.read())
    return files
