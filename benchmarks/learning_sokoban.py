"""Learning curves on Sokoban: GiGPO, GRPO, RLOO, CAST, GraphGPO, SPA (a reward), OPRL.

    python benchmarks/learning_sokoban.py [--seeds 0 1 2] [--iterations 32] [--eval-every 8]
        [--methods gigpo grpo ...] [--out benchmarks/out/learning_sokoban]

:mod:`learning` with Sokoban's defaults: the shipped CPU recipe (``env=sokoban model=tiny
hardware=cpu``), one behaviour-cloned warm start per seed shared by every method, curves as PNG
with ± one standard error over seeds and a Markdown table (with the iterations each method needs
to reach GRPO's final success) for ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

from learning import main  # benchmarks/learning.py (a script's folder is on sys.path)

METHODS = ("gigpo", "grpo", "rloo", "cast", "graphgpo", "reward=spa", "oprl")

if __name__ == "__main__":
    main(env="sokoban", methods=METHODS, iterations=32, eval_every=8, eval_episodes=256)
