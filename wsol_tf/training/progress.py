"""Progress of a training run: its output (a bar on a terminal, a line every N steps in a log),
and where each epoch stood at each checkpoint (`checkpoints/epoch_progress.json`).

The running sums of an epoch, and at its end its whole log record, are written before the
checkpoint of their step: a run killed after a checkpoint finds them on resume, so
train_log.json gets every epoch whatever the moment of the kill. No TensorFlow here.
"""

import os
import sys
import time

from wsol_tf.files import read_json, write_json

PROGRESS_FILE = "epoch_progress.json"


def progress_path(workdir):
    return os.path.join(workdir, "checkpoints", PROGRESS_FILE)


def save_step_progress(workdir, entry, keep):
    """Adds `entry` (where the epoch stands at a checkpoint: {"step", "epoch", "totals",
    "seconds"}, and at an epoch's end its "record") to the workdir's epoch_progress.json,
    replacing one of the same step; keeps the newest `keep` entries."""
    entries = [e for e in _entries(workdir) if e.get("step") != entry["step"]]
    write_json(progress_path(workdir), {"steps": [*entries, entry][-keep:]})


def step_progress(workdir, step):
    """The entry saved with the checkpoint of `step`, or None."""
    return next((e for e in _entries(workdir) if e.get("step") == step), None)


def unlogged_epoch_record(workdir, step):
    """The log record of the epoch that ended at the checkpoint of `step` when the workdir's
    train_log.json lacks it (the run stopped between that checkpoint and its log), else None."""
    entry = step_progress(workdir, step)
    if entry is None or "record" not in entry:
        return None
    log = read_json(os.path.join(workdir, "train_log.json"), list) or []
    return None if any(r.get("step") == step for r in log) else entry["record"]


def _entries(workdir):
    saved = read_json(progress_path(workdir), dict)
    if saved is None:
        return []
    return saved["steps"] if "steps" in saved else [saved]  # one entry: an older run's file


class Progress:
    """Reports loss, accuracy, learning rate, img/s and ETA.

    Args:
        total_steps: steps of the whole run (for the ETA).
        print_fn: where lines go when not drawing a bar.
        log_every: steps between lines (a bar redraws at every update).
        stream: the terminal; a bar is drawn only when it is a TTY.
    """

    def __init__(self, total_steps, print_fn=print, log_every=10, stream=None):
        self.total_steps = total_steps
        self.print = print_fn
        self.log_every = log_every
        self.stream = stream or sys.stdout
        self.tty = print_fn is print and self.stream.isatty()
        self.logged = False

    def start_epoch(self, epoch, epochs, step, steps_per_epoch, epoch_start=None):
        """An epoch begins (or resumes) at global `step`; `epoch_start` is its first step
        (default `step`), so a resumed epoch counts its steps from its true start."""
        self.epoch, self.epochs = epoch, epochs
        self.epoch_start_step = step if epoch_start is None else epoch_start
        self.session_start_step, self.steps_per_epoch = step, steps_per_epoch
        self.started = time.perf_counter()
        self.last_logged_step = step

    def images_per_second(self, images):
        return images / max(time.perf_counter() - self.started, 1e-9)

    def update(self, step, loss, accuracy, lr, images=None):
        """Called after each tf.function call; sets `logged` when a line was written.

        `images`: images seen since `start_epoch` (for the rate; not those of a resumed
        epoch's earlier steps)."""
        elapsed = max(time.perf_counter() - self.started, 1e-9)
        done = step - self.session_start_step  # steps run since start_epoch
        eta = elapsed / max(done, 1) * (self.total_steps - step)
        in_epoch = min(step - self.epoch_start_step, self.steps_per_epoch)
        rate = f"{images / elapsed:.1f} img/s" if images else f"{done / elapsed:.2f} step/s"
        text = (
            f"epoch {self.epoch}/{self.epochs} step {in_epoch}/{self.steps_per_epoch} "
            f"loss {loss:.4f} acc {accuracy:.1f}% lr {lr:.4g} {rate} ETA {eta:.0f}s"
        )
        epoch_done = in_epoch >= self.steps_per_epoch
        self.logged = epoch_done or step - self.last_logged_step >= self.log_every
        if self.tty:
            width = 20
            filled = int(width * in_epoch / self.steps_per_epoch)
            bar = "=" * filled + ">" * (filled < width) + " " * (width - filled - 1)
            self.stream.write(f"\r[{bar}] {text}" + ("\n" if epoch_done else ""))
            self.stream.flush()
        elif self.logged:
            self.print(text)
        if self.logged:
            self.last_logged_step = step
