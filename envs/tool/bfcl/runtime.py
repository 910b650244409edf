"""BFCL's own simulators and checker, run with per-episode namespaces.

BFCL executes calls with ``execute_multi_turn_func_call`` (``eval_checker/multi_turn_eval/
multi_turn_utils.py``), which keeps one instance per (model name, entry id, class) in that module's
``globals()`` so state carries across turns, and never frees them. Each agentgym episode (and each
checker run) therefore uses a fresh, unique model name and deletes its instances when done, so
episodes never share state and memory does not grow.

Only calls agentgym has parsed and validated reach BFCL's ``eval``: a function name the entry
offers, declared argument names, and JSON values written with ``repr`` (see
:func:`~agentgym.envs.tool.bfcl.data.to_bfcl_call`).
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
import weakref
from typing import Any

from agentgym.envs.tool.bfcl.data import Entry


def _utils() -> Any:
    from bfcl_eval.eval_checker.multi_turn_eval import multi_turn_utils

    return multi_turn_utils


def _new_name(kind: str) -> str:
    return f"agentgym_{kind}_{uuid.uuid4().hex}"


def release(model_name: str) -> int:
    """Delete every simulator instance BFCL stored under ``model_name`` (any suffix BFCL adds:
    ``_eval``, ``_ground_truth_eval``). Returns how many were deleted."""
    namespace = vars(_utils())
    prefix = re.sub(r"[-./:]", "_", model_name) + "_"
    doomed = [key for key in list(namespace) if key.startswith(prefix)]
    for key in doomed:
        namespace.pop(key, None)
    return len(doomed)


class Simulators:
    """The BFCL API instances of one episode (or of the ground truth alongside it).

    Args:
        entry: the BFCL entry (its ``initial_config`` and ``involved_classes``).
        kind: a label in the namespace name (``live`` or ``truth``).
    """

    def __init__(self, entry: Entry, kind: str = "live") -> None:
        self.entry = entry
        self.model_name = _new_name(kind)
        self.instances: dict[str, Any] = {}
        self._finalizer = weakref.finalize(self, release, self.model_name)
        self.execute([])  # create the instances from the entry's initial state

    def execute(self, calls: list[str]) -> list[str]:
        """Run BFCL call strings in order; returns BFCL's result string for each."""
        results, self.instances = _utils().execute_multi_turn_func_call(
            func_call_list=list(calls),
            initial_config=self.entry.raw["initial_config"],
            involved_classes=self.entry.raw["involved_classes"],
            model_name=self.model_name,
            test_entry_id=self.entry.id,
            long_context=self.entry.long_context,
            is_evaL_run=False,
        )
        return list(results)

    def state_digest(self) -> str:
        """A short hash of the public state of every instance (what BFCL's state checker
        compares), for ``state_key``."""
        digest = hashlib.sha1()
        for name in sorted(self.instances):
            digest.update(name.encode())
            digest.update(_public_state_json(self.instances[name]).encode("utf-8", "replace"))
        return digest.hexdigest()[:16]

    def close(self) -> None:
        """Free the instances (also done when the object is garbage-collected)."""
        self._finalizer()


def _public_state_json(instance: Any) -> str:
    def plain(obj: Any) -> Any:
        if isinstance(obj, set | frozenset):
            return sorted(map(repr, obj))
        if hasattr(obj, "__dict__"):
            return {k: v for k, v in vars(obj).items() if not k.startswith("_") and k != "parent"}
        return repr(obj)

    state = plain(instance)
    try:
        return json.dumps(state, default=plain, sort_keys=True)
    except TypeError:  # keys of mixed types cannot be sorted
        return json.dumps(state, default=plain)


def state_matches(live: Simulators, truth: Simulators) -> tuple[bool, dict[str, Any]]:
    """BFCL's own ``state_checker`` on the two sets of instances: (valid, details)."""
    from bfcl_eval.eval_checker.multi_turn_eval.multi_turn_checker import state_checker

    result = state_checker(live.instances, truth.instances)
    return bool(result["valid"]), result


def responses_match(model_results: list[str], truth_results: list[str]) -> bool:
    """BFCL's own ``response_checker``: the turn's ground-truth results are all among the model's
    results so far."""
    from bfcl_eval.eval_checker.multi_turn_eval.multi_turn_checker import response_checker

    return bool(response_checker(model_results, truth_results, 0)["valid"])


def bfcl_verdict(entry: Entry, decoded: list[list[list[str]]]) -> dict[str, Any]:
    """The leaderboard's verdict on one episode, by BFCL's own code.

    Mirrors ``eval_runner._evaluate_single_multi_turn_entry``: a result with a different number of
    turns than the ground truth was force-terminated and fails; otherwise
    ``multi_turn_checker(decoded, ground_truth, entry, category, model_name)`` decides.

    Args:
        entry: the BFCL entry.
        decoded: per user turn, per step, the call strings executed in that step (steps without
            calls left out, as BFCL's decoder drops them).

    Returns:
        BFCL's result dict: ``valid`` (bool) and, when invalid, ``error_type`` / ``error_message``.
    """
    from bfcl_eval.eval_checker.multi_turn_eval.multi_turn_checker import multi_turn_checker

    truth = [list(turn) for turn in entry.ground_truth]
    if len(decoded) != len(truth):
        return {
            "valid": False,
            "error_type": "multi_turn:force_terminated",
            "error_message": f"{len(decoded)} turns played, {len(truth)} expected",
        }
    model_name = _new_name("check")
    try:
        return multi_turn_checker(
            [[list(step) for step in turn] for turn in decoded],
            truth,
            entry.raw,
            entry.category,
            model_name,
        )
    finally:
        release(model_name)
