"""After any GUI run — a normal end, an exception, an exit without close, SIGTERM — no Chromium,
Xvfb or Tk process it started is left.

Each run is a child Python process with a unique tag in its environment; every process it starts
(the Playwright driver, Chromium, Xvfb, the Tk application) inherits the tag, so the test finds
them in /proc even after they were re-parented, without touching other users' browsers.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import pytest

SCRIPT = textwrap.dedent(
    """
    import sys, time
    import agentgym

    mode = sys.argv[1]
    mini = agentgym.make("agentgym/miniwob.click-test-v0")
    mini.reset(seed=0)
    mini.step("click(80, 100)")
    desk = agentgym.make("agentgym/desktop.form-v0")
    desk.reset(seed=0)
    desk.step(desk.unwrapped.expert_action())
    if mode == "normal":
        mini.close()
        desk.close()
    elif mode == "exception":
        raise RuntimeError("a crash in the middle of a GUI run")
    elif mode == "sigterm":
        print("ready", flush=True)
        time.sleep(300)
    """
)


def tagged(tag: str) -> list[str]:
    """Command lines of the live processes whose environment carries ``tag``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
            if f"AGENTGYM_TEST_TAG={tag}".encode() not in environ.split(b"\0"):
                continue
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = (entry / "stat").read_text().split(") ")[-1][:1]
        except OSError:
            continue
        if state != "Z":
            found.append(cmdline)
    return found


def kinds(cmdlines: list[str]) -> set[str]:
    out = set()
    for line in cmdlines:
        if "chrom" in line:
            out.add("chromium")
        if "Xvfb" in line:
            out.add("xvfb")
        if "agentgym.envs.gui.desktop.host" in line:
            out.add("tk")
    return out


def wait_until_gone(tag: str, limit_s: float = 30.0) -> list[str]:
    deadline = time.monotonic() + limit_s
    while True:
        left = tagged(tag)
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.2)


@pytest.mark.parametrize("mode", ["normal", "no-close", "exception", "sigterm"])
def test_no_gui_process_outlives_the_run(mode, tmp_path):
    tag = uuid.uuid4().hex
    script = tmp_path / "run.py"
    script.write_text(SCRIPT)
    env = {**os.environ, "AGENTGYM_TEST_TAG": tag}
    proc = subprocess.Popen(
        [sys.executable, str(script), mode], env=env, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )
    try:
        if mode == "sigterm":
            assert proc.stdout.readline().strip() == "ready", proc.stderr.read()
            running = tagged(tag)
            assert kinds(running) == {"chromium", "xvfb", "tk"}, running
            proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    stderr = proc.stderr.read()
    if mode == "exception":
        assert proc.returncode == 1 and "a crash in the middle" in stderr
    elif mode == "sigterm":
        assert proc.returncode == -signal.SIGTERM
    else:
        assert proc.returncode == 0, stderr
    assert wait_until_gone(tag) == []
