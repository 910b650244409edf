"""``agentgym/miniwob.<task>-v0``: the MiniWoB++ tasks in a real Chromium, screenshot + text.

Each environment holds one page of the shared :class:`~agentgym.sandboxes.browser.BrowserSandbox`
and loads the task page from a static server on 127.0.0.1 (:mod:`.server`). ``reset`` reloads the
page (a fresh document: DOM, scripts and timers start over; MiniWoB pages keep nothing in
cookies or storage), seeds the page's random generator (``Math.seedrandom``) from the env's seed,
and starts the task the way the package's own driver does (``core.startEpisodeReal``), so the
same seed gives the same task instance, utterance and first screenshot.

**Time.** The page's clock is Playwright's fake clock, paused: every episode starts at the same
virtual instant (:data:`EPISODE_START`), and the page's time moves only when the env moves it —
``step_ms`` (default 1000 ms) after each executed action, firing the timers due on the way. The
task's timer (``core.EPISODE_MAX_TIME``, 7-30 s) and its time-scaled reward therefore count
*steps*, not the model's thinking time: a task solved by the k-th action is paid as if it took
``(k-1) * step_ms`` ms, however long generation took. Invalid actions do not move the clock.

**Observation.** ``{"text": str, "image": uint8 (H, W, 3)}``. The text is the utterance and the
page's elements, one per line, indented by nesting: ``[id] role "text" value=... @(x,y,w,h)``.
Ids are stable for the episode (an element keeps its id while it exists; new ones get new ids).
The image is the task area (the top-left 160×210 of MiniWoB's 500×320 window, as the package's
own driver crops it); ``screenshot=False`` leaves it black
(text-only policies, faster steps). ``render()`` returns it in ``rgb_array`` mode.

**Actions** (:mod:`agentgym.envs.gui.actions`): element level ``click(id)``, ``double_click(id)``,
``hover(id)``, ``fill(id, "text")``, ``select(id, "option", ...)``; coordinate level
``click(x, y)``, ``double_click(x, y)``, ``hover(x, y)``, ``drag(x1, y1, x2, y2)``;
keyboard ``type("text")``, ``press("Enter")`` (alias ``key``); ``scroll(dx, dy)`` and ``noop()``.
Element actions are real input too: the mouse goes to the element's centre (scrolled into view).
Anything malformed, unknown, out of the viewport or aimed at a missing element is an invalid
action: the page and its clock are untouched and the observation starts ``Invalid action: why``.

**Reward.** The page computes it when the task ends (``core.endEpisode``): ``reward_mode="task"``
pays the task's own reward in [-1, 1] (time-scaled on the virtual clock; part ``task``);
``reward_mode="success"`` pays 1.0 on success (part ``success``). ``info["success"]`` is
BrowserGym's binary success, ``raw_reward > 0``; ``info["raw_reward"]`` and ``info["reason"]``
come from the page. The episode terminates when the task ends (also when its timer runs out).
"""

from __future__ import annotations

import copy
import hashlib
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
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
from agentgym.envs.gui.miniwob import pages
from agentgym.envs.gui.miniwob.server import acquire_server, release_server
from agentgym.envs.gui.miniwob.tasks import TASKS, html_root
from agentgym.sandboxes.browser import BrowserPage, acquire_browser, release_browser

#: Virtual Unix time (seconds) at which every episode starts.
EPISODE_START = 1_700_000_000.0
#: Longest text ``type``/``fill`` accept, in characters.
MAX_TEXT_CHARS = 500

#: Accepted argument lists per action name.
SIGNATURES: dict[str, list[Signature]] = {
    "click": [("int",), ("num", "num")],
    "double_click": [("int",), ("num", "num")],
    "hover": [("int",), ("num", "num")],
    "fill": [("int", "str")],
    "select": [("int", "str*")],
    "drag": [("num", "num", "num", "num")],
    "type": [("str",)],
    "press": [("str",)],
    "key": [("str",)],
    "scroll": [("num", "num")],
    "noop": [()],
}

