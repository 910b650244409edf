"""BFCL v4 multi-turn entries, ground truth and tool schemas, read from the ``bfcl-eval`` wheel.

The PyPI package ``bfcl-eval`` ships, inside its wheel:

* ``bfcl_eval/data/BFCL_v4_multi_turn_{base,miss_func,miss_param,long_context}.json`` — 200
  entries each (JSON lines): ``id``, ``question`` (one list of messages per user turn),
  ``initial_config`` (the simulators' start state), ``involved_classes`` and, for miss_func,
  ``missed_function`` (turn index → functions held out until that turn);
* ``bfcl_eval/data/possible_answer/…`` — the ground-truth calls, one list of Python call strings
  per turn (``"cd(folder='document')"``);
* ``bfcl_eval/data/multi_turn_func_doc/*.json`` — the function docs of each simulator class.

Nothing is downloaded. Tool schemas are the docs in OpenAI function format, converted the way
BFCL's function-calling handlers do it (``model_handler/utils.py`` ``convert_to_tool`` with the
``GORILLA_TO_OPENAPI`` type map: ``dict`` → ``object``, ``float`` → ``number`` with
``format: float`` and "This is a float type value." appended to the description).

Train/test split: by the entry's number (``multi_turn_base_17`` → 17), fixed — entries whose
number is a multiple of 4 are the test split (50 per category), the rest train (150). The four
categories are variants of the same 200 scenarios, so scenario ``k`` sits in the same split in
every category.
"""

from __future__ import annotations

import ast
import copy
import importlib
import inspect
import json
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

from agentgym.core.tool_calls import ToolCall, ToolSet

#: BFCL multi-turn categories, as named in the data files and the leaderboard.
CATEGORIES = ("base", "miss_func", "miss_param", "long_context")
#: Splits by entry number (see the module docstring).
SPLITS = ("train", "test", "all")
#: An entry is in the test split when its number is a multiple of this.
TEST_EVERY = 4


def _bfcl_files() -> Any:
    try:
        return resources.files("bfcl_eval") / "data"
    except ModuleNotFoundError as exc:
        raise ModuleNotFoundError(
            "the BFCL environments need the PyPI package bfcl-eval; install it without its "
            "heavy pins: pip install --no-deps 'bfcl-eval==2026.3.23' mpmath"
        ) from exc


def _json_lines(path: Any) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


@dataclass(frozen=True)
class Entry:
    """One BFCL multi-turn test entry.

    Attributes:
        id: e.g. ``multi_turn_base_0``.
        category: ``base`` / ``miss_func`` / ``miss_param`` / ``long_context``.
        number: the trailing number of ``id`` (the scenario).
        questions: per user turn, the user's message text ("" for a held-out-function turn).
        ground_truth: per turn, BFCL's ground-truth call strings.
        raw: the entry as BFCL's checker reads it (``id``, ``initial_config``,
            ``involved_classes`` …); never mutated.
        missed: turn index → names of the functions that become available at that turn.
    """

    id: str
    category: str
    number: int
    questions: tuple[str, ...]
    ground_truth: tuple[tuple[str, ...], ...]
    raw: dict[str, Any] = field(repr=False)
    missed: dict[int, tuple[str, ...]] = field(default_factory=dict)

    @property
    def split(self) -> str:
        return "test" if self.number % TEST_EVERY == 0 else "train"

    @property
    def long_context(self) -> bool:
        """BFCL loads the long-context scenario variants for this category."""
        return "long_context" in self.category

    @property
    def n_turns(self) -> int:
        return len(self.questions)


@cache
def _category_entries(category: str) -> tuple[Entry, ...]:
    if category not in CATEGORIES:
        raise ValueError(f"unknown BFCL category {category!r}; choose from {CATEGORIES}")
    data = _bfcl_files()
    questions = _json_lines(data / f"BFCL_v4_multi_turn_{category}.json")
    answers = {
        a["id"]: a["ground_truth"]
        for a in _json_lines(data / "possible_answer" / f"BFCL_v4_multi_turn_{category}.json")
    }
    entries = []
    for raw in questions:
        turns = raw["question"]
        texts = tuple(
            "\n".join(m["content"] for m in turn if m.get("role") == "user") for turn in turns
        )
        missed = {int(k): tuple(v) for k, v in (raw.get("missed_function") or {}).items()}
        checker_view = {k: v for k, v in raw.items() if k != "question"}
        entries.append(
            Entry(
                id=raw["id"],
                category=category,
                number=int(raw["id"].rsplit("_", 1)[1]),
                questions=texts,
                ground_truth=tuple(tuple(t) for t in answers[raw["id"]]),
                raw=checker_view,
                missed=missed,
            )
        )
    return tuple(entries)


