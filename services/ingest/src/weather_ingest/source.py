"""The source interface: one implementation per file format, registered by name in sources/."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field

import xarray as xr


@dataclass(frozen=True)
class SourceOptions:
    """Format-specific options (CSV column names, units for unitless columns)."""

    time_column: str = "time"
    station_column: str = "station"
    latitude_column: str = "latitude"
    longitude_column: str = "longitude"
    units: dict[str, str] = field(default_factory=dict)


class Source(ABC):
    """A file format the ingest service reads into a lazy xarray Dataset."""

    name: str = ""
    suffixes: tuple[str, ...] = ()

    @abstractmethod
    def sniff(self, head: bytes) -> bool:
        """True when the first bytes of a file say it is in this format."""

    @abstractmethod
    def open(self, path: str, options: SourceOptions) -> xr.Dataset:
        """Opens a local path lazily (chunked later); CorruptSource when it is unreadable."""


class CorruptSource(Exception):
    """The source is corrupt or truncated; the message says what was found."""
