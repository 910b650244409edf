"""Asynchronous rollout: a worker thread generates the next iterations' batches during the update.

With ``trainer.async.max_staleness=k`` (k ≥ 1) the recipe hands rollout to :class:`AsyncRollout`:
one thread plays the training episodes of iteration ``j`` as soon as the policy it may use is
published, while the main thread runs credit assignment and the PPO update of earlier batches.
The bound (as in AReaL's asynchronous recipe, Fu et al. 2025, arXiv:2505.24298, and NeMo-RL's
``max_trajectory_age_steps``):

    policy version v = number of updates applied (v_0 = the iteration the run starts at)
    batch j is generated with the newest published version v_j, and only once v_j ≥ j − k
    the update of iteration i consumes batch i: staleness i − v_i ∈ [0, k]

so at most ``k + 1`` finished batches wait in the queue. The generation engine samples from its
own copy of the weights (the *behaviour model*): the main thread publishes a snapshot after each
update (:meth:`AsyncRollout.publish`) and the worker loads the newest one between two batches,
never during one, so every batch comes from one policy version and its sampled log-probs are the
behaviour policy's. The update corrects for the lag with a truncated importance weight
``min(π_prox / π_behaviour, cap)`` (decoupled PPO; :func:`agentgym.trainers.loss.ppo_loss`).

Evaluation and checkpoints pause the worker between batches (:meth:`AsyncRollout.paused`), load
the newest weights into the engine and then use it alone. Which published version a batch gets
depends on timing, so a run with k ≥ 1 is not bit-reproducible (the staleness bound always holds);
``k = 0`` never builds this class and is the synchronous recipe exactly. A resumed run starts with
an empty queue: batches generated before the checkpoint are discarded and the worker starts over
at the checkpoint's iteration with its weights.
"""

from __future__ import annotations

import collections
import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import torch

from agentgym.core.trajectory import Episode


@dataclass
class RolloutBatch:
    """One iteration's episodes and how they were made.

    Attributes:
        iteration: the RL iteration (0-based) the batch is for.
        version: the policy version (updates applied) that generated it.
        episodes: the episodes, in task order then repeat order.
        rollout_s: seconds the worker spent playing them.
        gen_tokens: response tokens the engine generated for them.
    """

    iteration: int
    version: int
    episodes: list[Episode]
    rollout_s: float
    gen_tokens: int


def snapshot(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A detached copy of ``model``'s state dict (what :meth:`AsyncRollout.publish` takes)."""
    return {name: tensor.detach().clone() for name, tensor in model.state_dict().items()}


class AsyncRollout:
    """A rollout worker thread and the bounded queue of its batches.

    Args:
        produce: ``(iteration, version) -> RolloutBatch``; plays one iteration's episodes with
            the engine (called in the worker thread, with the engine to itself).
        load_weights: ``(state_dict) -> None``; puts published weights into the engine (called
            between batches, in the worker thread or under :meth:`paused`).
        first: the first iteration to generate.
        last: one past the last iteration to generate.
        max_staleness: ``k`` ≥ 1, the most versions a batch may lag behind its update.
        version: the policy version at ``first`` (the engine already serves it).
    """

    def __init__(
        self,
        produce: Callable[[int, int], RolloutBatch],
        load_weights: Callable[[dict[str, torch.Tensor]], None],
        *,
        first: int,
        last: int,
        max_staleness: int,
        version: int,
    ) -> None:
        if max_staleness < 1:
            raise ValueError(f"max_staleness must be >= 1 for an asynchronous rollout, got "
                             f"{max_staleness}")
        self._produce, self._load = produce, load_weights
        self.first, self.last, self.max_staleness = first, last, max_staleness
        self._cond = threading.Condition()
        self._engine = threading.Lock()  # held while a batch is generated or the engine paused
        self._published = version  # newest version published by the trainer
        self._weights: dict[str, torch.Tensor] | None = None  # not yet loaded into the engine
        self.engine_version = version  # the version the engine serves
        self._queue: collections.deque[RolloutBatch | BaseException] = collections.deque()
        self._stop = False
        self._thread = threading.Thread(target=self._run, name="agentgym-rollout", daemon=True)
        self._thread.start()

    # -- the worker ----------------------------------------------------------------------------
    def _may_start(self, iteration: int) -> bool:
        return (self._stop or (self._published >= iteration - self.max_staleness
                               and len(self._queue) <= self.max_staleness))

    def _run(self) -> None:
        try:
            for iteration in range(self.first, self.last):
                with self._cond:
                    self._cond.wait_for(lambda it=iteration: self._may_start(it))
                    if self._stop:
                        return
                with self._engine:
                    self._load_newest()
                    batch = self._produce(iteration, self.engine_version)
                with self._cond:
                    self._queue.append(batch)
                    self._cond.notify_all()
        except BaseException as exc:  # handed to the trainer, which raises it
            with self._cond:
                self._queue.append(exc)
                self._cond.notify_all()

    def _load_newest(self) -> None:
        """Load the newest published weights into the engine (the engine lock is held)."""
        with self._cond:
            weights, version, self._weights = self._weights, self._published, None
        if weights is not None:
            self._load(weights)
            self.engine_version = version

    # -- the trainer's side --------------------------------------------------------------------
    def publish(self, version: int, weights: dict[str, torch.Tensor]) -> None:
        """Make ``weights`` (a :func:`snapshot`) policy version ``version``; the worker loads
        them before its next batch."""
        with self._cond:
            self._published, self._weights = version, weights
            self._cond.notify_all()

    def get(self, iteration: int) -> tuple[RolloutBatch, float]:
        """The batch of ``iteration`` and the seconds spent waiting for it.

        Raises:
            BaseException: what the worker raised while producing it.
        """
        tic = time.perf_counter()
        with self._cond:
            self._cond.wait_for(lambda: bool(self._queue))
            item = self._queue.popleft()
            self._cond.notify_all()
        wait = time.perf_counter() - tic
        if isinstance(item, BaseException):
            raise item
        if item.iteration != iteration:  # the worker produces iterations in order
            raise RuntimeError(f"rollout queue out of order: batch {item.iteration} for "
                               f"iteration {iteration}")
        return item, wait

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """Hold the worker between two batches, with the newest published weights in the
        engine (evaluation, checkpoints)."""
        with self._engine:
            self._load_newest()
            yield

    def close(self) -> None:
        """Stop the worker (a batch in progress is finished and dropped) and join it."""
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        self._thread.join()

    def queued(self) -> int:
        """Finished batches waiting in the queue."""
        with self._cond:
            return len(self._queue)


def behaviour_engine_loader(engine: Any, behaviour: torch.nn.Module) -> Callable[[dict], None]:
    """``load_weights`` for :class:`AsyncRollout`: copy a snapshot into ``behaviour`` (the
    engine's own copy of the policy) and have the engine serve it."""

    def load(weights: dict[str, torch.Tensor]) -> None:
        behaviour.load_state_dict(weights)
        engine.sync_weights(behaviour)

    return load


__all__ = ["AsyncRollout", "RolloutBatch", "behaviour_engine_loader", "snapshot"]
