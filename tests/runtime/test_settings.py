"""Settings come from prefixed environment variables and bad values are named clearly."""

from __future__ import annotations

import pytest

from weather_registry.settings import RegistrySettings
from weather_runtime.settings import SettingsError, load_settings


def test_environment_is_read_with_the_service_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REGISTRY_PORT", "6000")
    monkeypatch.setenv("REGISTRY_GATED_ALIASES", "production, gold")
    monkeypatch.setenv("REGISTRY_ARTIFACT_ROOTS", "/models,s3://bucket/models/")
    monkeypatch.setenv("REGISTRY_LOG_LEVEL", "debug")
    monkeypatch.setenv("REGISTRY_MAX_MESSAGE_BYTES", str(128 * 1024 * 1024))
    settings = load_settings(RegistrySettings)
    assert settings.port == 6000
    assert settings.gated_aliases == ["production", "gold"]
    assert settings.artifact_roots == ["file:///models", "s3://bucket/models"]
    assert settings.log_level == "DEBUG"
    assert settings.max_message_bytes == 128 * 1024 * 1024


def test_defaults_allow_large_gridded_fields() -> None:
    settings = load_settings(RegistrySettings)
    assert settings.max_message_bytes >= 64 * 1024 * 1024
    assert settings.gated_aliases == ["production"]


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("REGISTRY_PORT", "seventy"),
        ("REGISTRY_PORT", "70000"),
        ("REGISTRY_GATE_MARGIN", "1.5"),
        ("REGISTRY_LOG_FORMAT", "xml"),
        ("REGISTRY_DATABASE_URL", "mysql://x"),
        ("REGISTRY_MAX_MESSAGE_BYTES", "1024"),
        ("REGISTRY_ARTIFACT_ROOTS", "relative/path"),
    ],
)
def test_bad_values_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError, match=variable):
        load_settings(RegistrySettings)


def test_negative_grace_stops_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REGISTRY_GRACE_SECONDS", "-1")
    with pytest.raises(SettingsError, match="REGISTRY_GRACE_SECONDS"):
        load_settings(RegistrySettings)