_BAD_CHAR = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\ud800-\udfff]")
_PAGE_JS = (Path(__file__).with_name("page.js")).read_text(encoding="utf-8")
_START_JS = """args => {
  __agentgym.guard();
  Math.seedrandom(args.seed);
  core.startEpisodeReal();
  return __agentgym.observe(args.boxes);
}"""
# Runs in every document before the fake clock replaces requestAnimationFrame: keeps a way to
# wait for the browser's real frames (a wheel scroll lands on the compositor's next frames).
_REAL_FRAMES_JS = """(() => {
  const raf = window.requestAnimationFrame.bind(window);
  const timeout = window.setTimeout.bind(window);
  window.__agentgymFrames = n => new Promise(done => {
    const tick = k => (k <= 0 ? done(true) : raf(() => tick(k - 1)));
    tick(n);
    timeout(() => done(false), 1000);  // (a page that draws no frames does not hang the step)
  });
  window.__agentgymWait = (promise, ms) => Promise.race([promise, new Promise(
    done => timeout(() => done(false), ms))]);
})();"""
_OBSERVE_JS = "boxes => window.__agentgym ? __agentgym.observe(boxes) : null"  # (async)


class MiniWoBEnv(TextEnv):
    """One MiniWoB++ task (or a sample over several) in Chromium.

    Args:
        task: a task name (``"click-button"``), a list of names to sample from by seed, or None
            for all 130.
        reward_mode: ``"task"`` (the page's reward) or ``"success"`` (1.0 on success).
        step_ms: virtual milliseconds the page's clock advances after each executed action.
        viewport: page size ``(width, height)`` in CSS pixels (MiniWoB's window, 500×320).
        image_size: the top-left region the screenshot shows, ``(width, height)`` (MiniWoB's task
            area, 160×210); None for the whole viewport. The image is (height, width, 3).
        screenshot: take a screenshot per step (False: a black image, faster).
        boxes_in_text: add each element's box ``@(x,y,w,h)`` to the text view (what a text-only
            policy needs for coordinate actions).
        invalid_feedback: begin the observation after an invalid action with ``Invalid action:``
            and the reason.
        render_mode: ``None``, ``"rgb_array"`` or ``"ansi"``.
        reward_weights: optional weights of the reward parts.
    """

    metadata = {"render_modes": ["rgb_array", "ansi"]}  # noqa: RUF012

    def __init__(
        self,
        task: str | Sequence[str] | None = None,
        *,
        reward_mode: str = "task",
        step_ms: int = 1000,
        viewport: tuple[int, int] = (500, 320),
        image_size: tuple[int, int] | None = (160, 210),
        screenshot: bool = True,
        boxes_in_text: bool = True,
        invalid_feedback: bool = True,
        render_mode: str | None = None,
        reward_weights: Mapping[str, float] | None = None,
    ) -> None:
        super().__init__(reward_weights=reward_weights, render_mode=render_mode)
        tasks = list(TASKS) if task is None else [task] if isinstance(task, str) else list(task)
        unknown = [name for name in tasks if name not in TASKS]
        if not tasks or unknown:
            raise ValueError(f"unknown MiniWoB task(s) {unknown or tasks}; known: {TASKS}")
        if reward_mode not in ("task", "success"):
            raise ValueError("reward_mode must be 'task' or 'success'")
        if step_ms < 0:
            raise ValueError("step_ms must be >= 0")
        self.tasks = tuple(tasks)
        self.reward_mode = reward_mode
        self.step_ms = int(step_ms)
        self.viewport = (int(viewport[0]), int(viewport[1]))
        crop = self.viewport if image_size is None else image_size
        self.image_size = (min(int(crop[0]), self.viewport[0]), min(int(crop[1]), self.viewport[1]))
        self.screenshot = bool(screenshot)
        self.boxes_in_text = bool(boxes_in_text)
        self.invalid_feedback = bool(invalid_feedback)
        width, height = self.image_size
        self.observation_space = spaces.Dict(
            {
                "text": FreeText(),
                "image": spaces.Box(0, 255, shape=(height, width, 3), dtype=np.uint8),
            }
        )
        self._black = np.zeros((height, width, 3), dtype=np.uint8)
        self._root: Path | None = None
        self._base_url = ""
        self._page: BrowserPage | None = None
        self.task = self.tasks[0]
        self.task_seed = 0
        self._state: dict[str, Any] = {}
        self._image = self._black
        self._done = True
        self._untouched: tuple[str, int] | None = None
        self._history: list[str] = []  # the valid actions of this episode (for the expert)
        self._expert_memory: dict[str, Any] = {}
        self._reset_cache: tuple[dict[str, Any], dict[str, Any]] | None = None

    # -- browser plumbing --------------------------------------------------------------------
    def _ensure_page(self) -> BrowserPage:
        if self._page is None:
            if self._root is None:
                self._root = html_root()
                self._base_url = acquire_server(self._root).base_url
            page = pages.take(self.viewport)  # a closed env's page, with its browser reference
            if page is None:
                browser = acquire_browser()
                try:
                    page = browser.new_page(self.viewport)
                    try:
                        page.call(lambda raw: raw.context.add_init_script(_REAL_FRAMES_JS))
                        page.install_clock(EPISODE_START)
                    except BaseException:
                        page.release()
                        raise
                except BaseException:
                    release_browser()
                    raise
            self._page = page
        return self._page

    def close(self) -> None:
        """Hand the page (and its browser reference) to the next env, release the shared server
        (idempotent)."""
        page, self._page = self._page, None
        self._untouched = self._reset_cache = None
        try:
            if page is not None:
                pages.give(self.viewport, page)
        finally:
            if self._root is not None:
                root, self._root = self._root, None
                release_server(root)

    def page_js(self, expression: str, arg: Any = None) -> Any:
        """Evaluate JavaScript in the task page (privileged: the expert and tests use it, the
        policy never sees it)."""
        return self._ensure_page().call(lambda page: page.evaluate(expression, arg))

    # -- observation -------------------------------------------------------------------------
    async def _grab(self, page: Any) -> bytes | None:
        if not self.screenshot:
            return None
        width, height = self.image_size
        return await page.screenshot(
            type="png",
            animations="disabled",
            caret="hide",
            clip={"x": 0, "y": 0, "width": width, "height": height},
        )

    def _absorb(self, state: dict[str, Any] | None, png: bytes | None) -> None:
        if state is None:  # the page left the task (a navigation we could not stop)
            state = {**self._state, "done": True, "reward": 0.0, "raw_reward": 0.0,
                     "reason": "the page navigated away from the task", "elements": [],
                     "tree": ""}
        self._state = state
        if png is not None:
            from agentgym.sandboxes.browser import decode_png

            self._image = decode_png(png)
        else:
            self._image = self._black

    def _text(self, prefix: str = "") -> str:
        state = self._state
        body = f"Task: {state.get('utterance', '')}\n"
        if state.get("done"):
            body += (
                f"The task is over: reward {float(state.get('reward', 0.0)):.2f}"
                f" ({state.get('reason') or 'ended'})."
            )
        else:
            body += "Elements:\n" + (state.get("tree") or "(none)")
        return prefix + body

    def _observation(self, prefix: str = "") -> dict[str, Any]:
        return {"text": self._text(prefix), "image": self._image.copy()}

    def _state_key(self) -> str:
        state = self._state
        digest = hashlib.sha1(
            f"{state.get('utterance')}\n{state.get('tree')}\n{state.get('done')}".encode()
        ).hexdigest()[:16]
        return f"miniwob.{self.task}:{digest}"

    @property
    def elements(self) -> list[dict[str, Any]]:
        """The page's elements as the text view lists them (id, role, text, value, box …)."""
        return list(self._state.get("elements", []))

    @property
    def utterance(self) -> str:
        return str(self._state.get("utterance", ""))

    # -- gymnasium API -----------------------------------------------------------------------
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        super().reset(seed=seed)
        options = dict(options or {})
        task = options.get("task") or self.tasks[int(self.np_random.integers(len(self.tasks)))]
        if task not in TASKS:
            raise ValueError(f"unknown MiniWoB task {task!r}")
        task_seed = int(options.get("task_seed", self.np_random.integers(2**31 - 1)))
        self.task, self.task_seed = task, task_seed
        self._history, self._expert_memory = [], {}
        if self._untouched == (task, task_seed) and self._reset_cache is not None:
            obs, info = self._reset_cache  # the page is exactly as this reset would leave it
            return copy.deepcopy(obs), copy.deepcopy(info)

        page = self._ensure_page()
        url = f"{self._base_url}miniwob/{task}.html"

        async def start(raw: Any) -> tuple[dict[str, Any], bytes | None]:
            context = raw.context
            for other in list(context.pages):  # popups of the last episode
                if other is not raw:
                    await other.close()
            await context.clock.set_system_time(EPISODE_START)
            await raw.mouse.move(0, 0)  # the pointer of the last episode would hover something
            await raw.goto("about:blank")  # a new navigation: no reload-time state restoration
            await raw.goto(url, wait_until="load")
            await raw.evaluate(_PAGE_JS)
            state = await raw.evaluate(
                _START_JS, {"seed": str(task_seed), "boxes": self.boxes_in_text}
            )
            return state, await self._grab(raw)

        state, png = page.call(start)
        self._absorb(state, png)
        self._done = bool(self._state.get("done"))
        obs = self._observation()
        info = self.reset_info(
            task_id=f"miniwob.{task}#{task_seed}",
            instruction=self.utterance,
            state_key=self._state_key(),
            task=task,
            task_seed=task_seed,
        )
        self._untouched = (task, task_seed)
        self._reset_cache = (copy.deepcopy(obs), copy.deepcopy(info))
        return obs, info

    def _invalid(self, message: str) -> tuple[dict[str, Any], float, bool, bool, dict[str, Any]]:
        prefix = f"Invalid action: {message}\n" if self.invalid_feedback else ""
        parts = {"task" if self.reward_mode == "task" else "success": 0.0}
        info = self.step_info(
            state_key=self._state_key(),
            action_valid=False,
            reward_parts=parts,
            success=False,
            message=message,
        )
        return self._observation(prefix), self.reward_from_parts(parts), False, False, info

    def _parse(self, action: Any) -> tuple[GuiAction, Signature]:
        parsed = parse_action(action)
        signature = check_signature(parsed, SIGNATURES)
        width, height = self.viewport
        numbers = [float(a) for a in parsed.args if not isinstance(a, str)]
        if parsed.name == "scroll":
            if any(abs(v) > 10_000 for v in numbers):
                raise ActionError("scroll by at most 10000 pixels at a time")
        elif "num" in signature:
            for x, y in zip(numbers[0::2], numbers[1::2], strict=True):
                if not (0 <= x < width and 0 <= y < height):
                    raise ActionError(f"({x:g}, {y:g}) is outside the {width}x{height} viewport")
        texts = [a for a in parsed.args if isinstance(a, str)]
        if any(len(t) > MAX_TEXT_CHARS for t in texts):
            raise ActionError(f"text arguments are limited to {MAX_TEXT_CHARS} characters")
        if parsed.name in ("type", "fill") and any(_BAD_CHAR.search(t) for t in texts):
            raise ActionError("the text has control characters or lone surrogates")
        if parsed.name in ("press", "key"):
            normalize_key(str(parsed.args[0]))
        return parsed, signature

    async def _perform(self, raw: Any, action: GuiAction, signature: Signature) -> str | None:
        """Carry out ``action`` in the page; a reason when it cannot be done (nothing done)."""
        name, args = action.name, action.args
        mouse, keyboard = raw.mouse, raw.keyboard
        if name in ("click", "double_click", "hover"):
            if signature == ("int",):
                point = await raw.evaluate("id => __agentgym.point(id)", args[0])
                if "error" in point:
                    return str(point["error"])
                x, y = float(point["x"]), float(point["y"])
            else:
                x, y = float(args[0]), float(args[1])
            if name == "hover":
                await mouse.move(x, y)
            else:
                await mouse.click(x, y, click_count=2 if name == "double_click" else 1)
        elif name == "fill":
            prepared = await raw.evaluate(
                "a => __agentgym.fill(a[0], a[1])", [args[0], str(args[1])]
            )
            if "error" in prepared:
                return str(prepared["error"])
            if prepared.get("mode") == "type":
                if args[1]:
                    await keyboard.insert_text(str(args[1]))
                else:
                    await keyboard.press("Delete")
        elif name == "select":
            done = await raw.evaluate(
                "a => __agentgym.select(a[0], a[1])", [args[0], [str(a) for a in args[1:]]]
            )
            if "error" in done:
                return str(done["error"])
        elif name == "drag":
            x1, y1, x2, y2 = (float(a) for a in args)
            await mouse.move(x1, y1)
            await mouse.down()
            await mouse.move(x2, y2, steps=5)
            await mouse.up()
        elif name == "type":
            await keyboard.type(str(args[0]))
        elif name in ("press", "key"):
            await keyboard.press("+".join(normalize_key(str(args[0]))))
        elif name == "scroll":
            await mouse.wheel(float(args[0]), float(args[1]))
            await raw.evaluate("__agentgym.settleScroll()")
        return None

    def step(self, action: Any) -> tuple[dict[str, Any], float, bool, bool, dict[str, Any]]:
        if self._page is None:
            from gymnasium.error import ResetNeeded

            raise ResetNeeded("call reset() before step()")
        if self._done:
            return self._invalid("the task is over; call reset() to start a new one")
        try:
            parsed, signature = self._parse(action)
        except ActionError as exc:
            return self._invalid(f"{exc} (got {echo_action(action)})")

        async def act(raw: Any) -> tuple[str | None, dict[str, Any] | None, bytes | None]:
            problem = await self._perform(raw, parsed, signature)
            if problem is not None:
                return problem, None, None
            if self.step_ms:
                await raw.context.clock.run_for(self.step_ms)
            state = await raw.evaluate(_OBSERVE_JS, self.boxes_in_text)
            return None, state, await self._grab(raw)

        problem, state, png = self._page.call(act)
        if problem is not None:
            return self._invalid(problem)
        self._untouched = None
        self._history.append(str(parsed))
        self._absorb(state, png)
        done = bool(self._state.get("done"))
        self._done = done
        raw_reward = float(self._state.get("raw_reward") or 0.0) if done else 0.0
        task_reward = float(self._state.get("reward") or 0.0) if done else 0.0
        success = done and raw_reward > 0
        if self.reward_mode == "task":
            parts = {"task": task_reward}
        else:
            parts = {"success": 1.0 if success else 0.0}
        info = self.step_info(
            state_key=self._state_key(),
            action_valid=True,
            reward_parts=parts,
            success=success,
            task_reward=task_reward,
            raw_reward=raw_reward,
            reason=self._state.get("reason"),
        )
        return self._observation(), self.reward_from_parts(parts), done, False, info

    def render(self) -> Any:
        if self.render_mode == "rgb_array":
            return self._image.copy()
        if self.render_mode == "ansi":
            return self._text()
        return None


