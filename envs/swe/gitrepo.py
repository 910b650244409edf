"""A git repository with one commit, written on the host as plain files.

Resetting an episode lays the task's repository down in the sandbox *with* its ``.git`` already
made, so no ``git init/add/commit`` runs on the reset path. Only what git needs is written, in
its documented formats (``git/Documentation/gitformat-index.txt``, ``gitformat-*``): loose
objects (zlib-compressed ``"<type> <size>\\0<content>"`` named by their SHA-1), one tree per
directory, one commit, ``HEAD`` -> ``refs/heads/master``, a minimal ``config`` and an index
(version 2) whose stat fields are zero — git treats such entries as possibly changed and
compares contents, so the index is correct whatever the files' times on the other side.

A test checks that the commit id equals the one ``git`` itself makes from the same files.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Mapping

IDENTITY = b"agentgym <agentgym@sandbox> 1700000000 +0000"
CONFIG = (b"[core]\n\trepositoryformatversion = 0\n\tfilemode = true\n\tbare = false\n"
          b"\tlogallrefupdates = true\n")


def _object(kind: bytes, content: bytes, out: dict[str, bytes]) -> bytes:
    """Store a loose object in ``out``; returns its binary SHA-1."""
    data = kind + b" %d\0" % len(content) + content
    sha = hashlib.sha1(data).digest()
    hexsha = sha.hex()
    out[f".git/objects/{hexsha[:2]}/{hexsha[2:]}"] = zlib.compress(data)
    return sha


def _tree(entries: dict[str, object], out: dict[str, bytes]) -> bytes:
    """Write the tree of a nested ``{name: blob sha | subtree dict}``; returns its SHA-1."""
    items = []
    for name, value in entries.items():
        if isinstance(value, dict):
            items.append((name.encode() + b"/", b"40000 " + name.encode(), _tree(value, out)))
        else:
            sha, mode = value  # type: ignore[misc]
            items.append((name.encode(), b"%o " % mode + name.encode(), sha))
    items.sort(key=lambda item: item[0])  # git orders a tree as if "dir" were "dir/"
    return _object(b"tree", b"".join(head + b"\0" + sha for _, head, sha in items), out)


def _index(entries: list[tuple[bytes, bytes, int, int]]) -> bytes:
    """A version-2 index of ``(path, sha, mode, size)`` entries sorted by path."""
    body = b"DIRC" + (2).to_bytes(4, "big") + len(entries).to_bytes(4, "big")
    for path, sha, mode, size in entries:
        entry = bytes(24) + mode.to_bytes(4, "big") + bytes(8) + size.to_bytes(4, "big")
        entry += sha + min(len(path), 0xFFF).to_bytes(2, "big") + path
        entry += b"\0" * (8 - len(entry) % 8)  # 1 to 8 NULs, to a multiple of 8 bytes
        body += entry
    return body + hashlib.sha1(body).digest()


def git_dir(files: Mapping[str, bytes | str], *, message: str = "base",
            executable: frozenset[str] = frozenset()) -> dict[str, bytes]:
    """``{".git/...": bytes}`` of a repository whose one commit (on ``master``) holds ``files``.

    Args:
        files: ``{relative path: content}`` of the work tree.
        message: the commit message.
        executable: paths committed with mode 100755 (the rest 100644).
    """
    out: dict[str, bytes] = {}
    root: dict[str, object] = {}
    index = []
    for path in sorted(files, key=lambda p: p.encode()):
        content = files[path]
        data = content.encode() if isinstance(content, str) else bytes(content)
        mode = 0o100755 if path in executable else 0o100644
        sha = _object(b"blob", data, out)
        index.append((path.encode(), sha, mode, len(data)))
        *folders, name = path.split("/")
        node = root
        for folder in folders:
            node = node.setdefault(folder, {})  # type: ignore[assignment]
        node[name] = (sha, mode)
    tree = _tree(root, out)
    commit = (b"tree " + tree.hex().encode() + b"\nauthor " + IDENTITY + b"\ncommitter "
              + IDENTITY + b"\n\n" + message.encode() + b"\n")
    head = _object(b"commit", commit, out).hex()
    out[".git/HEAD"] = b"ref: refs/heads/master\n"
    out[".git/refs/heads/master"] = head.encode() + b"\n"
    out[".git/config"] = CONFIG
    out[".git/index"] = _index(index)
    return out
