"""The reproduce calls' wall time survives a killed call (wsol_tf.reproduction.call_log)."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from wsol_tf.reproduction.call_log import (
    CallLog,
    call_summary,
    read_calls,
    training_wall_seconds,
)


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_only_calls_that_train_are_logged_and_their_seconds_sum(tmp_path):
    clock = FakeClock()
    reusing = CallLog(str(tmp_path), "reuses everything", interval=3600, clock=clock)
    clock.now += 50.0
    reusing.finish()
    assert read_calls(str(tmp_path)) == [] and training_wall_seconds(str(tmp_path)) == 0.0

    first = CallLog(str(tmp_path), "first", interval=3600, clock=clock)
    clock.now += 10.0
    first.training()
    clock.now += 20.0
    first.run_finished()
    clock.now += 30.0
    first.run_finished()
    first.finish()  # 60 s after it started
    second = CallLog(str(tmp_path), "second (killed)", interval=3600, clock=clock)
    second.training()
    clock.now += 7.5
    second.run_finished()  # then killed: no finish()
    calls = read_calls(str(tmp_path))
    assert [(c["command"], c["seconds"], c["trained_runs"], c["finished"]) for c in calls] == [
        ("first", 60.0, 2, True),
        ("second (killed)", 7.5, 1, False),
    ]
    assert call_summary(str(tmp_path)) == {
        "calls": 2, "stopped": 1, "seconds": 67.5, "paused_seconds": 0.0,
    }  # fmt: skip


def test_a_workdir_from_before_the_log_keeps_its_total(tmp_path):
    (tmp_path / "results.json").write_text(json.dumps({"training_wall_seconds": 1234.5}))
    clock = FakeClock()
    log = CallLog(str(tmp_path), "resumed", interval=3600, clock=clock)
    log.training()
    clock.now += 5.0
    log.finish()
    assert [c["seconds"] for c in read_calls(str(tmp_path))] == [1234.5, 5.0]
    assert training_wall_seconds(str(tmp_path)) == 1239.5


def test_interval_must_be_positive(tmp_path):
    with pytest.raises(ValueError, match="interval=0 must be > 0"):
        CallLog(str(tmp_path), "x", interval=0)


KILLED_CALL = """
import sys, time
from wsol_tf.reproduction.call_log import CallLog
log = CallLog(sys.argv[1], "killed", interval=0.05)
log.training()
time.sleep(600)
"""


def test_a_killed_call_counts_to_its_last_heartbeat(tmp_path):
    """SIGKILL leaves no chance to write anything: the heartbeat written before it is what
    counts, so the call's time is lost by at most one interval."""
    process = subprocess.Popen([sys.executable, "-c", KILLED_CALL, str(tmp_path)])
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            calls = read_calls(str(tmp_path)) if os.path.exists(tmp_path / "calls.json") else []
            if calls and calls[0]["seconds"] >= 0.5:
                break
            time.sleep(0.05)
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
    [call] = read_calls(str(tmp_path))
    assert call["command"] == "killed" and call["finished"] is False
    assert 0.5 <= call["seconds"] < 60


def test_a_report_of_a_workdir_from_before_the_log_keeps_its_total(tmp_path):
    """--report_only on an old workdir (no calls.json) must not reset the results.json total
    it is about to rewrite."""
    from wsol_tf.reproduction.report import _training_calls

    (tmp_path / "results.json").write_text(json.dumps({"training_wall_seconds": 600.0}))
    assert _training_calls(str(tmp_path), 3.0, {}, {}) == {
        "calls": 1,
        "stopped": 0,
        "seconds": 600.0,
        "paused_seconds": 0.0,
    }
    assert _training_calls(str(tmp_path / "fresh"), 3.0, {}, {})["seconds"] == 0.0


def test_time_during_which_the_process_was_stopped_is_left_out(tmp_path):
    clock = FakeClock()
    log = CallLog(str(tmp_path), "paused for a measurement", interval=60, clock=clock)
    clock.now += 500.0  # reading finished runs back before the first training: work, counted
    log.training()
    for _ in range(3):  # heartbeats on time
        clock.now += 60.0
        log._write(finished=False)
    clock.now += 660.0  # SIGSTOPped for 10 min, then the next heartbeat: one beat counts
    log._write(finished=False)
    clock.now += 100.0  # 100 s < 2 min: a late beat on a loaded machine, counted
    log.run_finished()
    log.finish()
    (call,) = read_calls(str(tmp_path))
    assert call["seconds"] == 500 + 3 * 60 + 60 + 100 and call["paused_seconds"] == 600
    assert call_summary(str(tmp_path)) == {
        "calls": 1, "stopped": 0, "seconds": 840.0, "paused_seconds": 600.0,
    }  # fmt: skip