class MiniWoBExpertEnv(MiniWoBEnv):
    """A :class:`MiniWoBEnv` over tasks that the DOM-reading expert solves
    (:mod:`agentgym.envs.gui.miniwob.expert`)."""

    def expert_action(self) -> str:
        """The expert's next action for the current page (reads the DOM)."""
        from agentgym.envs.gui.miniwob.expert import next_action

        return next_action(self)


def make_miniwob_env(
    task: str | Sequence[str] | None = None,
    *,
    tasks: Sequence[str] | None = None,
    **kwargs: Any,
) -> MiniWoBEnv:
    """A :class:`MiniWoBExpertEnv` when the expert solves every task asked for, else a
    :class:`MiniWoBEnv` (whose ``expert_action`` does not exist). ``tasks`` is another name for
    a list of tasks (``make("agentgym/MiniWoB-v0", tasks=[...])``)."""
    from agentgym.envs.gui.miniwob.expert import SOLVERS

    if tasks is not None:
        if task is not None:
            raise ValueError("give task or tasks, not both")
        task = list(tasks)

    names = list(TASKS) if task is None else [task] if isinstance(task, str) else list(task)
    cls = MiniWoBExpertEnv if all(name in SOLVERS for name in names) else MiniWoBEnv
    return cls(task, **kwargs)
