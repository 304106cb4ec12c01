"""Version lifecycle: load and warm up, swap, unload after in-flight requests, labels, polling."""

from __future__ import annotations

import enum
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from opentelemetry import context as otel_context
from opentelemetry.trace import Status, StatusCode

from weather_modelserver.config import ModelConfig, ServerConfig
from weather_modelserver.metrics import ModelServerMetrics
from weather_modelserver.servables import LoadError, Servable, error_code, error_message
from weather_modelserver.source import find_versions
from weather_runtime import spans
from weather_runtime.artifacts import digest_record_path, directory_digest, read_digest_record
from weather_runtime.domain_metrics import ServingMetrics
from weather_runtime.errors import (
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PreconditionViolation,
    Unavailable,
)

log = logging.getLogger(__name__)


class DigestRefused(LoadError):
    """A version refused for its digest: not retried (the same files give the same answer)."""


def verify_digest(version_dir: Path, required: bool) -> None:
    """Refuses a version whose files do not match the digest the serving sync recorded
    (LoadError DATA_LOSS), or that has no record when one is required (FAILED_PRECONDITION)."""
    expected = read_digest_record(version_dir)
    if expected is None:
        if required:
            raise DigestRefused(
                "FAILED_PRECONDITION",
                f"no digest record at {digest_record_path(version_dir)}; "
                "MODELSERVER_REQUIRE_DIGEST_RECORD is on",
            )
        return
    actual = directory_digest(str(version_dir)).digest
    if actual != expected:
        log.error(
            "refusing %s: its files changed after registration (digest %s, recorded %s)",
            version_dir,
            actual,
            expected,
        )
        raise DigestRefused(
            "DATA_LOSS",
            f"the SavedModel's digest {actual} does not match the registered {expected}; "
            "refused (changed on disk after registration)",
        )


class State(enum.Enum):
    """A version's state, as TF Serving's GetModelStatus reports it."""

    LOADING = "LOADING"
    AVAILABLE = "AVAILABLE"
    UNLOADING = "UNLOADING"
    END = "END"


@dataclass(frozen=True)
class VersionStatus:
    """One version's state and, after a failed load, the error (code name and message)."""

    version: int
    state: State
    error_code: str = "OK"
    error_message: str = ""


@dataclass(frozen=True)
class ManagerOptions:
    """How versions are loaded and found."""

    warmup: bool = True
    warmup_iterations: int = 1
    load_threads: int = 1
    load_retries: int = 5
    load_retry_interval_seconds: float = 60.0
    poll_wait_seconds: float = 1.0
    allow_labels_for_unavailable: bool = False
    load_timeout_seconds: float = 600.0
    require_digest_record: bool = False
    # raises InvalidArgument when a base path no longer lies under the allowed roots (a folder
    # swapped for a link after the reload checked it); such a scan is skipped
    check_base: Callable[[str], None] | None = None


@dataclass(eq=False)
class _Slot:
    version: int
    path: Path
    state: State = State.LOADING
    servable: Servable | None = None
    in_flight: int = 0
    cancelled: bool = False  # no longer wanted: discard when its load finishes
    error_code: str = "OK"
    error_message: str = ""

    def status(self) -> VersionStatus:
        return VersionStatus(self.version, self.state, self.error_code, self.error_message)


@dataclass(eq=False)
class _Model:
    config: ModelConfig
    slots: dict[int, _Slot] = field(default_factory=dict)
    labels: dict[str, int] = field(default_factory=dict)
    aspired: set[int] = field(default_factory=set)
    scanned: bool = False
    active: bool = True


class Lease:
    """A version held for one request: it is not unloaded before the lease is released."""

    def __init__(self, manager: ServableManager, model: str, slot: _Slot, servable: Servable):
        self.model = model
        self.version = slot.version
        self.servable = servable
        self._manager = manager
        self._slot: _Slot | None = slot

    def release(self) -> None:
        """Ends the request's hold (idempotent)."""
        if self._slot is not None:
            self._manager._release(self._slot)
            self._slot = None

    def __enter__(self) -> Lease:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.release()


