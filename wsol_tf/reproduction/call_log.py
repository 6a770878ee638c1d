"""The wall time of the reproduce calls that trained in a workdir, kept on disk as it goes.

A multi-day comparison is trained by many calls, and a call killed at a session's end writes
no results.json; its time would be lost from the report's "wall time of the calls that
trained them". Each training call therefore keeps its own entry in `<workdir>/calls.json`,
rewritten atomically every `interval` seconds and after each finished run, so a killed call
still counts up to its last heartbeat. A call that trains nothing (everything reused,
`--report_only`) writes no entry.

Time during which the process was stopped (SIGSTOP for a quiet measurement, a suspended
session) is not training: a gap between two writes longer than `pause_after(interval)`
(heartbeats come every `interval`) counts as one interval, and the rest goes to the entry's
"paused_seconds" instead of its "seconds".
"""

import datetime
import os
import threading
import time
import uuid

from wsol_tf.files import read_json, write_json

CALLS_FILE = "calls.json"


def pause_after(interval):
    """The gap between writes beyond which the process is taken to have been stopped: three
    heartbeats, and at least 2 minutes (a loaded machine delays a thread by seconds)."""
    return max(3.0 * interval, 120.0)


def calls_path(workdir):
    return os.path.join(workdir, CALLS_FILE)


def read_calls(workdir):
    """The list of call entries (oldest first); empty when there is no calls.json."""
    return (read_json(calls_path(workdir)) or {}).get("calls", [])


def training_wall_seconds(workdir):
    """Wall seconds of every call that trained in `workdir`, summed (killed calls up to their
    last heartbeat)."""
    return float(sum(call["seconds"] for call in read_calls(workdir)))


def call_summary(workdir):
    """{"calls", "stopped" (calls that never reached their end), "seconds", "paused_seconds"
    (left out of "seconds": the processes were stopped)}."""
    calls = read_calls(workdir)
    return {
        "calls": len(calls),
        "stopped": sum(not call["finished"] for call in calls),
        "seconds": float(sum(call["seconds"] for call in calls)),
        "paused_seconds": float(sum(call.get("paused_seconds", 0.0) for call in calls)),
    }


def results_json_total(workdir):
    """The trained calls' total that a workdir from before calls.json kept in its
    results.json (0 when there is none)."""
    earlier = read_json(os.path.join(workdir, "results.json")) or {}
    return float(earlier.get("training_wall_seconds", 0.0))


def _import_results_json_total(workdir):
    """A workdir from before calls.json: its results.json total becomes the first entry, so
    the total carries over."""
    if os.path.exists(calls_path(workdir)):
        return
    seconds = results_json_total(workdir)
    if seconds > 0:
        entry = {
            "id": "results.json",
            "command": "the calls before calls.json (their total from results.json)",
            "started": None,
            "seconds": seconds,
            "trained_runs": None,
            "finished": True,
        }
        write_json(calls_path(workdir), {"calls": [entry]})


class CallLog:
    """One reproduce call's entry in calls.json.

    Args:
        workdir: the reproduction's output folder.
        command: the command line, kept with the entry.
        interval: seconds between heartbeats (the most a killed call can lose).
        clock: a monotonic clock in seconds (tests pass a fake one).

    Example:
        log = CallLog(workdir, "python -m wsol_tf.reproduce ...")
        log.training()       # the first run to train starts: the entry appears
        log.run_finished()   # after each run trained
        log.finish()         # at the call's end
    """

    def __init__(self, workdir, command, interval=60.0, clock=time.perf_counter):
        if interval <= 0:
            raise ValueError(f"interval={interval} must be > 0 seconds")
        self.workdir = workdir
        self.command = command
        self.interval = interval
        self.clock = clock
        self.started = clock()
        self._last = None  # clock at the last write: gaps are measured from the first one
        self.paused = 0.0
        self.started_at = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
        self.id = uuid.uuid4().hex
        self.trained = 0
        self.active = False
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = None

    def training(self):
        """Marks this call as one that trains: its entry is written from now on."""
        if self.active:
            return
        self.active = True
        _import_results_json_total(self.workdir)
        self._write(finished=False)
        self._thread = threading.Thread(target=self._beat, daemon=True)
        self._thread.start()

    def run_finished(self):
        self.trained += 1
        if self.active:
            self._write(finished=False)

    def finish(self):
        """The call's end: the final wall time (nothing when it trained nothing)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self.active:
            self._write(finished=True)

    def _beat(self):
        while not self._stop.wait(self.interval):
            self._write(finished=False)

    def _write(self, finished):
        with self._lock:
            now = self.clock()
            if self._last is not None and now - self._last > pause_after(self.interval):
                self.paused += now - self._last - self.interval  # stopped: one beat counts
            self._last = now
            entry = {
                "id": self.id,
                "command": self.command,
                "started": self.started_at,
                "seconds": now - self.started - self.paused,
                "paused_seconds": self.paused,
                "trained_runs": self.trained,
                "finished": finished,
            }
            # Re-read before writing: another call may have written its entry meanwhile.
            calls = read_calls(self.workdir)
            mine = [i for i, call in enumerate(calls) if call.get("id") == self.id]
            if mine:
                calls[mine[0]] = entry
            else:
                calls.append(entry)
            write_json(calls_path(self.workdir), {"calls": calls})
