"""Pictures of forecasts, scores and climate analyses as PNG files (matplotlib's Agg canvas).

Every picture has a `*_figure` function that takes xarray / numpy data and returns the
matplotlib Figure (what tests inspect), and a `plot_*` function that writes it to a path and
returns the path. Maps are plain latitude/longitude axes (no coastlines), cells drawn with
pcolormesh at their centres, with colour bars, units, titles and dates. No pyplot: figures are
built on their own Agg canvas, so nothing global changes and threads do not interfere.

`demo_pictures` writes the pictures of a pipeline run (forecast maps, RMSE by lead,
climatology, ENSO anomaly series, trend map) from the archive into a folder.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
from matplotlib import dates as mdates
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import QuadMesh
from matplotlib.colors import Normalize, TwoSlopeNorm
from matplotlib.figure import Figure

from weather_data.archive import Archive
from weather_data.manifest import Manifest
from weather_scores.fields import latitude_weighted_rmse

HOUR = np.timedelta64(3600, "s")
DPI = 100
# Default leads of the forecast maps (those the forecast holds).
MAP_LEADS = (1, 6, 12, 24)
# Colours of ENSO episodes: El Nino warm, La Nina cool.
WARM = "#e66101"
COOL = "#5e8fd6"
NEUTRAL = "#9a9a9a"
_EPISODE_COLOURS = {
    "el nino": WARM,
    "el-nino": WARM,
    "el_nino": WARM,
    "elnino": WARM,
    "warm": WARM,
    "la nina": COOL,
    "la-nina": COOL,
    "la_nina": COOL,
    "lanina": COOL,
    "cool": COOL,
    "cold": COOL,
    "other": NEUTRAL,
    "": NEUTRAL,
}
# Line styles of the RMSE series by name (anything else: a solid line with markers).
_SERIES_STYLES: dict[str, dict[str, Any]] = {
    "persistence": {"linestyle": "--", "color": "0.35", "marker": ""},
    "climatology": {"linestyle": ":", "color": "0.55", "marker": "", "linewidth": 2.0},
}
# The navy-winds ENSO episodes of the demo: (label, first month, last month, kind).
ENSO_EPISODES = (
    ("El Nino 1982-83", "1982-09", "1983-02", "el nino"),
    ("El Nino 1987", "1987-01", "1987-09", "el nino"),
    ("La Nina 1988-89", "1988-06", "1989-03", "la nina"),
)
Episode = tuple[str, Any, Any, str]


def as_episode(given: Any) -> Episode:
    """(label, start, end, kind) from a 4-tuple, a 3-tuple (label, start, end) or an object
    with label, start, end (and kind) attributes; a missing kind comes from the label
    ("... Nina ..." is La Nina, "... Nino ..." El Nino, anything else is shaded grey)."""
    if isinstance(given, tuple | list):
        label, start, end, *rest = given
        kind = str(rest[0]) if rest else ""
    else:
        label, start, end = given.label, given.start, given.end
        kind = str(getattr(given, "kind", "") or "")
    if not kind:
        text = str(label).lower().replace("ñ", "n")
        kind = "la nina" if "nina" in text else "el nino" if "nino" in text else ""
    episode_colour(kind)
    return str(label), start, end, kind or "other"


def save(figure: Figure, path: Path | str) -> Path:
    """Writes figure as a PNG at path (folders created); returns the path."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    FigureCanvasAgg(figure)
    figure.savefig(target, format="png", dpi=DPI)
    return target


def _new_figure(width: float, height: float) -> Figure:
    figure = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _units(variable: xr.DataArray) -> str:
    return str(variable.attrs.get("units", "")).strip()


def _with_units(text: str, units: str) -> str:
    return f"{text} ({units})" if units else text


def _minute(value: Any) -> str:
    """A time as 2019-03-26 06:00 (UTC)."""
    return str(np.datetime64(value, "m")).replace("T", " ")


