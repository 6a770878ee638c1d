"""A run's folder is its identity: what `train` finds in a workdir decides what it may do.

A run is keyed by its settings (`TrainConfig` minus the fields below) and by its data (the
training split's image list, labels and class names; for the synthetic set also its
generator's cache key). Before anything is written, `prepare` compares the workdir's run,
if any, with the one asked for:

- an empty or new folder: a new run;
- the same run: resumed from its latest checkpoint (or "already done"); a kept checkpoint
  whose files are damaged is skipped, naming the file, for the newest intact one
  (`wsol_tf.runs.checkpoints`);
- another run: refused, naming the differing fields, unless the caller says to move it aside
  (`<workdir>.replaced-<time>`) or delete it; `--noresume` always starts over that way;
- a run that has trained further than asked (fewer --epochs): refused, a checkpoint cannot be
  rewound;
- files that are not a run: refused, and never moved or deleted, whatever the caller says.

One process writes a run: `train` holds the workdir's lock (`writer`, `wsol_tf.training.lock`)
from before `prepare` to its end, and a run that another live process holds is never moved
aside or deleted (`WorkdirBusy`, naming that process).

Fields that may differ on resume (`RESUMABLE_FIELDS`: the config's runtime group plus
epochs), because they change how long or how verbosely a run goes or where it runs but not
what a step computes:

    epochs                  the run is extended (not with lr_schedule=cosine, whose curve
                            spans all epochs: there it is part of the identity)
    log_every, tensorboard, keep_checkpoints, checkpoint_every_steps, steps_per_loop
    strategy, cpu_replicas, deterministic      the same steps on other hardware
    val_split, best_metric  which split picks the best checkpoint (kept in best/)
    workdir, data_dir, experiment              names: the data is compared by content
    follow_outside_links    whether links may lead out of the dataset folder: the data read
                            is compared by content

`steps_per_epoch` is part of the identity: it places the learning-rate decay boundaries, the
warmup and the epoch ends of the log.

Library code, no TensorFlow: it runs before TensorFlow is imported, so a refusal is fast.
"""

from __future__ import annotations

import contextlib
import dataclasses
import glob
import hashlib
import json
import os
import re
import shutil
import time

from wsol_tf.files import check_pattern_free, listing, read_json, write_json
from wsol_tf.runs.config import TrainConfig
from wsol_tf.training import lock
from wsol_tf.training.distribute import is_chief_process
from wsol_tf.training.lock import WorkdirBusy as WorkdirBusy  # raised by prepare, remove_run

RUN_FILE = "run.json"
CONFIG_FILE = "config.json"
# The runtime group changes where and how visibly a run executes, never what a step computes.
RESUMABLE_FIELDS = ("epochs", *TrainConfig.fields_of("runtime"))
# Files and folders a run writes in its workdir (anything else means it is not ours).
RUN_ENTRIES = (
    CONFIG_FILE,
    RUN_FILE,
    "classes.json",
    "checkpoints",
    "train_log.json",
    "tensorboard",
    "best",
    "unreadable_files.json",
    "epoch_progress.json",
    "metrics.json",
    "result.json",
    "overlays.png",
    "pictures_best.png",
    "pictures_worst.png",
)


class RunMismatch(ValueError):
    """The workdir holds another run (or more of this one than asked); nothing was changed."""


def data_identity(dataset, records, with_boxes=False):
    """What names the data a run trains on: the dataset, a digest of the split's image list,
    labels and class names (and GT boxes `with_boxes`, for evaluated splits), and for a
    generated set (synthetic) its generator's cache key (the same file names are then other
    pictures). Images edited in place under the same names are not noticed."""
    labels = getattr(records, "labels", None)
    content = {
        "ids": [str(i) for i in records.image_ids],
        "labels": None if labels is None else [int(v) for v in labels],
        "classes": list(records.class_names),
    }
    if with_boxes:
        content["boxes"] = [
            [[round(float(v), 3) for v in box] for box in records.boxes[i, :n]]
            for i, n in enumerate(records.num_boxes)
        ]
    blob = json.dumps(content)
    value = {
        "dataset": dataset,
        "images": len(records),
        "classes": len(records.class_names),
        "digest": hashlib.sha1(blob.encode()).hexdigest()[:16],
    }
    from wsol_tf.data.datasets import DATASETS

    generator_key = DATASETS.get(dataset).generator_key if dataset in DATASETS else None
    if generator_key is not None:  # a generated set (synthetic): which generator drew it
        value[dataset] = generator_key()
    return value


