"""MiniWoB++ (Shi et al. 2017; Liu et al. 2018) on the system Chromium: see :mod:`.env`."""
