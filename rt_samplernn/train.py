"""Training: TBPTT over chunks with states carried within a batch, NLL in bits per sample, checkpoints, resume, DDP.

Reads in one pass: config, data, model, optimizer, loop; evaluation and checkpoints every `eval_every`
steps. A step is one TBPTT segment of every chunk in the batch. Many GPUs or machines: run the same
command under `torchrun ... -m rt_samplernn train ...`; each rank takes every world-th batch.
"""

from __future__ import annotations

import math
import os
import signal
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel

from rt_samplernn.checkpoint import model_from_checkpoint, save_checkpoint
from rt_samplernn.config import ModelConfig, TrainConfig
from rt_samplernn.data import AudioSet, batch_order, build_dataset, n_segments, segments, validation_chunks
from rt_samplernn.errors import UserError
from rt_samplernn.model import SampleRNN, State
from rt_samplernn.progress import progress_bar

LN2 = math.log(2.0)


@dataclass
class EvalPoint:
    """One evaluation: after `step` steps and `train_seconds` of training steps (all sessions; evaluations and
    checkpoints not counted)."""

    step: int
    train_seconds: float
    train_bits: float
    val_bits: float


@dataclass
class TrainResult:
    step: int
    best_val_bits: float
    last_val_bits: float
    last_train_bits: float
    stopped: str  # "max_steps", "max_epochs", "early_stopping", "time_limit", "interrupted"
    out_dir: Path
    history: list[EvalPoint]  # this session's evaluations


@dataclass
class Position:
    """Where training is in the data: the next segment to train on."""

    epoch: int = 0
    batch: int = 0
    segment: int = 0


def setup_distributed() -> tuple[int, int, int]:
    """(world, rank, local_rank), initialising the process group when launched by torchrun."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 1, 0, 0
    backend = "nccl" if torch.cuda.is_available() else "gloo"
    if not dist.is_initialized():
        dist.init_process_group(backend)
    return world, dist.get_rank(), int(os.environ.get("LOCAL_RANK", "0"))


def cpu_threads(requested: int) -> int:
    """Intra-op threads on CPU: as requested, else every core this process may use, shared among local DDP ranks."""
    if requested:
        return requested
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, cores // int(os.environ.get("LOCAL_WORLD_SIZE", "1")))


def pick_device(name: str | None, local_rank: int) -> torch.device:
    if name:
        return torch.device(name)
    if torch.cuda.is_available():
        return torch.device("cuda", local_rank)
    return torch.device("cpu")


def make_optimizer(params: Any, cfg: TrainConfig) -> torch.optim.Optimizer:
    if cfg.optimizer == "adam":
        return torch.optim.Adam(params, lr=cfg.learning_rate)
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(params, lr=cfg.learning_rate, momentum=cfg.momentum)
    return torch.optim.RMSprop(params, lr=cfg.learning_rate, momentum=cfg.momentum)


def learning_rate_at(step: int, cfg: TrainConfig) -> float:
    """The learning rate for optimizer step `step` (0-based): linear warm-up, then constant or cosine decay."""
    if cfg.warmup_steps and step < cfg.warmup_steps:
        return cfg.learning_rate * (step + 1) / cfg.warmup_steps
    if cfg.lr_schedule == "constant":
        return cfg.learning_rate
    span = max(cfg.max_steps - cfg.warmup_steps, 1)
    progress = min(max(step - cfg.warmup_steps, 0) / span, 1.0)
    floor = cfg.min_lr_fraction
    return cfg.learning_rate * (floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * progress)))


def bf16_autocast_supported(device: torch.device) -> bool:
    """True where bf16 autocast runs natively: CUDA, and CPUs whose oneDNN has bf16 kernels (AVX512-BF16, AMX)."""
    if device.type == "cuda":
        return True
    return device.type == "cpu" and bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


def nll_bits(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean negative log-likelihood in bits per sample."""
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), targets.reshape(-1)) / LN2


def detach(states: list[State]) -> list[State]:
    return [tuple(s.detach() for s in st) for st in states]