def _map_axes(ax: Axes, latitude: np.ndarray, longitude: np.ndarray) -> None:
    """Latitude/longitude axes with an aspect that keeps a degree square at mid-latitude."""
    middle = float(np.clip(abs(np.mean(latitude)), 0.0, 80.0))
    ax.set_aspect(1.0 / math.cos(math.radians(middle)))
    ax.set_xlim(
        float(longitude.min()) - _half(longitude), float(longitude.max()) + _half(longitude)
    )
    ax.set_ylim(float(latitude.min()) - _half(latitude), float(latitude.max()) + _half(latitude))
    ax.set_xlabel("longitude (°E)")
    ax.set_ylabel("latitude (°N)")


def _half(axis: np.ndarray) -> float:
    return float(abs(axis[1] - axis[0]) / 2) if axis.size > 1 else 0.5


def _field(ax: Axes, data: xr.DataArray, norm: Normalize, cmap: str) -> QuadMesh:
    """data (latitude x longitude) as cells on ax."""
    latitude = np.asarray(data["latitude"].values)
    longitude = np.asarray(data["longitude"].values)
    mesh = ax.pcolormesh(
        longitude,
        latitude,
        np.asarray(data.transpose("latitude", "longitude").values, dtype=np.float64),
        shading="nearest",
        norm=norm,
        cmap=cmap,
    )
    _map_axes(ax, latitude, longitude)
    return mesh


def _symmetric(values: Iterable[np.ndarray]) -> TwoSlopeNorm:
    """A diverging norm centred on zero over the largest magnitude of values."""
    largest = max((float(np.nanmax(np.abs(v))) for v in values if np.isfinite(v).any()), default=1)
    largest = largest or 1.0
    return TwoSlopeNorm(vcenter=0.0, vmin=-largest, vmax=largest)


def _range(values: Iterable[np.ndarray]) -> Normalize:
    finite = [v[np.isfinite(v)] for v in values]
    low = min(float(v.min()) for v in finite if v.size)
    high = max(float(v.max()) for v in finite if v.size)
    return Normalize(vmin=low, vmax=high if high > low else low + 1)


def _norm_for(values: np.ndarray) -> tuple[Normalize, str]:
    """A diverging norm and colour map for data of both signs, a sequential one otherwise."""
    finite = values[np.isfinite(values)]
    if finite.size and finite.min() < 0 < finite.max():
        return _symmetric([finite]), "RdBu_r"
    return _range([finite]), "viridis"


# --------------------------------------------------------------------- forecast vs truth


def lead_hours(forecast: xr.Dataset) -> list[float]:
    """The forecast's lead times in hours."""
    values = forecast["lead_time"].values
    if np.issubdtype(values.dtype, np.timedelta64):
        return [float(v / HOUR) for v in values]
    return [float(v) / 3600 for v in values]  # seconds, when not decoded


def choose_leads(available: Sequence[float], wanted: Sequence[float] | None = None) -> list[float]:
    """The leads to draw: wanted (each must exist), else those of MAP_LEADS the forecast holds,
    else up to four spread over what it holds."""
    if wanted:
        missing = [w for w in wanted if w not in available]
        if missing:
            raise ValueError(f"the forecast has no lead {missing[0]:g} h (it has {available})")
        return list(wanted)
    chosen = [float(lead) for lead in MAP_LEADS if lead in available]
    if len(chosen) >= 2 or len(available) < 2:
        return chosen or list(available[:1])
    picks = np.unique(np.linspace(0, len(available) - 1, min(4, len(available))).round())
    return [available[int(i)] for i in picks]


def forecast_variable(forecast: xr.Dataset, variable: str | None = None) -> str:
    """The forecast variable to draw: variable, else the only one (or first) in the file."""
    names = [str(n) for n, v in forecast.data_vars.items() if "lead_time" in v.dims]
    if variable:
        if variable not in names:
            raise ValueError(f"the forecast has no variable {variable!r} (it has {names})")
        return variable
    if not names:
        raise ValueError("the forecast holds no variable on lead_time")
    return names[0]


@dataclass(frozen=True)
class ForecastPanels:
    """What the forecast maps show: per lead, the forecast, the truth and their difference."""

    variable: str
    units: str
    init_time: np.datetime64
    leads: list[float]
    valid_times: list[np.datetime64]
    forecast: list[xr.DataArray]
    truth: list[xr.DataArray]
    difference: list[xr.DataArray]
    rmse: list[float]


