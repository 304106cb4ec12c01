from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class Region(_message.Message):
    __slots__ = ("lat_min", "lat_max", "lon_min", "lon_max")
    LAT_MIN_FIELD_NUMBER: _ClassVar[int]
    LAT_MAX_FIELD_NUMBER: _ClassVar[int]
    LON_MIN_FIELD_NUMBER: _ClassVar[int]
    LON_MAX_FIELD_NUMBER: _ClassVar[int]
    lat_min: float
    lat_max: float
    lon_min: float
    lon_max: float
    def __init__(self, lat_min: _Optional[float] = ..., lat_max: _Optional[float] = ..., lon_min: _Optional[float] = ..., lon_max: _Optional[float] = ...) -> None: ...
