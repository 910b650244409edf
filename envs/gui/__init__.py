"""GUI environments: MiniWoB++ in Chromium and Tk applications on a virtual X display.

Observations are ``{"text": str, "image": uint8 (H, W, 3)}``; actions are the calls of
:mod:`agentgym.envs.gui.actions`. Importing this package only records the registrations.
"""

from agentgym.core.registration import register
from agentgym.envs.gui.miniwob.tasks import TASKS as MINIWOB_TASKS

#: Turn limit of every MiniWoB++ id (BrowserGym's).
MINIWOB_MAX_STEPS = 10

for _task in MINIWOB_TASKS:
    register(
        id=f"agentgym/miniwob.{_task}-v0",
        entry_point="agentgym.envs.gui.miniwob.env:make_miniwob_env",
        max_episode_steps=MINIWOB_MAX_STEPS,
        kwargs={"task": _task},
        family="gui",
        description=f"MiniWoB++ {_task} in Chromium: screenshot + element tree, clicks and typing.",
        checker_kwargs={"n_tasks": 3},
    )
register(
    id="agentgym/MiniWoB-v0",
    entry_point="agentgym.envs.gui.miniwob.env:make_miniwob_env",
    max_episode_steps=MINIWOB_MAX_STEPS,
    kwargs={"task": None},
    family="gui",
    description="All 130 MiniWoB++ tasks, one drawn per episode from the seed (Chromium).",
)

#: Turn limit of the desktop ids.
DESKTOP_MAX_STEPS = 15
_DESKTOP_APPS = {
    "form": "fill and submit a sign-up form that validates its fields",
    "settings": "change settings across the tabs of a settings dialog and apply",
    "files": "open a file through a file dialog over a real temporary folder",
    "list": "filter and sort a table, then press Done",
}
for _app, _what in _DESKTOP_APPS.items():
    register(
        id=f"agentgym/desktop.{_app}-v0",
        entry_point="agentgym.envs.gui.desktop.env:DesktopEnv",
        max_episode_steps=DESKTOP_MAX_STEPS,
        kwargs={"app": _app},
        family="gui",
        description=f"Tk app on a virtual X display (Xvfb): {_what}; screenshot + clicks/typing.",
        checker_kwargs={"n_tasks": 3},
    )
register(
    id="agentgym/Desktop-v0",
    entry_point="agentgym.envs.gui.desktop.env:DesktopEnv",
    max_episode_steps=DESKTOP_MAX_STEPS,
    kwargs={"app": None},
    family="gui",
    description="The four generated Tk desktop apps, one drawn per episode from the seed (Xvfb).",
    checker_kwargs={"n_tasks": 4},
)
