"""The Tk application process of the desktop envs: ``python -m agentgym.envs.gui.desktop.host``.

It runs on the env's virtual display and speaks JSON lines on stdin/stdout:

* ``{"cmd": "load", "app": NAME, "spec": {...}}`` — replace the window's content with a fresh
  application built from ``spec`` (:mod:`.apps` generates specs);
* ``{"cmd": "state"}`` — handle every pending X event (the input the env just sent), redraw, and
  report the widgets (kind, label, value, screen box) and whether the task's final button was
  pressed (``done``, with the submitted ``result``);
* ``{"cmd": "quit"}``.

Every reply is one JSON line ``{"ok": true, "state": {...}}`` or ``{"ok": false, "error": ...}``.
The window fills the screen at (0, 0) (there is no window manager), so widget boxes are screen
coordinates. The text cursor does not blink, so screenshots depend only on the state.
"""

from __future__ import annotations

import json
import os
import re
import sys
import tkinter as tk
from tkinter import ttk
from typing import Any

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$")


def _box(widget: tk.Misc) -> list[int]:
    return [widget.winfo_rootx(), widget.winfo_rooty(), widget.winfo_width(),
            widget.winfo_height()]


class App:
    """Base of the applications: a frame filling the window, a message line, a done flag."""

    def __init__(self, root: tk.Tk, spec: dict[str, Any]) -> None:
        self.root = root
        self.spec = spec
        self.frame = ttk.Frame(root, padding=8)
        self.frame.pack(fill="both", expand=True)
        self.done = False
        self.result: dict[str, Any] = {}
        self.message = tk.StringVar(value="")
        ttk.Label(self.frame, text=spec["title"], font=("DejaVu Sans", 12, "bold")).pack(
            anchor="w"
        )

    def message_line(self) -> None:
        ttk.Label(self.frame, textvariable=self.message, foreground="#b00020").pack(anchor="w")

    def widgets(self) -> list[dict[str, Any]]:
        raise NotImplementedError

    def state(self) -> dict[str, Any]:
        focus = self.root.focus_get()
        items = self.widgets()
        for item in items:
            item["focused"] = item.pop("_widget", None) is focus and focus is not None
        return {"widgets": items, "done": self.done, "result": self.result,
                "message": self.message.get(), "values": self.values()}

    def values(self) -> dict[str, Any]:
        """The application's current values (for checks and the expert, not the policy)."""
        return {}


class FormApp(App):
    """A sign-up form with validation: entries, a radio group, a checkbox, Submit."""

    def __init__(self, root: tk.Tk, spec: dict[str, Any]) -> None:
        super().__init__(root, spec)
        self.entries: dict[str, ttk.Entry] = {}
        grid = ttk.Frame(self.frame)
        grid.pack(fill="x", pady=6)
        for row, field in enumerate(spec["fields"]):
            ttk.Label(grid, text=field["label"]).grid(row=row, column=0, sticky="w", pady=3)
            entry = ttk.Entry(grid, width=28)
            entry.grid(row=row, column=1, sticky="w", padx=6, pady=3)
            self.entries[field["key"]] = entry
        self.plan = tk.StringVar(value="")
        plans = ttk.Frame(self.frame)
        plans.pack(fill="x", pady=4)
        ttk.Label(plans, text="Plan:").pack(side="left")
        self.radios = {}
        for name in spec["plans"]:
            radio = ttk.Radiobutton(plans, text=name, value=name, variable=self.plan)
            radio.pack(side="left", padx=4)
            self.radios[name] = radio
        self.agree = tk.BooleanVar(value=False)
        self.check = ttk.Checkbutton(self.frame, text=spec["agree_label"], variable=self.agree)
        self.check.pack(anchor="w", pady=4)
        self.submit = ttk.Button(self.frame, text="Submit", command=self.on_submit)
        self.submit.pack(anchor="w", pady=6)
        self.message_line()

    def values(self) -> dict[str, Any]:
        out: dict[str, Any] = {key: entry.get() for key, entry in self.entries.items()}
        out["plan"] = self.plan.get()
        out["agree"] = bool(self.agree.get())
        return out

    def on_submit(self) -> None:
        values = self.values()
        problems = []
        if not values["name"].strip():
            problems.append("Full name is required.")
        if not _EMAIL.match(values["email"]):
            problems.append("Email is not a valid address.")
        if not (values["age"].isdigit() and 18 <= int(values["age"]) <= 99):
            problems.append("Age must be a whole number from 18 to 99.")
        if not values["plan"]:
            problems.append("Choose a plan.")
        if not values["agree"]:
            problems.append("Accept the terms to continue.")
        if problems:
            self.message.set(problems[0])
            return
        self.message.set("Thank you!")
        self.done, self.result = True, values

    def widgets(self) -> list[dict[str, Any]]:
        out = []
        for field in self.spec["fields"]:
            entry = self.entries[field["key"]]
            out.append({"key": field["key"], "kind": "entry", "label": field["label"],
                        "value": entry.get(), "box": _box(entry), "_widget": entry})
        for name, radio in self.radios.items():
            out.append({"key": f"plan:{name}", "kind": "radio", "label": name,
                        "checked": self.plan.get() == name, "box": _box(radio), "_widget": radio})
        out.append({"key": "agree", "kind": "checkbox", "label": self.spec["agree_label"],
                    "checked": bool(self.agree.get()), "box": _box(self.check),
                    "_widget": self.check})
        out.append({"key": "submit", "kind": "button", "label": "Submit",
                    "box": _box(self.submit), "_widget": self.submit})
        return out


