"""Procedurally generated desktop tasks: the application spec, the goal, the success check and
the expert, for each of the four Tk applications of :mod:`.host`.

* ``form`` — fill a sign-up form (name, email, age, a plan, accept the terms) and submit; the form
  validates its fields and refuses bad input.
* ``settings`` — change one to three settings across the tabs of a settings dialog (checkboxes,
  sliders) and apply, leaving the others as they were.
* ``files`` — open a file in a file dialog over a real temporary folder tree.
* ``list`` — filter a table by a word and sort it by a column, then press Done.

A :class:`Task` is a pure function of ``(app, seed)`` (the file tree is written from it), so the
same seed gives the same window. :func:`expert_step` reads the host's reported state (widget
kinds, values and boxes) and returns the next action with the box it aims at.
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass, field
from typing import Any

from agentgym.envs.gui.actions import format_action

APPS: tuple[str, ...] = ("form", "settings", "files", "list")

_FIRST = ["Alice", "Bruno", "Chen", "Dara", "Elif", "Farid", "Greta", "Hugo", "Ines", "Jonas",
          "Kemal", "Lena", "Mateo", "Nora", "Omar", "Priya"]
_LAST = ["Smith", "Novak", "Okafor", "Larsen", "Moreau", "Tanaka", "Silva", "Weber", "Kowalski"]
_DOMAINS = ["example.com", "mail.org", "post.net", "inbox.io"]
_PLANS = ["Basic", "Pro", "Team"]
_SETTINGS = {
    "General": [("autosave", "check", "Autosave"), ("updates", "check", "Check for updates"),
                ("volume", "scale", "Volume")],
    "Display": [("dark", "check", "Dark mode"), ("brightness", "scale", "Brightness"),
                ("animations", "check", "Animations")],
    "Privacy": [("telemetry", "check", "Send usage data"), ("history", "check", "Keep history"),
                ("cookies", "check", "Allow cookies")],
}
_FOLDERS = ["reports", "photos", "music", "notes", "projects", "invoices", "archive", "drafts"]
_FILES = ["summary", "budget", "plan", "todo", "letter", "draft", "results", "minutes", "ideas"]
_EXTS = [".txt", ".csv", ".md", ".json"]
_FRUITS = ["banana", "mango", "orange", "apple", "pineapple", "grape", "plantain", "papaya",
           "cranberry", "blueberry", "melon", "lemon", "tangerine", "peach", "guava",
           "banana chips"]
_FILTERS = ["an", "ap", "berry", "le", "ma", "ra", "pe", "in"]


@dataclass
class Task:
    """One generated task.

    Attributes:
        app: the application name.
        instruction: the goal in words (the policy sees it).
        spec: what the host builds (JSON-serialisable).
        goal: what counts as success (never shown to the policy).
        files: relative path -> content of the folder tree the app works on (``files`` only).
    """

    app: str
    instruction: str
    spec: dict[str, Any]
    goal: dict[str, Any]
    files: dict[str, str] = field(default_factory=dict)


def generate(app: str, seed: int) -> Task:
    """The task of ``app`` for ``seed`` (deterministic)."""
    rng = random.Random(f"{app}:{seed}")
    return {"form": _form, "settings": _settings, "files": _files, "list": _list}[app](rng)


def _form(rng: random.Random) -> Task:
    first, last = rng.choice(_FIRST), rng.choice(_LAST)
    goal = {
        "name": f"{first} {last}",
        "email": f"{first.lower()}.{last.lower()}@{rng.choice(_DOMAINS)}",
        "age": str(rng.randint(18, 90)),
        "plan": rng.choice(_PLANS),
        "agree": True,
    }
    spec = {
        "title": "Create your account",
        "fields": [{"key": "name", "label": "Full name"}, {"key": "email", "label": "Email"},
                   {"key": "age", "label": "Age"}],
        "plans": _PLANS,
        "agree_label": "I accept the terms of service",
    }
    instruction = (
        f"Sign up as {goal['name']}, email {goal['email']}, age {goal['age']}, on the "
        f"{goal['plan']} plan; accept the terms and submit the form."
    )
    return Task("form", instruction, spec, goal)


def _settings(rng: random.Random) -> Task:
    tabs, goal = [], {}
    for tab_name, items in _SETTINGS.items():
        tab_items = []
        for key, kind, label in items:
            if kind == "check":
                value: Any = rng.random() < 0.5
                tab_items.append({"key": key, "kind": kind, "label": label, "value": value})
            else:
                value = rng.randrange(0, 101, 10)
                tab_items.append({"key": key, "kind": kind, "label": label, "value": value,
                                  "from": 0, "to": 100, "resolution": 10})
            goal[key] = value
        tabs.append({"name": tab_name, "items": tab_items})
    every = [(tab["name"], item) for tab in tabs for item in tab["items"]]
    changes = rng.sample(every, rng.randint(1, 3))
    words = []
    for tab_name, item in changes:
        if item["kind"] == "check":
            goal[item["key"]] = not item["value"]
            words.append(f"turn {'on' if goal[item['key']] else 'off'} \"{item['label']}\" "
                         f"({tab_name} tab)")
        else:
            target = rng.choice([v for v in range(0, 101, 10) if v != item["value"]])
            goal[item["key"]] = target
            words.append(f"set {item['label']} to {target} ({tab_name} tab)")
    instruction = "In the settings, " + "; ".join(words) + ". Then click Apply."
    return Task("settings", instruction, {"title": "Settings", "tabs": tabs}, goal)


def _files(rng: random.Random) -> Task:
    files: dict[str, str] = {}
    tops = rng.sample(_FOLDERS, 3)
    for top in tops:
        for sub in rng.sample(["2022", "2023", "2024", "old", "shared"], 2):
            for name in rng.sample(_FILES, 3):
                files[f"{top}/{sub}/{name}{rng.choice(_EXTS)}"] = f"{name} in {top}/{sub}\n"
        for name in rng.sample(_FILES, 2):
            files[f"{top}/{name}{rng.choice(_EXTS)}"] = f"{name} in {top}\n"
    for name in rng.sample(_FILES, 2):
        files[f"{name}{rng.choice(_EXTS)}"] = f"{name}\n"
    target = rng.choice(sorted(files))
    spec = {"title": "Open a file", "root": ""}  # the env fills in the folder it writes
    return Task("files", f"Open the file {target}", spec, {"opened": target}, files)


def _list(rng: random.Random) -> Task:
    names = rng.sample(_FRUITS, 12)
    items = [{"name": n, "price": round(rng.uniform(0.5, 9.5), 2), "qty": rng.randint(1, 60)}
             for n in names]
    word = rng.choice([f for f in _FILTERS if any(f in n for n in names)])
    column = rng.choice(["name", "price", "qty"])
    descending = rng.random() < 0.5
    order = {("name", False): "from A to Z", ("name", True): "from Z to A",
             ("price", False): "from lowest to highest", ("price", True): "from highest to lowest",
             ("qty", False): "from lowest to highest", ("qty", True): "from highest to lowest"}
    instruction = (
        f"Show only the items whose name contains \"{word}\", sort them by "
        f"{'quantity' if column == 'qty' else column} {order[(column, descending)]}, then click "
        "Done."
    )
    goal = {"filter": word, "sort": column, "descending": descending}
    return Task("list", instruction, {"title": "Fruit stock", "items": items}, goal)


def write_files(task: Task, folder: str) -> None:
    """Write the task's folder tree under ``folder``."""
    for rel, content in task.files.items():
        path = os.path.join(folder, *rel.split("/"))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(content)


