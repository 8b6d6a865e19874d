"""Train the folds of one small model at once, as one stacked model (issue #12).

The folds of a benchmark are independent trainings of the same architecture. Here their
models become one: every parameter and buffer gets a leading fold dimension, and a batch is
the folds' batches one after another (``[folds * rows, ...]``, each fold's rows padded to the
longest). Layers that treat samples independently (ReLU, pooling, flatten, the model's own
``forward`` code) run once over all folds; layers with weights run each fold's weights on
its own rows; batch norm takes each fold's statistics from that fold's real rows only; dropout
draws each fold's masks from that fold's own generator. One optimizer step over the stacked
tensors updates every fold (Adam and SGD are elementwise), with per-fold step counts so a
fold that has no batch at some step (its last batch had one sample) is left untouched.

Each fold sees exactly what :func:`zoo.engine.trainer.fit_predict` gives it: initial weights
(``torch.manual_seed(cfg.seed)`` then ``build()``), data order and augmentation (a generator
seeded with ``cfg.seed``), dropout masks (the global generator's state after ``build()``, now
the fold's own), loss, optimizer, learning-rate schedule and the last epoch's model; so on
CPU its predictions equal fold-by-fold training up to float rounding (``tests/test_stacked.py``
states the tolerance). Only ``selection="last"`` is supported, and no mid-fold checkpoints.

Two kernel layouts: ``per-fold`` runs the native convolution and batch norm kernels once per
fold (the fold-by-fold numbers to the last bit, where a padded batch sums a gradient in another
order; fastest on CPU, where oneDNN's grouped convolution and im2col + batched matmul were each
about 3x slower than a loop of plain convolutions for STSTNet); ``shared`` runs one grouped
convolution and one masked batch norm for all folds (one kernel for every fold, the route for a
GPU). On CPU stacking saves only Python and dispatch overhead, which is small next to the
convolution and elementwise work at batch 256, and many folds at once make each activation too
big for the caches: STSTNet with 4 folds stacked ran at 0.95x the speed of fold by fold, with
all 68 MEGC 2019 folds at 0.38x (``experiments/perf/stacked_folds.py``; 2 shared cores, under load).
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass, replace
from functools import partial
from typing import Callable, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.func import functional_call

from registry.errors import ConfigError
from zoo.engine.augment import augment
from zoo.engine.determinism import make_deterministic
from zoo.engine.trainer import (
    FoldData,
    FoldOutcome,
    InputNormalizer,
    TrainConfig,
    autocast,
    check_precision,
    class_weights,
    epoch_order,
    resolve_device,
)

KERNEL_LAYOUTS = ("per-fold", "shared")
ADAM_BETAS, ADAM_EPS = (0.9, 0.999), 1e-8  # torch.optim.AdamW's defaults, as the trainer uses them


@dataclass
class FoldRows:
    """Which rows of the current stacked batch are real: ``sizes[f]`` rows of fold ``f`` out
    of ``rows`` per fold (the rest is padding). Shared by every stacked layer of a model."""

    sizes: list[int]
    rows: int = 0

    @property
    def folds(self) -> int:
        return len(self.sizes)

    def mask(self, device: torch.device) -> torch.Tensor:
        """``[folds, rows]``: True on real rows."""
        return torch.arange(self.rows, device=device)[None] < torch.tensor(self.sizes, device=device)[:, None]


def _pad_rows(values: torch.Tensor, rows: int) -> torch.Tensor:
    """``values`` with zero rows appended up to ``rows`` (itself, not a copy, if it has them)."""
    if len(values) == rows:
        return values
    return F.pad(values, (0, 0) * (values.dim() - 1) + (0, rows - len(values)))


def _adopt(stacked: nn.Module, template: nn.Module, layers: Sequence[nn.Module]) -> None:
    """Give ``stacked`` the fold layers' parameters stacked along a new first dimension, and
    ``stacked.template``: the fold layer whose code and settings it runs (not a submodule, so
    the template's own unused weights stay out of the stacked model's state)."""
    object.__setattr__(stacked, "template", template)
    for name, _ in template.named_parameters(recurse=False):
        values = torch.stack([layer.get_parameter(name).detach() for layer in layers])
        stacked.register_parameter(name, nn.Parameter(values))


class StackedLayer(nn.Module):
    """A layer with weights, each fold's weights applied to its own rows (a loop over folds)."""

    def __init__(self, template: nn.Module, layers: Sequence[nn.Module], folds: FoldRows):
        super().__init__()
        _adopt(self, template, layers)
        self.folds = folds

    def fold_parameters(self, fold: int) -> dict[str, torch.Tensor]:
        return {name: value[fold] for name, value in self.named_parameters(recurse=False)}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        per_fold = x.unflatten(0, (self.folds.folds, -1))
        return torch.cat(
            [
                functional_call(self.template, self.fold_parameters(f), (rows,))
                for f, rows in enumerate(per_fold)
            ]
        )


