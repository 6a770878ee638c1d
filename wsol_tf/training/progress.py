"""Progress output of a training run: a bar on a terminal, a line every N steps in a log."""

import sys
import time


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