def forecast_panels(
    forecast: xr.Dataset,
    truth: xr.Dataset,
    variable: str | None = None,
    leads: Sequence[float] | None = None,
) -> ForecastPanels:
    """The arrays of the forecast maps: the forecast at each lead, the truth (truth's variable
    of the same name at the valid time, on the forecast's grid) and forecast - truth, with its
    latitude-weighted RMSE."""
    name = forecast_variable(forecast, variable)
    if name not in truth.data_vars:
        raise ValueError(f"the truth dataset has no variable {name!r}")
    available = lead_hours(forecast)
    chosen = choose_leads(available, leads)
    valid = forecast["valid_time"].values
    units = _units(forecast[name]) or _units(truth[name])
    init = forecast.attrs.get("init_time")
    lead_seconds = round(available[0] * 3600)
    init_time = np.datetime64(str(init) if init else valid[0], "s")
    if not init:
        init_time = np.datetime64(int(init_time.astype(np.int64)) - lead_seconds, "s")
    panels = ForecastPanels(name, units, init_time, chosen, [], [], [], [], [])
    for lead in chosen:
        index = available.index(lead)
        when = np.datetime64(valid[index], "ns")
        if when not in truth["time"].values:
            raise ValueError(f"the truth dataset has no time {_minute(when)} (+{lead:g} h)")
        predicted = forecast[name].isel(lead_time=index).load()
        observed = (
            truth[name]
            .sel(time=when)
            .sel(
                latitude=predicted["latitude"],
                longitude=predicted["longitude"],
                method="nearest",
                tolerance=1e-3,
            )
            .load()
        )
        observed = observed.assign_coords(
            latitude=predicted["latitude"], longitude=predicted["longitude"]
        )
        difference = (predicted.astype(np.float64) - observed.astype(np.float64)).drop_vars(
            [c for c in ("time", "lead_time", "valid_time") if c in predicted.coords],
            errors="ignore",
        )
        panels.valid_times.append(when)
        panels.forecast.append(predicted)
        panels.truth.append(observed)
        panels.difference.append(difference)
        panels.rmse.append(latitude_weighted_rmse(difference))
    return panels


def forecast_figure(panels: ForecastPanels, title: str = "") -> Figure:
    """Rows: leads; columns: forecast, truth, forecast - truth. Forecast and truth share one
    colour scale; the difference has its own, centred on zero."""
    rows = len(panels.leads)
    figure = _new_figure(11.0, 2.8 * rows + 0.8)
    axes = figure.subplots(rows, 3, squeeze=False)
    values = _range([np.asarray(a.values, np.float64) for a in panels.forecast + panels.truth])
    spread = _symmetric([np.asarray(d.values) for d in panels.difference])
    meshes: list[list[QuadMesh]] = []
    for row, lead in enumerate(panels.leads):
        valid = _minute(panels.valid_times[row])
        row_meshes = [
            _field(axes[row, 0], panels.forecast[row], values, "RdYlBu_r"),
            _field(axes[row, 1], panels.truth[row], values, "RdYlBu_r"),
            _field(axes[row, 2], panels.difference[row], spread, "RdBu_r"),
        ]
        meshes.append(row_meshes)
        axes[row, 0].set_title(f"forecast +{lead:g} h (valid {valid})", fontsize=10)
        axes[row, 1].set_title(f"truth {valid}", fontsize=10)
        rmse = f"RMSE {panels.rmse[row]:.2f} {panels.units}".rstrip()
        axes[row, 2].set_title(f"forecast - truth ({rmse})", fontsize=10)
        if row < rows - 1:
            for ax in axes[row]:
                ax.set_xlabel("")
    label = _with_units(panels.variable, panels.units)
    figure.colorbar(meshes[0][0], ax=axes[:, :2], label=label, shrink=0.8)
    figure.colorbar(meshes[0][2], ax=axes[:, 2], label=f"difference{_units_suffix(panels.units)}")
    figure.suptitle(
        title or f"{panels.variable} forecast from {_minute(panels.init_time)} UTC against truth"
    )
    return figure


def _units_suffix(units: str) -> str:
    return f" ({units})" if units else ""


