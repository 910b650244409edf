"""Learning curves on WebShop: GiGPO vs GRPO vs RLOO, same budget, same seeds.

The comparison of the GiGPO paper's Table 1 (Feng et al. 2025, arXiv 2505.10978) at our scale:
the tiny model on a CPU, the shipped ``env=webshop`` recipe (compact pages, behaviour-cloned
warm start, ``budget=webshop_cpu``), three credit methods, three seeds::

    python benchmarks/learning_webshop.py                       # 3 methods x 3 seeds
    python benchmarks/learning_webshop.py --seeds 0 --iterations 4 --eval-episodes 64  # reduced
    python benchmarks/learning_webshop.py --quick    # a few minutes: checks the script end to end

:mod:`learning` with WebShop's defaults (iterations and evaluation cadence from the budget, 128
held-out test goals); ``--quick`` also clones only 16 demonstrations for one epoch and plays
2 tasks × 2 episodes of at most 4 turns.
"""

from __future__ import annotations

from learning import main  # benchmarks/learning.py (a script's folder is on sys.path)

METHODS = ("gigpo", "grpo", "rloo")
#: ``--quick``: the smallest run that exercises every part (two seeds, so the bands are drawn).
QUICK = ("budget.warmup_episodes=16", "budget.warmup_epochs=1", "budget.tasks_per_iteration=2",
         "budget.group_size=2", "env.max_turns=4")

if __name__ == "__main__":
    main(env="webshop", methods=METHODS, iterations=None, eval_every=None, eval_episodes=128,
         quick=QUICK)
