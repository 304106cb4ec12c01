"""Runs each training in a child process: a fresh TensorFlow, crash isolation, memory back after.

TensorFlow keeps process-wide state: MultiWorkerMirroredStrategy must be created before any
other TensorFlow operation of its process, a crashed kernel or an out-of-memory kill takes the
whole process down, and the memory a model used is not returned to the system. A trainer that
runs every job in a process of its own (spawned, so nothing is inherited but the environment) can
run a multi-worker job after any other, survives a job that dies, and gets its memory back.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import pathlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, Any

import grpc
from opentelemetry import context as otel_context

from weather_runtime.errors import DomainError, FieldViolation, InvalidArgument
from weather_runtime.operations import Cancelled
from weather_runtime.telemetry import (
    context_from_traceparent,
    current_traceparent,
    init_tracing,
    shutdown_tracing,
)
from weather_trainer.spec import Hooks, Outcome, TrainSpec

if TYPE_CHECKING:
    import distributed

    from weather_data.archive import Archive

log = logging.getLogger(__name__)
SPAWN = multiprocessing.get_context("spawn")
POLL_SECONDS = 0.2


class ChildError(DomainError):
    """A domain error raised in the training process, with the status code it had there."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code


class TrainingProcessDied(DomainError):
    """The training process ended without an outcome (killed, out of memory, crashed)."""

    code = grpc.StatusCode.INTERNAL


@dataclass(frozen=True)
class ChildTask:
    """What the training process needs: plain, picklable data."""

    spec: TrainSpec
    archive_url: str
    workdir: str
    scheduler_address: str
    checkpoint_mirror: str
    log_level: str
    log_format: str
    parent_pid: int
    traceparent: str = ""  # the job's span: the child's spans join its trace
    security: Any = None  # the parent client's distributed.Security (TLS to the scheduler)


class ProcessTrain:
    """A train(spec, archive, workdir, hooks, dask_client=...) that runs the real one (in
    weather_trainer.training) in a spawned child process and relays its hooks."""

    def __init__(
        self, log_level: str = "INFO", log_format: str = "json", stop_grace_seconds: float = 60.0
    ) -> None:
        self.log_level = log_level
        self.log_format = log_format
        self.stop_grace_seconds = stop_grace_seconds

    def __call__(
        self,
        spec: TrainSpec,
        archive: Archive,
        workdir: pathlib.Path,
        hooks: Hooks,
        *,
        dask_client: distributed.Client | None = None,
        checkpoint_mirror: str = "",
    ) -> Outcome:
        scheduler = dask_client.scheduler if dask_client is not None else None
        address = str(scheduler.address) if scheduler is not None else ""
        task = ChildTask(
            spec,
            archive.url,
            str(workdir),
            address,
            checkpoint_mirror,
            self.log_level,
            self.log_format,
            os.getpid(),
            current_traceparent(),
            dask_client.security if dask_client is not None else None,
        )
        receiver, sender = SPAWN.Pipe(duplex=False)  # reports, child to parent
        orders, cancel = SPAWN.Pipe(duplex=False)  # a cancel, parent to child
        process = SPAWN.Process(
            target=child_main,
            args=(task, sender, orders),
            name=f"training-{workdir.name}",
            daemon=True,
        )
        process.start()
        sender.close()
        orders.close()
        log.info("training process %s started for %s", process.pid, workdir.name)
        try:
            return _relay(receiver, process, hooks, cancel)
        finally:
            receiver.close()
            _stop(process, cancel, self.stop_grace_seconds)
            cancel.close()


def _relay(receiver: Connection, process: Any, hooks: Hooks, cancel: Connection) -> Outcome:
    """Hands the child's reports to hooks and the parent's cancel to the child, until the end
    (process: a spawned Process)."""
    asked = False
    while True:
        if hooks.cancel.is_set() and not asked:
            asked = _ask_to_stop(cancel)
        try:
            message = receiver.recv() if receiver.poll(POLL_SECONDS) else None
        except (EOFError, OSError):
            process.join(5)
            raise TrainingProcessDied(
                f"the training process exited with code {process.exitcode} before finishing"
            ) from None
        if message is not None:
            outcome = _deliver(message, hooks)
            if outcome is not None:
                return outcome
        elif not process.is_alive():
            raise TrainingProcessDied(
                f"the training process exited with code {process.exitcode} before finishing"
            )