def load_entries(categories: str | tuple[str, ...] = "base", split: str = "all") -> list[Entry]:
    """Entries of ``categories`` (one name, a tuple, or ``"all"``) in ``split``, in file order."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose from {SPLITS}")
    names = CATEGORIES if categories == "all" else (
        (categories,) if isinstance(categories, str) else tuple(categories)
    )
    out = [e for c in names for e in _category_entries(c)]
    return out if split == "all" else [e for e in out if e.split == split]


# --- tool schemas -----------------------------------------------------------------------------
@cache
def _class_docs(class_name: str) -> tuple[dict[str, Any], ...]:
    from bfcl_eval.constants.executable_backend_config import MULTI_TURN_FUNC_DOC_FILE_MAPPING

    path = _bfcl_files() / "multi_turn_func_doc" / MULTI_TURN_FUNC_DOC_FILE_MAPPING[class_name]
    return tuple(_json_lines(path))


def _openai_properties(properties: dict[str, Any], mapping: dict[str, str]) -> dict[str, Any]:
    """BFCL doc properties in JSON-schema types (the conversion BFCL's FC handlers apply)."""
    out: dict[str, Any] = {}
    for name, prop in properties.items():
        prop = dict(prop)
        kind = prop.get("type", "string")
        if kind == "float":
            prop["format"] = "float"
            prop["description"] = prop.get("description", "") + " This is a float type value."
        prop["type"] = mapping.get(kind, "string")
        if prop["type"] in ("array", "object"):
            if "properties" in prop:
                prop["properties"] = _openai_properties(prop["properties"], mapping)
            elif "items" in prop:
                prop["items"] = _openai_items(prop["items"], mapping)
        out[name] = prop
    return out


def _openai_items(items: dict[str, Any], mapping: dict[str, str]) -> dict[str, Any]:
    items = dict(items)
    items["type"] = mapping.get(items.get("type", "string"), "string")
    if items["type"] == "array" and "items" in items:
        items["items"] = _openai_items(items["items"], mapping)
    elif items["type"] == "object" and "properties" in items:
        items["properties"] = _openai_properties(items["properties"], mapping)
    return items


def openai_tool(doc: dict[str, Any]) -> dict[str, Any]:
    """One BFCL function doc as an OpenAI tool spec ``{"type": "function", "function": …}``."""
    from bfcl_eval.constants.type_mappings import GORILLA_TO_OPENAPI

    params = copy.deepcopy(doc.get("parameters", {}))
    params["type"] = "object"
    params["properties"] = _openai_properties(params.get("properties", {}), GORILLA_TO_OPENAPI)
    function = {"name": doc["name"], "description": doc.get("description", ""),
                "parameters": params}
    return {"type": "function", "function": function}


def _offer_key(entry: Entry, turn: int) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    missed_all = tuple(sorted({name for names in entry.missed.values() for name in names}))
    arrived = tuple(n for t, names in sorted(entry.missed.items()) if t <= turn for n in names)
    return tuple(entry.raw["involved_classes"]), missed_all, arrived


@cache
def _offered(
    classes: tuple[str, ...], missed_all: tuple[str, ...], arrived: tuple[str, ...]
) -> tuple[tuple[dict[str, Any], ...], ToolSet]:
    docs = [d for c in classes for d in _class_docs(c)]
    by_name = {d["name"]: d for d in docs}
    ordered = [d for d in docs if d["name"] not in missed_all]
    ordered += [by_name[n] for n in arrived if n in by_name]
    tools = tuple(openai_tool(d) for d in ordered)
    return tools, ToolSet(tools)


def entry_tools(entry: Entry, turn: int) -> list[dict[str, Any]]:
    """The tools BFCL offers in ``turn`` of ``entry``: every function of the involved classes,
    minus the held-out ones whose turn has not come yet (miss_func), in BFCL's order (held-out
    functions are appended when they arrive). A fresh copy of cached specs."""
    return copy.deepcopy(list(_offered(*_offer_key(entry, turn))[0]))


def entry_toolset(entry: Entry, turn: int) -> ToolSet:
    """:func:`entry_tools` compiled for validation (cached; shared, do not mutate)."""
    return _offered(*_offer_key(entry, turn))[1]


@cache
def class_methods(classes: tuple[str, ...]) -> frozenset[str]:
    """Every public method of the simulator classes: what BFCL's executor can run, offered or
    not."""
    from bfcl_eval.constants.executable_backend_config import CLASS_FILE_PATH_MAPPING

    names: set[str] = set()
    for class_name in classes:
        cls = getattr(importlib.import_module(CLASS_FILE_PATH_MAPPING[class_name]), class_name)
        members = inspect.getmembers(cls, inspect.isfunction)
        names |= {name for name, _ in members if not name.startswith("_")}
    return frozenset(names)


# --- ground-truth strings <-> calls -------------------------------------------------------------
@cache
def _signature(class_name: str, method: str) -> tuple[str, ...] | None:
    from bfcl_eval.constants.executable_backend_config import CLASS_FILE_PATH_MAPPING

    module = importlib.import_module(CLASS_FILE_PATH_MAPPING[class_name])
    function = getattr(getattr(module, class_name), method, None)
    if function is None:
        return None
    params = list(inspect.signature(function).parameters)
    return tuple(p for p in params if p != "self")


def ground_truth_call(entry: Entry, call: str) -> ToolCall:
    """A ground-truth string such as ``"sort('final_report.pdf')"`` as a :class:`ToolCall`
    (positional arguments named from the simulator method's signature)."""
    node = ast.parse(call, mode="eval").body
    if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
        raise ValueError(f"{entry.id}: unexpected ground-truth call {call!r}")
    name = node.func.id
    arguments = {kw.arg: ast.literal_eval(kw.value) for kw in node.keywords if kw.arg}
    if node.args:
        params = next(
            (p for c in entry.raw["involved_classes"] if (p := _signature(c, name)) is not None),
            None,
        )
        if params is None or len(params) < len(node.args):
            raise ValueError(f"{entry.id}: cannot name the positional arguments of {call!r}")
        for param, value in zip(params, node.args, strict=False):
            arguments[param] = ast.literal_eval(value)
    return ToolCall(name=name, arguments=arguments)


def to_bfcl_call(call: ToolCall) -> str:
    """A parsed call as the Python call string BFCL executes: ``name(k=repr(v),…)``, exactly as
    BFCL's ``convert_to_function_call`` writes a JSON function call."""
    args = ",".join(f"{key}={value!r}" for key, value in call.arguments.items())
    return f"{call.name}({args})"
