"""Learning curves on SearchQA: IGPO vs GRPO vs GiGPO, same budget, same seeds.

    python benchmarks/learning_searchqa.py [--seeds 0 1 2] [--iterations 8] [--eval-every 4]
        [--methods igpo grpo gigpo] [--out benchmarks/out/learning_searchqa]

:mod:`learning` with SearchQA's defaults: the shipped CPU recipe (``env=searchqa model=tiny
hardware=cpu``, budget ``searchqa_cpu``), one behaviour-cloned warm start per seed shared by every
method, held-out exact match on the test split, curves as PNG with ± one standard error over
seeds and a Markdown table for ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

from learning import main  # benchmarks/learning.py (a script's folder is on sys.path)

METHODS = ("igpo", "grpo", "gigpo")

if __name__ == "__main__":
    main(env="searchqa", methods=METHODS, iterations=8, eval_every=4, eval_episodes=128)
