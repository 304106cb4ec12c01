"""Serving sync: keeps a TF Serving model config in step with the registry's aliases."""

from weather_predictor.sync.service import ServingSync, run
from weather_predictor.sync.settings import SyncSettings, load_sync_settings

__all__ = ["ServingSync", "SyncSettings", "load_sync_settings", "run"]
