"""Two processes on one run or one cache, with real processes: the second `zoo bench` on a run
is refused naming the first's pid; a killed holder's lock is taken over; a run waiting for
the preprocessing cache says for whom it waits."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from fixtures.mer_layouts import write_casme2

from benchmarks.datasets.casme2 import read_casme2
from benchmarks.preprocess import PreprocessConfig, cache_path, prepare
from leaderboard import store

HOST = socket.gethostname()
ZOO = [sys.executable, "-c", "from zoo.cli import main; main()"]


def wait_for(condition, seconds: float = 180):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"gave up waiting after {seconds} s")


def holder_pid(lock: Path) -> int | None:
    try:
        return json.loads(lock.read_text())["pid"]
    except (OSError, ValueError, KeyError):
        return None


def test_second_bench_on_a_running_run_is_refused_and_a_killed_holders_lock_is_taken_over(tmp_path):
    args = ["bench", "flow_resnet18", "--protocol", "holdout", "--epochs", "50", "--input-size", "16",
            "--device", "cpu", "--out", str(tmp_path)]
    first = subprocess.Popen(ZOO + args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        lock = wait_for(lambda: next((p for p in tmp_path.glob(".partial/*.lock") if holder_pid(p)), None))
        second = subprocess.run(ZOO + args, capture_output=True, text=True)
        assert first.poll() is None, "the first run ended before the second was refused"
    finally:
        first.kill()
        first.wait()
    assert second.returncode == 2 and "Traceback" not in second.stderr
    assert len(second.stderr.strip().splitlines()) == 1
    assert f"run {lock.stem} in {tmp_path} is in use by process {first.pid} on {HOST}" in second.stderr
    assert holder_pid(lock) == first.pid  # the killed holder left its lock file behind
    with store.run_lock(tmp_path, lock.stem):  # but not its lock: taken over at once
        assert holder_pid(lock) == os.getpid()
    assert not lock.exists()


HOLD_CACHE = """
import sys
from pathlib import Path
from benchmarks.preprocess import exclusive
held = exclusive(Path(sys.argv[1]))
held.__enter__()
print("held", flush=True)
sys.stdin.read()
held.__exit__(None, None, None)
"""


def test_a_run_waiting_for_the_preprocessing_cache_says_for_whom(tmp_path, caplog):
    index = read_casme2(write_casme2(tmp_path / "data", [(1, "EP01_01", 1, 2, 3, "happiness"),
                                                        (2, "EP02_01", 1, 2, 3, "others")], "cropped"))
    config = PreprocessConfig(size=16, flow_size=24)
    path = cache_path(index, config, tmp_path / "cache")
    holder = subprocess.Popen([sys.executable, "-c", HOLD_CACHE, str(path)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "held\n"
        done = {}
        waiting = threading.Thread(target=lambda: done.update(prepared=prepare(index, config, path.parents[1],
                                                                               workers=1)))
        waiting.start()
        wait_for(lambda: "waiting for" in caplog.text, 60)
        assert (f"waiting for process {holder.pid} on {HOST}, which holds the preprocessing cache "
                f"{path.name} (lock {path}.lock)") in caplog.text
        assert waiting.is_alive() and not path.exists()
    finally:
        holder.communicate("")  # release: the holder removes its lock file, the waiter locks anew
    waiting.join(60)
    assert done["prepared"].path == path and path.is_file()
    assert not Path(f"{path}.lock").exists()