@torch.no_grad()
def evaluate(model: SampleRNN, chunks: np.ndarray, cfg: TrainConfig, device: torch.device, amp: bool = False) -> float:
    """NLL in bits per sample over every one of these whole chunks, states carried across segments."""
    if len(chunks) == 0:
        return float("nan")
    was_training = model.training
    model.train()  # no dropout or batch norm here: train mode only picks the faster folded sample-tier input
    total, count = 0.0, 0
    for b in range(math.ceil(len(chunks) / cfg.batch_size)):
        batch = torch.from_numpy(chunks[b * cfg.batch_size : (b + 1) * cfg.batch_size].astype(np.int64)).to(device)
        states = model.initial_state(batch.shape[0])
        states = [tuple(s.to(device) for s in st) for st in states]
        for seg in segments(batch, model.overlap, cfg.seq_len):
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
                logits, states = model(seg, states)
            total += nll_bits(logits, seg[:, model.overlap :]).item() * seg[:, model.overlap :].numel()
            count += seg[:, model.overlap :].numel()
    model.train(was_training)
    return total / count


class StopFlag:
    """Set by Ctrl-C (SIGINT) or SIGTERM; the loop stops after the step in flight, so nothing is half-written."""

    def __init__(self) -> None:
        self.set = False
        self._old: dict[int, Any] = {}

    def __enter__(self) -> StopFlag:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        if self.set:  # a second Ctrl-C: stop now
            raise KeyboardInterrupt
        self.set = True

    def __exit__(self, *exc: Any) -> None:
        for sig, handler in self._old.items():
            signal.signal(sig, handler)


class Checkpointer:
    """Writes last.pt every evaluation, best.pt on improvement, and step-N.pt (keeping the last N) under 'always'."""

    def __init__(self, out_dir: Path, cfg: TrainConfig):
        self.out_dir = out_dir
        self.cfg = cfg

    def save(self, model: SampleRNN, improved: bool, **state: Any) -> None:
        if improved:  # best first: last.pt must never record a best that best.pt does not hold yet
            save_checkpoint(self.out_dir / "best.pt", model, self.cfg, **state)
        save_checkpoint(self.out_dir / "last.pt", model, self.cfg, **state)
        if self.cfg.checkpoint_policy == "always":
            save_checkpoint(self.out_dir / f"step-{state['step']:08d}.pt", model, self.cfg, **state)
            for old in sorted(self.out_dir.glob("step-*.pt"))[: -max(self.cfg.keep_checkpoints, 1)]:
                old.unlink()


