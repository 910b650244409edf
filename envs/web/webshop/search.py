"""BM25 search over a catalog (bm25s), standing in for the original's Pyserini/Lucene index.

Each product is indexed by its title, bullet points, description and option values (the
original ``search_engine/convert_product_file_format.py`` indexes title, description, bullets
and options). A query returns at most :data:`SEARCH_RETURN_N` products with a positive score,
best first; ties keep catalog order, so results are deterministic.
"""

from __future__ import annotations

import re
import threading
from typing import Any

import numpy as np

#: Results per search (``SEARCH_RETURN_N`` in ``engine/engine.py``).
SEARCH_RETURN_N = 50

_TOKEN = re.compile(r"(?u)\b\w\w+\b")


def product_document(product: dict[str, Any]) -> str:
    """The text indexed for ``product``."""
    options = " ".join(v for values in product.get("options", {}).values() for v in values)
    return " ".join(
        [
            str(product.get("Title", "")),
            " ".join(product.get("BulletPoints", []) or []),
            str(product.get("Description", "")),
            options,
        ]
    )


class SearchEngine:
    """A BM25 index over ``products``; :meth:`search` returns product indices.

    Args:
        products: product dicts (see :mod:`agentgym.envs.web.webshop.catalog`).
    """

    def __init__(self, products: list[dict[str, Any]]) -> None:
        import bm25s

        self._bm25s = bm25s
        corpus = [product_document(p) for p in products]
        tokens = bm25s.tokenize(corpus, stopwords="en", show_progress=False)
        self._retriever = bm25s.BM25()
        self._retriever.index(tokens, show_progress=False)
        self._vocab: dict[str, int] = dict(tokens.vocab)
        self._n = len(products)
        self._lock = threading.Lock()

    def search(self, query: str, k: int = SEARCH_RETURN_N) -> list[int]:
        """Indices of the top ``k`` products for ``query`` (positive scores only)."""
        words = [w for w in _TOKEN.findall(query.lower()) if w in self._vocab]
        if not words:
            return []
        # Score every document, then rank stably (ties keep catalog order).
        with self._lock:
            scores = np.asarray(self._retriever.get_scores(words), dtype=np.float64)
        k = min(k, self._n)
        top = np.argpartition(-scores, k - 1)[:k] if k < self._n else np.arange(self._n)
        top = top[np.lexsort((top, -scores[top]))]
        return [int(i) for i in top if scores[i] > 0]
