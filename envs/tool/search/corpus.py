"""A document corpus with BM25 search (``bm25s``), built once and cached on disk.

Documents are ``{"id", "title", "text"}``. The index covers the title (twice, so an exact-name
query ranks the named article high) and the text, tokenized by ``bm25s`` with English stopwords
removed. :meth:`Corpus.search` scores every document and ranks stably (ties keep corpus order),
so results are deterministic.

Built corpora are saved under ``agentgym.core.paths.cache_dir("searchqa")`` — documents as JSONL,
the index with ``bm25s.BM25.save`` — written to a temporary folder and renamed into place, so an
interrupted build never leaves a half-written cache.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

_TOKEN = re.compile(r"(?u)\b\w\w+\b")
#: Characters of an article shown as a search-result snippet.
SNIPPET_CHARS = 160


@dataclass(frozen=True)
class Document:
    """One article: ``id`` (unique), ``title`` and ``text``."""

    id: str
    title: str
    text: str


@dataclass(frozen=True)
class Hit:
    """One search result: the document id, title, a snippet and the BM25 score."""

    doc_id: str
    title: str
    snippet: str
    score: float


def snippet(text: str, limit: int = SNIPPET_CHARS) -> str:
    """The first ``limit`` characters of ``text`` on one line, cut at a word boundary."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    cut = flat[:limit].rsplit(" ", 1)[0]
    return cut + " …"


class Corpus:
    """Documents with a BM25 index.

    Args:
        documents: the articles (ids must be unique).
        index: a prebuilt ``bm25s.BM25`` over ``documents`` (from :meth:`load`); built when None.
    """

    def __init__(self, documents: list[Document], index: Any = None) -> None:
        import bm25s

        self.documents = documents
        self._by_id = {d.id: i for i, d in enumerate(documents)}
        if len(self._by_id) != len(documents):
            raise ValueError("document ids must be unique")
        if index is None:
            tokens = bm25s.tokenize([_indexed_text(d) for d in documents], stopwords="en",
                                    show_progress=False)
            index = bm25s.BM25()
            index.index(tokens, show_progress=False)
        self._index = index
        self._vocab: dict[str, int] = dict(index.vocab_dict)
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self.documents)

    def get(self, doc_id: str) -> Document | None:
        """The document with ``doc_id``, or None."""
        i = self._by_id.get(doc_id)
        return None if i is None else self.documents[i]

    def search(self, query: str, k: int = 5) -> list[Hit]:
        """The top ``k`` documents for ``query`` with a positive BM25 score, best first."""
        words = [w for w in _TOKEN.findall(query.lower()) if w in self._vocab]
        n = len(self.documents)
        if not words or k < 1 or n == 0:
            return []
        with self._lock:
            scores = np.asarray(self._index.get_scores(words), dtype=np.float64)
        k = min(k, n)
        top = np.argpartition(-scores, k - 1)[:k] if k < n else np.arange(n)
        top = top[np.lexsort((top, -scores[top]))]
        return [
            Hit(self.documents[i].id, self.documents[i].title, snippet(self.documents[i].text),
                float(scores[i]))
            for i in top
            if scores[i] > 0
        ]

    # -- persistence ---------------------------------------------------------------------------
    def save(self, folder: Path) -> None:
        """Write ``docs.jsonl`` and the index into ``folder`` (created)."""
        folder.mkdir(parents=True, exist_ok=True)
        write_jsonl(folder / "docs.jsonl",
                    ({"id": d.id, "title": d.title, "text": d.text} for d in self.documents))
        self._index.save(str(folder / "bm25"), show_progress=False)

    @classmethod
    def load(cls, folder: Path) -> Corpus:
        """Read a corpus written by :meth:`save`."""
        import bm25s

        documents = [Document(r["id"], r["title"], r["text"])
                     for r in read_jsonl(folder / "docs.jsonl")]
        index = bm25s.BM25.load(str(folder / "bm25"), show_progress=False, verbosity=0)
        if index.scores["num_docs"] != len(documents):
            raise ValueError(f"{folder}: the index and docs.jsonl disagree")
        return cls(documents, index=index)


def _indexed_text(doc: Document) -> str:
    return f"{doc.title}\n{doc.title}\n{doc.text}"


def write_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    with path.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def publish(build: Any, target: Path) -> None:
    """Run ``build(tmp_folder)`` and rename the folder to ``target`` (atomic; a concurrent
    builder that finished first wins and this result is dropped)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        build(tmp)
        try:
            os.replace(tmp, target)
        except OSError:
            if not target.exists():
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
