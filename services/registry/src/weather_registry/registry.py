"""The registry's use cases: validation, the promotion gate and integrity checks over a store."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property

from weather_registry import validation
from weather_registry.events import EventBus
from weather_registry.gate import describe_failure, evaluate_gate
from weather_registry.records import (
    AliasChange,
    Event,
    GateReport,
    ModelVersion,
    NewVersion,
    RegisteredModel,
    TagFilter,
    VerifyOutcome,
    VersionQuery,
)
from weather_registry.skill_metrics import SkillPublisher
from weather_registry.store import RegistryStore
from weather_registry.validation import Violations
from weather_runtime import paging, safe_open
from weather_runtime.artifacts import DirectoryDigest, descriptor_digest, directory_digest
from weather_runtime.auth import require_role
from weather_runtime.errors import (
    Aborted,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PreconditionViolation,
)
from weather_runtime.policy import Principal
from weather_runtime.uris import UriPolicy


@dataclass(frozen=True)
class Policy:
    """Registry rules taken from settings."""

    gated_aliases: tuple[str, ...] = ("production",)
    gate_margin: float = 0.0
    gate_metrics: tuple[str, ...] = ()  # empty: every metric with baselines
    gate_max_lead_hours: float = 0.0  # 0: every lead
    artifact_roots: tuple[str, ...] = ("file:///",)
    allowed_schemes: tuple[str, ...] = ()  # empty: the URI policy's defaults
    allowed_hosts: tuple[str, ...] = ()  # empty: the hosts the roots name

    @cached_property
    def uris(self) -> UriPolicy:
        """The shared URI policy artefact URIs must pass."""
        return UriPolicy.build(self.artifact_roots, self.allowed_schemes, self.allowed_hosts)


def _now() -> datetime:
    return datetime.now(tz=UTC)


class Registry:
    """Model registry operations; raises weather_runtime.errors domain errors."""

    def __init__(
        self,
        store: RegistryStore,
        policy: Policy,
        bus: EventBus,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self.store = store
        self.policy = policy
        self.bus = bus
        self.clock = clock
        self.skills = SkillPublisher()

    def close(self) -> None:
        """Ends watches and releases the store."""
        self.bus.close()
        self.store.close()

    # ------------------------------------------------------------------ models
    def create_model(
        self, name: str, description: str, tags: Mapping[str, str], actor: str
    ) -> RegisteredModel:
        v = Violations()
        validation.require_name(name, "name", v)
        validation.check_text(description, "description", v)
        validation.check_tags(tags, "tags", v)
        v.raise_if_any()
        model = self.store.create_model(name, description, tags, actor, self.clock())
        self.bus.notify()
        return model

    def get_model(self, name: str) -> RegisteredModel:
        v = Violations()
        validation.require_name(name, "name", v)
        v.raise_if_any()
        return self.store.get_model(name)

    def list_models(
        self, name_prefix: str, tags: Sequence[TagFilter], size: int, token: str
    ) -> tuple[list[RegisteredModel], str]:
        v = Violations()
        validation.check_text(name_prefix, "name_prefix", v, 128)
        self._check_tag_filters(tags, v)
        v.raise_if_any()
        limit = paging.page_size(size)
        query = ("models", name_prefix, tuple(tags))
        key = paging.decode(token, query)
        after = str(key[0]) if key else None
        models = self.store.list_models(name_prefix, tags, after, limit + 1)
        next_token = paging.encode([models[limit - 1].name], query) if len(models) > limit else ""
        return models[:limit], next_token

    def update_model(
        self,
        name: str,
        description: str | None,
        set_tags: Mapping[str, str],
        remove_tags: Sequence[str],
    ) -> RegisteredModel:
        v = Violations()
        validation.require_name(name, "name", v)
        if description is not None:
            validation.check_text(description, "description", v)
        validation.check_tags(set_tags, "set_tags", v)
        validation.check_tag_keys(remove_tags, "remove_tags", v)
        v.raise_if_any()
        return self.store.update_model(name, description, set_tags, remove_tags, self.clock())

    # ---------------------------------------------------------------- versions
    def create_version(self, new: NewVersion, actor: str) -> ModelVersion:
        validation.check_new_version(new, self.policy.uris)
        version = self.store.create_version(new, actor, self.clock())
        self.bus.notify()
        self.skills.publish(version)
        return version

    def get_version(
        self, model_name: str, version: int = 0, alias: str = "", latest: bool = False
    ) -> ModelVersion:
        v = Violations()
        validation.require_name(model_name, "model_name", v)
        if alias:
            validation.require_alias(alias, "alias", v)
        elif not latest:
            validation.require_version(version, "version", v)
        v.raise_if_any()
        if alias:
            version = self.store.resolve_alias(model_name, alias)
        elif latest:
            version = self.store.get_model(model_name).latest_version
            if not version:
                raise NotFound("model version", f"{model_name}/latest")
        return self.store.get_version(model_name, version)

    def list_versions(
        self, query: VersionQuery, size: int, token: str
    ) -> tuple[list[ModelVersion], str]:
        v = Violations()
        if query.model_name:
            validation.require_name(query.model_name, "model_name", v)
        if query.alias:
            validation.require_alias(query.alias, "alias", v)
        self._check_tag_filters(query.tags, v)
        for index, mf in enumerate(query.metric_filters):
            at = f"metric_filters[{index}]"
            if not validation.METRIC_NAME.match(mf.name):
                v.add(f"{at}.name", "must name a metric")
            if mf.comparison not in (1, 2, 3, 4):
                v.add(f"{at}.comparison", "must be LESS, LESS_EQUAL, GREATER or GREATER_EQUAL")
            if mf.threshold != mf.threshold or abs(mf.threshold) == float("inf"):
                v.add(f"{at}.threshold", "must be a finite number")
        v.raise_if_any()
        limit = paging.page_size(size)
        key = paging.decode(token, query)
        after = (str(key[0]), int(key[1])) if key else None
        versions = self.store.list_versions(query, after, limit + 1)
        next_token = ""
        if len(versions) > limit:
            last = versions[limit - 1]
            next_token = paging.encode([last.model_name, last.version], query)
        return versions[:limit], next_token

    def update_version(
        self,
        model_name: str,
        version: int,
        description: str | None,
        set_tags: Mapping[str, str],
        remove_tags: Sequence[str],
    ) -> ModelVersion:
        v = Violations()
        validation.require_name(model_name, "model_name", v)
        validation.require_version(version, "version", v)
        if description is not None:
            validation.check_text(description, "description", v)
        validation.check_tags(set_tags, "set_tags", v)
        validation.check_tag_keys(remove_tags, "remove_tags", v)
        v.raise_if_any()
        return self.store.update_version(
            model_name, version, description, set_tags, remove_tags, self.clock()
        )

    # ----------------------------------------------------------------- aliases
    def set_alias(
        self,
        model_name: str,
        alias: str,
        version: int,
        *,
        actor: str,
        expected_current: int | None = None,
        override_gate: bool = False,
        reason: str = "",
        validate_only: bool = False,
        principal: Principal | None = None,
    ) -> AliasChange:
        """Moves alias to version; a gated alias needs the gate passed (or overridden with a
        reason). With authentication on, only an admin principal overrides the gate or moves a
        gated alias."""
        v = Violations()
        validation.require_name(model_name, "model_name", v)
        validation.require_alias(alias, "alias", v)
        validation.require_version(version, "version", v)
        if expected_current is not None and expected_current < 0:
            v.add("expected_current_version", "must be 0 (no alias yet) or a version number")
        if override_gate and not reason.strip():
            v.add("reason", "is required when override_gate is set")
        validation.check_text(reason, "reason", v, 2000)
        v.raise_if_any()
        self._check_gated(principal, model_name, alias, override_gate)
        target = self.store.get_version(model_name, version)
        gate = None
        if alias in self.policy.gated_aliases:
            gate = evaluate_gate(
                target.metrics,
                self.policy.gate_margin,
                self.policy.gate_metrics,
                max_lead=timedelta(hours=self.policy.gate_max_lead_hours),
            )
            if not gate.passed and not override_gate:
                raise self._gate_refusal(model_name, version, alias, gate)
        overridden = gate is not None and not gate.passed
        if validate_only:
            current = self._current_target(model_name, alias)
            if expected_current is not None and current != expected_current:
                raise Aborted(
                    f"alias {model_name}@{alias} points at version {current or 'none'}, "
                    f"not {expected_current or 'none'}"
                )
            return AliasChange(
                0,
                model_name,
                alias,
                current,
                version,
                actor,
                self.clock(),
                overridden,
                reason,
                gate,
            )
        change = self.store.move_alias(
            model_name,
            alias,
            version,
            expected_current,
            actor,
            reason,
            gate,
            overridden,
            self.clock(),
        )
        self.bus.notify()
        return change

    def _check_gated(
        self, principal: Principal | None, model_name: str, alias: str, override_gate: bool
    ) -> None:
        if override_gate:
            require_role(principal, "admin", "overriding the promotion gate")
        if alias in self.policy.gated_aliases:
            require_role(principal, "admin", f"changing the gated alias {model_name}@{alias}")

    def _current_target(self, model_name: str, alias: str) -> int:
        try:
            return self.store.resolve_alias(model_name, alias)
        except NotFound:
            return 0

    @staticmethod
    def _gate_refusal(
        model_name: str, version: int, alias: str, gate: GateReport
    ) -> FailedPrecondition:
        if gate.checks:
            failing = [c for c in gate.checks if not c.passed]
            violations = [PreconditionViolation("GATE", *describe_failure(c)) for c in failing]
            more = f" and {len(violations) - 10} more" if len(violations) > 10 else ""
            why = ", ".join(v.subject for v in violations[:10]) + more
        else:
            why = "no metrics with baselines to judge"
            violations = [PreconditionViolation("GATE", f"{model_name}/{version}", why)]
        return FailedPrecondition(
            f"version {version} of {model_name} fails the promotion gate for alias {alias!r} "
            f"(margin {gate.margin:g}): {why}",
            violations,
        )

    def delete_alias(
        self,
        model_name: str,
        alias: str,
        reason: str,
        actor: str,
        principal: Principal | None = None,
    ) -> AliasChange:
        v = Violations()
        validation.require_name(model_name, "model_name", v)
        validation.require_alias(alias, "alias", v)
        validation.check_text(reason, "reason", v, 2000)
        v.raise_if_any()
        self._check_gated(principal, model_name, alias, False)
        change = self.store.delete_alias(model_name, alias, actor, reason, self.clock())
        self.bus.notify()
        return change

    def alias_history(
        self, model_name: str, alias: str, size: int, token: str
    ) -> tuple[list[AliasChange], str]:
        v = Violations()
        validation.require_name(model_name, "model_name", v)
        if alias:
            validation.require_alias(alias, "alias", v)
        v.raise_if_any()
        limit = paging.page_size(size)
        query = ("history", model_name, alias)
        key = paging.decode(token, query)
        before = int(key[0]) if key else None
        changes = self.store.alias_history(model_name, alias, before, limit + 1)
        next_token = paging.encode([changes[limit - 1].id], query) if len(changes) > limit else ""
        return changes[:limit], next_token

    # --------------------------------------------------------------- integrity
    def verify(self, model_name: str, version: int) -> VerifyOutcome:
        v = Violations()
        validation.require_name(model_name, "model_name", v)
        validation.require_version(version, "version", v)
        v.raise_if_any()
        record = self.store.get_version(model_name, version)
        try:
            self.policy.uris.check(record.artifact_uri, "artifact_uri")
        except InvalidArgument:
            raise FailedPrecondition(
                f"{record.artifact_uri} is outside the artifact roots this registry may read",
                [PreconditionViolation("ARTIFACT_ROOT", record.artifact_uri, "not readable here")],
            ) from None
        try:
            computed = self._digest(record.artifact_uri)
        except (FileNotFoundError, NotADirectoryError) as exc:
            return VerifyOutcome("MISSING", record.artifact_digest, detail=f"no directory at {exc}")
        except OSError as exc:
            return VerifyOutcome("MISSING", record.artifact_digest, detail=f"unreadable: {exc}")
        result = "MATCH" if computed.digest == record.artifact_digest else "MISMATCH"
        return VerifyOutcome(
            result,
            record.artifact_digest,
            computed.digest,
            computed.file_count,
            computed.total_bytes,
            "" if result == "MATCH" else "the artefact changed since it was registered",
        )

    def _digest(self, uri: str) -> DirectoryDigest:
        """The artefact's digest; a local one read through descriptors opened without links
        (a folder swapped for a link after the check cannot make it read outside the roots)."""
        uris = self.policy.uris
        normal = uris.check(uri, "artifact_uri")
        if not normal.startswith("file://"):
            return directory_digest(uri)
        try:
            with uris.opened(normal, "artifact_uri") as folder:
                if not folder.is_dir:
                    raise NotADirectoryError(uri)
                return descriptor_digest(safe_open.walk(folder, uris.within))
        except InvalidArgument as exc:
            raise FailedPrecondition(
                f"{uri} leads outside the artifact roots this registry may read",
                [PreconditionViolation("ARTIFACT_ROOT", uri, exc.message)],
            ) from None

    # ------------------------------------------------------------------ events
    def watch(
        self, model_name: str, start_after: int | None, is_active: Callable[[], bool]
    ) -> Iterator[Event]:
        v = Violations()
        if model_name:
            validation.require_name(model_name, "model_name", v)
        if start_after is not None and start_after < 0:
            v.add("start_after_sequence", "must not be negative")
        v.raise_if_any()
        return self.bus.watch(self.store, model_name, start_after, is_active)

    @staticmethod
    def _check_tag_filters(tags: Sequence[TagFilter], v: Violations) -> None:
        for index, tag in enumerate(tags):
            if not validation.TAG_KEY.match(tag.key):
                v.add(f"tags[{index}].key", "tag keys are 1-128 of [A-Za-z0-9._/:-]")


__all__ = ["InvalidArgument", "Policy", "Registry"]
