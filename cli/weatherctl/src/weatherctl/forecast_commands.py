"""The `weatherctl predict` commands: what a served model is, and forecasts from the archive."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import grpc
import numpy as np
from google.protobuf import duration_pb2, timestamp_pb2
from weather.common.v1 import dataset_pb2, field_pb2
from weather.predictor.v1 import predictor_service_pb2 as pb
from weather.predictor.v1 import predictor_service_pb2_grpc as pb_grpc

from weatherctl.output import emit_json, table
from weatherctl.progress import ProgressBar

HOUR = 3600
METHODS = {pb.FORECAST_METHOD_DIRECT: "direct", pb.FORECAST_METHOD_ROLLOUT: "rollout"}


def selector(args: argparse.Namespace) -> pb.ModelSelector:
    """The model selector of the command line (--version wins over --alias; neither: the
    predictor's default alias)."""
    if args.version:
        return pb.ModelSelector(name=args.model, version=args.version)
    return pb.ModelSelector(name=args.model, alias=args.alias or "")


def parse_init(text: str) -> timestamp_pb2.Timestamp:
    """An ISO 8601 UTC time (2019-03-25T00:00) as a Timestamp; ValueError when it is none."""
    problem = ValueError(f"{text!r} is not a time (write it like 2019-03-25T00:00)")
    try:
        when = np.datetime64(text.rstrip("Z"), "s")
    except ValueError:
        raise problem from None
    if np.isnat(when):
        raise problem
    return timestamp_pb2.Timestamp(seconds=int(when.astype(np.int64)))


def parse_leads(text: str) -> list[duration_pb2.Duration]:
    """Lead hours "1,6,24" or a range "1-24" as Durations; ValueError on anything else."""
    hours: list[float] = []
    for part in (p.strip().removesuffix("h") for p in text.split(",") if p.strip()):
        if "-" in part:
            first, last = (int(x) for x in part.split("-", 1))
            hours += [float(h) for h in range(first, last + 1)]
        else:
            hours.append(float(part))
    if not hours:
        raise ValueError("name at least one lead hour")
    return [duration_pb2.Duration(seconds=round(h * HOUR)) for h in hours]


def predict_info(stub: pb_grpc.PredictorServiceStub, args: argparse.Namespace) -> int:
    info = stub.GetModelInfo(pb.GetModelInfoRequest(model=selector(args)), timeout=args.timeout)
    if args.json:
        emit_json(info)
        return 0
    p, meta = info.provenance, info.metadata
    leads = ", ".join(f"{d.seconds / HOUR:g}" for d in meta.lead_times)
    print(f"{p.model_name} v{p.model_version}" + (f" ({p.alias})" if p.alias else ""))
    print(f"  variables   {', '.join(meta.variables)}")
    print(f"  grid        {len(meta.latitudes)} x {len(meta.longitudes)} (lat x lon)")
    print(f"  window      {meta.input_steps} steps of {meta.time_step.seconds / HOUR:g} h")
    print(f"  trained     leads {leads} h (longer ones by rollout)")
    print(f"  dataset     {meta.dataset.dataset_id} {meta.dataset.content_hash[:16]}")
    print(f"  statistics  {meta.statistics_hash[:16]}")
    rows = [["in", t.name, _dtype(t.dtype), list(t.shape)] for t in info.inputs]
    rows += [["out", t.name, _dtype(t.dtype), list(t.shape)] for t in info.outputs]
    print(table(rows, ["", "tensor", "dtype", "shape"]))
    return 0


def _dtype(value: int) -> str:
    try:
        return field_pb2.DataType.Name(value).removeprefix("DATA_TYPE_").lower()
    except ValueError:
        return str(value)


def predict_forecast(stub: pb_grpc.PredictorServiceStub, args: argparse.Namespace) -> int:
    try:
        init = parse_init(args.init)
        leads = parse_leads(args.leads)
    except ValueError as exc:
        print(f"weatherctl: {exc}", file=sys.stderr)
        return 2
    request = pb.ForecastRequest(
        model=selector(args),
        init_time=init,
        lead_times=leads,
        dataset=dataset_pb2.DatasetRef(dataset_id=args.dataset, content_hash=args.hash or ""),
    )
    responses = []
    with ProgressBar(f"forecast {args.model}", len(leads), unit="leads", quiet=args.quiet) as bar:
        for response in stub.Forecast(request, timeout=args.timeout):
            responses.append(response)
            bar.advance()
    if args.json:
        for response in responses:
            emit_json(response)
    else:
        print(forecast_table(responses))
    if args.out:
        path = write_netcdf(responses, init, Path(args.out))
        print(f"wrote {path}")
    return 0


def forecast_table(responses: list[pb.ForecastResponse]) -> str:
    """One row per lead and variable: valid time, method, answering version, field summary."""
    rows = []
    for r in responses:
        valid = np.datetime64(r.valid_time.seconds, "s")
        for field in r.outputs:
            values = np.frombuffer(field.data, "<f4")
            rows.append(
                [
                    f"+{r.lead_time.seconds / HOUR:g} h",
                    str(valid),
                    field.variable,
                    METHODS.get(r.method, "?"),
                    f"v{r.provenance.model_version}",
                    f"{values.min():.2f}",
                    f"{values.mean():.2f}",
                    f"{values.max():.2f}",
                    field.units,
                ]
            )
    headers = ["lead", "valid time", "var", "method", "version", "min", "mean", "max", "units"]
    return table(rows, headers)


def write_netcdf(
    responses: list[pb.ForecastResponse], init: timestamp_pb2.Timestamp, path: Path
) -> Path:
    """The forecast as NetCDF: one variable per output, dims (lead_time, latitude, longitude),
    valid_time beside lead_time, and the provenance as attributes."""
    import xarray as xr

    if not responses:
        raise ValueError("no forecast to write")
    first = responses[0]
    axes = {a.name: np.asarray(a.values) for a in first.outputs[0].axes}
    lead = np.array([r.lead_time.seconds for r in responses], "timedelta64[s]")
    data_vars = {}
    for index, field in enumerate(first.outputs):
        stacked = np.stack(
            [
                np.frombuffer(r.outputs[index].data, "<f4").reshape(tuple(r.outputs[index].shape))
                for r in responses
            ]
        )
        data_vars[field.variable] = (
            ("lead_time", "latitude", "longitude"),
            stacked,
            {"units": field.units},
        )
    coords: dict[str, Any] = {
        "lead_time": lead,
        "valid_time": ("lead_time", np.datetime64(init.seconds, "s") + lead),
    }
    for name in ("latitude", "longitude"):
        if name in axes:
            coords[name] = axes[name]
    p = first.provenance
    attrs = {
        "init_time": str(np.datetime64(init.seconds, "s")),
        "model_name": p.model_name,
        "model_version": int(p.model_version),
        "alias": p.alias,
        "dataset_hash": p.dataset_hash,
        "statistics_hash": p.statistics_hash,
        "trace_id": p.trace_id,
        "methods": ",".join(METHODS.get(r.method, "?") for r in responses),
    }
    xr.Dataset(data_vars, coords=coords, attrs=attrs).to_netcdf(path, engine="netcdf4")
    return path


def run(channel: grpc.Channel, args: argparse.Namespace) -> int:
    """Runs a predict subcommand on a channel to the predictor."""
    return int(args.handler(pb_grpc.PredictorServiceStub(channel), args))


def add_parser(commands: Any) -> None:
    """Adds the predict command group."""
    group = commands.add_parser("predict", help="predictor service commands").add_subparsers(
        dest="cmd", required=True
    )

    def model_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("model", help="registered model name")
        p.add_argument("--alias", default="", help="alias (default: the predictor's default)")
        p.add_argument("--version", type=int, default=0, help="version number (wins over alias)")

    p = group.add_parser("info", help="signature, grid, leads and lineage of a served model")
    model_options(p)
    p.set_defaults(handler=predict_info, service="predictor")
    p = group.add_parser("forecast", help="forecast from an archived dataset's window")
    model_options(p)
    p.add_argument("--dataset", required=True, help="dataset id in the predictor's archive")
    p.add_argument("--hash", default="", help="content hash of the version (default: latest)")
    p.add_argument("--init", required=True, help="init time, UTC (2019-03-25T00:00)")
    p.add_argument("--leads", default="1-24", help="lead hours: 1,6,24 or 1-24 (default)")
    p.add_argument("--out", help="write the forecast to this NetCDF file")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    p.set_defaults(handler=predict_forecast, service="predictor")
