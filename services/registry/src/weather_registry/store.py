"""The registry's storage interface; implementations live in weather_registry.stores."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from datetime import datetime

from weather_registry.records import (
    AliasChange,
    Event,
    GateReport,
    ModelVersion,
    NewVersion,
    RegisteredModel,
    TagFilter,
    VersionQuery,
)


class RegistryStore(ABC):
    """Durable registry state. Every write is one transaction that also appends its events.

    Errors are the domain errors of weather_runtime.errors (NotFound, AlreadyExists, Aborted).
    """

    @abstractmethod
    def create_model(
        self, name: str, description: str, tags: Mapping[str, str], actor: str, now: datetime
    ) -> RegisteredModel:
        """Registers a model; AlreadyExists when the name is taken."""

    @abstractmethod
    def get_model(self, name: str) -> RegisteredModel:
        """One model; NotFound when unknown."""

    @abstractmethod
    def list_models(
        self, name_prefix: str, tags: Sequence[TagFilter], after_name: str | None, limit: int
    ) -> list[RegisteredModel]:
        """Models ordered by name, after after_name, at most limit."""

    @abstractmethod
    def update_model(
        self,
        name: str,
        description: str | None,
        set_tags: Mapping[str, str],
        remove_tags: Sequence[str],
        now: datetime,
    ) -> RegisteredModel:
        """Changes description and tags; NotFound when unknown."""

    @abstractmethod
    def create_version(self, new: NewVersion, actor: str, now: datetime) -> ModelVersion:
        """Stores a version under the next number of its model (or the one its request_id made)."""

    @abstractmethod
    def get_version(self, model_name: str, version: int) -> ModelVersion:
        """One version; NotFound for an unknown model or version."""

    @abstractmethod
    def resolve_alias(self, model_name: str, alias: str) -> int:
        """The version an alias points at; NotFound when the model or alias is unknown."""

    @abstractmethod
    def list_versions(
        self, query: VersionQuery, after: tuple[str, int] | None, limit: int
    ) -> list[ModelVersion]:
        """Versions matching query ordered by (model name, version descending), after a key."""

    @abstractmethod
    def update_version(
        self,
        model_name: str,
        version: int,
        description: str | None,
        set_tags: Mapping[str, str],
        remove_tags: Sequence[str],
        now: datetime,
    ) -> ModelVersion:
        """Changes a version's description and tags."""

    @abstractmethod
    def move_alias(
        self,
        model_name: str,
        alias: str,
        version: int,
        expected_current: int | None,
        actor: str,
        reason: str,
        gate: GateReport | None,
        gate_overridden: bool,
        now: datetime,
    ) -> AliasChange:
        """Points alias at version atomically, recording the change; Aborted when the current
        target is not expected_current (0 meaning 'no alias yet')."""

    @abstractmethod
    def delete_alias(
        self, model_name: str, alias: str, actor: str, reason: str, now: datetime
    ) -> AliasChange:
        """Removes an alias, recording the change; NotFound when it does not exist."""

    @abstractmethod
    def alias_history(
        self, model_name: str, alias: str, before_id: int | None, limit: int
    ) -> list[AliasChange]:
        """Alias changes of a model, newest first, with id below before_id."""

    @abstractmethod
    def events_after(self, sequence: int, model_name: str, limit: int) -> list[Event]:
        """Events with a sequence above the given one, oldest first."""

    @abstractmethod
    def last_event_sequence(self) -> int:
        """Sequence number of the newest event (0 when there is none)."""

    @abstractmethod
    def close(self) -> None:
        """Releases connections."""