def compared_settings(config) -> dict:
    """The settings that make a run what it is: {name: value}, method parameters by name
    with their defaults filled in, positions resolved."""
    from wsol_tf import methods

    values = json.loads(config.to_json())
    cosine = values.get("lr_schedule") == "cosine"
    for name in RESUMABLE_FIELDS:
        if name == "epochs" and cosine:
            continue
        values.pop(name, None)
    params = values.pop("method_params", None) or {}
    try:
        cls = methods.get(config.method)
        params = methods.params_to_dict(methods.make_params(cls, params))
    except ValueError:
        pass  # an unknown method or parameter: compare as written
    for key, value in params.items():
        values[f"{config.method}.{key}"] = value
    try:
        values["positions"] = list(config.resolved_positions)
    except ValueError:
        pass
    return values


def differences(old, new, old_data=None, new_data=None) -> list[str]:
    """'field (old -> new)' for each setting (and the data) in which two runs differ."""
    a, b = compared_settings(old), compared_settings(new)
    if a.get("method") != b.get("method"):  # then its parameters and positions differ anyway
        for settings, method in ((a, old.method), (b, new.method)):
            for key in [k for k in settings if k.startswith(f"{method}.")] + ["positions"]:
                settings.pop(key, None)
    diffs = [f"{k} ({_show(a.get(k))} -> {_show(b.get(k))})" for k in sorted(set(a) | set(b))
             if _normal(a.get(k)) != _normal(b.get(k))]  # fmt: skip
    if old_data is not None and new_data is not None and old_data != new_data:
        what = (
            "dataset"
            if old_data.get("dataset") != new_data.get("dataset")
            else "data (other images, labels or classes)"
        )
        diffs.append(f"{what} ({_show_data(old_data)} -> {_show_data(new_data)})")
    return diffs


def holds_a_run(workdir) -> bool:
    """Whether `workdir` is a run's folder, which may be moved aside or deleted: it holds a
    config.json, or only what a run writes (a run that never wrote its config)."""
    if os.path.isfile(os.path.join(workdir, CONFIG_FILE)):
        return True
    return not _foreign(sorted(os.listdir(workdir)))


def check_removable(workdir, how="delete", what="--workdir"):
    """Moving aside or deleting a workdir is for runs only: RunMismatch, changing nothing,
    when it holds files but no run (no config.json, entries that are not a run's)."""
    if not os.path.isdir(workdir) or holds_a_run(workdir):
        return
    done = "deleted" if how == "delete" else "moved"
    raise RunMismatch(
        f"{f'{what}={workdir}' if what else workdir} holds files that are not a training run "
        f"(no {CONFIG_FILE}; found {listing(_foreign(sorted(os.listdir(workdir))))}). Nothing "
        f"was {done}: give an empty or new {what or 'folder'}."
    )


def _foreign(entries):
    """The entries of a workdir listing that no run writes (hidden files aside)."""
    return [e for e in entries if e not in RUN_ENTRIES and not e.startswith(".")]


def _trained_anything(workdir):
    """Whether a run folder holds any trained state: a checkpoint, a logged epoch or a best
    model."""
    checkpoints = os.path.join(workdir, "checkpoints")
    saved = os.path.isdir(checkpoints) and any(
        name.startswith("ckpt") or name == "checkpoint" for name in os.listdir(checkpoints)
    )
    return saved or any(
        os.path.exists(os.path.join(workdir, name)) for name in ("train_log.json", "best")
    )


def _normal(value):
    return json.loads(json.dumps(value))  # tuples and lists compare equal


