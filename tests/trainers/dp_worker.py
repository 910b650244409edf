"""One PPO update on a fixed batch, run by every rank of a data-parallel group.

    torchrun --nproc-per-node 2 --master-addr 127.0.0.1 --master-port P dp_worker.py MODEL OUT \
        [ddp|fsdp]

Rank 0 saves the updated parameters and the optimizer state to OUT (``torch.save``);
``test_distributed.py`` compares them with the same update in one process (:func:`one_update`
with a single rank). ``fsdp`` updates an FSDP2-sharded copy and gathers the weights and the
optimizer state back to rank 0 (:class:`~agentgym.trainers.sharded.ShardedPolicy`).
"""

from __future__ import annotations

import sys
from typing import Any

import torch

from agentgym.trainers.config import EnvConfig, LossConfig, ModelConfig, OptimConfig
from agentgym.trainers.distributed import SINGLE, DataParallel, from_environment, shutdown
from agentgym.trainers.model import load_policy
from agentgym.trainers.samples import TurnSample
from agentgym.trainers.sharded import ShardedPolicy
from agentgym.trainers.update import UpdateContext, update_policy


def fixed_batch(vocab: int, n: int = 10) -> list[TurnSample]:
    """``n`` samples of random prompts/responses (lengths 3–8 and 1–4) and advantages."""
    gen = torch.Generator().manual_seed(1234)
    out = []
    for _ in range(n):
        p_len = int(torch.randint(3, 9, (1,), generator=gen))
        r_len = int(torch.randint(1, 5, (1,), generator=gen))
        ids = torch.randint(5, vocab, (p_len + r_len,), generator=gen).tolist()
        adv = float(torch.randn(1, generator=gen))
        out.append(TurnSample(ids[:p_len], ids[p_len:], None, adv))
    return out


def one_update(model_path: str, parallel: DataParallel = SINGLE) -> dict[str, Any]:
    """Parameters and optimizer state after one update (2 epochs × 2 mini-batches, SGD with
    momentum, clipped) on the fixed batch."""
    torch.manual_seed(0)
    model, tokenizer = load_policy(ModelConfig(), EnvConfig(), torch.device("cpu"),
                                   path=model_path)
    samples = fixed_batch(len(tokenizer))

    def make_optimizer(module: torch.nn.Module) -> torch.optim.Optimizer:
        return torch.optim.SGD(module.parameters(), lr=0.5, momentum=0.9)

    sharded = ShardedPolicy(model, make_optimizer, parallel) if parallel.sharded else None
    trained = sharded.module if sharded is not None else model
    optimizer = sharded.optimizer if sharded is not None else make_optimizer(model)
    ctx = UpdateContext(device=torch.device("cpu"), pad_id=int(tokenizer.pad_token_id),
                        micro_batch_size=2)
    stats = update_policy(trained, optimizer, samples, LossConfig(kl_coef=0.0),
                          OptimConfig(ppo_epochs=2, mini_batch_size=6, max_grad_norm=1.0), ctx,
                          generator=torch.Generator().manual_seed(7), parallel=parallel)
    assert stats["steps"] == 4 and stats["samples"] == len(samples), stats
    if sharded is not None:
        sharded.gather_weights(model)
        state = sharded.optimizer_state()
    else:
        state = optimizer.state_dict()
    return {"params": {name: p.detach().clone() for name, p in model.named_parameters()},
            "optimizer": state}


def main() -> None:
    model_path, out = sys.argv[1], sys.argv[2]
    kind = sys.argv[3] if len(sys.argv) > 3 else "ddp"
    torch.set_num_threads(1)
    parallel = from_environment("cpu", sharded=kind == "fsdp")
    try:
        result = one_update(model_path, parallel)
        if parallel.is_main:
            torch.save({"world_size": parallel.world_size, **result}, out)
    finally:
        shutdown(parallel)


if __name__ == "__main__":
    main()