def train(
    data_paths: Sequence[str | Path],
    out_dir: str | Path,
    model_cfg: ModelConfig,
    train_cfg: TrainConfig,
    val_paths: Sequence[str | Path] = (),
    resume: dict[str, Any] | None = None,
    device_name: str | None = None,
    quiet: bool = False,
    dataset: AudioSet | None = None,
) -> TrainResult:
    """Train (or, with `resume` = a checkpoint dict, continue exactly) and return how it ended."""
    world, rank, local_rank = setup_distributed()
    device = pick_device(device_name, local_rank)
    out_dir = Path(out_dir)
    if rank == 0:
        out_dir.mkdir(parents=True, exist_ok=True)
    if device.type == "cpu":
        torch.set_num_threads(cpu_threads(train_cfg.num_threads))
    torch.manual_seed(train_cfg.seed)
    quiet = quiet or rank != 0

    # Data
    data = dataset or build_dataset(data_paths, model_cfg, train_cfg, val_paths, quiet=quiet)
    # Chosen once: every evaluation scores the same held-out audio, at a bounded cost.
    val_chunks = validation_chunks(data.val, train_cfg.val_batches * train_cfg.batch_size)
    chunk_len = data.train.shape[1]
    overlap = model_cfg.top_frame_size
    seg_per_batch = n_segments(chunk_len, overlap, train_cfg.seq_len)

    # Model and optimizer
    model = model_from_checkpoint(resume, "resume") if resume else SampleRNN(model_cfg)
    model.to(device).train()
    net: torch.nn.Module = model
    if world > 1:
        net = DistributedDataParallel(
            model,
            device_ids=[local_rank] if device.type == "cuda" else None,
            find_unused_parameters=model_cfg.learn_h0,  # h0 is used only at the start of each batch
        )
    optimizer = make_optimizer(model.parameters(), train_cfg)

    # Training state
    pos = Position()
    step, best_val, evals_since_best, nonfinite_run, nonfinite_total = 0, float("inf"), 0, 0, 0
    carried: list[State] | None = None
    if resume:
        optimizer.load_state_dict(resume["optimizer"])
        pos = Position(**resume["position"])
        step, best_val = resume["step"], resume["best_val_bits"]
        evals_since_best, nonfinite_total = resume["evals_since_best"], resume["nonfinite_total"]
        torch.set_rng_state(resume["rng_torch"])
        if resume.get("carried_states"):
            n_state = 2 if model_cfg.rnn_type == "lstm" else 1
            flat = [s.to(device) for s in resume["carried_states"]]
            carried = [tuple(flat[i : i + n_state]) for i in range(0, len(flat), n_state)]

    writer = None
    if rank == 0:
        from torch.utils.tensorboard import SummaryWriter

        writer = SummaryWriter(str(out_dir / "tb"), purge_step=step or None)
    checkpointer = Checkpointer(out_dir, train_cfg)
    amp = train_cfg.amp and bf16_autocast_supported(device)
    if train_cfg.amp and not amp and not quiet:
        print(f"note: this {device.type} has no native bf16; training in fp32", file=sys.stderr)
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp)
    bar = progress_bar(total=train_cfg.max_steps, initial=step, disable=quiet, unit="step", dynamic_ncols=True)
    train_bits_sum, train_bits_n, last_val, last_train = 0.0, 0, float("nan"), float("nan")
    stopped = "max_steps"
    samples_since, seconds_since, train_seconds = 0, 0.0, 0.0  # seconds in training steps only, this session
    seconds_before = float(resume.get("train_seconds", 0.0)) if resume else 0.0  # earlier sessions' steps
    budget_s = train_cfg.max_minutes * 60 if train_cfg.max_minutes else float("inf")
    history: list[EvalPoint] = []

    def checkpoint_state(next_pos: Position, states: list[State] | None) -> dict[str, Any]:
        flat = [s.detach().cpu() for st in states for s in st] if states is not None else []
        return dict(
            step=step,
            position=vars(next_pos).copy(),
            carried_states=flat,
            best_val_bits=best_val,
            evals_since_best=evals_since_best,
            nonfinite_total=nonfinite_total,
            optimizer=optimizer.state_dict(),
            rng_torch=torch.get_rng_state(),
            train_seconds=seconds_before + train_seconds,
        )

    with StopFlag() as stop:
        while step < train_cfg.max_steps and stopped == "max_steps":
            if pos.epoch >= train_cfg.max_epochs:
                stopped = "max_epochs"
                break
            order = batch_order(len(data.train), train_cfg.batch_size, train_cfg.seed, pos.epoch, world, rank)
            while pos.batch < len(order) and stopped == "max_steps" and step < train_cfg.max_steps:
                batch = torch.from_numpy(data.train[order[pos.batch]].astype(np.int64)).to(device)
                if pos.segment == 0 or carried is None:
                    carried = [tuple(s.to(device) for s in st) for st in model.initial_state(batch.shape[0])]
                seg_list = list(segments(batch, overlap, train_cfg.seq_len))
                while pos.segment < seg_per_batch:
                    step_start = time.perf_counter()
                    seg = seg_list[pos.segment]
                    with autocast:
                        logits, new_states = net(seg, carried)
                    loss = nll_bits(logits, seg[:, overlap:])
                    finite = torch.isfinite(loss.detach()).float()
                    if world > 1:
                        dist.all_reduce(finite, op=dist.ReduceOp.MIN)
                    optimizer.zero_grad(set_to_none=True)
                    ok = bool(finite.item())
                    if ok:
                        loss.backward()
                        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), train_cfg.grad_clip)
                        ok = bool(torch.isfinite(grad_norm))
                    if ok:
                        for group in optimizer.param_groups:
                            group["lr"] = learning_rate_at(step, train_cfg)
                        optimizer.step()
                        carried = detach(new_states)
                        nonfinite_run = 0
                        train_bits_sum += loss.item()
                        train_bits_n += 1
                    else:
                        nonfinite_run += 1
                        nonfinite_total += 1
                        carried = [tuple(s.to(device) for s in st) for st in model.initial_state(batch.shape[0])]
                        if nonfinite_run > train_cfg.max_nonfinite:
                            raise UserError(
                                f"training stopped at step {step + 1}: {nonfinite_run} non-finite losses or "
                                "gradients in a row; lower --learning-rate or --grad-clip, or check the data"
                            )
                    step += 1
                    pos.segment += 1
                    samples_since += seg[:, overlap:].numel() * world
                    step_seconds = time.perf_counter() - step_start
                    seconds_since += step_seconds
                    train_seconds += step_seconds
                    next_pos = (
                        Position(pos.epoch, pos.batch, pos.segment)
                        if pos.segment < seg_per_batch
                        else Position(pos.epoch, pos.batch + 1, 0)
                    )
                    bar.update(1)
                    if writer is not None and ok and step % 10 == 0:
                        writer.add_scalar("train/nll_bits", loss.item(), step)
                        writer.add_scalar("train/learning_rate", optimizer.param_groups[0]["lr"], step)
                    out_of_time = train_seconds >= budget_s
                    if world > 1 and train_cfg.max_minutes:  # every rank stops at the same step
                        flag = torch.tensor([float(out_of_time)], device=device)
                        dist.all_reduce(flag, op=dist.ReduceOp.MAX)
                        out_of_time = bool(flag.item())
                    if step % train_cfg.eval_every == 0 or step >= train_cfg.max_steps or stop.set or out_of_time:
                        last_train = train_bits_sum / max(train_bits_n, 1)
                        train_bits_sum, train_bits_n = 0.0, 0
                        last_val = evaluate(model, val_chunks, train_cfg, device, amp)
                        history.append(EvalPoint(step, seconds_before + train_seconds, last_train, last_val))
                        score = last_val if not math.isnan(last_val) else last_train
                        improved = score < best_val
                        if improved:
                            best_val, evals_since_best = score, 0
                        else:
                            evals_since_best += 1
                        rate = samples_since / max(seconds_since, 1e-9)
                        samples_since, seconds_since = 0, 0.0
                        if rank == 0:
                            assert writer is not None  # rank 0 always has one
                            checkpointer.save(
                                model,
                                improved,
                                **checkpoint_state(next_pos, carried if next_pos.segment else None),
                                val_bits=last_val,
                                train_bits=last_train,
                            )
                            writer.add_scalar("val/nll_bits", last_val, step)
                            writer.add_scalar("train/samples_per_s", rate, step)
                            writer.flush()
                            bar.set_postfix(train=f"{last_train:.3f}", val=f"{last_val:.3f}", best=f"{best_val:.3f}")
                            if not bar.disable:
                                bar.write(
                                    f"step {step}: train {last_train:.3f} bits, val {last_val:.3f} bits, "
                                    f"{rate:,.0f} samples/s"
                                )
                        patience = train_cfg.early_stopping_patience
                        if patience and evals_since_best >= patience:
                            stopped = "early_stopping"
                        if out_of_time:
                            stopped = "time_limit"
                        if stop.set:
                            stopped = "interrupted"
                    if step >= train_cfg.max_steps or stopped != "max_steps":
                        break
                if pos.segment >= seg_per_batch:
                    pos = Position(pos.epoch, pos.batch + 1, 0)
            if pos.batch >= len(order):
                pos = Position(pos.epoch + 1, 0, 0)
    bar.close()
    if writer is not None:
        writer.close()
    if world > 1:
        dist.barrier()
    if rank == 0 and not quiet:
        print(f"{stopped} at step {step}: best {best_val:.3f} bits/sample; checkpoints in {out_dir}", file=sys.stderr)
    return TrainResult(step, best_val, last_val, last_train, stopped, out_dir, history)
