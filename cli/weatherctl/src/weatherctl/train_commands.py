"""The `weatherctl train` commands: start a job from a YAML spec, follow, list, cancel, resume."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import grpc
import yaml
from google.protobuf import json_format
from weather.trainer.v1 import trainer_service_pb2 as pb
from weather.trainer.v1 import trainer_service_pb2_grpc as pb_grpc

from weather_scores.skill import beats
from weatherctl.leads import parse_leads
from weatherctl.output import emit_json, table
from weatherctl.progress import ProgressBar

STATES = {
    pb.JOB_STATE_SUCCEEDED: "SUCCEEDED",
    pb.JOB_STATE_FAILED: "FAILED",
    pb.JOB_STATE_CANCELLED: "CANCELLED",
    pb.JOB_STATE_INTERRUPTED: "INTERRUPTED",
    pb.JOB_STATE_QUEUED: "QUEUED",
    pb.JOB_STATE_RUNNING: "RUNNING",
}
ENDED = (
    pb.JOB_STATE_SUCCEEDED,
    pb.JOB_STATE_FAILED,
    pb.JOB_STATE_CANCELLED,
    pb.JOB_STATE_INTERRUPTED,
)


class SpecError(ValueError):
    """A job spec file that cannot be read as a JobSpec."""


def with_lead_times(data: dict[str, Any]) -> dict[str, Any]:
    """JobSpec fields with the shorthand `lead_hours` ("1-72", "1,6,24", a list of hours)
    written out as lead_times; SpecError when it is malformed or lead_times is given too."""
    if "lead_hours" not in data:
        return data
    data = dict(data)
    if "lead_times" in data or "leadTimes" in data:
        raise SpecError("give lead_hours or lead_times, not both")
    try:
        hours = parse_leads(data.pop("lead_hours"))
    except ValueError as exc:
        raise SpecError(f"lead_hours: {exc}") from None
    data["lead_times"] = [f"{h * 3600}s" for h in hours]
    return data


def spec_from_yaml(text: str) -> pb.JobSpec:
    """A JobSpec from YAML in protobuf's JSON mapping (durations as "3600s"); `lead_hours`
    ("1-72", "1,6,24" or a list of hours) may stand for lead_times."""
    data = yaml.safe_load(text)
    if not isinstance(data, dict):
        raise SpecError("a job spec file must hold a mapping")
    data = with_lead_times(data)
    try:
        return json_format.ParseDict(data, pb.JobSpec())
    except json_format.ParseError as exc:
        raise SpecError(str(exc)) from None


def score_table(job: pb.Job) -> str:
    """The skill table: model (direct or rolled out), persistence and climatology RMSE and skill
    score by lead."""
    rows = [
        [
            s.variable,
            f"+{s.lead_time.seconds / 3600:g} h",
            s.method or "direct",
            f"{s.model.rmse:.3f}",
            f"{s.persistence.rmse:.3f}",
            f"{s.climatology.rmse:.3f}",
            f"{s.skill_score:+.3f}",
            f"{s.model.acc:.3f}",
            "yes" if beats(s.model.rmse, (s.persistence.rmse, s.climatology.rmse)) else "NO",
        ]
        for s in job.scores
    ]
    headers = ["var", "lead", "method", "model", "persist.", "clim.", "skill", "acc", "beats both"]
    return table(rows, headers)


def describe(job: pb.Job) -> str:
    """One line about a job."""
    state = STATES.get(job.state, "?")
    progress = job.progress
    text = f"{job.job_id}  {state:<11} {job.spec.model_family:<11} {progress.stage}"
    if progress.total_epochs:
        text += f"  epoch {progress.epoch}/{progress.total_epochs}"
    if progress.best_validation_loss:
        text += f"  best val {progress.best_validation_loss:.4f}"
    if job.registered_version:
        text += f"  -> {job.registered_model} v{job.registered_version}"
    if job.HasField("error"):
        text += f"  {job.error.code}: {job.error.message}"
    return text


def losses(job: pb.Job) -> str:
    """The last epoch's training and validation loss (normalised units), or nothing."""
    if not job.epochs:
        return ""
    epoch = job.epochs[-1]
    return f"loss {epoch.train_loss:.4f}  val loss {epoch.validation_loss:.4f}"


def follow(stub: pb_grpc.TrainerServiceStub, job_id: str, quiet: bool = False) -> pb.Job:
    """Watches a job until it ends: on stderr a bar of epochs with the stage, the last epoch's
    losses and the trainer's estimate of the time left (plain lines, one per epoch and stage,
    when stderr is no terminal); then one line about the finished job. Returns the job."""
    last = None
    with ProgressBar(f"train {job_id}", None, unit="epochs", quiet=quiet, plain_step=1) as bar:
        for message in stub.WatchJob(pb.WatchJobRequest(job_id=job_id), timeout=24 * 3600):
            last = message.job
            progress = last.progress
            bar.label = f"train {last.spec.model_family or job_id}"
            bar.update(
                progress.epoch,
                total=progress.total_epochs or None,
                stage=progress.stage,
                detail=losses(last),
                seconds_left=progress.seconds_left,
            )
    assert last is not None
    if not quiet:
        print(f"  {describe(last)}", flush=True)
    return last  # type: ignore[no-any-return]