def plot_forecast(
    forecast: xr.Dataset,
    truth: xr.Dataset,
    path: Path | str,
    variable: str | None = None,
    leads: Sequence[float] | None = None,
) -> Path:
    """Forecast vs truth maps for one init time (forecast as `weatherctl predict forecast
    --out` writes it, truth an archive dataset holding the same variable); returns path."""
    panels = forecast_panels(forecast, truth, variable, leads)
    model = forecast.attrs.get("model_name", "")
    version = forecast.attrs.get("model_version", "")
    who = f" by {model} v{version}" if model else ""
    title = f"{panels.variable} forecast{who} from {_minute(panels.init_time)} UTC against truth"
    return save(forecast_figure(panels, title), path)


# --------------------------------------------------------------------- RMSE by lead


def rmse_figure(
    series: Mapping[str, Mapping[float, float]],
    variable: str = "t2m",
    units: str = "K",
    title: str = "",
) -> Figure:
    """One line per named series (model, ridge, persistence, climatology...) of RMSE against
    lead hours; the references dashed and dotted."""
    figure = _new_figure(8.0, 4.8)
    ax = figure.subplots()
    for name, by_lead in series.items():
        if not by_lead:
            continue
        leads = sorted(by_lead)
        style: dict[str, Any] = {"marker": "o", "markersize": 3, "linewidth": 1.6}
        style.update(_SERIES_STYLES.get(name.lower(), {}))
        ax.plot(leads, [by_lead[lead] for lead in leads], label=name, **style)
    ax.set_xlabel("lead time (h)")
    ax.set_ylabel(_with_units(f"{variable} RMSE", units))
    ax.set_ylim(bottom=0)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper left")
    ax.set_title(title or f"{variable}: latitude-weighted RMSE by lead on the test split")
    return figure


def plot_rmse(
    series: Mapping[str, Mapping[float, float]],
    path: Path | str,
    variable: str = "t2m",
    units: str = "K",
    title: str = "",
) -> Path:
    """RMSE by lead for several series (name -> {lead hours: rmse}); returns path."""
    return save(rmse_figure(series, variable, units, title), path)


# --------------------------------------------------------------------- climatology


def climatology_field(
    clim: xr.Dataset, variable: str, month: int | None = None
) -> tuple[xr.DataArray, str]:
    """The field of a climatology map and what it is: one calendar month of a monthly
    climatology (dim `month`), or with month None the annual mean (the mean of the monthly
    means). A dataset with a time axis instead is grouped by month here first."""
    if variable not in clim.data_vars:
        raise ValueError(f"no variable {variable!r} in the climatology")
    data = clim[variable]
    if "month" not in data.dims and "time" in data.dims:
        data = data.groupby("time.month").mean("time", keep_attrs=True)
    if "month" not in data.dims:
        raise ValueError(f"{variable} has no month (or time) axis: {list(data.dims)}")
    if month is None:
        what = f"annual mean of the monthly climatology ({data.sizes['month']} months)"
        return data.mean("month", keep_attrs=True).load(), what
    if month not in data["month"].values:
        raise ValueError(f"the climatology has no month {month}")
    name = np.datetime64(f"2000-{month:02d}").astype(object).strftime("%B")
    return data.sel(month=month).drop_vars("month").load(), f"{name} climatology"


def climatology_figure(clim: xr.Dataset, variable: str, month: int | None = None) -> Figure:
    """A climatology map: one month or the annual mean, a diverging scale for winds."""
    field, what = climatology_field(clim, variable, month)
    values = np.asarray(field.values, np.float64)
    norm, cmap = _norm_for(values)
    figure = _new_figure(10.0, 5.6)
    ax = figure.subplots()
    mesh = _field(ax, field, norm, cmap)
    if cmap == "RdBu_r":
        ax.contour(
            field["longitude"].values, field["latitude"].values, values, levels=[0.0],
            colors="k", linewidths=0.6,
        )  # fmt: skip
    units = _units(clim[variable])
    figure.colorbar(mesh, ax=ax, label=_with_units(variable, units), shrink=0.85)
    period = clim.attrs.get("climatology_base_period", "")
    base = f", base period {str(period).replace('/', ' to ')}" if period else ""
    ax.set_title(f"{variable}: {what}{base}")
    return figure


