"""Fault trials: the registry is down (SIGKILL, or stalled by SIGSTOP) while the trainer finishes a
job, and comes back a few seconds later (in the third variant the trainer restarts meanwhile and
resumes the waiting job); each job must be registered exactly once.

A real registry process (SQLite) on a fixed port, the trainer's domain service in this process
(training in a thread, registering over gRPC); per trial: how long the registry was away, the
trainer's registry calls during the fault by status, the job's end state and the versions it
registered. Writes results/registry_outage-<UTC stamp>.json.

    .venv/bin/python bench/faults/registry_outage.py [--trials N]
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import signal
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RESULTS = Path(__file__).resolve().parent / "results"
sys.path.insert(0, str(ROOT))

import grpc  # noqa: E402
from weather.common.v1 import dataset_pb2, pagination_pb2  # noqa: E402
from weather.registry.v1 import registry_service_pb2 as rpb  # noqa: E402
from weather.registry.v1 import registry_service_pb2_grpc as rpb_grpc  # noqa: E402
from weather.trainer.v1 import trainer_service_pb2 as pb  # noqa: E402

from tests.trainer.service_support import DATASET, build_demo_archive  # noqa: E402
from tests.trainer.test_registry_outage import start_registry  # noqa: E402
from weather_data.archive import Archive  # noqa: E402
from weather_data.cluster import DaskRuntime, DaskSettings  # noqa: E402
from weather_runtime.work import State  # noqa: E402
from weather_trainer.convert import spec_from_pb  # noqa: E402
from weather_trainer.jobs import JobStore  # noqa: E402
from weather_trainer.registration import Registrar  # noqa: E402
from weather_trainer.service import WAITING, TrainerService  # noqa: E402
from weatherctl.launcher import free_port  # noqa: E402

VARIANTS = ("killed", "stalled", "trainer-restarted")
CALL_TIMEOUT = 2.0  # the trainer's registry call deadline: a stalled registry times calls out
SETTLE_SECONDS = 7.0  # after the job ends: longer than the trainer's longest retry delay


@dataclass
class Outcome:
    """One trial."""

    trial: int
    variant: str
    registry_away_seconds: float
    job_waited_for_the_registry: bool
    registry_calls_during_fault: dict[str, int]
    job_state: str
    job_error: str
    registered_version: int
    seconds_to_register_after_return: float
    versions_registered_for_job: int
    versions_of_model: int
    job_resumes: int


class Trainer:
    """The trainer's domain service in this process; a trial may restart it (close, then a new
    service over the same job store that resumes interrupted jobs, as TRAINER_AUTO_RESUME)."""

    def __init__(self, make: Callable[[], TrainerService]) -> None:
        self._make = make
        self.service = make()

    def restart(self) -> None:
        self.service.close()
        self.service = self._make()
        self.service.recover(auto_resume=True)


def versions_of(address: str, model: str) -> list[rpb.ModelVersion]:
    with grpc.insecure_channel(address) as channel:
        return list(
            rpb_grpc.RegistryServiceStub(channel)
            .ListModelVersions(
                rpb.ListModelVersionsRequest(
                    model_name=model, page=pagination_pb2.PageRequest(page_size=100)
                ),
                timeout=30,
            )
            .versions
        )


def wait_until(test, timeout: float, what: str, poll: float = 0.05) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not test():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not happen within {timeout} s")
        time.sleep(poll)


def trial(
    number: int,
    variant: str,
    down: float,
    trainer: Trainer,
    registrar: Registrar,
    folder: Path,
    port: int,
) -> Outcome:
    registry = start_registry(port, folder)
    model = f"outage-{number}"
    service = trainer.service
    try:
        before = Counter(registrar.calls())
        spec = spec_from_pb(
            pb.JobSpec(
                dataset=dataset_pb2.DatasetRef(dataset_id=DATASET),
                model_family="persistence",
                input_steps=1,
                epochs=1,
                seed=number,
                model_name=model,
            ),
            service.dataset_step_seconds,
        )
        if variant in ("killed", "trainer-restarted"):  # gone before the job registers
            registry.kill()
            fault_start = time.monotonic()
            record = service.start(spec, "bench")
            assert record is not None
            job_id = record.job_id
        else:  # frozen the moment the job starts registering: calls in flight get no answer
            warm_up = service.start(replace(spec, model_name=f"warm-up-{number}"), "bench")
            assert warm_up is not None  # a job registered first: the channel is connected
            wait_until(lambda: service.get(warm_up.job_id).final, 300, "warm-up job")
            before = Counter(registrar.calls())
            record = service.start(spec, "bench")
            assert record is not None
            job_id = record.job_id
            wait_until(
                lambda: service.get(job_id).progress.stage in ("registering", WAITING, "done"),
                300,
                "registering stage",
                poll=0.001,
            )
            registry.process.send_signal(signal.SIGSTOP)
            fault_start = time.monotonic()
        wait_until(
            lambda: service.get(job_id).progress.stage == WAITING or service.get(job_id).final,
            300,
            "waiting stage",
        )
        reached = service.get(job_id).progress.stage == WAITING
        if variant == "trainer-restarted":  # the waiting job is INTERRUPTED, resumed at start
            trainer.restart()
            service = trainer.service
        time.sleep(down)
        if variant in ("killed", "trainer-restarted"):
            registry = start_registry(port, folder)
        else:
            registry.process.send_signal(signal.SIGCONT)
        back = time.monotonic()
        wait_until(lambda: service.get(job_id).final, 300, "job end")
        ended = time.monotonic()
        during = Counter(registrar.calls())
        during.subtract(before)
        time.sleep(SETTLE_SECONDS)
        job = service.get(job_id)
        found = versions_of(registry.address, model)
        return Outcome(
            trial=number,
            variant=variant,
            registry_away_seconds=round(back - fault_start, 2),
            job_waited_for_the_registry=reached,
            registry_calls_during_fault={k: v for k, v in during.items() if v},
            job_state=job.state,
            job_error=job.error.message if job.error else "",
            registered_version=job.registered_version,
            seconds_to_register_after_return=round(ended - back, 2),
            versions_registered_for_job=sum(
                1 for v in found if v.lineage.training_job_id == job_id
            ),
            versions_of_model=len(found),
            job_resumes=job.resumes,
        )
    finally:
        if registry.process.poll() is None:
            registry.process.send_signal(signal.SIGCONT)
        registry.terminate()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=9)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    pick = random.Random(args.seed)
    from weather_trainer.training import train, validate  # TensorFlow loads here

    started = time.monotonic()
    results = []
    with tempfile.TemporaryDirectory(prefix="weather-registry-outage-") as name:
        folder = Path(name)
        runtime = DaskRuntime(DaskSettings(local_workers=1, local_threads=1, memory_limit="2GiB"))
        try:
            archive = build_demo_archive(folder / "archive", runtime)
        finally:
            runtime.close()
        port = free_port()
        registrar = Registrar(f"127.0.0.1:{port}", CALL_TIMEOUT, wait_seconds=600)
        trainer = Trainer(
            lambda: TrainerService(
                JobStore(folder / "work"),
                Archive(str(archive)),
                train=train,
                validate=validate,
                registrar=registrar,
                code_version="bench",
            )
        )
        try:
            for number in range(1, args.trials + 1):
                variant = VARIANTS[(number - 1) % len(VARIANTS)]
                down = round(pick.uniform(1.0, 6.0), 1)
                outcome = trial(number, variant, down, trainer, registrar, folder, port)
                print(json.dumps(asdict(outcome)), flush=True)
                results.append(outcome)
        finally:
            trainer.service.close()
            registrar.close()
    failures: Counter[str] = Counter()
    for outcome in results:
        failures.update({k: v for k, v in outcome.registry_calls_during_fault.items() if k != "OK"})
    summary = {
        "trials": len(results),
        "jobs_succeeded": sum(1 for r in results if r.job_state == State.SUCCEEDED),
        "registry_calls_during_fault": sum(
            sum(r.registry_calls_during_fault.values()) for r in results
        ),
        "failed_calls_by_status": dict(failures),
        "versions_registered_per_job": sorted({r.versions_registered_for_job for r in results}),
        "jobs_with_duplicate_or_missing_version": sum(
            1 for r in results if r.versions_registered_for_job != 1
        ),
        "seconds": round(time.monotonic() - started, 1),
    }
    print(json.dumps(summary, indent=1))
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(tz=UTC).strftime("%Y%m%dT%H%M%SZ")
    out = RESULTS / f"registry_outage-{stamp}.json"
    out.write_text(
        json.dumps(
            {
                "scenario": "registry down while the trainer finishes a job",
                "host": {"python": platform.python_version(), "machine": platform.machine()},
                "summary": summary,
                "trials": [asdict(r) for r in results],
            },
            indent=1,
        )
    )
    print(f"wrote {out}")
    if summary["jobs_with_duplicate_or_missing_version"] or summary["jobs_succeeded"] != len(
        results
    ):
        sys.exit(1)


if __name__ == "__main__":
    main()
