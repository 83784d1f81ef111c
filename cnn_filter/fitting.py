"""The optimisation loop every model here is trained with: Adam, cosine learning-rate
decay, a running loss, periodic evaluation, a progress bar."""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn
from tqdm import tqdm


def fit(model: nn.Module, batch_loss: Callable[[nn.Module], torch.Tensor], *, steps: int, lr: float,
        eval_every: int, evaluate: Callable[[nn.Module], dict], describe: Callable[[dict], str], desc: str,
        on_eval: Callable[[dict], None] | None = None) -> list[dict]:
    """Runs ``steps`` optimisation steps of ``batch_loss(model)``; every ``eval_every``
    steps and at the end records {"step", "loss", **evaluate(model)}, prints
    describe(record) and calls on_eval(record). Returns the records."""
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, steps), eta_min=lr * 0.05)
    history, running = [], None
    bar = tqdm(range(steps), desc=desc, unit="step")
    for step in bar:
        model.train()
        loss = batch_loss(model)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        running = loss.item() if running is None else 0.98 * running + 0.02 * loss.item()
        bar.set_postfix(loss=f"{running:.3e}")
        if (step + 1) % eval_every == 0 or step + 1 == steps:
            model.eval()
            record = {"step": step + 1, "loss": running, **evaluate(model)}
            history.append(record)
            bar.write(describe(record))
            if on_eval is not None:
                on_eval(record)
    model.eval()
    return history