def plot_climatology(
    clim: xr.Dataset, path: Path | str, variable: str, month: int | None = None
) -> Path:
    """A climatology map (month None: annual mean of the monthly climatology); returns path."""
    return save(climatology_figure(clim, variable, month), path)


# --------------------------------------------------------------------- anomaly series


def episode_span(start: Any, end: Any) -> tuple[np.datetime64, np.datetime64]:
    """An episode's shaded span: from the start of start to the end of end, both inclusive at
    their precision ("1982-09".."1983-02" is 1982-09-01 to 1983-03-01)."""
    first = np.datetime64(start) if not isinstance(start, np.datetime64) else start
    last = np.datetime64(end) if not isinstance(end, np.datetime64) else end
    unit = np.datetime_data(last.dtype)[0]
    if unit in ("Y", "M", "W", "D"):
        last = last + np.timedelta64(1, unit)  # type: ignore[call-overload]
    return first.astype("datetime64[s]"), last.astype("datetime64[s]")


def date_number(moment: np.datetime64) -> float:
    """A time as matplotlib's date number (days since its epoch), as on a date axis."""
    return float(mdates.date2num(moment))  # type: ignore[no-untyped-call]


def episode_colour(kind: str) -> str:
    """WARM for El Nino, COOL for La Nina (kind "el nino", "la nina", "warm", "cool"...),
    NEUTRAL for "other"; ValueError for anything else."""
    try:
        return _EPISODE_COLOURS[kind.strip().lower().replace("ñ", "n")]
    except KeyError:
        raise ValueError(f"unknown episode kind {kind!r} (El Nino or La Nina)") from None


def anomaly_figure(
    series: xr.DataArray,
    episodes: Sequence[Any] = ENSO_EPISODES,
    title: str = "",
) -> Figure:
    """A time series (an area-mean anomaly) with named episodes shaded: El Nino in a warm
    colour, La Nina in a cool one, each labelled at the top."""
    if series.dims != ("time",):
        raise ValueError(f"an anomaly series has one dim, time (got {series.dims})")
    figure = _new_figure(11.0, 4.6)
    ax = figure.subplots()
    times = series["time"].values
    values = np.asarray(series.values, np.float64)
    ax.axhline(0.0, color="0.3", linewidth=0.8)
    for label, start, end, kind in (as_episode(e) for e in episodes):
        first, last = (date_number(t) for t in episode_span(start, end))
        colour = episode_colour(kind)
        ax.axvspan(first, last, color=colour, alpha=0.25, linewidth=0, label="_" + label)
        ax.text(
            (first + last) / 2,
            0.98,
            label,
            transform=ax.get_xaxis_transform(),
            ha="center",
            va="top",
            fontsize=9,
            color=colour,
            fontweight="bold",
        )
    ax.plot(times, values, color="k", linewidth=1.2, marker="o", markersize=2)
    ax.fill_between(times, values, 0, where=values > 0, color=WARM, alpha=0.35, linewidth=0)
    ax.fill_between(times, values, 0, where=values < 0, color=COOL, alpha=0.35, linewidth=0)
    locator = mdates.AutoDateLocator()  # type: ignore[no-untyped-call]
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]
    ax.set_xlim(times[0], times[-1])
    units = _units(series)
    ax.set_ylabel(_with_units(f"{series.name} anomaly", units))
    ax.grid(True, axis="y", alpha=0.3)
    region = series.attrs.get("region", "")
    where = f" over {region}" if region else ""
    ax.set_title(
        title
        or f"{series.name} anomaly{where}, {_minute(times[0])[:7]} to {_minute(times[-1])[:7]}"
    )
    return figure


def series_of(ds: xr.Dataset, variable: str) -> xr.DataArray:
    """variable of an area-mean dataset, carrying the dataset's region description."""
    if variable not in ds.data_vars:
        raise ValueError(f"no variable {variable!r} in the series dataset")
    series = ds[variable].load()
    if "region" in ds.attrs and "region" not in series.attrs:
        series = series.assign_attrs(region=ds.attrs["region"])
    return series