def _channels_last(x: torch.Tensor) -> bool:
    return x.dim() == 4 and x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous()


class StackedConv2d(StackedLayer):
    """``Conv2d``; in the ``shared`` layout one grouped convolution serves every fold."""

    def __init__(self, template: nn.Conv2d, layers: Sequence[nn.Module], folds: FoldRows, shared: bool):
        super().__init__(template, layers, folds)
        if shared and template.padding_mode != "zeros":
            raise ConfigError(
                "stacked training (shared kernels) needs zero-padded convolutions, "
                f"not {template.padding_mode}"
            )
        self.shared = shared

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.shared:
            return super().forward(x)
        conv, folds = self.template, self.folds.folds
        # in x's memory layout (a channels-last convolution rounds differently, and dropout
        # draws its masks in the layout of what it is given)
        layout = torch.channels_last if _channels_last(x) else torch.contiguous_format
        grouped = x.unflatten(0, (folds, -1)).transpose(0, 1).flatten(1, 2)  # [rows, folds * channels, ...]
        bias = self.bias.flatten() if self.bias is not None else None
        weight, groups = self.weight.flatten(0, 1), conv.groups * folds
        out = F.conv2d(grouped.contiguous(memory_format=layout), weight, bias, conv.stride, conv.padding,
                       conv.dilation, groups)
        return out.unflatten(1, (folds, -1)).transpose(0, 1).flatten(0, 1).contiguous(memory_format=layout)