class SettingsApp(App):
    """A settings dialog: a notebook of tabs with checkboxes and sliders, and Apply."""

    def __init__(self, root: tk.Tk, spec: dict[str, Any]) -> None:
        super().__init__(root, spec)
        self.notebook = ttk.Notebook(self.frame)
        self.notebook.pack(fill="both", expand=True, pady=4)
        self.vars: dict[str, tk.Variable] = {}
        self.items: list[tuple[str, dict[str, Any], tk.Widget]] = []
        for tab in spec["tabs"]:
            page = ttk.Frame(self.notebook, padding=8)
            self.notebook.add(page, text=tab["name"])
            for item in tab["items"]:
                if item["kind"] == "check":
                    var: tk.Variable = tk.BooleanVar(value=item["value"])
                    widget: tk.Widget = ttk.Checkbutton(page, text=item["label"], variable=var)
                    widget.pack(anchor="w", pady=3)
                else:
                    var = tk.IntVar(value=item["value"])
                    row = ttk.Frame(page)
                    row.pack(anchor="w", pady=3, fill="x")
                    ttk.Label(row, text=item["label"], width=11).pack(side="left")
                    widget = tk.Scale(row, from_=item["from"], to=item["to"],
                                      resolution=item["resolution"], orient="horizontal",
                                      length=220, variable=var, showvalue=True)
                    widget.pack(side="left")
                self.vars[item["key"]] = var
                self.items.append((tab["name"], item, widget))
        self.apply = ttk.Button(self.frame, text="Apply", command=self.on_apply)
        self.apply.pack(anchor="e", pady=4)
        self.message_line()

    def values(self) -> dict[str, Any]:
        return {key: (bool(var.get()) if isinstance(var, tk.BooleanVar) else int(var.get()))
                for key, var in self.vars.items()}

    def on_apply(self) -> None:
        self.done, self.result = True, self.values()
        self.message.set("Settings applied.")

    def _tab_boxes(self) -> list[list[int]]:
        """The tabs' boxes, found by asking the notebook which tab is at each point."""
        nb = self.notebook
        spans: dict[int, list[int]] = {}
        for y in range(0, 40, 2):
            for x in range(0, nb.winfo_width(), 2):
                found = nb.tk.call(nb._w, "identify", "tab", x, y)
                if found != "":
                    box = spans.setdefault(int(found), [x, y, x, y])
                    box[0], box[1] = min(box[0], x), min(box[1], y)
                    box[2], box[3] = max(box[2], x), max(box[3], y)
        ox, oy = nb.winfo_rootx(), nb.winfo_rooty()
        return [[ox + b[0], oy + b[1], b[2] - b[0] + 2, b[3] - b[1] + 2]
                for _, b in sorted(spans.items())]

    def widgets(self) -> list[dict[str, Any]]:
        out = []
        current = self.notebook.index("current")
        for index, box in enumerate(self._tab_boxes()):
            name = self.spec["tabs"][index]["name"]
            out.append({"key": f"tab:{name}", "kind": "tab", "label": name,
                        "checked": index == current, "box": box})
        current_name = self.spec["tabs"][current]["name"]
        for tab_name, item, widget in self.items:
            if tab_name != current_name:
                continue
            entry: dict[str, Any] = {"key": item["key"], "label": item["label"],
                                     "box": _box(widget), "_widget": widget, "tab": tab_name}
            value = self.vars[item["key"]].get()
            if item["kind"] == "check":
                entry.update(kind="checkbox", checked=bool(value))
            else:
                ox, oy = widget.winfo_rootx(), widget.winfo_rooty()
                stops = range(item["from"], item["to"] + 1, item["resolution"])
                entry.update(kind="slider", value=int(value), stops={
                    str(v): [ox + widget.coords(v)[0], oy + widget.coords(v)[1]] for v in stops
                })
            out.append(entry)
        out.append({"key": "apply", "kind": "button", "label": "Apply", "box": _box(self.apply),
                    "_widget": self.apply})
        return out