def plot_anomaly(
    series: xr.DataArray,
    path: Path | str,
    episodes: Sequence[Any] = ENSO_EPISODES,
    title: str = "",
) -> Path:
    """An anomaly time series with episodes shaded (see as_episode); returns path."""
    return save(anomaly_figure(series, episodes, title), path)


# --------------------------------------------------------------------- trend map


@dataclass(frozen=True)
class TrendPanel:
    """A trend map's arrays: slope, p-value and the significance mask (p < alpha)."""

    variable: str
    slope: xr.DataArray
    pvalue: xr.DataArray
    significant: np.ndarray
    alpha: float


def trend_panel(trend: xr.Dataset, variable: str, alpha: float = 0.05) -> TrendPanel:
    """The slope (`<variable>_slope`) and p-value (`<variable>_pvalue`) of a preprocess trend
    analysis, and where the trend is significant (p < alpha; NaN is not)."""
    slope_name, p_name = f"{variable}_slope", f"{variable}_pvalue"
    for name in (slope_name, p_name):
        if name not in trend.data_vars:
            raise ValueError(f"no {name!r} in the trend dataset (a preprocess trend analysis)")
    slope = trend[slope_name].load()
    pvalue = trend[p_name].load()
    p = np.asarray(pvalue.transpose("latitude", "longitude").values, np.float64)
    with np.errstate(invalid="ignore"):
        significant = np.isfinite(p) & (p < alpha)
    return TrendPanel(variable, slope, pvalue, significant, alpha)


def trend_figure(panel: TrendPanel, title: str = "") -> Figure:
    """The slope per grid point on a diverging scale, a dot on every significant point."""
    figure = _new_figure(10.0, 5.6)
    ax = figure.subplots()
    slope = np.asarray(panel.slope.values, np.float64)
    mesh = _field(ax, panel.slope, _symmetric([slope]), "RdBu_r")
    latitude = np.asarray(panel.slope["latitude"].values)
    longitude = np.asarray(panel.slope["longitude"].values)
    lat_grid, lon_grid = np.meshgrid(latitude, longitude, indexing="ij")
    ax.scatter(
        lon_grid[panel.significant],
        lat_grid[panel.significant],
        s=1.5,
        c="k",
        marker=".",
        linewidths=0,
        label=f"p < {panel.alpha:g}",
    )
    units = _units(panel.slope)
    figure.colorbar(mesh, ax=ax, label=_with_units(f"{panel.variable} trend", units), shrink=0.85)
    count = int(panel.significant.sum())
    ax.set_title(
        title
        or (
            f"{panel.variable}: linear trend per grid point; dots where significant "
            f"(p < {panel.alpha:g}: {count} of {panel.significant.size} points)"
        ),
        fontsize=11,
    )
    return figure


def plot_trend(trend: xr.Dataset, path: Path | str, variable: str, alpha: float = 0.05) -> Path:
    """A trend map with significant points dotted, from a preprocess trend analysis."""
    return save(trend_figure(trend_panel(trend, variable, alpha)), path)


# --------------------------------------------------------------------- archive and demo


def open_dataset(archive: Archive | str, dataset_id: str, content_hash: str = "") -> xr.Dataset:
    """An archive dataset: the version with content_hash, else the latest; LookupError if none."""
    store = Archive(archive) if isinstance(archive, str) else archive
    return store.open(find_version(store, dataset_id, content_hash))


def find_version(archive: Archive, dataset_id: str, content_hash: str = "") -> Manifest:
    """The manifest of dataset_id with content_hash (any version), else of the latest."""
    if content_hash:
        for number in reversed(archive.versions(dataset_id)):
            manifest = archive.get(dataset_id, number)
            if manifest.content_hash == content_hash:
                return manifest
        raise LookupError(f"{dataset_id} has no version {content_hash}")
    latest = archive.latest(dataset_id)
    if latest is None:
        raise LookupError(f"no dataset {dataset_id!r} in the archive")
    return latest


def open_forecast(path: Path | str) -> xr.Dataset:
    """A forecast NetCDF written by `weatherctl predict forecast --out`, loaded and closed."""
    with xr.open_dataset(path, engine="netcdf4") as ds:
        return ds.load()


