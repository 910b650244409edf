"""``agentgym/Collab-v0``: collaborative programming with a hidden specification (ColBench)."""
