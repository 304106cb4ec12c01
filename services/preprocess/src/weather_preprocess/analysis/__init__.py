"""Climate analysis of canonical datasets: climatologies, anomalies, trends, means, extremes."""

from weather_preprocess.analysis.anomalies import anomalies
from weather_preprocess.analysis.area import area_mean
from weather_preprocess.analysis.climatology import CALENDAR_KEYS, CalendarKey, climatology
from weather_preprocess.analysis.extremes import extremes
from weather_preprocess.analysis.regions import (
    EQUATORIAL_PACIFIC,
    GLOBAL,
    NAMED_REGIONS,
    NINO3,
    NINO4,
    NINO12,
    NINO34,
    TROPICS,
    Region,
    named_region,
    select_region,
)
from weather_preprocess.analysis.summary import (
    anomaly_summary,
    area_mean_summary,
    climatology_summary,
    extremes_summary,
    trend_summary,
)
from weather_preprocess.analysis.trend import TrendUnit, linear_trend

__all__ = [
    "CALENDAR_KEYS",
    "EQUATORIAL_PACIFIC",
    "GLOBAL",
    "NAMED_REGIONS",
    "NINO3",
    "NINO4",
    "NINO12",
    "NINO34",
    "TROPICS",
    "CalendarKey",
    "Region",
    "TrendUnit",
    "anomalies",
    "anomaly_summary",
    "area_mean",
    "area_mean_summary",
    "climatology",
    "climatology_summary",
    "extremes",
    "extremes_summary",
    "linear_trend",
    "named_region",
    "select_region",
    "trend_summary",
]