def _analysis(
    archive: Archive, dataset_id: str | None, source: xr.Dataset, make: str, variable: str
) -> xr.Dataset:
    """An analysis output from the archive, or computed here from source with the preprocess
    service's own functions when no dataset id is given."""
    if dataset_id:
        return open_dataset(archive, dataset_id)
    from weather_preprocess import analysis

    data = source[[variable]]
    if make == "climatology":
        return analysis.climatology(data, "month").load()
    if make == "anomaly":
        clim = analysis.climatology(data, "month")
        return analysis.area_mean(analysis.anomalies(data, clim), analysis.NINO4).load()
    return analysis.linear_trend(data, per="year").load()


def demo_pictures(
    archive_url: str,
    out_dir: Path | str,
    *,
    training_dataset: str = "",
    forecast_netcdf: Path | str | None = None,
    rmse_by_lead: Mapping[str, Mapping[float, float]] | None = None,
    winds_dataset: str = "navy-winds",
    climatology_dataset: str | None = None,
    anomaly_dataset: str | None = None,
    trend_dataset: str | None = None,
    variable: str = "t2m",
    wind_variable: str = "UWND",
    episodes: Sequence[Any] = ENSO_EPISODES,
    alpha: float = 0.05,
) -> dict[str, Path]:
    """Writes the pictures of a pipeline run into out_dir; returns their paths by name, in
    the order written:

    - "forecast": forecast_netcdf (one init time, `weatherctl predict forecast --out` layout)
      against training_dataset's truth (the version whose hash the file records), rows of
      leads (+1, +6, +12, +24 h where present), columns forecast / truth / difference;
    - "rmse": rmse_by_lead (series name -> {lead hours: RMSE}, e.g. model, ridge,
      persistence, climatology) against lead;
    - "climatology": the annual mean of the monthly climatology of wind_variable;
    - "anomaly": the area-mean anomaly series of wind_variable (NINO4) with episodes shaded;
    - "trend": the linear trend of wind_variable per grid point, dots where p < alpha.

    episodes are (label, start, end, kind) tuples, (label, start, end) tuples or objects with
    those attributes (kind from the label when missing), months as "YYYY-MM", inclusive.

    The wind pictures read the analysis outputs climatology_dataset (a CLIMATOLOGY analysis,
    calendar month), anomaly_dataset (an AREA_MEAN of anomalies) and trend_dataset (a TREND
    analysis) from the archive; an analysis not given is computed here from winds_dataset with
    the preprocess service's functions. Pictures without their input (no forecast file, no
    RMSE, no training dataset) are skipped.
    """
    archive = Archive(archive_url)
    folder = Path(out_dir)
    written: dict[str, Path] = {}
    if forecast_netcdf is not None and training_dataset:
        forecast = open_forecast(forecast_netcdf)
        truth = open_dataset(archive, training_dataset, str(forecast.attrs.get("dataset_hash", "")))
        name = variable if variable in forecast.data_vars else None
        written["forecast"] = plot_forecast(forecast, truth, folder / "forecast-vs-truth.png", name)
    if rmse_by_lead:
        written["rmse"] = plot_rmse(rmse_by_lead, folder / "rmse-by-lead.png", variable)
    needs_source = not (climatology_dataset and anomaly_dataset and trend_dataset)
    source = open_dataset(archive, winds_dataset) if needs_source else xr.Dataset()
    name = wind_variable.lower()
    clim = _analysis(archive, climatology_dataset, source, "climatology", wind_variable)
    written["climatology"] = plot_climatology(
        clim, folder / f"{name}-climatology.png", wind_variable
    )
    series = _analysis(archive, anomaly_dataset, source, "anomaly", wind_variable)
    written["anomaly"] = plot_anomaly(
        series_of(series, wind_variable), folder / f"{name}-nino4-anomaly.png", episodes
    )
    trend = _analysis(archive, trend_dataset, source, "trend", wind_variable)
    written["trend"] = plot_trend(trend, folder / f"{name}-trend.png", wind_variable, alpha)
    return written