class FilesApp(App):
    """A file dialog over a real folder: a list of entries, a file name field, Open."""

    def __init__(self, root: tk.Tk, spec: dict[str, Any]) -> None:
        super().__init__(root, spec)
        self.top = os.path.realpath(spec["root"])
        self.cwd = self.top
        self.where = tk.StringVar()
        ttk.Label(self.frame, textvariable=self.where).pack(anchor="w", pady=2)
        self.listbox = tk.Listbox(self.frame, height=9, exportselection=False,
                                  activestyle="none")
        self.listbox.pack(fill="x", pady=4)
        self.listbox.bind("<Double-Button-1>", self.on_double)
        self.listbox.bind("<<ListboxSelect>>", self.on_select)
        row = ttk.Frame(self.frame)
        row.pack(fill="x", pady=4)
        ttk.Label(row, text="File name:").pack(side="left")
        self.name = ttk.Entry(row, width=24)
        self.name.pack(side="left", padx=6)
        self.open = ttk.Button(row, text="Open", command=self.on_open)
        self.open.pack(side="left")
        self.message_line()
        self.refresh()

    def relative(self, path: str) -> str:
        rel = os.path.relpath(path, self.top)
        return "" if rel == "." else rel.replace(os.sep, "/")

    def refresh(self) -> None:
        self.where.set("Folder: /" + self.relative(self.cwd))
        names = sorted(os.listdir(self.cwd))
        folders = [n + "/" for n in names if os.path.isdir(os.path.join(self.cwd, n))]
        files = [n for n in names if os.path.isfile(os.path.join(self.cwd, n))]
        self.entries = ([".."] if self.cwd != self.top else []) + folders + files
        self.listbox.delete(0, "end")
        for entry in self.entries:
            self.listbox.insert("end", entry)

    def on_select(self, _event: Any = None) -> None:
        chosen = self.listbox.curselection()
        entry = self.entries[chosen[0]] if chosen else "/"
        if not entry.endswith("/") and entry != "..":  # a file: its name goes into the field
            self.name.delete(0, "end")
            self.name.insert(0, entry)

    def on_double(self, _event: Any = None) -> None:
        chosen = self.listbox.curselection()
        if not chosen:
            return
        entry = self.entries[chosen[0]]
        if entry == "..":
            self.cwd = os.path.dirname(self.cwd)
        elif entry.endswith("/"):
            self.cwd = os.path.join(self.cwd, entry[:-1])
        else:
            self.on_open()
            return
        self.refresh()

    def on_open(self) -> None:
        name = self.name.get().strip()
        path = os.path.realpath(os.path.join(self.cwd, name))
        if not name or "/" in name or not os.path.isfile(path):
            self.message.set(f"No file named {name!r} in this folder.")
            return
        self.done, self.result = True, {"opened": self.relative(path)}
        self.message.set("Opened.")

    def widgets(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = [{"key": "folder", "kind": "label",
                                      "label": self.where.get(), "box": [0, 0, 0, 0]}]
        ox, oy = self.listbox.winfo_rootx(), self.listbox.winfo_rooty()
        chosen = self.listbox.curselection()
        for index, entry in enumerate(self.entries):
            box = self.listbox.bbox(index)
            if not box:
                continue
            out.append({"key": f"row:{entry}", "kind": "list item", "label": entry,
                        "checked": index in chosen,
                        "box": [ox + box[0], oy + box[1], self.listbox.winfo_width() - 8,
                                box[3]]})
        out.append({"key": "name", "kind": "entry", "label": "File name",
                    "value": self.name.get(), "box": _box(self.name), "_widget": self.name})
        out.append({"key": "open", "kind": "button", "label": "Open", "box": _box(self.open),
                    "_widget": self.open})
        return out


class ListApp(App):
    """A table to filter (a text field) and sort (click a column heading), then Done."""

    COLUMNS = ("name", "price", "qty")

    def __init__(self, root: tk.Tk, spec: dict[str, Any]) -> None:
        super().__init__(root, spec)
        row = ttk.Frame(self.frame)
        row.pack(fill="x", pady=4)
        ttk.Label(row, text="Filter:").pack(side="left")
        self.filter = ttk.Entry(row, width=20)
        self.filter.pack(side="left", padx=6)
        self.filter.bind("<KeyRelease>", lambda _e: self.refresh())
        self.tree = ttk.Treeview(self.frame, columns=self.COLUMNS, show="headings", height=8)
        for column, width in zip(self.COLUMNS, (170, 90, 70), strict=True):
            self.tree.heading(column, text=column.title(),
                              command=lambda c=column: self.on_heading(c))
            self.tree.column(column, width=width, stretch=False)
        self.tree.pack(anchor="w", pady=4)
        self.done_button = ttk.Button(self.frame, text="Done", command=self.on_done)
        self.done_button.pack(anchor="w", pady=4)
        self.message_line()
        self.sort: str | None = None
        self.descending = False
        self.refresh()

    def on_heading(self, column: str) -> None:
        if self.sort == column:
            self.descending = not self.descending
        else:
            self.sort, self.descending = column, False
        self.refresh()

    def shown(self) -> list[dict[str, Any]]:
        text = self.filter.get().strip().lower()
        items = [i for i in self.spec["items"] if text in i["name"].lower()]
        if self.sort is not None:
            items.sort(key=lambda i: i[self.sort], reverse=self.descending)  # type: ignore[index]
        return items

    def refresh(self) -> None:
        self.tree.delete(*self.tree.get_children())
        for item in self.shown():
            self.tree.insert("", "end", values=(item["name"], f"{item['price']:.2f}",
                                                item["qty"]))
        for column in self.COLUMNS:
            mark = (" ▼" if self.descending else " ▲") if column == self.sort else ""
            self.tree.heading(column, text=column.title() + mark)

    def on_done(self) -> None:
        self.done = True
        self.result = {"filter": self.filter.get(), "sort": self.sort,
                       "descending": self.descending, "shown": [i["name"] for i in self.shown()]}
        self.message.set("Done.")

    def widgets(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = [
            {"key": "filter", "kind": "entry", "label": "Filter", "value": self.filter.get(),
             "box": _box(self.filter), "_widget": self.filter}
        ]
        ox, oy = self.tree.winfo_rootx(), self.tree.winfo_rooty()
        heading_h = next((y for y in range(4, 60)
                          if self.tree.identify_region(20, y) != "heading"), 24)
        x = 0
        for column in self.COLUMNS:
            width = int(self.tree.column(column, "width"))
            label = self.tree.heading(column, "text")
            out.append({"key": f"heading:{column}", "kind": "column heading", "label": label,
                        "box": [ox + x, oy, width, heading_h]})
            x += width
        for iid in self.tree.get_children():
            box = self.tree.bbox(iid)
            if box and box[1] + box[3] <= self.tree.winfo_height():  # rows in view only
                values = self.tree.item(iid, "values")
                out.append({"key": f"row:{values[0]}", "kind": "row",
                            "label": " | ".join(str(v) for v in values),
                            "box": [ox + box[0], oy + box[1], box[2], box[3]]})
        out.append({"key": "done", "kind": "button", "label": "Done",
                    "box": _box(self.done_button), "_widget": self.done_button})
        return out


APPS = {"form": FormApp, "settings": SettingsApp, "files": FilesApp, "list": ListApp}


class Host:
    """The window and the command loop."""

    def __init__(self) -> None:
        self.root = tk.Tk()
        width, height = self.root.winfo_screenwidth(), self.root.winfo_screenheight()
        self.root.geometry(f"{width}x{height}+0+0")
        self.root.option_add("*insertOffTime", 0)  # no blinking: screenshots follow the state
        ttk.Style(self.root).theme_use("clam")
        self.app: App | None = None
        self.root.createfilehandler(sys.stdin, tk.READABLE, self.on_input)

    def reply(self, payload: dict[str, Any]) -> None:
        sys.stdout.write(json.dumps(payload) + "\n")
        sys.stdout.flush()

    def settle(self) -> dict[str, Any]:
        self.root.update()  # handle the input already sent, redraw, sync with the server
        assert self.app is not None
        return self.app.state()

    def on_input(self, _file: Any, _mask: Any) -> None:
        line = sys.stdin.readline()
        if not line:
            self.root.destroy()
            return
        try:
            command = json.loads(line)
            if command["cmd"] == "quit":
                self.root.destroy()
                return
            if command["cmd"] == "load":
                if self.app is not None:
                    self.app.frame.destroy()
                self.app = APPS[command["app"]](self.root, command["spec"])
                self.root.update()
                self.root.focus_force()
            self.reply({"ok": True, "state": self.settle()})
        except Exception as exc:  # a bad command is reported, the host keeps running
            self.reply({"ok": False, "error": f"{type(exc).__name__}: {exc}"})

    def run(self) -> None:
        self.root.mainloop()


if __name__ == "__main__":
    Host().run()
