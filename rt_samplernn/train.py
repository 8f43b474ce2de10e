"""Training: TBPTT over chunks with states carried within a batch, NLL in bits per sample, checkpoints, resume, DDP.

`train` reads in one pass: data, model and optimizer, training state, loop; every `eval_every` steps an
evaluation on held-out audio, previews you can hear (rt_samplernn.previews) and checkpoints. A step is one
TBPTT segment of every chunk in the batch. Many GPUs or machines: run the same command under
`torchrun ... -m rt_samplernn train ...`; each rank takes every world-th batch. The library prints nothing:
it hands Progress and Evaluated reports to `on_event` (the command shows them).
"""

from __future__ import annotations

import math
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
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
from rt_samplernn.previews import Preview, Previewer, advice, all_noise

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


def learning_rate_at(step: int, cfg: TrainConfig, trained_seconds: float = 0.0) -> float:
    """The learning rate for optimizer step `step` (0-based): linear warm-up, then constant or cosine decay over
    max_steps, or, when max_steps is 0, over max_minutes of training (`trained_seconds` so far, all sessions)."""
    if cfg.warmup_steps and step < cfg.warmup_steps:
        return cfg.learning_rate * (step + 1) / cfg.warmup_steps
    if cfg.lr_schedule == "constant":
        return cfg.learning_rate
    if cfg.max_steps:
        progress = min(max(step - cfg.warmup_steps, 0) / max(cfg.max_steps - cfg.warmup_steps, 1), 1.0)
    else:
        progress = min(trained_seconds / (cfg.max_minutes * 60), 1.0)
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


def initial_states(model: SampleRNN, batch: int, device: torch.device) -> list[State]:
    return [tuple(s.to(device) for s in st) for st in model.initial_state(batch)]


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
        states = initial_states(model, batch.shape[0], device)
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


@dataclass
class Progress:
    """After every step: what the progress bar shows."""

    step: int
    max_steps: int  # 0: no step limit
    samples_per_s: float  # since the last evaluation
    seconds_left: float | None  # training time to max_steps or max_minutes, whichever comes first
    last_val_bits: float  # NaN before the first evaluation
    best_val_bits: float  # inf before the first evaluation


@dataclass
class Evaluated:
    """After every evaluation: held-out NLL, the previews and what they say, the field's advice when due."""

    point: EvalPoint
    best_val_bits: float
    improved: bool
    samples_per_s: float
    previews: list[Preview]  # empty with --preview-seconds 0
    preview_share: float  # seconds spent on these previews over the training seconds since the last evaluation
    advice: str | None


Event = Progress | Evaluated


@dataclass
class RunState:
    """What a checkpoint carries besides weights and configs, and resume restores: where training is, its best."""

    step: int = 0
    position: Position = field(default_factory=Position)  # the next segment to train on
    best_val: float = math.inf
    evals_since_best: int = 0
    nonfinite_total: int = 0
    noise_evals: int = 0  # evaluations in a row whose previews were all noise
    seconds_before: float = 0.0  # training seconds of earlier sessions
    carried: list[State] | None = None  # RNN states into the next segment of the batch in flight

    @classmethod
    def from_checkpoint(cls, ckpt: dict[str, Any], cfg: ModelConfig, device: torch.device) -> RunState:
        carried = None
        if ckpt.get("carried_states"):
            n_state = 2 if cfg.rnn_type == "lstm" else 1
            flat = [s.to(device) for s in ckpt["carried_states"]]
            carried = [tuple(flat[i : i + n_state]) for i in range(0, len(flat), n_state)]
        return cls(
            step=ckpt["step"],
            position=Position(**ckpt["position"]),
            best_val=ckpt["best_val_bits"],
            evals_since_best=ckpt["evals_since_best"],
            nonfinite_total=ckpt["nonfinite_total"],
            noise_evals=int(ckpt.get("noise_evals", 0)),  # absent from checkpoints before previews
            seconds_before=float(ckpt.get("train_seconds", 0.0)),
            carried=carried,
        )

    def checkpoint(self, optimizer: torch.optim.Optimizer, trained_seconds: float) -> dict[str, Any]:
        """The checkpoint's training-state fields (checkpoint.check_training_state reads them back)."""
        states = self.carried if self.position.segment else None  # a new batch starts from the initial state
        return dict(
            step=self.step,
            position=vars(self.position).copy(),
            carried_states=[s.detach().cpu() for st in states for s in st] if states is not None else [],
            best_val_bits=self.best_val,
            evals_since_best=self.evals_since_best,
            nonfinite_total=self.nonfinite_total,
            noise_evals=self.noise_evals,
            optimizer=optimizer.state_dict(),
            rng_torch=torch.get_rng_state(),
            train_seconds=trained_seconds,
        )

    def record(self, point: EvalPoint) -> bool:
        """Count an evaluation towards the best and early stopping; True when it is a new best."""
        score = point.val_bits if not math.isnan(point.val_bits) else point.train_bits
        if score < self.best_val:
            self.best_val, self.evals_since_best = score, 0
            return True
        self.evals_since_best += 1
        return False