def train_start(stub: pb_grpc.TrainerServiceStub, args: argparse.Namespace) -> int:
    try:
        spec = spec_from_yaml(Path(args.spec).read_text())
    except (OSError, SpecError) as exc:
        print(f"weatherctl: {args.spec}: {exc}", file=sys.stderr)
        return 2
    for item in args.set or []:
        name, _, value = item.partition("=")
        spec.hyperparameters[name] = float(value)
    if args.epochs:
        spec.epochs = args.epochs
    response = stub.StartTraining(
        pb.StartTrainingRequest(spec=spec, validate_only=args.validate_only), timeout=args.timeout
    )
    if args.validate_only:
        print("the job spec is valid")
        return 0
    job = response.job
    print(f"job {job.job_id} queued")
    if args.no_wait:
        return 0
    job = follow(stub, job.job_id, args.quiet)
    return _report(job, args)


def _report(job: pb.Job, args: argparse.Namespace) -> int:
    if args.json:
        emit_json(job)
    elif job.scores:
        print(score_table(job))
    return 0 if job.state == pb.JOB_STATE_SUCCEEDED else 1


def train_get(stub: pb_grpc.TrainerServiceStub, args: argparse.Namespace) -> int:
    job = stub.GetJob(pb.GetJobRequest(job_id=args.job_id), timeout=args.timeout).job
    if args.json:
        emit_json(job)
        return 0
    print(describe(job))
    if job.scores:
        print(score_table(job))
    return 0


def train_list(stub: pb_grpc.TrainerServiceStub, args: argparse.Namespace) -> int:
    response = stub.ListJobs(
        pb.ListJobsRequest(model_family=args.family or "", dataset_id=args.dataset or ""),
        timeout=args.timeout,
    )
    for job in response.jobs:
        print(describe(job))
    return 0


def train_watch(stub: pb_grpc.TrainerServiceStub, args: argparse.Namespace) -> int:
    return _report(follow(stub, args.job_id), args)


def train_cancel(stub: pb_grpc.TrainerServiceStub, args: argparse.Namespace) -> int:
    job = stub.CancelJob(pb.CancelJobRequest(job_id=args.job_id), timeout=args.timeout).job
    print(describe(job))
    return 0


def train_resume(stub: pb_grpc.TrainerServiceStub, args: argparse.Namespace) -> int:
    job = stub.ResumeJob(pb.ResumeJobRequest(job_id=args.job_id), timeout=args.timeout).job
    print(describe(job))
    return 0 if args.no_wait else _report(follow(stub, job.job_id), args)


def run(channel: grpc.Channel, args: argparse.Namespace) -> int:
    """Runs a train subcommand on a channel to the trainer."""
    return int(args.handler(pb_grpc.TrainerServiceStub(channel), args))


def add_parser(commands: Any) -> None:
    """Adds the train command group."""
    train = commands.add_parser("train", help="trainer service commands").add_subparsers(
        dest="cmd", required=True
    )
    p = train.add_parser("start", help="start a job from a YAML job spec and follow it")
    p.add_argument("spec", help="YAML JobSpec (protobuf JSON names; durations like 3600s)")
    p.add_argument("--set", action="append", help="hyperparameter NAME=VALUE (repeatable)")
    p.add_argument("--epochs", type=int, default=0, help="override the spec's epochs")
    p.add_argument("--validate-only", action="store_true")
    p.add_argument("--no-wait", action="store_true", help="print the job id and return")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(handler=train_start, service="trainer")
    p = train.add_parser("get", help="a job with its scores")
    p.add_argument("job_id")
    p.set_defaults(handler=train_get, service="trainer")
    p = train.add_parser("list", help="jobs, newest first")
    p.add_argument("--family")
    p.add_argument("--dataset")
    p.set_defaults(handler=train_list, service="trainer")
    p = train.add_parser("watch", help="follow a job until it ends")
    p.add_argument("job_id")
    p.set_defaults(handler=train_watch, service="trainer")
    p = train.add_parser("cancel", help="cancel a job")
    p.add_argument("job_id")
    p.set_defaults(handler=train_cancel, service="trainer")
    p = train.add_parser("resume", help="resume an interrupted job from its last checkpoint")
    p.add_argument("job_id")
    p.add_argument("--no-wait", action="store_true")
    p.set_defaults(handler=train_resume, service="trainer")
