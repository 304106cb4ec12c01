"""The registry of model families by name; one module per family."""

from __future__ import annotations

from weather_trainer.model import ModelFamily
from weather_trainer.models.climatology import ClimatologyFamily
from weather_trainer.models.cnn import ConvolutionalFamily
from weather_trainer.models.persistence import PersistenceFamily
from weather_trainer.models.ridge import RidgeFamily

FAMILIES: dict[str, ModelFamily] = {
    family.name: family
    for family in (
        ConvolutionalFamily(),
        RidgeFamily(),
        PersistenceFamily(),
        ClimatologyFamily(),
    )
}


def family_names() -> tuple[str, ...]:
    """Known family names, sorted."""
    return tuple(sorted(FAMILIES))