class StackedBatchNorm(nn.Module):
    """Batch norm with each fold's batch statistics (its real rows only) and running stats."""

    def __init__(
        self,
        template: nn.modules.batchnorm._BatchNorm,
        layers: Sequence[nn.Module],
        folds: FoldRows,
        shared: bool,
    ):
        super().__init__()
        if not template.track_running_stats or template.momentum is None:
            raise ConfigError("stacked training needs batch norm with running stats and a fixed momentum")
        _adopt(self, template, layers)
        self.folds, self.shared = folds, shared
        for name, _ in template.named_buffers(recurse=False):
            self.register_buffer(name, torch.stack([layer.get_buffer(name) for layer in layers]).clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.shared:
            return self._shared(x)
        bn, out = self.template, []
        for f, rows in enumerate(x.unflatten(0, (self.folds.folds, -1))):
            real = self.folds.sizes[f] if self.training else len(rows)
            if real == 0:
                out.append(torch.zeros_like(rows))
                continue
            weight, bias = (self.weight[f], self.bias[f]) if bn.affine else (None, None)
            normed = F.batch_norm(
                rows[:real], self.running_mean[f], self.running_var[f], weight, bias,
                self.training, bn.momentum, bn.eps,
            )
            out.append(_pad_rows(normed, len(rows)))
        if self.training:
            self.num_batches_tracked.add_(torch.tensor(self.folds.sizes) > 0)
        return torch.cat(out)

    def _shared(self, x: torch.Tensor) -> torch.Tensor:
        bn, folds = self.template, self.folds.folds
        per_fold = x.unflatten(0, (folds, -1))  # [folds, rows, channels, *space]
        shape = (folds, 1, -1) + (1,) * (x.dim() - 2)
        if self.training:
            reduce = [1] + list(range(3, per_fold.dim()))
            weight = self.folds.mask(x.device).view(folds, -1, *(1,) * (x.dim() - 1)).to(x.dtype)
            count = (weight.sum(1) * math.prod(x.shape[2:])).view(shape)
            mean = (per_fold * weight).sum(reduce, keepdim=True) / count.clamp_min(1)
            var = ((per_fold - mean).square() * weight).sum(reduce, keepdim=True) / count.clamp_min(1)
            with torch.no_grad():
                active = (count > 1).view(folds, 1)
                unbiased = var.view(folds, -1) * (count / (count - 1).clamp_min(1)).view(folds, 1)
                batch_stats = ((self.running_mean, mean.view(folds, -1)), (self.running_var, unbiased))
                for running, batch in batch_stats:
                    running.copy_(torch.where(active, torch.lerp(running, batch, bn.momentum), running))
                self.num_batches_tracked.add_(active.view(-1))
        else:
            mean, var = self.running_mean.view(shape), self.running_var.view(shape)
        out = (per_fold - mean) * torch.rsqrt(var + bn.eps)
        if bn.affine:
            out = out * self.weight.view(shape) + self.bias.view(shape)
        return out.flatten(0, 1)


class StackedDropout(nn.Module):
    """Dropout whose masks for fold ``f`` come from ``generators[f]``, drawn as ``F.dropout``
    draws them on CPU (``bernoulli_(1 - p)`` over the fold's real rows, then ``/ (1 - p)``)."""

    def __init__(self, p: float, folds: FoldRows, generators: Sequence[torch.Generator]):
        super().__init__()
        self.p, self.folds, self.generators = p, folds, generators

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0:
            return x
        if self.p == 1:
            return x * 0
        masks = []
        rows = x.shape[0] // self.folds.folds
        for size, generator in zip(self.folds.sizes, self.generators):
            noise = torch.empty_like(x[:size])  # x's memory layout, in which F.dropout draws its masks
            masks.append(_pad_rows(noise.bernoulli_(1 - self.p, generator=generator).div_(1 - self.p), rows))
        return x * torch.cat(masks)


def stack_models(
    models: Sequence[nn.Module], generators: Sequence[torch.Generator], layout: str = "per-fold"
) -> tuple[nn.Module, FoldRows]:
    """One model running ``models`` side by side; its ``state_dict`` has their keys, each value
    with a leading fold dimension. ``generators[f]`` draws fold ``f``'s dropout masks."""
    if layout not in KERNEL_LAYOUTS:
        raise ConfigError(f"stacked kernel layout must be one of {', '.join(KERNEL_LAYOUTS)}, not '{layout}'")
    shared, folds = layout == "shared", FoldRows([0] * len(models))
    stacked = copy.deepcopy(models[0])
    for name, template in list(stacked.named_modules()):
        layers = [model.get_submodule(name) for model in models]
        own_parameters = dict(template.named_parameters(recurse=False))
        own_buffers = dict(template.named_buffers(recurse=False))
        kind = type(template).__name__
        if isinstance(template, nn.modules.batchnorm._BatchNorm):
            replacement = StackedBatchNorm(template, layers, folds, shared)
        elif type(template) is nn.Dropout:
            replacement = StackedDropout(template.p, folds, generators)
        elif isinstance(template, nn.modules.dropout._DropoutNd):
            raise ConfigError(f"stacked training supports nn.Dropout only, not {kind} ({name})")
        elif own_buffers:
            raise ConfigError(f"stacked training cannot stack {kind} ({name}): it has buffers")
        elif own_parameters and any(True for _ in template.children()):
            raise ConfigError(f"stacked training cannot stack {kind} ({name}): weights outside a leaf layer")
        elif isinstance(template, nn.Conv2d):
            replacement = StackedConv2d(template, layers, folds, shared)
        elif own_parameters:
            replacement = StackedLayer(template, layers, folds)
        else:
            continue
        if name:  # nn.Module.set_submodule is newer than torch 2.4
            parent, _, child = name.rpartition(".")
            setattr(stacked.get_submodule(parent), child, replacement)
        else:
            stacked = replacement
    return stacked, folds


def check_stackable(configs: Sequence[TrainConfig]) -> TrainConfig:
    """The folds' shared recipe; they may differ only in their seed."""
    first = configs[0]
    if first.selection != "last":
        raise ConfigError(f"stacked training supports --selection last only, not '{first.selection}'")
    for cfg in configs[1:]:
        if replace(cfg, seed=first.seed) != first:
            raise ConfigError("stacked folds must share one training recipe (only their seeds may differ)")
    return first


class StackedOptimizer:
    """AdamW or SGD (as ``fit_predict`` configures them) over stacked parameters, with each
    fold's own step count: folds marked inactive in a step keep their weights and state. On CPU
    AdamW is torch's fused kernel on each fold's slices, as ``fit`` runs it; elsewhere the same
    update elementwise over all folds."""

    def __init__(self, params: Sequence[nn.Parameter], cfg: TrainConfig, folds: int):
        self.params, self.cfg = list(params), cfg
        self.steps = torch.zeros(folds, dtype=torch.float64)
        moments = 2 if cfg.optimizer == "adamw" else 1
        self.state = [[torch.zeros_like(p) for _ in range(moments)] for p in self.params]
        # fit() runs torch's fused AdamW on CPU: the same kernel, per fold, with each fold's
        # step count as the tensor it keeps (float32)
        self.fused_steps = [torch.zeros(folds, dtype=torch.float32) for _ in self.params]

    @torch.no_grad()
    def step(self, active: torch.Tensor, lr: float) -> None:
        self.steps += active
        cfg = self.cfg
        for param, state, fused_steps in zip(self.params, self.state, self.fused_steps):
            if param.grad is None:
                continue
            if cfg.optimizer == "adamw" and param.device.type == "cpu":
                self._fused_adamw(param, state, fused_steps, active, lr)
                continue
            shape = (-1,) + (1,) * (param.dim() - 1)
            keep = active.to(param.device).view(shape)
            grad = param.grad
            if cfg.optimizer == "adamw":
                exp_avg, exp_avg_sq = state
                decayed = param * (1 - lr * cfg.weight_decay)
                new_avg = torch.lerp(exp_avg, grad, 1 - ADAM_BETAS[0])
                new_avg_sq = torch.addcmul(exp_avg_sq * ADAM_BETAS[1], grad, grad, value=1 - ADAM_BETAS[1])
                steps = self.steps.clamp_min(1)  # bias corrections in float64, as torch's Python floats
                step_size = (lr / (1 - ADAM_BETAS[0] ** steps)).to(param).view(shape)
                correction = ((1 - ADAM_BETAS[1] ** steps) ** 0.5).to(param).view(shape)
                updated = decayed - step_size * new_avg / (new_avg_sq.sqrt() / correction + ADAM_EPS)
                exp_avg.copy_(torch.where(keep, new_avg, exp_avg))
                exp_avg_sq.copy_(torch.where(keep, new_avg_sq, exp_avg_sq))
            else:
                (momentum,) = state
                grad = torch.add(grad, param, alpha=cfg.weight_decay)
                new_momentum = torch.add(momentum * cfg.momentum, grad) if cfg.momentum else grad
                updated = torch.add(param, new_momentum, alpha=-lr)
                momentum.copy_(torch.where(keep, new_momentum, momentum))
            param.copy_(torch.where(keep, updated, param))

    def _fused_adamw(self, param: torch.Tensor, state: list[torch.Tensor], steps: torch.Tensor,
                     active: torch.Tensor, lr: float) -> None:
        """torch's fused AdamW kernel on each active fold's slice, as ``torch.optim.AdamW(fused=True)``
        calls it for that fold's own tensors."""
        folds = [f for f in range(len(steps)) if active[f]]
        counts = [steps[f : f + 1].view(()) for f in folds]
        torch._foreach_add_(counts, 1)
        exp_avg, exp_avg_sq = state
        torch._fused_adamw_(
            [param[f] for f in folds], [param.grad[f] for f in folds], [exp_avg[f] for f in folds],
            [exp_avg_sq[f] for f in folds], [], counts, lr=lr, beta1=ADAM_BETAS[0], beta2=ADAM_BETAS[1],
            weight_decay=self.cfg.weight_decay, eps=ADAM_EPS, amsgrad=False, maximize=False,
        )

    def zero_grad(self) -> None:
        for param in self.params:
            param.grad = None


def fit_predict_stacked(
    build: Callable[[], nn.Module],
    folds: Sequence[tuple[FoldData, FoldData, TrainConfig]],
    num_classes: int,
    on_epoch: Callable[[int, int, float], None] | None = None,
    layout: str | None = None,
    compile: bool = False,
) -> list[FoldOutcome]:
    """Train every fold's fresh model from ``build`` on its training data at once and predict
    its test data: one :class:`FoldOutcome` per ``(train, test, cfg)`` of ``folds``, in order,
    as :func:`~zoo.engine.trainer.fit_predict` would return it for that fold (up to float
    rounding). ``on_epoch(fold_index, epoch, loss)`` after each epoch of each fold. ``layout``:
    ``per-fold`` or ``shared`` kernels (default: per-fold on CPU, shared on CUDA);
    ``compile``: run the stacked model through ``torch.compile``. A fold's ``seconds`` is its
    share of the stacked run's wall time."""
    started = time.perf_counter()
    cfg = check_stackable([fold_cfg for _, _, fold_cfg in folds])
    if cfg.deterministic:
        make_deterministic()
    device = resolve_device(cfg.device)
    check_precision(cfg.precision, device)
    models, dropout_generators, data_generators = [], [], []
    for _, _, fold_cfg in folds:
        torch.manual_seed(fold_cfg.seed)  # as fit_predict: the fold's seed, then its model
        data_generators.append(torch.Generator().manual_seed(fold_cfg.seed))
        models.append(build())
        dropout_generators.append(torch.Generator(device).manual_seed(fold_cfg.seed))
        if device.type == "cpu":  # dropout continues the global stream, as it does in fit_predict
            dropout_generators[-1].set_state(torch.get_rng_state())
    keys, scaling = models[0].inputs.keys, models[0].inputs.scaling
    layout = layout or ("shared" if device.type == "cuda" else "per-fold")
    stacked, rows = stack_models(models, dropout_generators, layout)
    stacked.to(device)
    forward = torch.compile(stacked) if compile else stacked
    normalizers = [InputNormalizer(train, scaling) for train, _, _ in folds]
    weights = [
        class_weights(train.labels, num_classes).to(device) if cfg.class_balanced else None
        for train, _, _ in folds
    ]
    optimizer = StackedOptimizer(stacked.parameters(), cfg, len(folds))
    decay_epochs = cfg.lr_decay_epochs if cfg.lr_decay_epochs is not None else cfg.epochs
    losses: list[list[float]] = [[] for _ in folds]
    for epoch in range(1, cfg.epochs + 1):
        stacked.train()
        lr = cfg.lr * cfg.lr_decay ** min(epoch - 1, decay_epochs)  # fit_predict's LambdaLR
        orders = [epoch_order(train.labels, cfg.order, g) for (train, _, _), g in zip(folds, data_generators)]
        totals, seen = [0.0] * len(folds), [0] * len(folds)
        for start in range(0, max(map(len, orders)), cfg.batch_size):
            batches = [order[start : start + cfg.batch_size] for order in orders]
            rows.sizes = [len(batch) if len(batch) >= 2 else 0 for batch in batches]  # batch norm needs two
            rows.rows = max(rows.sizes)
            if rows.rows == 0:
                continue
            inputs, labels = {key: [] for key in keys}, []
            for f, (train, _, _) in enumerate(folds):
                batch = batches[f][: rows.sizes[f]]
                raw = {k: train.inputs[k][batch] for k in keys}
                # a fold without a batch at this step draws no augmentation, as in fit_predict
                transform = partial(augment, cfg=cfg.augment, generator=data_generators[f]) if len(batch) else None
                prepared = normalizers[f](raw, device, transform)
                for key in keys:
                    inputs[key].append(_pad_rows(prepared[key], rows.rows))
                labels.append(train.labels[batch].to(device))
            with autocast(device, cfg.precision):
                logits = forward(**{key: torch.cat(values) for key, values in inputs.items()})
            logits = logits.float().unflatten(0, (len(folds), -1))
            step_losses = [
                F.cross_entropy(
                    logits[f, : len(y)], y, weight=weights[f], label_smoothing=cfg.label_smoothing
                )
                for f, y in enumerate(labels)
                if len(y)
            ]
            optimizer.zero_grad()
            torch.stack(step_losses).sum().backward()
            active = torch.tensor(rows.sizes) > 0
            optimizer.step(active, lr)
            for f, value in zip(active.nonzero().flatten().tolist(), torch.stack(step_losses).tolist()):
                totals[f] += value * rows.sizes[f]
                seen[f] += rows.sizes[f]
        for f in range(len(folds)):
            losses[f].append(totals[f] / max(seen[f], 1))
            if on_epoch:
                on_epoch(f, epoch, losses[f][-1])
    tests = [test for _, test, _ in folds]
    probabilities = _predict(forward, stacked, rows, tests, normalizers, keys, device, cfg)
    seconds = round((time.perf_counter() - started) / len(folds), 2)
    state = stacked.state_dict()
    return [
        FoldOutcome(
            predictions=probs.argmax(1).tolist(),
            probabilities=[[round(p, 5) for p in row] for row in probs.tolist()],
            selected_epoch=cfg.epochs,
            losses=[round(x, 5) for x in fold_losses],
            seconds=seconds,
            weights={key: value[f].clone() for key, value in state.items()},
            normalizer=normalizer.state(),
        )
        for f, (probs, fold_losses, normalizer) in enumerate(zip(probabilities, losses, normalizers))
    ]


def _predict(
    forward: Callable[..., torch.Tensor],
    stacked: nn.Module,
    rows: FoldRows,
    tests: Sequence[FoldData],
    normalizers: Sequence[InputNormalizer],
    keys: Sequence[str],
    device: torch.device,
    cfg: TrainConfig,
) -> list[torch.Tensor]:
    """Each fold's class probabilities on its test data, batches of ``cfg.batch_size`` rows."""
    stacked.eval()
    out: list[list[torch.Tensor]] = [[] for _ in tests]
    with torch.no_grad(), autocast(device, cfg.precision):
        for start in range(0, max(map(len, tests)), cfg.batch_size):
            end = start + cfg.batch_size
            chunks = [test.subset(list(range(start, min(end, len(test))))) for test in tests]
            rows.sizes = [len(chunk) for chunk in chunks]
            rows.rows = max(rows.sizes)
            inputs = {key: [] for key in keys}
            for chunk, normalize in zip(chunks, normalizers):
                prepared = normalize({k: chunk.inputs[k] for k in keys}, device)
                for key in keys:
                    inputs[key].append(_pad_rows(prepared[key], rows.rows))
            logits = forward(**{key: torch.cat(values) for key, values in inputs.items()}).float()
            for f, fold_logits in enumerate(logits.unflatten(0, (len(tests), -1))):
                out[f].append(F.softmax(fold_logits[: rows.sizes[f]], dim=1).cpu())
    return [torch.cat(chunks) for chunks in out]
