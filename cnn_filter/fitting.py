"""The optimisation loop every model here is trained with: Adam, a linear warm-up then
cosine learning-rate decay, a running loss, periodic evaluation, a progress bar.

With a time limit the decay follows the clock as well as the step count (whichever is
further along), so a run on a lent machine of fixed minutes ends its schedule, with the
learning rate low, instead of being cut off half way."""
from __future__ import annotations

import math
import time
from typing import Callable

import torch
from torch import nn
from tqdm import tqdm

#: the learning rate ends at this fraction of its peak
FINAL_LR_FRACTION = 0.02


def lr_factor(step: int, steps: int, warmup: int, time_progress: float = 0.0) -> float:
    """Linear warm-up over ``warmup`` steps, then cosine decay to FINAL_LR_FRACTION over
    the remaining steps, or faster where ``time_progress`` (the fraction of a time limit
    used) is further along."""
    if step < warmup:
        return (step + 1) / warmup
    progress = max((step - warmup) / max(1, steps - warmup), time_progress)
    return FINAL_LR_FRACTION + (1 - FINAL_LR_FRACTION) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def fit(model: nn.Module, batch_loss: Callable[[nn.Module], torch.Tensor], *, steps: int, lr: float,
        eval_every: int, evaluate: Callable[[nn.Module], dict], describe: Callable[[dict], str], desc: str,
        on_eval: Callable[[dict], None] | None = None, warmup: int = 0,
        time_limit: float | None = None) -> list[dict]:
    """Runs ``steps`` optimisation steps of ``batch_loss(model)`` (fewer when
    ``time_limit`` seconds run out first: the evaluations count, exports do not); every
    ``eval_every`` steps and at the end records {"step", "loss", "lr", **evaluate(model)},
    prints describe(record) and calls on_eval(record). Returns the records."""
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    start = time.monotonic()

    def time_progress() -> float:
        return 0.0 if time_limit is None else (time.monotonic() - start) / time_limit

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: lr_factor(step, steps, warmup, time_progress()))
    history, running = [], None
    bar = tqdm(range(steps), desc=desc, unit="step", mininterval=5)
    for step in bar:
        last = step + 1 == steps or time_progress() >= 1.0
        model.train()
        loss = batch_loss(model)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        if step % 50 == 0 or last:  # .item() waits for the device: not every step
            value = loss.item()
            running = value if running is None else 0.9 * running + 0.1 * value
            bar.set_postfix(loss=f"{running:.3e}")
        if (step + 1) % eval_every == 0 or last:
            model.eval()
            record = {"step": step + 1, "loss": running, "lr": sched.get_last_lr()[0], **evaluate(model)}
            history.append(record)
            bar.write(describe(record))
            if on_eval is not None:
                on_eval(record)
        if last:
            break
    model.eval()
    return history
