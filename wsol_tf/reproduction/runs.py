"""Run sets of training runs for the paper reproduction and aggregate them over seeds.

A `Run` is one training + evaluation: a TrainConfig's settings and a seed, plus the table and
row it fills. Runs with the same settings and seed (e.g. the main ADL run, which is also the
drop_rate 0.75 row of Table 1) are trained once, each by the one runner
(`wsol_tf.reproduction.runner`): a later call with the same config reuses its result, and a
run killed half-way resumes from its last checkpoint, so a killed reproduction loses at most
one epoch.

Library code: explicit arguments, no FLAGS (the CLI is `wsol_tf.reproduce`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import re
import time

import numpy as np

from wsol_tf.files import listing

# Metrics kept per run (keys of `evaluation.evaluate`'s result), in the tables' column order.
METRICS = ("top1_clas", "gt_known_loc", "top1_loc", "maxboxacc_v2")
METRIC_TITLES = {
    "top1_clas": "Top-1 Clas",
    "gt_known_loc": "GT-known Loc",
    "top1_loc": "Top-1 Loc",
    "maxboxacc_v2": "MaxBoxAccV2",
}


@dataclasses.dataclass(frozen=True)
class Run:
    """One training run of a reproduction table.

    Attributes:
        table: the table it belongs to (an experiment module's name).
        row: the table row it fills; a row's runs differ only in seed.
        seed: the run's seed (TrainConfig.seed).
        settings: TrainConfig keyword arguments; its seed and workdir are replaced by the
            run's.
    """

    table: str
    row: str
    seed: int
    settings: dict
    readout: bool = False  # also choose the read-out on val and evaluate test at it

    @property
    def key(self) -> str:
        """Identity of what is trained: the same settings and seed give the same key."""
        blob = json.dumps({**self.settings, "seed": self.seed}, sort_keys=True, default=list)
        return hashlib.sha1(blob.encode()).hexdigest()[:10]

    @property
    def dirname(self) -> str:
        slug = re.sub(r"[^a-z0-9]+", "-", f"{self.table} {self.row}".lower()).strip("-")
        return f"{slug}-s{self.seed}-{self.key}"


def unique_runs(runs):
    """The runs to train: the first run of each key, in order."""
    seen, unique = set(), []
    for run in runs:
        if run.key not in seen:
            seen.add(run.key)
            unique.append(run)
    return unique


def run_workdir(root, run: Run) -> str:
    """root/runs/<run.dirname>, or the folder where another table already trained the same
    settings and seed (its name ends with the same seed and key): e.g. the real-bird table's
    CAM run is the method comparison's CAM row, whichever table was run first."""
    own = os.path.join(root, "runs", run.dirname)
    if os.path.isdir(own):
        return own
    suffix = f"-s{run.seed}-{run.key}"
    runs_dir = os.path.join(root, "runs")
    if os.path.isdir(runs_dir):
        for name in sorted(os.listdir(runs_dir)):
            if name.endswith(suffix) and os.path.isdir(os.path.join(runs_dir, name)):
                return os.path.join(runs_dir, name)
    return own


# What a reproduction writes in its --workdir (the report and the figures by default); a
# folder that holds anything else (hidden files aside) is not a reproduction's.
REPRODUCTION_ENTRIES = (
    "runs",
    "results.json",
    "calls.json",
    "RESULTS.md",
    "figures",
    "EXTRACTORS.md",
    "EXTRACTORS.json",
)
# A run's folder under runs/: `Run.dirname`, or one the runner moved aside.
RUN_FOLDER = re.compile(r"^[a-z0-9-]+-s\d+-[0-9a-f]{10}(\.replaced-\d{8}-\d{6}(-\d+)?)?$")


def check_reproduction_folder(root, what="--workdir", outputs=()):
    """Refuses (RunMismatch, a ValueError, naming them) a `root` that holds no reproduction
    and files a reproduction does not write: its runs and report never go into someone else's
    folder. An earlier reproduction's folder may hold other files too (a log the user sent
    there): they are left alone, `--fresh` included. `outputs`: the paths of the report,
    figures, ... this call writes (they may be in root under other names than the default
    ones)."""
    from wsol_tf.training.workdir import RunMismatch

    if not os.path.isdir(root) or holds_a_reproduction(root):
        return
    ours = set(REPRODUCTION_ENTRIES) | {
        os.path.basename(os.path.abspath(path))
        for path in outputs
        if os.path.dirname(os.path.abspath(path)) == os.path.abspath(root)
    }
    foreign = [
        name
        for name in sorted(os.listdir(root))
        if not name.startswith(".")
        and (name not in ours or (name == "runs" and not _is_folder(root, name)))
    ]
    if foreign:
        raise RunMismatch(
            f"{what}={root} is not a reproduction's folder: it holds {listing(foreign)}, which "
            "a reproduction does not write. Nothing was changed: give a new or empty "
            f"{what}, or the one of an earlier reproduction."
        )


def holds_a_reproduction(root):
    """Whether `root` is an earlier reproduction's folder: its results.json or calls.json, or
    one of its runs under runs/."""
    from wsol_tf.reproduction.call_log import CALLS_FILE

    if any(os.path.isfile(os.path.join(root, name)) for name in ("results.json", CALLS_FILE)):
        return True
    return bool(own_runs(root)[0])


def own_runs(root):
    """(paths of the reproduction's runs under root/runs, names of the other entries there)."""
    from wsol_tf.training.workdir import holds_a_run

    runs_dir = os.path.join(root, "runs")
    if not os.path.isdir(runs_dir):
        return [], []
    runs, foreign = [], []
    for name in sorted(os.listdir(runs_dir)):
        path = os.path.join(runs_dir, name)
        if name.startswith("."):
            continue  # a lock, a write's temporary file
        if RUN_FOLDER.match(name) and _is_folder(runs_dir, name) and holds_a_run(path):
            runs.append(path)
        else:
            foreign.append(name)
    return runs, foreign


def clear(root, print_fn=print, outputs=()):
    """`--fresh`: deletes the reproduction's earlier runs under root/runs, its results.json
    and calls.json (the earlier calls' wall time). Before deleting anything it refuses
    (RunMismatch naming them) a root that is no reproduction's (`check_reproduction_folder`,
    with `outputs`), entries under runs/ that are not its runs, and (`WorkdirBusy`) a run that
    another live process holds."""
    from wsol_tf.reproduction.call_log import CALLS_FILE
    from wsol_tf.training import lock
    from wsol_tf.training.workdir import RunMismatch, remove_run

    check_reproduction_folder(root, outputs=outputs)
    runs, foreign = own_runs(root)
    runs_dir = os.path.join(root, "runs")
    if foreign:
        raise RunMismatch(
            f"--fresh: {runs_dir} holds {listing(foreign)}, which are not this reproduction's "
            "runs. Nothing was deleted: move them out of it, or give another --workdir."
        )
    for path in runs:
        holder = lock.holder(path)
        if holder:
            raise lock.WorkdirBusy(
                f"--fresh: the run {path} is in use by {holder}. Nothing was deleted: wait for "
                "that process to end."
            )
    for path in runs:
        remove_run(path, "delete", print_fn=lambda _: None, what=None)
    for name in ("results.json", CALLS_FILE):
        if os.path.isfile(os.path.join(root, name)):
            os.remove(os.path.join(root, name))
    print_fn(f"--fresh: deleted {len(runs)} earlier runs in {runs_dir}")


def _is_folder(parent, name):
    path = os.path.join(parent, name)
    return os.path.isdir(path) and not os.path.islink(path)


def _config(run: Run, workdir: str):
    from wsol_tf.runs.config import TrainConfig

    return TrainConfig.from_settings(**{**run.settings, "seed": run.seed, "workdir": workdir})


def check_runs(runs, root):
    """Validates every run's training config (ValueError naming the setting) before any run
    starts: a bad override is refused at the start of a reproduction, not at its n-th run."""
    for run in unique_runs(runs):
        _config(run, run_workdir(root, run)).validate()


def train_and_evaluate(
    run: Run,
    root: str,
    print_fn=print,
    threads: int = 0,
    reuse_only: bool = False,
    records_dir: str | None = None,
    use_records: bool = True,
) -> dict | None:
    """Trains (or resumes) and evaluates one run with the one runner
    (`wsol_tf.reproduction.runner.run_config`); returns its result dict.

    Args:
        run: the run.
        root: the reproduction's output folder; the run lives in root/runs/<run.dirname>.
        print_fn: progress lines of the training loop.
        threads: TensorFlow intra-op threads (0: TensorFlow's default), for parallel runs.
        reuse_only: return the finished result or None; never train.
        records_dir: the run records' folder (`wsol_tf.reproduction.records`), or None for
            none. When the workdir holds no finished identical run, a matching record is
            returned ("reused": "record") instead of training; a run finished here (trained
            now or reused from its workdir) has its record written or updated.
        use_records: False (`reproduce --fresh`): records are written but never reused.

    Returns:
        The runner's result (every metric, train_seconds, evaluate_seconds, ...) plus
        "key", "table", "row", "seed"; a run whose loss diverged has "diverged" (the
        trainer's message) and no metrics. "reused": False (trained now), True (from its
        workdir) or "record" (from its record).
    """
    from wsol_tf.reproduction import records
    from wsol_tf.reproduction.runner import add_readout, finished_result, run_config

    config = _config(run, run_workdir(root, run))
    # A run with a held-out validation split is also evaluated on it (thresholds and
    # hyperparameters are chosen there, never on test).
    extra = ("val",) if config.val_per_class else ()
    labels = {"key": run.key, "table": run.table, "row": run.row, "seed": run.seed}
    result = None
    use_records = bool(records_dir) and use_records
    if reuse_only or use_records:
        result = finished_result(config, extra_splits=extra)
        if result is None and use_records:
            record = records.find_record(records_dir, run, config, extra)
            if record is not None:
                return {**record, **labels}
    if not reuse_only:
        # A diverged loss is a result of the comparison (reported as such), not a reason
        # to stop the runs after it.
        result = run_config(
            config, extra_splits=extra, threads=threads, on_divergence="record", print_fn=print_fn
        )
        if run.readout:
            result = add_readout(config, result, print_fn=print_fn)
    if result is None:
        return None
    result = {**result, **labels}
    if records_dir:
        records.write_record(records_dir, run, result)
    return result


def _prefixed(run, print_fn):
    """The training loop's progress lines, tagged with the run they belong to."""
    return lambda line: print_fn(f"    [{run.table} / {run.row} / seed {run.seed}] {line}")


def _worker(args):
    run, root, threads, records_dir, use_records = args
    return train_and_evaluate(
        run, root, print_fn=_prefixed(run, lambda line: print(line, flush=True)), threads=threads,
        records_dir=records_dir, use_records=use_records,
    )  # fmt: skip


def _reused(result):
    """How a result was had, for the progress lines."""
    if result["reused"] == "record":
        return "reused from its record"
    return "reused" if result["reused"] else f"trained {result['train_seconds']:.0f} s"


def execute(
    runs, root, jobs=1, print_fn=print, reuse_only=False, call_log=None, records_dir=None,
    use_records=True,
):  # fmt: skip
    """Trains and evaluates every unique run; returns {key: result}.

    Args:
        runs: `Run`s (duplicates by key are trained once).
        root: output folder.
        jobs: runs trained at once. >1 uses that many worker processes with
            `cpu_count // jobs` TensorFlow threads each (two TinyVGG runs on 2 cores gave
            only about 17% more throughput than one, and each run's time doubles).
        print_fn: progress lines.
        reuse_only: train nothing; return the results of the runs already finished (a
            report of what a long reproduction has done so far).
        call_log: a `wsol_tf.reproduction.call_log.CallLog`, told when a run is about to
            train and when each trained run is done (the call's wall time is kept from then).
        records_dir: the run records' folder (`wsol_tf.reproduction.records`; None: none):
            a run whose workdir is gone is reused from its record, and every finished run
            (reuse_only included) has its record written or updated.
        use_records: False (`--fresh`): records are not reused; the runs train again and
            their records are overwritten.
    """
    todo = unique_runs(runs)
    started = time.perf_counter()
    # Finished runs are read back here: only the others go to the (spawned) workers.
    results = {}
    for run in todo:
        result = train_and_evaluate(
            run, root, reuse_only=True, records_dir=records_dir, use_records=use_records
        )
        if result is not None:
            results[run.key] = result
    if reuse_only:
        recorded = sum(r["reused"] == "record" for r in results.values())
        source = f" ({recorded} reused from their records)" if recorded else ""
        print_fn(
            f"{len(results)} of {len(todo)} runs finished{source}; nothing trained (--report_only)"
        )
        return results

    def report(result, done):
        elapsed = time.perf_counter() - started
        what = _reused(result)
        metrics = ", ".join(
            f"{METRIC_TITLES[m]} {result[m]:.2f}" for m in METRICS if result.get(m) is not None
        )
        if result.get("diverged"):
            metrics = f"diverged: {result['diverged']}"
        print_fn(
            f"[{done}/{len(todo)}, {elapsed / 60:.1f} min] {result['table']} / {result['row']} "
            f"seed {result['seed']}: {metrics} ({what})"
        )

    def record(result, done):
        results[result["key"]] = result
        if call_log is not None and not result["reused"]:
            call_log.run_finished()
        report(result, done)

    for done, run in enumerate((r for r in todo if r.key in results), start=1):
        report(results[run.key], done)
    pending = [run for run in todo if run.key not in results]
    finished = len(results)
    if not pending:
        return results
    if call_log is not None:
        call_log.training()
    if jobs <= 1:
        for done, run in enumerate(pending, start=finished + 1):
            print_fn(f"[{done}/{len(todo)}] {run.table} / {run.row} seed {run.seed} ...")
            result = train_and_evaluate(
                run, root, print_fn=_prefixed(run, print_fn), records_dir=records_dir,
                use_records=use_records,
            )  # fmt: skip
            record(result, done)
        return results

    import concurrent.futures
    import multiprocessing

    threads = max(1, (os.cpu_count() or 1) // jobs)
    context = multiprocessing.get_context("spawn")  # TensorFlow does not survive fork
    with concurrent.futures.ProcessPoolExecutor(jobs, mp_context=context) as pool:
        futures = {
            pool.submit(_worker, (run, root, threads, records_dir, use_records)): run
            for run in pending
        }
        print_fn(
            f"{len(pending)} runs to train, {jobs} at a time ({threads} TensorFlow threads each)"
        )
        for done, future in enumerate(concurrent.futures.as_completed(futures), start=finished + 1):
            record(future.result(), done)
    return results


def mean_std(values):
    """(mean, sample std with ddof 1; 0 for one value, NaN for none) of the finite values."""
    values = np.asarray([v for v in values if v is not None and math.isfinite(v)], np.float64)
    if len(values) == 0:
        return math.nan, math.nan
    return float(values.mean()), float(values.std(ddof=1)) if len(values) > 1 else 0.0


def aggregate(runs, results):
    """Per table and row: {"seeds", metric: {"mean", "std", "values"}, "train_seconds"}.

    Returns:
        {table: {row: summary}} with rows and tables in the order of ``runs``.
    """
    tables = {}
    for run in runs:
        row = tables.setdefault(run.table, {}).setdefault(run.row, {"seeds": [], "_r": []})
        row["seeds"].append(run.seed)
        row["_r"].append(results[run.key])
    for rows in tables.values():
        for summary in rows.values():
            per_seed = summary.pop("_r")
            for name in (*METRICS, "train_seconds", "train_accuracy"):
                values = [r.get(name) for r in per_seed]
                mean, std = mean_std(values)
                summary[name] = {"mean": mean, "std": std, "values": values}
            summary["workdirs"] = [r["workdir"] for r in per_seed]
    return tables


def paired_difference(results_a, results_b, metric):
    """mean ± std over seeds of a − b, paired by seed (each a list of result dicts); a seed
    where either run diverged (no metric) is left out."""
    by_seed = {r["seed"]: r[metric] for r in results_b if r.get(metric) is not None}
    diffs = [
        r[metric] - by_seed[r["seed"]]
        for r in results_a
        if r["seed"] in by_seed and r.get(metric) is not None
    ]
    mean, std = mean_std(diffs)
    return {"mean": mean, "std": std, "values": diffs}


def format_mean_std(summary, digits=1):
    """'74.8 ± 2.1' (or '74.8' for one seed, '–' for none)."""
    mean, std, values = summary["mean"], summary["std"], summary.get("values", [])
    if not math.isfinite(mean):
        return "–"
    if len([v for v in values if v is not None]) <= 1:
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {std:.{digits}f}"
