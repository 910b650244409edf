"""``agentgym/desktop.<app>-v0``: Tk applications on a private virtual X display.

Each env owns one :class:`~agentgym.sandboxes.xvfb.XvfbSandbox` (its own ``Xvfb`` server) and one
application process on it (:mod:`.host`), both started at the first ``reset`` and stopped by
``close`` — and by the sandbox at exit or on SIGTERM. ``reset`` loads a freshly generated
application (:mod:`.apps`) into the window; for the file dialog the env writes the task's folder
tree into a new temporary folder and deletes it at the next reset or at close.

**Observation.** ``{"text": str, "image": uint8 (H, W, 3)}``: the screenshot of the whole screen
(default 480×360), and a text view — the instruction and one line per widget with its kind,
label, value and box ``@(x,y,w,h)``, so text-only policies can act by coordinates too.

**Actions** (coordinate level, :mod:`agentgym.envs.gui.actions`): ``click(x, y)``,
``double_click(x, y)``, ``hover(x, y)``, ``drag(x1, y1, x2, y2)``, ``scroll(dx, dy)`` (the wheel,
where the pointer is), ``type("text")`` (printable ASCII) and ``key("ctrl+a")`` (alias
``press``). They are real X input (XTEST). Malformed or impossible actions are invalid: nothing
happens and the observation says why.

**Reward** (Mobile-R1 / UI-S1 style parts, arXiv 2506.20332, 2509.11543), summed with
``reward_weights`` (defaults :data:`DEFAULT_WEIGHTS`):

* ``format`` — 1 for a well-formed, executable action, 0 otherwise;
* ``action_type`` — 1 when the action has the kind of the expert's next action (click, double
  click, drag, type, key, scroll);
* ``click_in_target`` — 1 when a pointer action lands inside the box the expert's next action aims
  at (the drag's start point for a drag);
* ``outcome`` — 1 on the step that finishes the task successfully.

``action_type`` and ``click_in_target`` are paid at most once per expert step (the same expected
action does not pay twice in an episode), so repeating a right click earns nothing.
``info["success"]`` is the programmatic check of the application's final state against the goal.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import select
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from gymnasium import spaces

from agentgym.core.env import TextEnv, echo_action
from agentgym.core.spaces import FreeText
from agentgym.envs.gui.actions import (
    ActionError,
    GuiAction,
    Signature,
    check_signature,
    normalize_key,
    parse_action,
)
from agentgym.envs.gui.desktop.apps import APPS, Task, expert_step, generate, succeeded, write_files
from agentgym.sandboxes.xvfb import XvfbSandbox

#: Default weights of the reward parts.
DEFAULT_WEIGHTS: dict[str, float] = {
    "outcome": 1.0, "click_in_target": 0.1, "action_type": 0.1, "format": 0.05,
}
#: Accepted argument lists per action name.
SIGNATURES: dict[str, list[Signature]] = {
    "click": [("num", "num")],
    "double_click": [("num", "num")],
    "hover": [("num", "num")],
    "drag": [("num", "num", "num", "num")],
    "scroll": [("num", "num")],
    "type": [("str",)],
    "key": [("str",)],
    "press": [("str",)],
}
_KIND = {"click": "click", "double_click": "double click", "hover": "hover", "drag": "drag",
         "scroll": "scroll", "type": "type", "key": "key", "press": "key"}
#: Seconds the application may take to answer.
HOST_TIMEOUT_S = 30.0


class DesktopUnavailableError(RuntimeError):
    """The application process failed; the message says how."""


class _Host:
    """The application process on the display, spoken to in JSON lines."""

    def __init__(self, screen: XvfbSandbox) -> None:
        self.screen = screen
        self.proc = screen.spawn(
            [sys.executable, "-m", "agentgym.envs.gui.desktop.host"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            bufsize=1,
        )

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def ask(self, command: dict[str, Any]) -> dict[str, Any]:
        if not self.alive:
            raise DesktopUnavailableError("the desktop application exited")
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(command) + "\n")
        self.proc.stdin.flush()
        ready, _, _ = select.select([self.proc.stdout], [], [], HOST_TIMEOUT_S)
        line = self.proc.stdout.readline() if ready else ""
        if not line:
            raise DesktopUnavailableError(
                f"the desktop application did not answer {command['cmd']!r} "
                f"(exit code {self.proc.poll()})"
            )
        reply = json.loads(line)
        if not reply.get("ok"):
            raise DesktopUnavailableError(f"the desktop application failed: {reply.get('error')}")
        return reply["state"]

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            if self.alive and self.proc.stdin is not None:
                self.proc.stdin.write('{"cmd": "quit"}\n')
                self.proc.stdin.flush()
                self.proc.wait(timeout=2)
        self.screen.stop(self.proc)


class DesktopEnv(TextEnv):
    """A generated Tk application task on a virtual display.

    Args:
        app: ``"form"``, ``"settings"``, ``"files"``, ``"list"``, a list of them to sample from
            by seed, or None for all four.
        screen: ``(width, height)`` of the virtual screen; the image is (height, width, 3).
        reward_weights: weights of the reward parts (default :data:`DEFAULT_WEIGHTS`).
        invalid_feedback: begin the observation after an invalid action with the reason.
        render_mode: ``None``, ``"rgb_array"`` or ``"ansi"``.
    """

    metadata = {"render_modes": ["rgb_array", "ansi"]}  # noqa: RUF012

    def __init__(
        self,
        app: str | Sequence[str] | None = None,
        *,
        screen: tuple[int, int] = (480, 360),
        reward_weights: Mapping[str, float] | None = None,
        invalid_feedback: bool = True,
        render_mode: str | None = None,
    ) -> None:
        super().__init__(reward_weights=reward_weights or DEFAULT_WEIGHTS, render_mode=render_mode)
        apps = list(APPS) if app is None else [app] if isinstance(app, str) else list(app)
        unknown = [a for a in apps if a not in APPS]
        if not apps or unknown:
            raise ValueError(f"unknown desktop app(s) {unknown or apps}; known: {APPS}")
        self.apps = tuple(apps)
        self.screen_size = (int(screen[0]), int(screen[1]))
        self.invalid_feedback = invalid_feedback
        width, height = self.screen_size
        self.observation_space = spaces.Dict(
            {
                "text": FreeText(),
                "image": spaces.Box(0, 255, shape=(height, width, 3), dtype=np.uint8),
            }
        )
        self._screen: XvfbSandbox | None = None
        self._host: _Host | None = None
        self._folder: str | None = None
        self._task: Task | None = None
        self._state: dict[str, Any] = {}
        self._image = np.zeros((height, width, 3), dtype=np.uint8)
        self._paid: set[tuple[str, str]] = set()
        self._done = True

    # -- processes ---------------------------------------------------------------------------
    def _ensure_host(self) -> _Host:
        if self._screen is None:
            self._screen = XvfbSandbox(*self.screen_size).start()
        if self._host is None or not self._host.alive:
            self._host = _Host(self._screen)
        return self._host

    def _drop_folder(self) -> None:
        folder, self._folder = self._folder, None
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)

    def close(self) -> None:
        """Stop the application and the virtual display; delete the task folder (idempotent)."""
        host, self._host = self._host, None
        screen, self._screen = self._screen, None
        try:
            if host is not None:
                host.stop()
        finally:
            if screen is not None:
                screen.close()
            self._drop_folder()

    # -- observation -------------------------------------------------------------------------
    def _widget_line(self, widget: dict[str, Any]) -> str:
        line = f"- {widget['kind']} {json.dumps(widget['label'])}"
        if "value" in widget:
            line += f" value={json.dumps(widget['value'])}"
        if "checked" in widget:
            line += " checked" if widget["checked"] else " unchecked"
        if widget.get("focused"):
            line += " focused"
        x, y, w, h = widget["box"]
        if w and h:
            line += f" @({x},{y},{w},{h})"
        return line

    def _text(self, prefix: str = "") -> str:
        assert self._task is not None
        width, height = self.screen_size
        lines = [f"Task: {self._task.instruction}", f"Screen {width}x{height}. Widgets:"]
        lines += [self._widget_line(w) for w in self._state.get("widgets", [])]
        if self._state.get("message"):
            lines.append(f"Message: {self._state['message']}")
        return prefix + "\n".join(lines)

    def _observation(self, prefix: str = "") -> dict[str, Any]:
        return {"text": self._text(prefix), "image": self._image.copy()}

    def _state_key(self) -> str:
        assert self._task is not None
        view = json.dumps([self._state.get("widgets"), self._state.get("values"),
                           self._state.get("done")], sort_keys=True)
        return f"desktop.{self._task.app}:{hashlib.sha1(view.encode()).hexdigest()[:16]}"

    # -- gymnasium API -----------------------------------------------------------------------
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        super().reset(seed=seed)
        options = dict(options or {})
        app = options.get("app") or self.apps[int(self.np_random.integers(len(self.apps)))]
        task_seed = int(options.get("task_seed", self.np_random.integers(2**31 - 1)))
        task = generate(app, task_seed)
        host = self._ensure_host()
        self._drop_folder()
        spec = copy.deepcopy(task.spec)
        if task.files:
            self._folder = tempfile.mkdtemp(prefix="agentgym-desktop-")
            write_files(task, self._folder)
            spec["root"] = self._folder
        self._task, self._paid = task, set()
        self._state = host.ask({"cmd": "load", "app": app, "spec": spec})
        assert self._screen is not None
        self._image = self._screen.screenshot()
        self._done = bool(self._state.get("done"))
        info = self.reset_info(
            task_id=f"desktop.{app}#{task_seed}",
            instruction=task.instruction,
            state_key=self._state_key(),
            app=app,
            task_seed=task_seed,
        )
        return self._observation(), info

    def _invalid(self, message: str) -> tuple[dict[str, Any], float, bool, bool, dict[str, Any]]:
        parts = {"format": 0.0, "action_type": 0.0, "click_in_target": 0.0, "outcome": 0.0}
        prefix = f"Invalid action: {message}\n" if self.invalid_feedback else ""
        info = self.step_info(state_key=self._state_key(), action_valid=False,
                              reward_parts=parts, success=False, message=message)
        return self._observation(prefix), self.reward_from_parts(parts), False, False, info

    def _parse(self, action: Any) -> GuiAction:
        parsed = parse_action(action)
        check_signature(parsed, SIGNATURES)
        width, height = self.screen_size
        numbers = [float(a) for a in parsed.args if not isinstance(a, str)]
        if parsed.name == "scroll":
            if any(abs(v) > 10_000 for v in numbers):
                raise ActionError("scroll by at most 10000 pixels at a time")
        else:
            for x, y in zip(numbers[0::2], numbers[1::2], strict=True):
                if not (0 <= x < width and 0 <= y < height):
                    raise ActionError(f"({x:g}, {y:g}) is outside the {width}x{height} screen")
        if parsed.name == "type":
            text = str(parsed.args[0])
            if not text or len(text) > 200 or any(
                not (" " <= c <= "~" or c in "\n\t") for c in text
            ):
                raise ActionError("type takes 1-200 characters of printable ASCII text")
        if parsed.name in ("key", "press"):
            normalize_key(str(parsed.args[0]))
        return parsed

    def _perform(self, action: GuiAction) -> None:
        screen = self._screen
        assert screen is not None
        name, args = action.name, action.args
        if name in ("click", "double_click"):
            screen.click(float(args[0]), float(args[1]), count=2 if name == "double_click" else 1)
        elif name == "hover":
            screen.move(float(args[0]), float(args[1]))
        elif name == "drag":
            screen.drag(*(float(a) for a in args))
        elif name == "scroll":
            screen.scroll(float(args[0]), float(args[1]))
        elif name == "type":
            screen.type_text(str(args[0]))
        else:
            screen.key(normalize_key(str(args[0])))

    def _shaping(self, action: GuiAction, expected: tuple[str, list[int] | None] | None
                 ) -> tuple[float, float]:
        """(action_type, click_in_target) of ``action`` against the expert's next step."""
        if expected is None:
            return 0.0, 0.0
        want, box = expected
        want_name = parse_action(want).name
        action_type = click_in_target = 0.0
        if _KIND[action.name] == _KIND[want_name] and (want, "type") not in self._paid:
            self._paid.add((want, "type"))
            action_type = 1.0
        if box is not None and action.name in ("click", "double_click", "drag", "hover"):
            x, y = float(action.args[0]), float(action.args[1])
            inside = box[0] <= x < box[0] + box[2] and box[1] <= y < box[1] + box[3]
            if inside and (want, "target") not in self._paid:
                self._paid.add((want, "target"))
                click_in_target = 1.0
        return action_type, click_in_target

    def step(self, action: Any) -> tuple[dict[str, Any], float, bool, bool, dict[str, Any]]:
        if self._task is None or self._host is None:
            from gymnasium.error import ResetNeeded

            raise ResetNeeded("call reset() before step()")
        if self._done:
            return self._invalid("the task is over; call reset() to start a new one")
        try:
            parsed = self._parse(action)
        except ActionError as exc:
            return self._invalid(f"{exc} (got {echo_action(action)})")
        try:
            expected: tuple[str, list[int] | None] | None = expert_step(self._task, self._state)
        except (KeyError, ValueError):
            expected = None
        try:
            self._perform(parsed)
        except ValueError as exc:  # e.g. a key the virtual keyboard does not have
            return self._invalid(str(exc))
        self._state = self._host.ask({"cmd": "state"})
        assert self._screen is not None
        self._image = self._screen.screenshot()
        done = bool(self._state.get("done"))
        self._done = done
        success = succeeded(self._task, self._state)
        action_type, click_in_target = self._shaping(parsed, expected)
        parts = {"format": 1.0, "action_type": action_type, "click_in_target": click_in_target,
                 "outcome": 1.0 if success else 0.0}
        info = self.step_info(state_key=self._state_key(), action_valid=True,
                              reward_parts=parts, success=success,
                              message=self._state.get("message", ""))
        return self._observation(), self.reward_from_parts(parts), done, False, info

    def expert_action(self) -> str:
        """The expert's next action (it reads the application's reported state)."""
        if self._task is None:
            raise RuntimeError("call reset() first")
        return expert_step(self._task, self._state)[0]

    def render(self) -> Any:
        if self.render_mode == "rgb_array":
            return self._image.copy()
        if self.render_mode == "ansi":
            return self._text()
        return None