def _deliver(message: tuple[Any, ...], hooks: Hooks) -> Outcome | None:
    """Acts on one report of the child: a hook call, the outcome, or the error it ended with."""
    kind = message[0]
    if kind == "stage":
        hooks.on_stage(message[1], message[2])
    elif kind == "epoch":
        hooks.on_epoch(message[1], message[2])
    elif kind == "trial":
        hooks.on_trial(message[1])
    elif kind == "done":
        outcome: Outcome = message[1]
        return outcome
    elif kind == "cancelled":
        raise Cancelled()
    elif kind == "invalid":
        raise InvalidArgument([FieldViolation(f, d) for f, d in message[2]], message[1])
    elif kind == "error":
        raise ChildError(grpc.StatusCode[message[1]], message[2])
    else:  # "crash": the child logged the traceback
        raise TrainingProcessDied(f"the training process failed: {message[1]}")
    return None


def _ask_to_stop(cancel: Connection) -> bool:
    """Sends the child its cancel order (a child already gone needs none)."""
    with contextlib.suppress(OSError):
        cancel.send("cancel")
    return True


def _stop(process: Any, cancel: Connection, grace: float) -> None:
    """Waits for the child to end; asks it to stop, then terminates and kills it if it lingers."""
    process.join(5)
    if process.is_alive():
        _ask_to_stop(cancel)
        process.join(grace)
    if process.is_alive():
        log.warning("training process %s did not stop; terminating it", process.pid)
        process.terminate()
        process.join(10)
    if process.is_alive():
        process.kill()
        process.join(5)


def _watch_parent(parent_pid: int) -> None:
    """Ends this process when its parent is gone (a trainer killed with -9 leaves no orphans)."""
    while True:
        if os.getppid() != parent_pid:
            os._exit(70)
        time.sleep(1.0)


def child_main(task: ChildTask, sender: Connection, orders: Connection) -> None:
    """The training process: runs train() and reports every hook over the pipe."""
    from weather_runtime.logging import configure_logging

    configure_logging("trainer", task.log_level, task.log_format)
    init_tracing("trainer")
    otel_context.attach(context_from_traceparent(task.traceparent))
    threading.Thread(
        target=_watch_parent, args=(task.parent_pid,), name="parent-watch", daemon=True
    ).start()
    lock = threading.Lock()

    def send(message: tuple[object, ...]) -> None:
        with lock, contextlib.suppress(OSError):  # a parent gone: nobody is left to tell
            sender.send(message)

    stop = threading.Event()

    def bridge() -> None:  # an order, or the parent's end closing, stops the training
        with contextlib.suppress(EOFError, OSError):
            orders.recv()
        stop.set()

    threading.Thread(target=bridge, name="cancel-bridge", daemon=True).start()
    hooks = Hooks(
        on_stage=lambda stage, fraction: send(("stage", stage, fraction)),
        on_epoch=lambda epoch, total: send(("epoch", epoch, total)),
        on_trial=lambda trial: send(("trial", trial)),
        cancel=stop,
    )
    code = 1
    try:
        code = _train_and_report(task, hooks, send)
    finally:
        # Leave without the interpreter's teardown, whatever happened: destroying a tf.data
        # iterator whose reader threads wait for the GIL can hang forever, and everything the
        # job wrote is on disk.
        with contextlib.suppress(OSError):
            sender.close()
        shutdown_tracing()  # os._exit skips the exporters' own flush at exit
        logging.shutdown()
        os._exit(code)


def _train_and_report(
    task: ChildTask, hooks: Hooks, send: Callable[[tuple[object, ...]], None]
) -> int:
    """Runs train() and sends how it ended; the process exit code (1 for a crash)."""
    client = None
    try:
        from weather_data.archive import Archive
        from weather_trainer.training import train

        if task.scheduler_address:
            from distributed import Client

            client = Client(
                task.scheduler_address, set_as_default=False, timeout=30, security=task.security
            )
        outcome = train(
            task.spec,
            Archive(task.archive_url),
            pathlib.Path(task.workdir),
            hooks,
            dask_client=client,
            checkpoint_mirror=task.checkpoint_mirror,
        )
        send(("done", outcome))
    except Cancelled:
        send(("cancelled",))
    except InvalidArgument as exc:
        send(("invalid", exc.message, [(v.field, v.description) for v in exc.violations]))
    except DomainError as exc:
        send(("error", exc.code.name, exc.message))
    except BaseException as exc:  # reported to the parent, logged here
        logging.getLogger(__name__).exception("training failed")
        send(("crash", type(exc).__name__))
        return 1
    finally:
        if client is not None:
            client.close()
    return 0