@dataclass
class Meter:
    """This session's running figures: training seconds, and the loss and speed since the last evaluation."""

    train_seconds: float = 0.0  # in training steps, this session
    bits_sum: float = 0.0
    bits_n: int = 0
    samples: int = 0
    seconds: float = 0.0
    steps: int = 0  # this session
    nonfinite_run: int = 0
    last_rate: float = 0.0  # samples/s over the last interval between evaluations

    def add(self, bits: float | None, samples: int, seconds: float) -> None:
        if bits is not None:
            self.bits_sum += bits
            self.bits_n += 1
        self.samples += samples
        self.seconds += seconds
        self.train_seconds += seconds
        self.steps += 1

    def rate(self) -> float:
        """Samples/s since the last evaluation (just after one: over the interval before it)."""
        return self.samples / self.seconds if self.seconds > 0 else self.last_rate

    def take(self) -> tuple[float, float, float]:
        """(mean training NLL, samples/s, training seconds) since the last evaluation; starts counting anew."""
        taken = (self.bits_sum / max(self.bits_n, 1), self.rate(), self.seconds)
        self.last_rate = taken[1]
        self.bits_sum, self.bits_n, self.samples, self.seconds = 0.0, 0, 0, 0.0
        return taken


def training_segments(
    chunks: np.ndarray, cfg: TrainConfig, start: Position, overlap: int, device: torch.device, world: int, rank: int
) -> Iterator[tuple[Position, torch.Tensor]]:
    """Every TBPTT segment from `start` on, batch after batch, epoch after epoch up to max_epochs: its position
    and (B, overlap + seq_len) levels."""
    epoch, first_batch, first_segment = start.epoch, start.batch, start.segment
    while epoch < cfg.max_epochs:
        order = batch_order(len(chunks), cfg.batch_size, cfg.seed, epoch, world, rank)
        for b in range(first_batch, len(order)):
            batch = torch.from_numpy(chunks[order[b]].astype(np.int64)).to(device)
            for k, seg in enumerate(segments(batch, overlap, cfg.seq_len)):
                if k >= first_segment:
                    yield Position(epoch, b, k), seg
            first_segment = 0
        epoch, first_batch = epoch + 1, 0


def train_step(
    net: torch.nn.Module,
    model: SampleRNN,
    optimizer: torch.optim.Optimizer,
    seg: torch.Tensor,
    states: list[State],
    lr: float,
    autocast: torch.autocast,
    cfg: TrainConfig,
    world: int,
) -> tuple[float | None, list[State]]:
    """One optimizer step on one segment: (NLL in bits, the states to carry), or (None, states to start over)
    when the loss or the gradient was not finite on any rank (nothing was changed then)."""
    overlap = model.overlap
    with autocast:
        logits, new_states = net(seg, states)
    loss = nll_bits(logits, seg[:, overlap:])
    finite = torch.isfinite(loss.detach()).float()
    if world > 1:
        dist.all_reduce(finite, op=dist.ReduceOp.MIN)
    optimizer.zero_grad(set_to_none=True)
    if not finite.item():
        return None, initial_states(model, seg.shape[0], seg.device)
    loss.backward()
    if not torch.isfinite(torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)):
        return None, initial_states(model, seg.shape[0], seg.device)
    for group in optimizer.param_groups:
        group["lr"] = lr
    optimizer.step()
    return loss.item(), detach(new_states)