def _show(value):
    return json.dumps(value) if not isinstance(value, str) else value


def _show_data(data):
    return f"{data.get('dataset')}: {data.get('images')} images, {data.get('classes')} classes"


def checkpoint_step(workdir):
    """The global step of the workdir's latest checkpoint (0 when there is none), read from the
    `checkpoints/checkpoint` index without TensorFlow (checkpoints are numbered by step)."""
    index = os.path.join(workdir, "checkpoints", "checkpoint")
    if not os.path.isfile(index):
        return 0
    with open(index, encoding="utf-8", errors="replace") as f:
        match = re.search(r'^model_checkpoint_path:\s*"[^"]*?(\d+)"', f.read(), re.MULTILINE)
    return int(match.group(1)) if match else 0


def _checkpoint_files_exist(workdir, step):
    """Whether checkpoint ckpt-<step> has its .index and a .data-* file (without TensorFlow;
    `checkpoints.checkpoint_damage` reads them when resuming)."""
    prefix = os.path.join(workdir, "checkpoints", f"ckpt-{step}")
    return os.path.isfile(prefix + ".index") and bool(glob.glob(glob.escape(prefix) + ".data-*"))


def move_aside(workdir: str, what="--workdir") -> str:
    """Renames `workdir` to `<workdir>.replaced-<YYYYmmdd-HHMMSS>[-n]`; returns the new path.
    Under its lock: `WorkdirBusy` when another live process holds it."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    base = workdir.rstrip(os.sep)
    target, n = f"{base}.replaced-{stamp}", 1
    while os.path.exists(target):
        target, n = f"{base}.replaced-{stamp}-{n}", n + 1
    return lock.move(workdir, target, what)


def remove_run(workdir, how, print_fn=print, why="holds another run", what="--workdir"):
    """Moves a run's workdir aside ("move") or deletes it ("delete"); reports what it did.

    Raises RunMismatch for a folder that holds no run and `WorkdirBusy` for one that another
    live process holds, changing nothing.
    """
    check_removable(workdir, how, what)
    if how == "delete":
        _delete_run(workdir, what)
        print_fn(f"{workdir} {why}: deleted")
    else:
        print_fn(f"{workdir} {why}: moved to {move_aside(workdir, what)}")


def _delete_run(workdir, what):
    """Deletes a run's files under its lock. The folder and the lock stay while this process
    holds it (its new run goes on there); otherwise the folder goes too."""
    with lock.hold(workdir, what):
        for name in os.listdir(workdir):
            path = os.path.join(workdir, name)
            if name == lock.LOCK_FILE:
                continue
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path)
            else:
                os.remove(path)
    if not lock.holds(workdir):
        with contextlib.suppress(OSError):  # another process may have taken it since
            os.rmdir(workdir)


def writer(workdir, what="--workdir"):
    """The context in which a process writes a run: its workdir's lock (`lock.hold`), or
    nothing for the other workers of a multi-worker run, which share the chief's workdir
    and write no run files."""
    return lock.hold(workdir, what) if is_chief_process() else contextlib.nullcontext()


@dataclasses.dataclass
class Plan:
    """What `prepare` decided: "new", "resume" (from `step`) or "done" (nothing to train)."""

    action: str
    step: int = 0
    run: dict | None = None  # run.json's content to write


def prepare(
    config,
    data,
    steps_per_epoch,
    *,
    resume=True,
    replace="refuse",
    fork_from=None,
    print_fn=print,
):
    """Decides what training `config` in its workdir means; changes nothing unless told to.

    Args:
        config: the run's validated `TrainConfig`.
        data: its `data_identity`.
        steps_per_epoch: the run's steps per epoch (for "fewer epochs than done").
        resume: continue the same run; False starts over (the old run is moved aside, or
            deleted with replace="delete"; a folder that holds no run is refused).
        replace: a workdir holding another run: "refuse" (`RunMismatch` naming the
            differences), "move" aside, or "delete".
        fork_from: another run's workdir whose latest checkpoint starts this run.
        print_fn: where moves and notes go.

    Returns:
        A `Plan`.

    Raises:
        RunMismatch (a ValueError) when the workdir holds another run, more epochs of this
        one, or files that are not a run; FileNotFoundError for a missing fork source;
        `WorkdirBusy` (an OSError) when it would move or delete a run another live process
        holds.
    """
    from wsol_tf.runs.config import TrainConfig

    workdir = config.workdir
    if replace not in ("refuse", "move", "delete"):
        raise ValueError(f"replace={replace!r}: valid: refuse, move, delete.")
    total_steps = config.epochs * steps_per_epoch
    run = {
        "data": data,
        "created": time.strftime("%Y-%m-%d %H:%M:%S"),
        "sessions": [],
    }
    fork = _fork_source(config, fork_from, total_steps) if fork_from else None
    if fork:
        run["forked_from"] = fork
    entries = sorted(os.listdir(workdir)) if os.path.isdir(workdir) else []
    entries = [e for e in entries if e != lock.LOCK_FILE]  # a writer's lock, not the run's
    chief = is_chief_process()
    config_path = os.path.join(workdir, CONFIG_FILE)
    foreign = _foreign(entries)
    if replace == "delete" or (entries and not resume):
        check_removable(workdir, "delete" if replace == "delete" else "move")
    if entries and not resume:
        if chief:
            remove_run(workdir, "delete" if replace == "delete" else "move", print_fn,
                       why="--noresume: the earlier run")  # fmt: skip
        return _plan("new", 0, run, total_steps)
    if not entries:
        return _plan("new", 0, run, total_steps)
    reason = None
    if not os.path.isfile(config_path):
        if not foreign and not os.path.isdir(os.path.join(workdir, "checkpoints")):
            return _plan("new", 0, run, total_steps)  # only leftovers of a run that never began
        reason = (
            f"--workdir={workdir} is not empty and holds no training run (no {CONFIG_FILE}; "
            f"found {listing(entries)})"
        )
        old = old_run = None
    else:
        try:
            old = TrainConfig.load(workdir)
            old_run = read_run_record(workdir)
        except (ValueError, TypeError) as error:
            old = old_run = None
            reason = f"--workdir={workdir}: {str(error).rstrip('.')}"  # names the file
    if old is not None:
        diffs = differences(old, config, (old_run or {}).get("data"), data)
        if not (old_run or {}).get("data") and _folder(old.data_dir) != _folder(config.data_dir):
            # A run from before run.json: its data is known by its folder only.
            diffs.append(f"data_dir ({old.data_dir} -> {config.data_dir})")
        if diffs and not _trained_anything(workdir):
            # A run that stopped before its first checkpoint (e.g. on unreadable images):
            # nothing of it is lost by starting the new one; its files are moved aside.
            if chief:
                remove_run(workdir, "delete" if replace == "delete" else "move", print_fn,
                           why="holds a run that saved no checkpoint")  # fmt: skip
            return _plan("new", 0, run, total_steps)
        if diffs:
            reason = f"--workdir={workdir} holds another run; it differs in: " + "; ".join(diffs)
    if reason is not None:
        if replace == "refuse":
            raise RunMismatch(
                f"{reason}. Nothing was changed. Resume it with its own settings, pass "
                "--noresume to move it aside and start over, or give a new --workdir "
                f"(--fork_from={workdir} starts the new run from its latest checkpoint)."
            )
        if chief:
            remove_run(workdir, replace, print_fn)
        return _plan("new", 0, run, total_steps)
    # The same run: resume it.
    if old_run:
        run = {**old_run, "data": data}
        run.setdefault("sessions", [])
    done = checkpoint_step(workdir)
    if done > total_steps:
        raise RunMismatch(
            f"--epochs={config.epochs}: the run in {workdir} has already trained "
            f"{done / steps_per_epoch:g} epochs (step {done}); a checkpoint cannot be rewound. "
            "Nothing was changed. Evaluate it as it is, ask for at least as many epochs, or "
            "pass --noresume to start over."
        )
    if fork and not done and "forked_from" not in run:
        run["forked_from"] = fork
    if done == total_steps and _checkpoint_files_exist(workdir, done):
        return _plan("done", done, run, total_steps)
    # A last checkpoint without its files (killed while writing it, a deleted .data-*) is not
    # done: resuming falls back to the newest intact one, with a warning, and trains again.
    return _plan("resume" if done else "new", done, run, total_steps)


def _folder(path):
    return os.path.abspath(os.path.expanduser(path)) if path else None


def _plan(action, step, run, total_steps):
    if action != "done":
        run["sessions"] = [
            *run.get("sessions", []),
            {"started": time.strftime("%Y-%m-%d %H:%M:%S"), "from_step": step,
             "to_step": total_steps},
        ]  # fmt: skip
    return Plan(action, step, run)


def _fork_source(config, fork_from, total_steps):
    """{"workdir", "checkpoint", "step"} of the run a fork starts from, checked."""
    from wsol_tf.runs.config import TrainConfig

    if os.path.abspath(fork_from) == os.path.abspath(config.workdir):
        raise ValueError(f"--fork_from={fork_from} must name another run than --workdir.")
    check_pattern_free(os.path.abspath(fork_from), "--fork_from")  # its checkpoint is read there
    parent = TrainConfig.load(fork_from)  # FileNotFoundError naming it
    step = checkpoint_step(fork_from)
    if not step:
        raise FileNotFoundError(f"--fork_from={fork_from}: no checkpoint to start from.")
    for name in ("model", "method", "dataset", "image_size"):
        if getattr(parent, name) != getattr(config, name):
            raise ValueError(
                f"--fork_from={fork_from}: its {name} is {getattr(parent, name)!r}, this run's "
                f"{getattr(config, name)!r}; a fork continues the same model on the same data."
            )
    if step >= total_steps:  # as many: nothing would train, and no checkpoint be written
        more = "more than" if step > total_steps else "as many as"
        raise ValueError(
            f"--fork_from={fork_from} has trained {step} steps, {more} this run's "
            f"{total_steps}; ask for more --epochs."
        )
    with open(os.path.join(fork_from, "checkpoints", "checkpoint"), encoding="utf-8") as f:
        match = re.search(r'^model_checkpoint_path:\s*"([^"]+)"', f.read(), re.MULTILINE)
    name = match.group(1)
    path = name if os.path.isabs(name) else os.path.join(fork_from, "checkpoints", name)
    return {"workdir": os.path.abspath(fork_from), "checkpoint": os.path.abspath(path),
            "step": step}  # fmt: skip


def write_run_files(config, records, plan):
    """config.json, classes.json and run.json, atomically (after `prepare` said yes)."""
    os.makedirs(config.workdir, exist_ok=True)
    config.save()
    write_json(os.path.join(config.workdir, "classes.json"), list(records.class_names), indent=1)
    write_json(os.path.join(config.workdir, RUN_FILE), plan.run)


def read_run_record(workdir):
    """run.json's content (None for a run from before it); ValueError naming the file when it
    is not a run's record."""
    path = os.path.join(workdir, RUN_FILE)
    run = read_json(path, dict)
    if run is None:
        return None
    sessions = run.get("sessions", [])
    if not (isinstance(run.get("data") or {}, dict) and isinstance(sessions, list)
            and all(isinstance(s, dict) for s in sessions)):  # fmt: skip
        raise ValueError(
            f'{path}: cannot be read (expected "data" an object and "sessions" a list of objects).'
        )
    return run


def record_fallback(workdir, step, skipped):
    """Corrects run.json's current session after resuming from an earlier checkpoint than
    the latest: `from_step` becomes the step restored and `skipped_checkpoints` names the
    damaged ones passed over (`prepare` read the step from the latest checkpoint's name)."""
    path = os.path.join(workdir, RUN_FILE)
    run = read_json(path)
    if not run or not run.get("sessions"):
        return
    session = run["sessions"][-1]
    session["from_step"] = int(step)
    session["skipped_checkpoints"] = [os.path.basename(p) for p in skipped]
    write_json(path, run)
