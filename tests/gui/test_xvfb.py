"""The virtual display sandbox: its own server per sandbox, screenshots, owned processes."""

from __future__ import annotations

import subprocess
import sys
import time

import numpy as np
import pytest

from agentgym.sandboxes import xvfb
from agentgym.sandboxes.xvfb import XvfbSandbox, XvfbUnavailableError


def test_each_sandbox_has_its_own_display_and_stops_it():
    with XvfbSandbox(200, 100) as a, XvfbSandbox(300, 150) as b:
        assert a.display_name != b.display_name
        assert a.screenshot().shape == (100, 200, 3) and b.screenshot().shape == (150, 300, 3)
        assert a.screenshot().dtype == np.uint8
        server = a._server
        child = a.spawn([sys.executable, "-c", "import time; time.sleep(60)"])
        assert child.poll() is None
    assert server.poll() is not None and child.poll() is not None
    assert not a.running and xvfb.live_sandboxes() == 0


def test_input_reaches_a_program_on_the_display(tmp_path):
    app = tmp_path / "entry.py"
    app.write_text(
        "import tkinter as tk\n"
        "root = tk.Tk(); root.geometry('200x100+0+0')\n"
        "e = tk.Entry(root); e.place(x=10, y=10, width=150)\n"
        "root.after(100, lambda: print('up', flush=True))\n"
        "def report(_):\n"
        "    print(e.get(), flush=True)\n"
        "root.bind('<Escape>', report)\n"
        "root.mainloop()\n"
    )
    with XvfbSandbox(200, 100) as screen:
        proc = screen.spawn([sys.executable, str(app)], stdout=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "up"
        blank = screen.screenshot()
        screen.click(50, 20)
        screen.type_text("Hi there!")
        screen.key(["Escape"])
        assert proc.stdout.readline().strip() == "Hi there!"
        for _ in range(50):  # the text is drawn (Tk redraws after it reported the entry)
            if not np.array_equal(screen.screenshot(), blank):
                break
            time.sleep(0.1)
        assert not np.array_equal(screen.screenshot(), blank)
        with pytest.raises(ValueError, match="printable ASCII"):
            screen.type_text("é")
        with pytest.raises(ValueError, match="outside"):
            screen.click(500, 5)


def test_missing_xvfb_is_one_clear_error(monkeypatch):
    monkeypatch.setattr(xvfb.shutil, "which", lambda name: None)
    with pytest.raises(XvfbUnavailableError, match="apt-get install xvfb"):
        XvfbSandbox().start()
