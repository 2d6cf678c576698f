"""Forks and multiprocessing children: nothing deadlocks, nothing is lost.

Each scenario runs in a fresh interpreter (forking the test runner itself, which has threads,
is what these tests warn against), talks to the loopback server of this process, and is
bounded: every child must exit within a deadline or is killed and counted as deadlocked,
and the whole script has a timeout.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="fork is POSIX only")

FORK_SCRIPT = textwrap.dedent(
    """
    import faulthandler, json, os, signal, sys, threading, time, warnings

    warnings.simplefilter("ignore", DeprecationWarning)  # "multi-threaded process forks": yes
    faulthandler.dump_traceback_later(240, exit=True)

    from llmcost import tokens
    from llmcost.sinks.http import HTTPSink
    from llmcost.sinks.jsonl import JSONLFileSink
    from llmcost.types import CostRecord

    url, jsonl_path, forks = sys.argv[1], sys.argv[2], int(sys.argv[3])
    http = HTTPSink(url, flush_interval=0.01, batch_size=50)
    jsonl = JSONLFileSink(jsonl_path)

    def record(feature):
        return CostRecord(provider="openai", operation="chat", model="gpt-4o",
                          input_tokens=1, output_tokens=1, feature=feature)

    stop = threading.Event()
    emitted = [0]

    def emit_load():
        while not stop.is_set():
            item = record(f"parent-{emitted[0]}")
            http.emit(item)
            jsonl.emit(item)
            emitted[0] += 1
            if emitted[0] % 20 == 0:
                time.sleep(0.001)

    def tokenizer_load():
        # Loads the tokenizer again and again: the load lock is held most of the time, so
        # most forks happen while a parent thread holds it.
        while not stop.is_set():
            tokens._encodings.pop("cl100k_base", None)
            tokens.get_encoding("cl100k_base")

    def child(number):
        # Must not wait on any lock a parent thread held at fork time.
        if not tokens._load_lock.acquire(timeout=10):
            os._exit(3)
        tokens._load_lock.release()
        if number % 40 == 0:  # now and then a real load, the path a user takes
            tokens._encodings.pop("cl100k_base", None)
            tokens.get_encoding("cl100k_base")
        for k in range(5):
            item = record(f"child-{number}-{k}")
            http.emit(item)
            jsonl.emit(item)
        if http.flush(20):
            os._exit(0)
        print(f"child {number}: flush failed, {http.stats()}", file=sys.stderr)
        faulthandler.dump_traceback(all_threads=True)  # where it hangs, for the report
        os._exit(4)

    threads = [threading.Thread(target=emit_load), threading.Thread(target=tokenizer_load)]
    for thread in threads:
        thread.start()
    time.sleep(0.3)

    deadlocked = 0
    failed = []
    running = {}
    number = 0
    while number < forks or running:
        while number < forks and len(running) < 8:
            pid = os.fork()
            if pid == 0:
                child(number)
            running[pid] = time.monotonic() + 30
            number += 1
        time.sleep(0.005)
        for pid, deadline in list(running.items()):
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                del running[pid]
                if os.waitstatus_to_exitcode(status) != 0:
                    failed.append(os.waitstatus_to_exitcode(status))
            elif time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                del running[pid]
                deadlocked += 1

    stop.set()
    for thread in threads:
        thread.join(30)
    delivered = http.flush(30)
    http.close(5)
    jsonl.close()
    print(json.dumps({"deadlocked": deadlocked, "failed": failed, "parent": emitted[0],
                      "delivered": delivered, "stats": http.stats()}))
    """
)


def test_200_forks_under_load_never_deadlock_and_children_deliver(fault_server, tmp_path):
    """200 forks while threads emit and load the tokenizer: 0 deadlocks, every record lands."""
    jsonl_path = tmp_path / "costs.jsonl"
    script = tmp_path / "forks.py"
    script.write_text(FORK_SCRIPT)
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, str(script), fault_server.url, str(jsonl_path), "200"],
        capture_output=True,
        text=True,
        timeout=280,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["deadlocked"] == 0
    assert result["failed"] == [], done.stderr[-3000:]
    assert result["delivered"] is True
    features = [record["feature"] for record in fault_server.unique.values()]
    children = {name for name in features if name.startswith("child-")}
    assert len(children) == 200 * 5
    assert sum(name.startswith("parent-") for name in features) == result["parent"]
    lines = jsonl_path.read_text().splitlines()
    assert len(lines) == result["parent"] + 1000
    assert all(json.loads(line)["feature"] for line in lines)  # no torn or merged line
    assert time.monotonic() - started < 280


MP_SCRIPT = textwrap.dedent(
    """
    import faulthandler, json, multiprocessing, sys, warnings

    warnings.simplefilter("ignore", DeprecationWarning)
    faulthandler.dump_traceback_later(120, exit=True)

    from llmcost.sinks.http import HTTPSink
    from llmcost.types import CostRecord

    SINK = None  # made in the parent; fork children inherit it

    def record(feature):
        return CostRecord(provider="openai", operation="chat", model="gpt-4o",
                          input_tokens=1, output_tokens=1, feature=feature)

    def forked_child(number):
        for k in range(200):
            SINK.emit(record(f"fork-{number}-{k}"))
        # returns without flush() or shutdown(): multiprocessing ends the child with os._exit

    def spawned_child(url, number):  # spawn and forkserver: the child makes its own sink
        sink = HTTPSink(url, flush_interval=60, batch_size=1000)  # nothing sent on its own
        for k in range(200):
            sink.emit(record(f"spawn-{number}-{k}"))

    if __name__ == "__main__":
        url = sys.argv[1]
        # A long interval and a big batch: only the exit flush can deliver the children's work.
        SINK = HTTPSink(url, flush_interval=60, batch_size=1000)
        exit_codes = []
        for method, target, args in (
            ("fork", forked_child, lambda n: (n,)),
            ("spawn", spawned_child, lambda n: (url, n)),
            ("forkserver", spawned_child, lambda n: (url, n + 100)),
        ):
            context = multiprocessing.get_context(method)
            children = [context.Process(target=target, args=args(n)) for n in range(4)]
            for child in children:
                child.start()
            for child in children:
                child.join(60)
                exit_codes.append(child.exitcode)
        SINK.close(5)
        print(json.dumps({"exit_codes": exit_codes}))
    """
)


def test_multiprocessing_children_flush_before_they_exit(fault_server, tmp_path):
    """fork, spawn and forkserver children that never call shutdown(): every record arrives."""
    script = tmp_path / "children.py"
    script.write_text(MP_SCRIPT)
    done = subprocess.run(
        [sys.executable, str(script), fault_server.url],
        capture_output=True,
        text=True,
        timeout=150,
        cwd=Path(script).parent,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["exit_codes"] == [0] * 12
    features = {record["feature"] for record in fault_server.unique.values()}
    assert {f"fork-{n}-{k}" for n in range(4) for k in range(200)} <= features
    assert {f"spawn-{n}-{k}" for n in range(4) for k in range(200)} <= features
    assert {f"spawn-{n}-{k}" for n in range(100, 104) for k in range(200)} <= features
    assert len(fault_server.unique) == 2400


EXIT_SCRIPT = textwrap.dedent(
    """
    import atexit, sys, time

    started = []
    # Registered before the sink exists, so it runs after llmcost's exit flush (LIFO).
    atexit.register(lambda: print(f"exit flush took {time.monotonic() - started[0]:.3f}"))

    from llmcost.sinks.http import HTTPSink
    from llmcost.types import CostRecord

    sink = HTTPSink(sys.argv[1], flush_interval=0.01, shutdown_timeout=2)
    for k in range(1000):
        sink.emit(CostRecord(provider="openai", operation="chat", model="gpt-4o"))
    time.sleep(0.2)
    started.append(time.monotonic())
    # no close(), no shutdown(): the interpreter exits with the endpoint down
    """
)


def test_endpoint_down_at_interpreter_exit_is_bounded_and_logged_once(fault_server, tmp_path):
    """At exit with the endpoint down: the flush ends within 2.5 s and one line says 1000 lost."""
    fault_server.go_down()
    script = tmp_path / "exit.py"
    script.write_text(EXIT_SCRIPT)
    done = subprocess.run(
        [sys.executable, str(script), fault_server.url],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    took = float(done.stdout.split("exit flush took")[1])
    assert took < 2.5
    lines = [line for line in done.stderr.splitlines() if "llmcost" in line]
    assert len(lines) == 1, done.stderr
    assert "1000 dropped (closed=1000)" in lines[0]


THROUGH_LLMCOST_SCRIPT = textwrap.dedent(
    """
    import sys

    import llmcost
    from llmcost.sinks.http import HTTPSink

    # A long interval and a big batch: only the exit flush can deliver these.
    llmcost.configure(sinks=[HTTPSink(sys.argv[1], flush_interval=60, batch_size=1000)])
    for k in range(300):
        llmcost.record_usage(provider="openai", model="gpt-4o", input_tokens=10,
                             output_tokens=5, feature=f"exit-{k}")
    # no flush(), no shutdown(): the records are still in llmcost's queues at exit
    """
)


def test_records_still_queued_in_llmcost_are_delivered_at_exit(fault_server, tmp_path):
    """record_usage -> delivery queue -> HTTPSink queue, then exit: the exit flush empties both."""
    script = tmp_path / "through.py"
    script.write_text(THROUGH_LLMCOST_SCRIPT)
    done = subprocess.run(
        [sys.executable, str(script), fault_server.url],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "llmcost" not in done.stderr  # nothing lost, nothing to say
    features = {record["feature"] for record in fault_server.unique.values()}
    assert features == {f"exit-{k}" for k in range(300)}


LOCKS_SCRIPT = textwrap.dedent(
    """
    import os, sys, threading, time, warnings

    warnings.simplefilter("ignore", DeprecationWarning)
    from llmcost import tokens
    from llmcost.sinks import _batch
    from llmcost.sinks.http import HTTPSink
    from llmcost.sinks.jsonl import JSONLFileSink
    from llmcost.sinks.otel import OTelSink

    http = HTTPSink(sys.argv[1])
    jsonl = JSONLFileSink(sys.argv[2])
    otel = OTelSink()
    locks = {
        "tokens": lambda: tokens._load_lock,
        "batch hooks": lambda: _batch._hooks_lock,
        "batch worker": lambda: http._worker._lock,
        "http warnings": lambda: http._warn_lock,
        "jsonl": lambda: jsonl._lock,
        "otel": lambda: otel._enriched_lock,
    }
    held = threading.Event()
    release = threading.Event()

    def hold_all():
        for get in locks.values():
            get().acquire()
        held.set()
        release.wait(30)
        for get in locks.values():
            get().release()

    holder = threading.Thread(target=hold_all)
    holder.start()
    held.wait(10)
    pid = os.fork()
    if pid == 0:
        stuck = [name for name, get in locks.items() if not get().acquire(timeout=2)]
        print("stuck:", ",".join(stuck), flush=True)
        os._exit(1 if stuck else 0)
    _, status = os.waitpid(pid, 0)
    release.set()
    holder.join(10)
    http.close(1)
    sys.exit(os.waitstatus_to_exitcode(status))
    """
)


def test_no_lock_of_the_sinks_or_the_tokenizer_is_inherited_held(fault_server, tmp_path):
    """Every lock held by a parent thread at fork() is a fresh, free lock in the child."""
    script = tmp_path / "locks.py"
    script.write_text(LOCKS_SCRIPT)
    done = subprocess.run(
        [sys.executable, str(script), fault_server.url, str(tmp_path / "c.jsonl")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.stdout.strip() == "stuck:", done.stdout + done.stderr
    assert done.returncode == 0