def seconds_left(run: RunState, meter: Meter, cfg: TrainConfig) -> float | None:
    """Training time to max_steps or max_minutes, whichever comes first (None before the first step)."""
    left = []
    if cfg.max_minutes:
        left.append(max(cfg.max_minutes * 60 - meter.train_seconds, 0.0))
    if cfg.max_steps and meter.steps:
        left.append(max(cfg.max_steps - run.step, 0) * meter.train_seconds / meter.steps)
    return min(left) if left else None


def stop_reason(step: int, cfg: TrainConfig, interrupted: bool, out_of_time: bool) -> str | None:
    """Why training stops after this step, or None to go on."""
    if interrupted:
        return "interrupted"
    if out_of_time:
        return "time_limit"
    if cfg.max_steps and step >= cfg.max_steps:
        return "max_steps"
    return None


def train(
    data_paths: Sequence[str | Path],
    out_dir: str | Path,
    model_cfg: ModelConfig,
    train_cfg: TrainConfig,
    val_paths: Sequence[str | Path] = (),
    resume: dict[str, Any] | None = None,
    device_name: str | None = None,
    dataset: AudioSet | None = None,
    on_event: Callable[[Event], None] | None = None,
) -> TrainResult:
    """Train (or, with `resume` = a checkpoint dict, continue exactly) and return how it ended. `on_event` gets a
    Progress after every step and an Evaluated after every evaluation (on the first rank only)."""
    world, rank, local_rank = setup_distributed()
    device = pick_device(device_name, local_rank)
    out_dir = Path(out_dir)
    if rank == 0:
        out_dir.mkdir(parents=True, exist_ok=True)
    if device.type == "cpu":
        torch.set_num_threads(cpu_threads(train_cfg.num_threads))
    torch.manual_seed(train_cfg.seed)
    report = on_event if on_event is not None and rank == 0 else None

    # Data: every evaluation scores the same held-out chunks, chosen once, at a bounded cost.
    data = dataset or build_dataset(data_paths, model_cfg, train_cfg, val_paths, quiet=report is None)
    val_chunks = validation_chunks(data.val, train_cfg.val_batches * train_cfg.batch_size)
    seg_per_batch = n_segments(data.train.shape[1], model_cfg.top_frame_size, train_cfg.seq_len)

    # Model, optimizer, and where training stands
    model = model_from_checkpoint(resume, "resume") if resume else SampleRNN(model_cfg)
    model.to(device).train()
    net: torch.nn.Module = model
    if world > 1:  # h0 is used only at the start of each batch
        ids = [local_rank] if device.type == "cuda" else None
        net = DistributedDataParallel(model, device_ids=ids, find_unused_parameters=model_cfg.learn_h0)
    optimizer = make_optimizer(model.parameters(), train_cfg)
    run = RunState()
    if resume:
        run = RunState.from_checkpoint(resume, model_cfg, device)
        optimizer.load_state_dict(resume["optimizer"])
        torch.set_rng_state(resume["rng_torch"])
    amp = train_cfg.amp and bf16_autocast_supported(device)
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp)

    # What the first rank writes besides checkpoints: TensorBoard events and previews
    writer = None
    if rank == 0:
        from torch.utils.tensorboard import SummaryWriter

        writer = SummaryWriter(str(out_dir / "tb"), purge_step=run.step or None)
    checkpointer = Checkpointer(out_dir, train_cfg)
    previewer = (
        Previewer(out_dir, model_cfg, train_cfg, val_chunks, writer) if writer and train_cfg.preview_seconds else None
    )

    # The loop: a step per segment; an evaluation every eval_every steps and when stopping
    meter, history, stopped = Meter(), [], None
    trained_s = run.seconds_before  # all sessions' training seconds (the same on every rank)
    with StopFlag() as stop:
        for pos, seg in training_segments(data.train, train_cfg, run.position, model.overlap, device, world, rank):
            if stopped := stop_reason(run.step, train_cfg, stop.set, False):
                break  # resumed a finished run
            if pos.segment == 0 or run.carried is None:
                run.carried = initial_states(model, seg.shape[0], device)
            started = time.perf_counter()
            lr = learning_rate_at(run.step, train_cfg, trained_s)
            bits, run.carried = train_step(net, model, optimizer, seg, run.carried, lr, autocast, train_cfg, world)
            meter.nonfinite_run = 0 if bits is not None else meter.nonfinite_run + 1
            run.nonfinite_total += bits is None
            if meter.nonfinite_run > train_cfg.max_nonfinite:
                raise UserError(
                    f"training stopped at step {run.step + 1}: {meter.nonfinite_run} non-finite losses or "
                    "gradients in a row; lower --learning-rate or --grad-clip, or check the data"
                )
            run.step += 1
            more = pos.segment + 1 < seg_per_batch
            run.position = (
                Position(pos.epoch, pos.batch, pos.segment + 1) if more else Position(pos.epoch, pos.batch + 1)
            )
            meter.add(bits, seg[:, model.overlap :].numel() * world, time.perf_counter() - started)
            trained_s, out_of_time = clock(run.seconds_before + meter.train_seconds, train_cfg, meter, world, device)
            stopped = stop_reason(run.step, train_cfg, stop.set, out_of_time)
            if writer is not None and bits is not None and run.step % 10 == 0:
                writer.add_scalar("train/nll_bits", bits, run.step)
                writer.add_scalar("train/learning_rate", lr, run.step)
            if run.step % train_cfg.eval_every == 0 or stopped:
                last_train, rate, interval_s = meter.take()
                point = EvalPoint(run.step, trained_s, last_train, evaluate(model, val_chunks, train_cfg, device, amp))
                history.append(point)
                improved = run.record(point)
                previews, preview_s = previewer(model, run.step) if previewer and not stop.set else ([], 0.0)
                run.noise_evals = run.noise_evals + 1 if all_noise(previews) else 0
                if rank == 0:
                    state = run.checkpoint(optimizer, trained_s)
                    checkpointer.save(model, improved, **state, val_bits=point.val_bits, train_bits=last_train)
                    log_evaluation(writer, point, rate, preview_s / max(interval_s, 1e-9))
                if report is not None:
                    share = preview_s / max(interval_s, 1e-9)
                    tip = advice(run.noise_evals)
                    report(Evaluated(point, run.best_val, improved, rate, previews, share, tip))
                patience = train_cfg.early_stopping_patience
                if not stopped and patience and run.evals_since_best >= patience:
                    stopped = "early_stopping"
            if report is not None:
                last_val = history[-1].val_bits if history else math.nan
                left = seconds_left(run, meter, train_cfg)
                report(Progress(run.step, train_cfg.max_steps, meter.rate(), left, last_val, run.best_val))
            if stopped:
                break
        else:
            stopped = "max_epochs"
    if writer is not None:
        writer.close()
    if world > 1:
        dist.barrier()
    last = history[-1] if history else EvalPoint(run.step, trained_s, math.nan, math.nan)
    return TrainResult(run.step, run.best_val, last.val_bits, last.train_bits, stopped, out_dir, history)


def clock(trained_s: float, cfg: TrainConfig, meter: Meter, world: int, device: torch.device) -> tuple[float, bool]:
    """(all sessions' training seconds, whether this session's max_minutes ran out), the same on every rank:
    the schedule and the stop must not differ between ranks."""
    out_of_time = bool(cfg.max_minutes) and meter.train_seconds >= cfg.max_minutes * 60
    if world > 1 and cfg.max_minutes:
        flags = torch.tensor([float(out_of_time), trained_s], dtype=torch.float64, device=device)
        dist.all_reduce(flags, op=dist.ReduceOp.MAX)
        return float(flags[1]), bool(flags[0])
    return trained_s, out_of_time


def log_evaluation(writer: Any, point: EvalPoint, samples_per_s: float, preview_share: float) -> None:
    writer.add_scalar("val/nll_bits", point.val_bits, point.step)
    writer.add_scalar("train/samples_per_s", samples_per_s, point.step)
    writer.add_scalar("preview/share_of_training_time", preview_share, point.step)
    writer.flush()
