"""Answer scoring: exact match and token F1 after SQuAD-style normalization.

``normalize`` lower-cases, removes punctuation and the articles *a*, *an*, *the*, and collapses
whitespace (the normalization of Search-R1's exact-match reward and of the SQuAD / HotpotQA
evaluation scripts). F1 is computed over the multiset of normalized tokens, as in those scripts.
With aliases, the best score over the ground truth and its aliases counts.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Iterable

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = str.maketrans("", "", string.punctuation)


def normalize(text: str) -> str:
    """``"The  Silent Harbor!"`` → ``"silent harbor"``."""
    text = text.lower().translate(_PUNCT)
    return " ".join(_ARTICLES.sub(" ", text).split())


def exact_match(prediction: str, truths: Iterable[str]) -> float:
    """1.0 when the normalized prediction equals a normalized ground truth, else 0.0."""
    pred = normalize(prediction)
    return float(any(pred == normalize(t) for t in truths))


def token_f1(prediction: str, truths: Iterable[str]) -> float:
    """The best token-level F1 between the prediction and a ground truth, in [0, 1]."""
    pred = normalize(prediction).split()
    best = 0.0
    for truth in truths:
        gold = normalize(truth).split()
        common = sum((Counter(pred) & Counter(gold)).values())
        if common == 0:
            continue
        precision, recall = common / len(pred), common / len(gold)
        best = max(best, 2 * precision * recall / (precision + recall))
    return best
