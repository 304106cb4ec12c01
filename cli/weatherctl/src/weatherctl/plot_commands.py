"""`weatherctl plot ...`: pictures from archive datasets, forecast NetCDF files and the registry.

    weatherctl plot forecast forecast.nc --truth era5-t2m-train      # forecast vs truth maps
    weatherctl plot rmse --model era5-t2m-forecast --version 1 --version 2
    weatherctl plot rmse --from-file rmse.json                        # {"name": {"1": 0.5, ...}}
    weatherctl plot climatology navy-winds-climatology --variable UWND [--month 1]
    weatherctl plot anomaly navy-winds-nino4-anomaly --variable UWND  # ENSO episodes shaded
    weatherctl plot trend navy-winds-trend --variable UWND [--alpha 0.05]

Datasets are read from `--archive` (default `$WEATHER_ARCHIVE` or `var/archive`, the local
suite's archive is `var/local/archive` or `var/demo/archive`); each command prints the path of
the PNG it wrote.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import grpc
from weather.registry.v1 import registry_service_pb2 as rpb
from weather.registry.v1 import registry_service_pb2_grpc as rpb_grpc

if TYPE_CHECKING:
    from weather_data.archive import Archive
    from weatherctl import plots

DEFAULT_ARCHIVE = os.environ.get("WEATHER_ARCHIVE", "var/archive")


def _archive(args: argparse.Namespace) -> Archive:
    from weather_data.archive import Archive

    url = str(args.archive)
    return Archive(url if "://" in url else str(Path(url).resolve()))


def _out(args: argparse.Namespace, default: str) -> Path:
    return Path(args.out) if args.out else Path(default)


def _leads(text: str) -> list[float]:
    return [float(part.strip().removesuffix("h")) for part in text.split(",") if part.strip()]


def plot_forecast(args: argparse.Namespace) -> Path:
    from weatherctl import plots

    forecast = plots.open_forecast(args.forecast)
    content_hash = args.hash or str(forecast.attrs.get("dataset_hash", ""))
    truth = plots.open_dataset(_archive(args), args.truth, content_hash)
    leads = _leads(args.leads) if args.leads else None
    out = _out(args, f"{Path(args.forecast).stem}-vs-truth.png")
    return plots.plot_forecast(forecast, truth, out, args.variable or None, leads)


def rmse_from_file(path: Path) -> dict[str, dict[float, float]]:
    """Series from JSON {"name": {"lead hours": rmse, ...}, ...}."""
    data = json.loads(path.read_text())
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected {{name: {{lead hours: rmse}}}}")
    return {
        str(name): {float(lead): float(value) for lead, value in series.items()}
        for name, series in data.items()
    }


def rmse_from_registry(
    stub: rpb_grpc.RegistryServiceStub, model: str, versions: list[int], variable: str
) -> dict[str, dict[float, float]]:
    """Each version's registered RMSE by lead ("v<N> <family>"), then the baselines registered
    with the first version (persistence, climatology, then any other by name)."""
    from weatherctl.predict_commands import registered_rmse

    series: dict[str, dict[float, float]] = {}
    baselines: dict[str, dict[float, float]] = {}
    for number in versions:
        version = stub.GetModelVersion(
            rpb.GetModelVersionRequest(model_name=model, version=number), timeout=30
        ).version
        found = registered_rmse(version, variable)
        if not found:
            raise ValueError(f"{model} v{number} has no RMSE of {variable}")
        family = version.tags.get("model_family", "") or version.tags.get("family", "")
        label = f"v{number} {family}".strip()
        series[label] = {float(lead): value for lead, (value, _) in found.items()}
        if not baselines:
            for lead, (_, references) in found.items():
                for name, value in references.items():
                    baselines.setdefault(name, {})[float(lead)] = value
    known = [name for name in ("persistence", "climatology") if name in baselines]
    ordered = known + sorted(set(baselines) - set(known))
    return {**series, **{name: baselines[name] for name in ordered}}


def plot_rmse(args: argparse.Namespace) -> Path:
    from weatherctl import plots

    if args.from_file:
        series = rmse_from_file(Path(args.from_file))
        default = f"{Path(args.from_file).stem}.png"
    else:
        if not args.model or not args.version:
            raise ValueError("give --from-file FILE, or --model NAME and --version N (repeatable)")
        from weather_runtime.identity import with_actor
        from weather_runtime.telemetry import instrumented_channel

        security = getattr(args, "security", None)  # TLS files of weatherctl (main)
        channel = with_actor(
            instrumented_channel(
                args.registry,
                security=security,
                token=getattr(args, "token", ""),
                token_file=getattr(args, "token_file", ""),
            ),
            args.actor,
        )
        try:
            stub = rpb_grpc.RegistryServiceStub(channel)
            series = rmse_from_registry(stub, args.model, args.version, args.variable)
        finally:
            channel.close()
        default = f"{args.model}-rmse.png"
    return plots.plot_rmse(series, _out(args, default), args.variable, args.units)


def plot_climatology(args: argparse.Namespace) -> Path:
    from weatherctl import plots

    clim = plots.open_dataset(_archive(args), args.dataset, args.hash)
    suffix = f"-month{args.month:02d}" if args.month else ""
    out = _out(args, f"{args.dataset}-{args.variable.lower()}{suffix}.png")
    return plots.plot_climatology(clim, out, args.variable, args.month or None)


def parse_episode(text: str) -> plots.Episode:
    """LABEL,START,END,KIND (for example "El Nino 1987,1987-01,1987-09,el nino")."""
    from weatherctl import plots

    parts = [part.strip() for part in text.split(",")]
    if len(parts) != 4:
        raise ValueError(f"an episode is LABEL,START,END,KIND (got {text!r})")
    plots.episode_colour(parts[3])
    return parts[0], parts[1], parts[2], parts[3]


def plot_anomaly(args: argparse.Namespace) -> Path:
    from weatherctl import plots

    ds = plots.open_dataset(_archive(args), args.dataset, args.hash)
    episodes: list[plots.Episode] = (
        [parse_episode(e) for e in args.episode]
        if args.episode
        else ([] if args.no_episodes else list(plots.ENSO_EPISODES))
    )
    out = _out(args, f"{args.dataset}-{args.variable.lower()}.png")
    return plots.plot_anomaly(plots.series_of(ds, args.variable), out, episodes)


def plot_trend(args: argparse.Namespace) -> Path:
    from weatherctl import plots

    trend = plots.open_dataset(_archive(args), args.dataset, args.hash)
    out = _out(args, f"{args.dataset}-{args.variable.lower()}.png")
    return plots.plot_trend(trend, out, args.variable, args.alpha)


def run(args: argparse.Namespace) -> int:
    """Runs a plot subcommand; prints the path written."""
    try:
        path = args.plot(args)
    except (OSError, LookupError, ValueError) as exc:
        print(f"weatherctl: plot {args.cmd}: {exc}", file=sys.stderr)
        return 1
    except grpc.RpcError as exc:
        print(f"weatherctl: {exc.code().name}: {exc.details()}", file=sys.stderr)  # type: ignore[attr-defined]
        return 1
    print(f"wrote {path}")
    return 0


def add_parser(commands: Any) -> None:
    """Adds the plot command group."""
    group = commands.add_parser("plot", help="pictures (PNG) of forecasts, scores and analyses")
    plot = group.add_subparsers(dest="cmd", required=True)

    def common(p: argparse.ArgumentParser, handler: Any) -> None:
        p.add_argument("--archive", default=DEFAULT_ARCHIVE, help="archive folder or URL")
        p.add_argument("--hash", default="", help="content hash of the dataset version")
        p.add_argument("--out", help="PNG to write (default: named after the input)")
        p.set_defaults(plot=handler, service="plot")

    p = plot.add_parser("forecast", help="forecast vs truth maps at several leads")
    p.add_argument("forecast", help="NetCDF from `weatherctl predict forecast --out`")
    p.add_argument("--truth", required=True, help="archive dataset holding the truth")
    p.add_argument("--variable", default="", help="variable (default: the forecast's first)")
    p.add_argument("--leads", default="", help="lead hours, e.g. 1,6,12,24 (default)")
    common(p, plot_forecast)
    p = plot.add_parser("rmse", help="RMSE by lead of model versions and the baselines")
    p.add_argument("--from-file", help='JSON {"name": {"lead hours": rmse}}')
    p.add_argument("--model", help="registered model (RMSE read from the registry)")
    p.add_argument("--version", type=int, action="append", help="version (repeatable)")
    p.add_argument("--variable", default="t2m")
    p.add_argument("--units", default="K")
    common(p, plot_rmse)
    p = plot.add_parser("climatology", help="climatology map (annual mean or one month)")
    p.add_argument("dataset", help="a climatology analysis (or any dataset with time)")
    p.add_argument("--variable", default="UWND")
    p.add_argument("--month", type=int, default=0, help="calendar month 1-12 (default: annual)")
    common(p, plot_climatology)
    p = plot.add_parser("anomaly", help="area-mean anomaly series with episodes shaded")
    p.add_argument("dataset", help="an area-mean analysis (a series over time)")
    p.add_argument("--variable", default="UWND")
    p.add_argument(
        "--episode",
        action="append",
        help="LABEL,START,END,KIND (kind: el nino / la nina); default: the demo's ENSO episodes",
    )
    p.add_argument("--no-episodes", action="store_true", help="shade nothing")
    common(p, plot_anomaly)
    p = plot.add_parser("trend", help="trend map with significant points dotted")
    p.add_argument("dataset", help="a trend analysis (<variable>_slope, <variable>_pvalue)")
    p.add_argument("--variable", default="UWND")
    p.add_argument("--alpha", type=float, default=0.05, help="significance level")
    common(p, plot_trend)
