"""Preprocess domain types: recipes and analysis requests as plain values, free of protobuf."""

from __future__ import annotations

import enum
from dataclasses import dataclass

import pandas as pd

from weather_preprocess.analysis.climatology import CalendarKey

SPLITS = ("train", "validation", "test")


@dataclass(frozen=True)
class DatasetRef:
    """An archive dataset; a content hash pins a version, empty means the latest."""

    dataset_id: str = ""
    content_hash: str = ""


@dataclass(frozen=True)
class TimeRange:
    """The half-open interval [start, end) in naive UTC; an unset end is None."""

    start: pd.Timestamp | None = None
    end: pd.Timestamp | None = None


@dataclass(frozen=True)
class Bounds:
    """A latitude/longitude box in degrees as given; checked where it is used."""

    lat_min: float = 0.0
    lat_max: float = 0.0
    lon_min: float = 0.0
    lon_max: float = 0.0


@dataclass(frozen=True)
class VariableSpec:
    """A variable to keep and, for one on pressure levels, the levels (hPa; empty keeps all)."""

    name: str = ""
    levels: tuple[float, ...] = ()


@dataclass(frozen=True)
class Coarsen:
    """Block means of latitude_factor x longitude_factor cells."""

    latitude_factor: int = 0
    longitude_factor: int = 0


@dataclass(frozen=True)
class Regrid:
    """A resolution change: coarsen or resolution_degrees (bilinear), one of them when valid."""

    coarsen: Coarsen | None = None
    resolution_degrees: float | None = None


class DerivedKind(enum.Enum):
    """A variable computed from others or from the time axis."""

    UNSPECIFIED = "unspecified"
    WIND_SPEED = "wind_speed"
    TIME_OF_DAY = "time_of_day"
    DAY_OF_YEAR = "day_of_year"


@dataclass(frozen=True)
class DerivedVariable:
    """A computed variable: its kind, output name (empty: the default) and wind components."""

    kind: DerivedKind = DerivedKind.UNSPECIFIED
    name: str = ""
    u: str = ""
    v: str = ""


@dataclass(frozen=True)
class Split:
    """Train, validation and test periods (None when not given)."""

    train: TimeRange | None = None
    validation: TimeRange | None = None
    test: TimeRange | None = None

    def parts(self) -> dict[str, TimeRange]:
        """The periods given, by split name, in the order train, validation, test."""
        found = {name: getattr(self, name) for name in SPLITS}
        return {name: part for name, part in found.items() if part is not None}


@dataclass(frozen=True)
class Augmentation:
    """Random crops (0 disables) and Gaussian noise (normalised units), reproducible from seed."""

    seed: int = 0
    crop_latitude: int = 0
    crop_longitude: int = 0
    noise_std: float = 0.0


class MissingPolicy(enum.Enum):
    """What a build does with missing values (NaN) in its output."""

    UNSPECIFIED = "unspecified"
    FAIL = "fail"
    FILL_CLIMATOLOGY = "fill_climatology"
    FILL_MEAN = "fill_mean"
    FILL_VALUE = "fill_value"
    DROP_TIME_STEPS = "drop_time_steps"


@dataclass(frozen=True)
class MissingValues:
    """The recipe's missing-value policy; value is the fill of FILL_VALUE."""

    policy: MissingPolicy = MissingPolicy.UNSPECIFIED
    value: float = 0.0


@dataclass(frozen=True)
class Recipe:
    """How to build a training dataset; None marks a part that was not given."""

    source: DatasetRef = DatasetRef()
    variables: tuple[VariableSpec, ...] = ()
    region: Bounds | None = None
    period: TimeRange | None = None
    regrid: Regrid | None = None
    derived: tuple[DerivedVariable, ...] = ()
    split: Split = Split()
    augmentation: Augmentation | None = None
    output_dataset_id: str = ""
    missing: MissingValues | None = None  # None keeps missing values


class AnalysisKind(enum.Enum):
    """The kind of climate analysis."""

    UNSPECIFIED = "unspecified"
    CLIMATOLOGY = "climatology"
    ANOMALIES = "anomalies"
    TREND = "trend"
    AREA_MEAN = "area-mean"
    EXTREMES = "extremes"


@dataclass(frozen=True)
class AnalysisRequest:
    """A climate analysis of an archive dataset; None marks a period or area not given."""

    source: DatasetRef = DatasetRef()
    kind: AnalysisKind = AnalysisKind.UNSPECIFIED
    variables: tuple[str, ...] = ()
    period: TimeRange | None = None
    calendar: CalendarKey = "month"
    base_period: TimeRange | None = None
    region: Bounds | None = None
    named_region: str = ""
    of_anomalies: bool = False
    percentiles: tuple[float, ...] = ()
    thresholds: tuple[float, ...] = ()
    output_dataset_id: str = ""