class ServableManager:
    """Keeps, for every configured model, the versions its policy wants loaded.

    A new version is loaded and warmed up before it serves; a version leaving the policy is
    unloaded once a wanted version is available (so a swap never leaves a gap) and its in-flight
    requests are done. A failed load is kept as that version's status and hurts no other one.
    """

    def __init__(
        self,
        options: ManagerOptions,
        metrics: ModelServerMetrics,
        load: Callable[[str, int, Path], Servable] = Servable.load,
    ) -> None:
        self.options = options
        self._metrics = metrics
        self._serving = ServingMetrics()
        self._serving.served_versions.add_source(self._served_samples)
        self._serving.available_versions.add_source(self._available_samples)
        self._load_servable = load
        self._models: dict[str, _Model] = {}
        self._cond = threading.Condition(threading.RLock())
        self._config_lock = threading.Lock()
        self._closing = threading.Event()
        self._pool = ThreadPoolExecutor(options.load_threads, thread_name_prefix="load")
        self._poller: threading.Thread | None = None
        self._timers: set[threading.Timer] = set()

    # ---- configuration -------------------------------------------------------------------

    def start(self, config: ServerConfig) -> None:
        """Loads the configured models (waiting for them), applies their labels, starts the poll.
        A version that fails to load only shows in its status; a label on a version that is not
        available stops the start (FailedPrecondition) unless unavailable labels are allowed."""
        with self._config_lock:
            with self._cond:
                for model in config.models:
                    self._models[model.name] = _Model(model)
            self._reconcile_all()
            self._wait_settled(config.names)
            with self._cond:
                self._check_labels(config)
                for model in config.models:
                    self._models[model.name].labels = dict(model.labels)
        if self.options.poll_wait_seconds > 0:
            self._poller = threading.Thread(target=self._poll, name="poll", daemon=True)
            self._poller.start()

    def reload(self, config: ServerConfig) -> None:
        """Replaces the whole configuration: new models are loaded (and waited for), removed ones
        unloaded, policies and labels replaced. Labels may only name available versions (TF
        Serving's rule; see ManagerOptions.allow_labels_for_unavailable). Raises Unavailable when
        a new model did not become available (the configuration is applied all the same)."""
        with self._config_lock:
            with self._cond:
                self._check_labels(config)
                new_models = [
                    m.name
                    for m in config.models
                    if m.name not in self._models or not self._models[m.name].active
                ]
                for name, model in self._models.items():
                    if model.active and config.model(name) is None:
                        self._retire(model)
                for entry in config.models:
                    current = self._models.get(entry.name)
                    if current is None or not current.active:
                        self._models[entry.name] = _Model(entry, labels=dict(entry.labels))
                    else:
                        current.config = entry
                        current.labels = dict(entry.labels)
                self._cond.notify_all()
            self._reconcile_all()
            self._wait_settled(new_models)
            with self._cond:
                failed = {
                    name: self._unavailable_reason(self._models[name])
                    for name in new_models
                    if not self._available(self._models[name])
                }
        if failed:
            details = "; ".join(f"{name}: {reason}" for name, reason in failed.items())
            raise Unavailable(
                f"config applied, but {len(failed)} model(s) did not become available: {details}"
            )

    def poll_once(self) -> None:
        """Looks for new and removed version folders of every model (the poll does this)."""
        self._reconcile_all()

    def close(self) -> None:
        """Stops polling and loading, and drops every loaded version."""
        self._closing.set()
        if self._poller is not None:
            self._poller.join()
        with self._cond:
            timers, self._timers = list(self._timers), set()
        for timer in timers:
            timer.cancel()
        self._pool.shutdown(wait=True, cancel_futures=True)
        with self._cond:
            for model in self._models.values():
                for slot in model.slots.values():
                    slot.servable = None
                    slot.state = State.END
            self._cond.notify_all()

    # ---- requests ------------------------------------------------------------------------

    def lease(self, name: str, version: int | None = None, label: str | None = None) -> Lease:
        """Holds the requested version: a number, a label, or (neither) the latest available.
        NotFound for an unknown model, version or label; Unavailable while none is loaded."""
        with self._cond:
            model = self._active(name)
            if label is not None:
                labelled = model.labels.get(label)
                if labelled is None:
                    known = ", ".join(sorted(model.labels)) or "none"
                    raise NotFound(
                        "version label",
                        f"{name}:{label}",
                        f"model_spec.version_label: label {label!r} of model {name!r} not "
                        f"found (labels: {known})",
                    )
                version = labelled
            if version is not None:
                slot = model.slots.get(version)
                if slot is not None and slot.state is State.LOADING:
                    raise Unavailable(
                        f"model_spec.version: version {version} of model {name!r} is loading"
                    )
                if slot is None or slot.state is not State.AVAILABLE:
                    what = f"label {label!r} points to version {version}" if label else ""
                    raise NotFound(
                        "model version",
                        f"{name}:{version}",
                        f"model_spec.{'version_label' if label else 'version'}: version "
                        f"{version} of model {name!r} is not available"
                        f"{' (' + what + ')' if what else ''} "
                        f"(available: {self._available_text(model)})",
                    )
            else:
                available = [v for v, s in model.slots.items() if s.state is State.AVAILABLE]
                if not available:
                    raise Unavailable(
                        f"model {name!r} has no version available yet: "
                        f"{self._unavailable_reason(model)}"
                    )
                slot = model.slots[max(available)]
            assert slot.servable is not None
            slot.in_flight += 1
            return Lease(self, name, slot, slot.servable)

    def statuses(
        self, name: str, version: int | None = None, label: str | None = None
    ) -> list[VersionStatus]:
        """Every version's status, newest first (or the one asked for). Versions of a removed
        model stay listed, in state END."""
        with self._cond:
            model = self._models.get(name)
            if model is None or not model.slots:
                raise NotFound(
                    "model", name, f"model_spec.name: could not find any versions of model {name!r}"
                )
            if label is not None:
                if label not in model.labels:
                    raise NotFound(
                        "version label",
                        f"{name}:{label}",
                        f"model_spec.version_label: label {label!r} of model {name!r} not found",
                    )
                version = model.labels[label]
            if version is not None:
                slot = model.slots.get(version)
                if slot is None:
                    raise NotFound(
                        "model version",
                        f"{name}:{version}",
                        f"model_spec.version: could not find version {version} of model {name!r}",
                    )
                return [slot.status()]
            return [model.slots[v].status() for v in sorted(model.slots, reverse=True)]

    def labels(self, name: str) -> dict[str, int]:
        """The labels of a configured model."""
        with self._cond:
            return dict(self._active(name).labels)

    # ---- internals -----------------------------------------------------------------------

    def _active(self, name: str) -> _Model:
        model = self._models.get(name)
        if model is None or not model.active:
            served = ", ".join(sorted(n for n, m in self._models.items() if m.active)) or "none"
            raise NotFound(
                "model", name, f"model_spec.name: model {name!r} not found (serving: {served})"
            )
        return model

    def _check_labels(self, config: ServerConfig) -> None:
        """TF Serving's rule: a label names an AVAILABLE version; with unavailable labels allowed,
        a new label may name any version but an existing one may not move to an unavailable one."""
        violations: list[PreconditionViolation] = []
        for index, entry in enumerate(config.models):
            current = self._models.get(entry.name)
            current = current if current is not None and current.active else None
            for label, version in sorted(entry.labels.items()):
                slot = current.slots.get(version) if current is not None else None
                if slot is not None and slot.state is State.AVAILABLE:
                    continue
                if self.options.allow_labels_for_unavailable:
                    existing = current.labels.get(label) if current is not None else None
                    if existing is None or existing == version:
                        continue
                state = slot.state.value if slot is not None else "not loaded"
                violations.append(
                    PreconditionViolation(
                        "VERSION_NOT_AVAILABLE",
                        f"config.model_config_list.config[{index}].version_labels[{label!r}]",
                        f"label {label!r} cannot point to version {version} of model "
                        f"{entry.name!r}, which is not currently available for inference "
                        f"({state})",
                    )
                )
        if violations:
            raise FailedPrecondition(
                "; ".join(f"{v.subject}: {v.description}" for v in violations), violations
            )

    def _retire(self, model: _Model) -> None:
        """Takes a model out of service: no new requests, every version unloaded (lock held)."""
        model.active = False
        model.labels = {}
        model.aspired = set()
        for slot in model.slots.values():
            if slot.state is State.LOADING:
                slot.cancelled = True
            elif slot.state is State.AVAILABLE:
                self._begin_unload(model, slot)

    def _reconcile_all(self) -> None:
        with self._cond:
            names = [name for name, model in self._models.items() if model.active]
        for name in names:
            try:
                self._reconcile(name)
            except Exception:
                log.exception("could not update model %s", name)

    def _reconcile(self, name: str) -> None:
        """Loads the versions the policy wants that are not loaded; unloads the others."""
        with self._cond:
            model = self._models.get(name)
            if model is None or not model.active:
                return
            base_path = model.config.base_path
        if self.options.check_base is not None:
            try:
                self.options.check_base(base_path)
            except InvalidArgument as exc:
                log.warning("%s: not scanned, nothing new loaded: %s", name, exc.message)
                return
        found = find_versions(base_path)  # outside the lock: a slow disk delays no request
        with self._cond:
            if self._models.get(name) is not model or not model.active:
                return
            model.aspired = model.config.policy.select(found)
            model.scanned = True
            for version in sorted(model.aspired, reverse=True):
                slot = model.slots.get(version)
                if slot is not None and slot.state is State.LOADING:
                    slot.cancelled = False
                    continue
                if slot is not None and (slot.state is not State.END or slot.error_code != "OK"):
                    continue  # loaded, draining, or failed (a failed load is not retried)
                slot = model.slots[version] = _Slot(version, found[version])
                log.info("loading %s version %d from %s", name, version, slot.path)
                # the load continues the trace of the reload that asked for it
                self._pool.submit(self._traced_load, spans.capture(), name, model, slot)
            self._unload_surplus(model)
            self._cond.notify_all()

    def _unload_surplus(self, model: _Model) -> None:
        """Unloads loaded versions the policy no longer wants, once a wanted one is available
        (or none is wanted at all); cancels loads no longer wanted (lock held)."""
        wanted_available = any(
            model.slots[v].state is State.AVAILABLE for v in model.aspired if v in model.slots
        )
        for slot in list(model.slots.values()):
            if slot.version in model.aspired:
                continue
            if slot.state is State.LOADING:
                slot.cancelled = True
            elif slot.state is State.AVAILABLE and (wanted_available or not model.aspired):
                self._begin_unload(model, slot)

    def _begin_unload(self, model: _Model, slot: _Slot) -> None:
        log.info("unloading %s version %d", model.config.name, slot.version)
        slot.state = State.UNLOADING
        if slot.in_flight == 0:
            self._finish_unload(slot)

    def _finish_unload(self, slot: _Slot) -> None:
        slot.servable = None
        slot.state = State.END
        self._cond.notify_all()

    def _release(self, slot: _Slot) -> None:
        with self._cond:
            slot.in_flight -= 1
            if slot.in_flight == 0 and slot.state is State.UNLOADING:
                self._finish_unload(slot)

    def _traced_load(
        self, context: otel_context.Context, name: str, model: _Model, slot: _Slot
    ) -> None:
        """_load in a span of its own, a child of context."""
        attributes: dict[str, str | int] = {
            "model.name": name,
            "model.version": slot.version,
            "model.path": str(slot.path),
        }
        with spans.attached(context), spans.step("model load", **attributes) as span:
            self._load(name, model, slot)
            span.set_attribute("model.state", slot.state.name)
            if slot.error_code not in ("", "OK"):
                span.set_status(Status(StatusCode.ERROR, slot.error_code))

    def _load(self, name: str, model: _Model, slot: _Slot, attempt: int = 0) -> None:
        """Loads and warms up one version (in a load thread). A failed attempt is retried after
        the retry interval, from a timer, so a failing version holds no load thread meanwhile."""
        attempts = 1 + self.options.load_retries
        if self._closing.is_set() or slot.cancelled:
            self._settle(name, model, slot, None, "OK", "")
            return
        try:
            started = time.monotonic()
            verify_digest(slot.path, self.options.require_digest_record)
            servable = self._load_servable(name, slot.version, slot.path)
            if self.options.warmup:
                replayed = servable.warm_up(self.options.warmup_iterations)
                self._metrics.warmup_requests.labels(name, str(slot.version)).inc(replayed)
        except Exception as exc:  # noqa: BLE001 - recorded as the version's status
            self._count_load(name, "failed", time.monotonic() - started)
            message = error_message(exc)
            log.warning(
                "%s version %d failed to load (attempt %d of %d): %s",
                name,
                slot.version,
                attempt + 1,
                attempts,
                message,
            )
            refused = isinstance(exc, DigestRefused)  # not retried
            if attempt + 1 < attempts and not self._closing.is_set() and not refused:
                self._retry_later(name, model, slot, attempt + 1)
            else:
                self._settle(name, model, slot, None, error_code(exc), message)
            return
        log.info("%s version %d available (%.2f s)", name, slot.version, time.monotonic() - started)
        self._count_load(name, "available", time.monotonic() - started)
        self._settle(name, model, slot, servable, "OK", "")

    def _count_load(self, name: str, outcome: str, seconds: float) -> None:
        self._serving.loads.labels(name, outcome).inc()
        self._serving.load_duration.labels(name, outcome).observe(seconds)

    def _served_samples(self) -> list[tuple[tuple[str, str, str], float]]:
        """weather_served_versions: 1 per label of an active model."""
        with self._cond:
            return [
                ((name, label, str(version)), 1.0)
                for name, model in self._models.items()
                if model.active
                for label, version in model.labels.items()
            ]

    def _available_samples(self) -> list[tuple[tuple[str], float]]:
        with self._cond:
            return [
                ((name,), sum(s.state is State.AVAILABLE for s in model.slots.values()))
                for name, model in self._models.items()
                if model.active
            ]

    def _retry_later(self, name: str, model: _Model, slot: _Slot, attempt: int) -> None:
        def resubmit() -> None:
            with self._cond:
                self._timers.discard(timer)
                if not self._closing.is_set():
                    self._pool.submit(self._load, name, model, slot, attempt)
                    return
            self._settle(name, model, slot, None, "OK", "")

        timer = threading.Timer(self.options.load_retry_interval_seconds, resubmit)
        timer.daemon = True
        with self._cond:
            self._timers.add(timer)
        timer.start()

    def _settle(
        self,
        name: str,
        model: _Model,
        slot: _Slot,
        servable: Servable | None,
        code: str,
        message: str,
    ) -> None:
        """Ends a load: AVAILABLE (unloading what it replaces), END with the error, or END
        unused when the version is no longer wanted."""
        with self._cond:
            if servable is not None and not slot.cancelled and not self._closing.is_set():
                slot.servable = servable
                slot.state = State.AVAILABLE
                self._metrics.version_loads.labels(name, "available").inc()
                if self._models.get(name) is model and model.active:
                    self._unload_surplus(model)
            elif servable is not None or code == "OK":
                slot.state = State.END  # no longer wanted (or shutting down): dropped unused
            else:
                slot.state = State.END
                slot.error_code, slot.error_message = code, message
                self._metrics.version_loads.labels(name, "failed").inc()
            self._cond.notify_all()

    def _wait_settled(self, names: list[str]) -> None:
        """Waits until no wanted version of these models is loading (bounded by the timeout)."""
        deadline = time.monotonic() + self.options.load_timeout_seconds
        with self._cond:
            while True:
                pending = [name for name in names if self._loading(name)]
                if not pending:
                    return
                left = deadline - time.monotonic()
                if left <= 0 or self._closing.is_set():
                    raise Unavailable(
                        f"model(s) {', '.join(pending)} still loading after "
                        f"{self.options.load_timeout_seconds:g} s"
                    )
                self._cond.wait(min(left, 1.0))

    def _loading(self, name: str) -> bool:
        model = self._models.get(name)
        if model is None or not model.active:
            return False
        return any(model.slots[v].state is State.LOADING for v in model.aspired if v in model.slots)

    @staticmethod
    def _available(model: _Model) -> bool:
        return any(slot.state is State.AVAILABLE for slot in model.slots.values())

    @staticmethod
    def _available_text(model: _Model) -> str:
        versions = sorted(v for v, s in model.slots.items() if s.state is State.AVAILABLE)
        return ", ".join(str(v) for v in versions) or "none"

    @staticmethod
    def _unavailable_reason(model: _Model) -> str:
        loading = sorted(v for v, s in model.slots.items() if s.state is State.LOADING)
        if loading:
            return f"version {loading[-1]} is loading"
        failed = sorted(
            (v for v, s in model.slots.items() if v in model.aspired and s.error_code != "OK"),
            reverse=True,
        )
        if failed:
            slot = model.slots[failed[0]]
            return f"version {slot.version} failed to load: {slot.error_message}"
        return (
            f"no version under {model.config.base_path} (a version is a numbered folder "
            "holding saved_model.pb)"
        )

    def _poll(self) -> None:
        while not self._closing.wait(self.options.poll_wait_seconds):
            self._reconcile_all()