def succeeded(task: Task, state: dict[str, Any]) -> bool:
    """Whether the host's final state achieves the task's goal."""
    if not state.get("done"):
        return False
    result = state.get("result") or {}
    goal = task.goal
    if task.app == "list":
        return (str(result.get("filter", "")).strip().lower() == goal["filter"]
                and result.get("sort") == goal["sort"]
                and bool(result.get("descending")) == goal["descending"])
    return all(result.get(key) == value for key, value in goal.items())


# -- the expert --------------------------------------------------------------------------------
def _centre(box: list[int]) -> tuple[int, int]:
    return box[0] + box[2] // 2, box[1] + box[3] // 2


def _click(widget: dict[str, Any], name: str = "click") -> tuple[str, list[int]]:
    x, y = _centre(widget["box"])
    return format_action(name, x, y), widget["box"]


def _type_into(entry: dict[str, Any], text: str) -> tuple[str, list[int] | None]:
    """Focus the entry, clear a wrong value (select all), type."""
    if not entry.get("focused"):
        return _click(entry)
    if entry.get("value"):
        return format_action("key", "ctrl+/"), None  # Tk's <<SelectAll>>; typing replaces it
    return format_action("type", text), None


def expert_step(task: Task, state: dict[str, Any]) -> tuple[str, list[int] | None]:
    """The expert's next action and the box it aims at (None for keyboard actions)."""
    widgets = {w["key"]: w for w in state["widgets"]}
    goal = task.goal
    if task.app == "form":
        for key in ("name", "email", "age"):
            if widgets[key]["value"] != goal[key]:
                return _type_into(widgets[key], goal[key])
        plan = widgets[f"plan:{goal['plan']}"]
        if not plan["checked"]:
            return _click(plan)
        if not widgets["agree"]["checked"]:
            return _click(widgets["agree"])
        return _click(widgets["submit"])
    if task.app == "settings":
        values = state.get("values", {})  # every setting, also those of hidden tabs
        for tab in task.spec["tabs"]:
            wrong = [item for item in tab["items"] if values.get(item["key"]) != goal[item["key"]]]
            if not wrong:
                continue
            if not widgets[f"tab:{tab['name']}"]["checked"]:
                return _click(widgets[f"tab:{tab['name']}"])
            widget = widgets[wrong[0]["key"]]
            if widget["kind"] == "checkbox":
                return _click(widget)
            start = widget["stops"][str(widget["value"])]
            end = widget["stops"][str(goal[wrong[0]["key"]])]
            return format_action("drag", *map(round, start), *map(round, end)), widget["box"]
        return _click(widgets["apply"])
    if task.app == "files":
        folder = widgets["folder"]["label"].removeprefix("Folder: /")
        target_dir, _, name = goal["opened"].rpartition("/")
        if folder == target_dir:
            if widgets["name"]["value"] != name:
                return _click(widgets[f"row:{name}"])
            return _click(widgets["open"])
        if target_dir.startswith(folder + "/" if folder else ""):
            rest = target_dir[len(folder) + 1 if folder else 0 :]
            return _click(widgets[f"row:{rest.split('/')[0]}/"], "double_click")
        return _click(widgets["row:.."], "double_click")
    if task.app == "list":
        entry = widgets["filter"]
        if entry["value"] != goal["filter"]:
            return _type_into(entry, goal["filter"])
        heading = widgets[f"heading:{goal['sort']}"]
        label = heading["label"]
        wanted = "▼" if goal["descending"] else "▲"
        if not label.endswith(wanted):
            return _click(heading)
        return _click(widgets["done"])
    raise ValueError(f"unknown app {task.app!r}")
