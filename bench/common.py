"""Shared timing helpers of the benchmarks: interleaved repeats, median with min and max.

The machine is shared and noisy, so absolute times alone mean little: each script runs the
things it compares in one process, interleaved (a, b, a, b, ...), and reports the ratio of
each interleaved pair, summarized as the median with min and max over >= 5 repeats.
"""

import json
import os
import resource
import statistics
import subprocess
import sys
import time

MIN_REPEATS = 5


def check_repeats(repeats):
    if repeats < MIN_REPEATS:
        raise SystemExit(f"--repeats={repeats}: use at least {MIN_REPEATS} (median with min/max).")
    return repeats


def stats(values):
    """(median, min, max) of a list of numbers."""
    return statistics.median(values), min(values), max(values)


def fmt(values, unit="s", digits=3):
    med, lo, hi = stats(values)
    unit = f" {unit}" if unit else ""
    return f"{med:.{digits}f}{unit} ({lo:.{digits}f}-{hi:.{digits}f})"


def timed(fn, repeats):
    """Runs fn `repeats` times; returns (last output, list of seconds)."""
    times, out = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return out, times


def interleaved(fns, repeats, warmup=1):
    """Times each callable of the dict `fns` in turn, `repeats` rounds after `warmup` rounds.

    Returns {name: [seconds per round]}; round i of every entry ran back to back, so the
    pairwise ratios of round i share the machine's load of that moment.
    """
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    times = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return times


def pair_ratios(numerator, denominator):
    """Per-round ratios numerator[i] / denominator[i] of two interleaved timing lists."""
    return [a / b for a, b in zip(numerator, denominator, strict=True)]


def fmt_ratio(ratios, digits=3):
    med, lo, hi = stats(ratios)
    return f"{med:.{digits}f}x (min {lo:.{digits}f}, max {hi:.{digits}f})"


def peak_rss_mib():
    """This process's peak resident set size in MiB (ru_maxrss is KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_child(script, args, timeout=None):
    """Runs `python script args` in a fresh process; returns the dict of its RESULT line.

    A fresh process per measurement keeps peak memory (ru_maxrss) and TensorFlow's
    thread pools from mixing between measurements.
    """
    command = [sys.executable, script, *args]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL=os.environ.get("TF_CPP_MIN_LOG_LEVEL", "3"))
    proc = subprocess.run(command, capture_output=True, text=True, env=env, timeout=timeout)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(
            f"{' '.join(command)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}"
        )
    return json.loads(lines[-1][len("RESULT ") :])


def emit_result(result):
    """Prints the RESULT line `run_child` reads."""
    print("RESULT " + json.dumps(result), flush=True)


def machine_line():
    load = os.getloadavg()
    return (
        f"machine: {os.cpu_count()} CPUs visible, load average {load[0]:.1f} at start, "
        f"python {sys.version.split()[0]}"
    )
