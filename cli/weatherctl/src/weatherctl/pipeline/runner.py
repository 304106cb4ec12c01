"""Runs a pipeline's steps in order, skipping the ones whose key and inputs are unchanged.

The run is one OpenTelemetry span ("pipeline-run") with a child span per step ("pipeline-step
NAME", attributes step key and whether it was skipped), so every service call of every step
shares the run's trace id. Each step's record is written to the state file as it starts and
ends; the first failing step ends the run, and the next run starts again from it.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from opentelemetry import trace

from weather_runtime.telemetry import init_tracing
from weatherctl.output import table
from weatherctl.pipeline.spec import Pipeline
from weatherctl.pipeline.state import FAILED, SUCCEEDED, State, Step, plan, step_keys
from weatherctl.pipeline.steps import EXECUTORS, Context, Endpoints, StepFailed, skipped_line

STATE_FILE = "state.json"


def run_dir(data_dir: Path, pipeline: Pipeline) -> Path:
    """Where a pipeline keeps its state and outputs in a suite's data folder."""
    return data_dir / "pipeline" / pipeline.name


@dataclass(frozen=True)
class RunResult:
    """How a run ended: the exit code, the trace id, and the steps run, skipped and failed."""

    code: int
    trace_id: str
    ran: list[str]
    skipped: list[str]
    failed: str = ""


def run(
    pipeline: Pipeline,
    endpoints: Endpoints,
    data_dir: Path,
    actor: str,
    force: Iterable[str] = (),
) -> RunResult:
    """Runs the pipeline against the services at endpoints, its state under data_dir."""
    init_tracing("weatherctl")
    tracer = trace.get_tracer("weatherctl.pipeline")
    steps = plan(pipeline)
    forced = set(force)
    unknown = forced - {s.name for s in steps}
    if unknown:
        raise ValueError(f"no step {', '.join(sorted(unknown))} in {pipeline.file.name}")
    folder = run_dir(data_dir, pipeline)
    state, note = State.load(folder / STATE_FILE, pipeline.name, endpoints.archive_url)
    if note:
        print(f"note: {note}")
    ctx = Context(pipeline, endpoints, state, folder, data_dir, actor)
    started = time.time()
    attributes = {"pipeline.name": pipeline.name, "pipeline.file": str(pipeline.file)}
    with tracer.start_as_current_span("pipeline-run", attributes=attributes) as span:
        trace_id = format(span.get_span_context().trace_id, "032x")
        print(f"\npipeline {pipeline.name} ({len(steps)} steps), state in {ctx.relative(folder)}")
        try:
            result = _run_steps(ctx, steps, forced, tracer, trace_id)
        except KeyboardInterrupt:
            result = RunResult(130, trace_id, [], [], "")
        finally:
            ctx.close()
        span.set_attribute("pipeline.steps.run", len(result.ran))
        span.set_attribute("pipeline.steps.skipped", len(result.skipped))
    state.record_run(
        {
            "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
            "seconds": round(time.time() - started, 1),
            "trace_id": trace_id,
            "ran": result.ran,
            "skipped": result.skipped,
            "failed": result.failed,
            "code": result.code,
        }
    )
    ended = "finished" if result.code == 0 else f"stopped at {result.failed or 'an interruption'}"
    counts = f"{len(result.ran)} steps run, {len(result.skipped)} skipped as unchanged"
    print(f"\npipeline {pipeline.name} {ended}: {counts}", flush=True)
    return result


def _run_steps(
    ctx: Context, steps: list[Step], forced: set[str], tracer: trace.Tracer, trace_id: str
) -> RunResult:
    """The steps in order, each in its span; stops at the first failure."""
    keys = step_keys(steps)
    ran: list[str] = []
    skipped: list[str] = []
    for number, step in enumerate(steps, 1):
        key = keys[step.name]
        fresh, why = ctx.state.verdict(step, key)
        if step.name in forced:
            fresh, why = False, "forced"
        head = f"\n[{number}/{len(steps)}] {step.name}  key {key[7:19]}"
        with tracer.start_as_current_span(f"pipeline-step {step.name}") as span:
            span.set_attribute("pipeline.step.key", key)
            span.set_attribute("pipeline.step.skipped", fresh)
            if fresh:
                done = skipped_line(step, ctx.state.outputs(step.name))
                print(f"{head}: unchanged, skipped ({done})", flush=True)
                skipped.append(step.name)
                continue
            print(f"{head}: running ({why})", flush=True)
            error = _execute(ctx, step, key)
            if error:
                span.set_status(trace.Status(trace.StatusCode.ERROR, error))
                print(f"\nstep {step.name} failed: {error}")
                where = ctx.relative(ctx.state.path)
                print(f"  recorded in {where}; `weatherctl pipeline run` resumes here")
                return RunResult(1, trace_id, ran, skipped, step.name)
            ran.append(step.name)
    return RunResult(0, trace_id, ran, skipped)


def _execute(ctx: Context, step: Step, key: str) -> str:
    """Runs one step and records it; returns its error ("" when it succeeded)."""
    ctx.state.begin(step, key)
    began = time.monotonic()
    outputs: dict[str, Any] = {}
    error = ""
    try:
        outputs = EXECUTORS[step.kind](ctx, step)
    except StepFailed as exc:
        error, outputs = str(exc), exc.outputs
    except grpc.RpcError as exc:
        error = f"{exc.code().name}: {exc.details()}"  # type: ignore[attr-defined]
    except (TimeoutError, LookupError, RuntimeError, OSError, ValueError) as exc:
        error = f"{type(exc).__name__}: {exc}"
    except KeyboardInterrupt:
        ctx.state.finish(step, {}, "interrupted", time.monotonic() - began)
        raise
    ctx.state.finish(step, outputs, error, time.monotonic() - began)
    return error


def status(pipeline: Pipeline, data_dir: Path) -> str:
    """The steps with their keys and where each stands, as a table (no service is called)."""
    steps = plan(pipeline)
    keys = step_keys(steps)
    path = run_dir(data_dir, pipeline) / STATE_FILE
    state = State.read(path, pipeline.name)
    rows = []
    reruns: set[str] = set()
    for step in steps:
        entry = state.steps.get(step.name, {})
        fresh, why = state.verdict(step, keys[step.name])
        waiting = [u for u in step.needs if u in reruns]
        if fresh and waiting:
            where = f"runs if {', '.join(waiting)} produce something new"
            reruns.add(step.name)
        elif fresh:
            where = "up to date"
        else:
            where = f"will run: {why}"
            reruns.add(step.name)
        recorded = entry.get("status", "-")
        if recorded == FAILED:
            recorded += f" ({entry.get('error', '')[:60]})"
        elif recorded == SUCCEEDED:
            recorded += f" {entry.get('finished', '')}"
        rows.append([step.name, keys[step.name][7:19], recorded, where])
    text = table(rows, ["step", "key", "last run", "next run"])
    runs = state.data.get("runs") or []
    where = f"state {path}" + ("" if path.exists() else " (none yet)")
    if runs:
        last = runs[-1]
        ended = "ok" if last.get("code") == 0 else f"failed at {last.get('failed') or '?'}"
        where += f"; last run {last.get('started')} {ended}, trace {last.get('trace_id')}"
    return f"pipeline {pipeline.name} ({pipeline.file})\n{where}\n{text}"
