"""Tk applications on a virtual X display (Xvfb): see :mod:`.env`."""
