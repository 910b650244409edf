"""Per-turn call matching in the ToolRL mould (Qian et al., arXiv 2504.13958).

ToolRL scores a turn's calls against the ground truth by the overlap of function names and of
parameter names and values. Here both scores lie in [0, 1]:

* ``tool_name`` — multiset overlap of the function names:
  ``|names(pred) ∩ names(gold)| / |names(pred) ∪ names(gold)|`` (1 when both are empty).
* ``arguments`` — each gold call is paired with the unused predicted call of the same name whose
  arguments agree most; a pair scores ``|{k : pred[k] == gold[k]}| / |keys(pred) ∪ keys(gold)|``
  (1 for two calls without arguments). The sum over pairs is divided by
  ``max(len(pred), len(gold))`` (1 when both are empty), so missing and extra calls cost.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from agentgym.core.tool_calls import ToolCall


def name_score(pred: Sequence[ToolCall], gold: Sequence[ToolCall]) -> float:
    """Multiset Jaccard overlap of the called function names, in [0, 1]."""
    p, g = Counter(c.name for c in pred), Counter(c.name for c in gold)
    union = sum((p | g).values())
    return 1.0 if union == 0 else sum((p & g).values()) / union


def _pair_score(pred: ToolCall, gold: ToolCall) -> float:
    keys = set(pred.arguments) | set(gold.arguments)
    if not keys:
        return 1.0
    same = sum(
        1 for k in keys
        if k in pred.arguments and k in gold.arguments and _equal(pred.arguments[k],
                                                                 gold.arguments[k])
    )
    return same / len(keys)


def _equal(a: object, b: object) -> bool:
    # bool is an int in Python: True == 1 must not count as a match.
    if isinstance(a, bool) != isinstance(b, bool):
        return False
    return a == b


def argument_score(pred: Sequence[ToolCall], gold: Sequence[ToolCall]) -> float:
    """Greedy best-pair argument agreement, in [0, 1] (see the module docstring)."""
    if not pred and not gold:
        return 1.0
    unused = list(range(len(pred)))
    total = 0.0
    for g in gold:
        best, best_score = None, -1.0
        for i in unused:
            if pred[i].name == g.name and (score := _pair_score(pred[i], g)) > best_score:
                best, best_score = i, score
        if best is not None:
            unused.remove(best)
            total += best_score
    return total / max(len(pred), len(gold))
