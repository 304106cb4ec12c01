"""Follows the registry's aliases and keeps a TF Serving model server serving them as labels.

One worker thread reconciles (at start, on each relevant registry event, after a stream error,
and every resync_seconds); one watcher thread follows WatchEvents and wakes the worker. A
reconciliation moves an alias in three reloads, so requests by label never fail:

    A  the new version joins the specific policy (labels unchanged), then is waited for
       (GetModelStatus) until AVAILABLE; if it never loads the move is given up;
    B  the labels move to the available new versions;
    C  versions no label points at leave the policy; their folders are deleted once the
       model server reports them unloaded.

A relevant event arriving during the wait of A stops that reconciliation after A (old labels
still in place) and starts a new one, so a rollback does not wait for a slow load. Only the
documented TF Serving API is used (HandleReloadConfigRequest, GetModelStatus).
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from dataclasses import dataclass
from types import FrameType

import grpc
from opentelemetry import trace
from opentelemetry.trace import Link
from tensorflow_serving.apis import (
    get_model_status_pb2,
    model_management_pb2,
    model_pb2,
    model_service_pb2_grpc,
)
from weather.common.v1 import pagination_pb2
from weather.registry.v1 import registry_service_pb2 as rpb
from weather.registry.v1 import registry_service_pb2_grpc as rpb_grpc

from weather_predictor.sync import config, layout
from weather_predictor.sync.config import ModelState, State
from weather_predictor.sync.settings import SyncSettings
from weather_runtime import spans
from weather_runtime.retry import Backoff
from weather_runtime.telemetry import context_from_traceparent, instrumented_channel
from weather_runtime.tls import client_tls

log = logging.getLogger(__name__)

ACTOR = "serving-sync"
_AVAILABLE = get_model_status_pb2.ModelVersionStatus.AVAILABLE
_END = get_model_status_pb2.ModelVersionStatus.END
_ALIAS_EVENTS = (rpb.EVENT_TYPE_ALIAS_SET, rpb.EVENT_TYPE_ALIAS_DELETED)


class SyncError(Exception):
    """A reconciliation could not finish; it is retried after a backoff."""


class Superseded(Exception):
    """Newer registry events arrived while a reconciliation waited for a version to load; it
    stops after step A (old labels kept, the new version still loading) and starts over."""


# Events younger than this continue their trace in the reconciliation they trigger.
FRESH_EVENT_SECONDS = 60.0


@dataclass(frozen=True)
class Wanted:
    """A version an alias points at, with where its artefact lives."""

    version: int
    uri: str
    digest: str


class ServingSync:
    """Keeps a model server's config (and the serving base) in step with registry aliases."""

    def __init__(self, settings: SyncSettings) -> None:
        self.settings = settings
        security = client_tls(settings)  # None without SERVING_SYNC_CLIENT_* files
        self._registry_channel = instrumented_channel(
            settings.registry_address,
            actor=ACTOR,
            security=security,
            token_file=settings.client_token_file,
        )
        plaintext = settings.model_server_plaintext  # TF Serving next to the sync in its pod
        self._server_channel = instrumented_channel(
            settings.model_server_address,
            security=None if plaintext else security,
            token_file="" if plaintext else settings.client_token_file,
        )
        self._registry = rpb_grpc.RegistryServiceStub(self._registry_channel)
        self._models = model_service_pb2_grpc.ModelServiceStub(self._server_channel)
        self._stop = threading.Event()
        self._trigger = threading.Event()
        self._lock = threading.Lock()  # one reconciliation at a time
        self._cond = threading.Condition()
        self._reconciliations = 0
        self._last_began = float("-inf")  # when the last successful reconciliation began
        self._last_error = ""
        self._current: State = {}
        self._snapshot: State = {}  # a copy of _current readable while a reconciliation runs
        self._sent_once = False  # the first config is sent even when it equals the file's
        self._verified: set[tuple[str, int, str]] = set()
        self._failed_loads: dict[tuple[str, int], float] = {}  # -> when it failed (monotonic)
        self._retired: set[tuple[str, int]] = set()
        self._call: grpc.Future | None = None
        # traceparents of the relevant events since the last reconciliation began: the next
        # one continues the newest's trace (the alias move that asked for it)
        self._event_traces: list[str] = []
        self._threads: list[threading.Thread] = []

    # ---- lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        """Starts following the registry: a full reconciliation first, then the event stream."""
        base = self.settings.serving_base_path
        base.mkdir(parents=True, exist_ok=True)
        layout.remove_leftovers(base)
        previous = config.read_file(self.settings.config_file)
        if previous is not None:
            self._current = previous
            for model, state in previous.items():
                self._retired |= {
                    (model, v) for v in layout.local_versions(base, model) - state.versions
                }
        log.info(
            "serving sync starting",
            extra={
                "registry": self.settings.registry_address,
                "model_server": self.settings.model_server_address,
                "serving_base": str(base),
                "models": self.settings.model_names or "all",
                "aliases": self.settings.aliases,
            },
        )
        self._trigger.set()
        for target, name in ((self._work, "sync-worker"), (self._watch, "sync-watch")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 10.0) -> None:
        """Stops following; what is served stays as it is."""
        self._stop.set()
        self._trigger.set()
        with self._cond:
            call = self._call
        if call is not None:
            call.cancel()
        for thread in self._threads:
            thread.join(timeout)
        self._registry_channel.close()
        self._server_channel.close()
        log.info("serving sync stopped")

    def wait_reconciled(self, count: int = 1, timeout: float = 60.0) -> bool:
        """Waits until at least count reconciliations have succeeded since start."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._reconciliations < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
            return True

    def request_reconcile(self) -> None:
        """Asks for a full reconciliation now (after the one running, if any), as an event
        would; reconciled_since(a moment taken before this call) tells when it has run."""
        self._trigger.set()

    def reconciled_since(self, moment: float) -> bool:
        """Whether a reconciliation that began at or after moment (time.monotonic()) succeeded:
        it read the registry after everything committed before moment."""
        with self._cond:
            return self._last_began >= moment

    @property
    def reconciliations(self) -> int:
        """Successful reconciliations so far."""
        with self._cond:
            return self._reconciliations

    @property
    def served(self) -> State:
        """The state last accepted by the model server."""
        with self._cond:
            return dict(self._snapshot)

    # ---- threads -------------------------------------------------------------------------

    def _work(self) -> None:
        backoff = Backoff(self.settings.backoff_initial_seconds, self.settings.backoff_max_seconds)
        next_resync = time.monotonic() + self.settings.resync_seconds
        next_cleanup = time.monotonic() + self.settings.unload_poll_seconds
        retry_at: float | None = None
        while not self._stop.is_set():
            now = time.monotonic()
            if retry_at is None:
                wake = min(next_resync, next_cleanup)
                triggered = self._trigger.wait(max(0.0, wake - now))
            else:  # backing off: events wait for the retry, which reconciles in full anyway
                self._stop.wait(max(0.0, min(retry_at, next_cleanup) - now))
                triggered = False
            if self._stop.is_set():
                return
            now = time.monotonic()
            if triggered or now >= next_resync or (retry_at is not None and now >= retry_at):
                self._trigger.clear()
                began = time.monotonic()
                try:
                    self._traced_reconcile()
                except Superseded:
                    log.info("newer registry events while waiting for a load: starting over")
                    continue
                except Exception as exc:  # noqa: BLE001 - retried after a backoff
                    delay = backoff.next()
                    retry_at = time.monotonic() + delay
                    log.warning("reconciliation failed, retrying in %.1f s: %s", delay, exc)
                    with self._cond:
                        self._last_error = str(exc)
                    continue
                backoff.reset()
                retry_at = None
                next_resync = time.monotonic() + self.settings.resync_seconds
                with self._cond:
                    self._reconciliations += 1
                    self._last_began = began
                    self._last_error = ""
                    self._cond.notify_all()
            if time.monotonic() >= next_cleanup:
                next_cleanup = time.monotonic() + self.settings.unload_poll_seconds
                try:
                    with self._lock:
                        self._remove_unloaded()
                except Exception as exc:  # noqa: BLE001 - tried again at the next look
                    log.warning("could not check unloaded versions: %s", exc)

    def _watch(self) -> None:
        backoff = Backoff(self.settings.backoff_initial_seconds, self.settings.backoff_max_seconds)
        names = self.settings.model_names
        # The first stream replays the stored events before following new ones: an alias moved
        # after the first reconciliation read the registry but before the stream was open
        # still reaches the sync (a full replay costs one reconciliation, events coalesce).
        last_sequence = 0
        while not self._stop.is_set():
            request = rpb.WatchEventsRequest(model_name=names[0] if len(names) == 1 else "")
            request.start_after_sequence = last_sequence
            opened = time.monotonic()
            call = self._registry.WatchEvents(request)
            with self._cond:
                self._call = call
            if self._stop.is_set():
                call.cancel()
                return
            try:
                for response in call:
                    event = response.event
                    last_sequence = event.sequence
                    backoff.reset()
                    if self._relevant(event):
                        log.info(
                            "registry event",
                            extra={
                                "model": event.model_name,
                                "alias": event.alias,
                                "version": event.version,
                                "previous_version": event.previous_version,
                                "sequence": event.sequence,
                            },
                        )
                        # a replayed old event (start-up) does not join its old trace
                        fresh = time.time() - event.time.seconds < FRESH_EVENT_SECONDS
                        if event.trace_parent and fresh:
                            with self._cond:
                                self._event_traces.append(event.trace_parent)
                        self._trigger.set()
                log.info("the registry ended the event stream")
            except grpc.RpcError as exc:
                if self._stop.is_set():
                    return
                log.warning("event stream failed: %s %s", exc.code().name, exc.details())
            if time.monotonic() - opened > self.settings.backoff_max_seconds:
                backoff.reset()
            self._trigger.set()  # events may have been missed: reconcile in full
            self._stop.wait(backoff.next())

    def _relevant(self, event: rpb.RegistryEvent) -> bool:
        if event.type not in _ALIAS_EVENTS or event.alias not in self.settings.aliases:
            return False
        return not self.settings.model_names or event.model_name in self.settings.model_names

    # ---- reconciliation ------------------------------------------------------------------

    def _traced_reconcile(self) -> None:
        """reconcile(), in the trace of the newest traced event that asked for it (the other
        events' spans are linked); without one, outside any trace."""
        with self._cond:
            traces, self._event_traces = self._event_traces, []
        if not traces:
            self.reconcile()
            return
        parent = context_from_traceparent(traces[-1])
        links = [
            Link(context)
            for tp in traces[:-1]
            if (context := trace.get_current_span(context_from_traceparent(tp)).get_span_context())
        ]
        with (
            spans.attached(parent),
            spans.tracer().start_as_current_span("serving sync: reconcile", links=links),
        ):
            self.reconcile()

    def reconcile(self) -> None:
        """One full pass: registry aliases -> verified copies -> reloads A, B, C -> cleanup."""
        with self._lock:
            wanted = self._wanted()
            target = self._ready_labels(wanted)
            current = self._current
            # versions the server serves already (the file may be missing after a restart)
            serving = {m: self._available_now(m) for m, labels in target.items() if labels}
            # A: new versions join the policy; labels stay (deleted aliases lose theirs), or
            # point at once where their version is AVAILABLE already
            phase_a: State = {}
            for model in sorted(set(current) | set(target)):
                now = current.get(model, ModelState())
                labels = target.get(model, {})
                kept = {a: v for a, v in now.labels.items() if a in labels}
                kept |= {a: v for a, v in labels.items() if v in serving.get(model, set())}
                phase_a[model] = ModelState(now.versions | frozenset(labels.values()), kept)
            self._apply(phase_a, tolerate_unavailable=True)
            needed = {m: set(labels.values()) for m, labels in target.items() if labels}
            available = self._wait_available(needed)
            # B: labels move to the versions that became available
            phase_b: State = {}
            for model, state in phase_a.items():
                labels = dict(state.labels)
                dropped: set[int] = set()
                for alias, version in target.get(model, {}).items():
                    if version in available.get(model, set()):
                        labels[alias] = version
                    elif version != state.labels.get(alias):
                        log.error(
                            "%s version %d did not become available (it failed to load, or "
                            "was still loading after %g s): alias %s stays on %s",
                            model,
                            version,
                            self.settings.load_timeout_seconds,
                            alias,
                            state.labels.get(alias, "nothing"),
                        )
                        self._failed_loads[(model, version)] = time.monotonic()
                        dropped.add(version)
                keep = set(labels.values())
                phase_b[model] = ModelState(
                    frozenset(v for v in state.versions if v not in dropped or v in keep), labels
                )
            self._apply(phase_b)
            # C: versions no label points at leave the policy
            phase_c: State = {
                m: ModelState(frozenset(s.labels.values()), dict(s.labels))
                for m, s in phase_b.items()
                if s.labels
            }
            self._apply(phase_c)
            base = self.settings.serving_base_path
            for model, state in phase_a.items():
                remaining = phase_c.get(model, ModelState()).versions
                on_disk = layout.local_versions(base, model)
                self._retired |= {(model, v) for v in (state.versions | on_disk) - remaining}
            self._remove_unloaded()

    def _wanted(self) -> dict[str, dict[str, Wanted]]:
        """Per followed model, alias -> the version it points at (only served aliases)."""
        timeout = self.settings.rpc_timeout_seconds
        try:
            names = self.settings.model_names or self._all_models()
            wanted: dict[str, dict[str, Wanted]] = {}
            for name in names:
                try:
                    model = self._registry.GetRegisteredModel(
                        rpb.GetRegisteredModelRequest(name=name), timeout=timeout
                    ).model
                except grpc.RpcError as exc:
                    if exc.code() != grpc.StatusCode.NOT_FOUND:
                        raise
                    log.warning("model %s is not registered; nothing of it is served", name)
                    wanted[name] = {}
                    continue
                aliases: dict[str, Wanted] = {}
                for alias, number in sorted(model.aliases.items()):
                    if alias not in self.settings.aliases:
                        continue
                    version = self._registry.GetModelVersion(
                        rpb.GetModelVersionRequest(model_name=name, version=number),
                        timeout=timeout,
                    ).version
                    aliases[alias] = Wanted(number, version.artifact_uri, version.artifact_digest)
                wanted[name] = aliases
        except grpc.RpcError as exc:
            raise SyncError(f"registry: {exc.code().name}: {exc.details()}") from exc
        return wanted

    def _all_models(self) -> list[str]:
        names: list[str] = []
        token = ""
        while True:
            response = self._registry.ListRegisteredModels(
                rpb.ListRegisteredModelsRequest(
                    page=pagination_pb2.PageRequest(page_size=100, page_token=token)
                ),
                timeout=self.settings.rpc_timeout_seconds,
            )
            names += [m.name for m in response.models]
            token = response.page.next_page_token
            if not token:
                return names

    def _ready_labels(self, wanted: dict[str, dict[str, Wanted]]) -> dict[str, dict[str, int]]:
        """Per model, alias -> version to label: the wanted version when its verified copy is in
        place and it has not failed to load; otherwise the alias keeps its current version."""
        target: dict[str, dict[str, int]] = {}
        for model, aliases in wanted.items():
            labels: dict[str, int] = {}
            current = self._current.get(model, ModelState())
            for alias, want in aliases.items():
                if self._failed_recently(model, want.version):
                    ready = False
                else:
                    ready = self._ensure_copy(model, want, current)
                if ready:
                    labels[alias] = want.version
                    self._retired.discard((model, want.version))
                elif alias in current.labels:
                    labels[alias] = current.labels[alias]
                    log.warning(
                        "%s alias %s stays on version %d (version %d is not servable)",
                        model,
                        alias,
                        current.labels[alias],
                        want.version,
                    )
            target[model] = labels
        for model in set(self._current) - set(target):
            target[model] = {}  # no longer followed
        return target

    def _failed_recently(self, model: str, version: int) -> bool:
        """Whether the version failed to load less than failed_load_retry_seconds ago (an older
        failure is forgotten: the version is tried again)."""
        failed_at = self._failed_loads.get((model, version))
        if failed_at is None:
            return False
        if time.monotonic() - failed_at < self.settings.failed_load_retry_seconds:
            return True
        del self._failed_loads[(model, version)]
        log.info("%s version %d failed to load before; trying it again", model, version)
        return False

    def _ensure_copy(self, model: str, want: Wanted, current: ModelState) -> bool:
        base = self.settings.serving_base_path
        key = (model, want.version, want.digest)
        folder = layout.version_dir(base, model, want.version)
        # no shortcut for copies verified before: each pass re-checks them (a copy changed on
        # disk since is reported and replaced by materialise)
        for attempt in range(2):
            try:
                layout.materialise(base, model, want.version, want.uri, want.digest)
            except layout.ArtifactError as exc:
                stale = folder.is_dir() and want.version not in current.versions
                if attempt == 0 and stale:
                    log.warning("replacing a stale copy of %s version %d", model, want.version)
                    layout.remove_version(base, model, want.version)
                    continue
                log.error(
                    "refusing %s version %d: %s", model, want.version, exc, extra={"uri": want.uri}
                )
                return False
            self._verified.add(key)
            return True
        return False

    # ---- model server --------------------------------------------------------------------

    def _apply(self, state: State, tolerate_unavailable: bool = False) -> None:
        """Sends state as the model server's config (when it changed) and writes the file."""
        if state == self._current and self._sent_once:
            return
        message = config.to_proto(state, self.settings)
        certain = True
        try:
            response = self._models.HandleReloadConfigRequest(
                model_management_pb2.ReloadConfigRequest(config=message),
                timeout=self.settings.reload_timeout_seconds,
            )
        except grpc.RpcError as exc:
            code = exc.code()
            if not (tolerate_unavailable and code == grpc.StatusCode.UNAVAILABLE):
                self._sent_once = False  # unknown state: send in full next time
                raise SyncError(f"model server reload: {code.name}: {exc.details()}") from exc
            # A new model that did not load: the config is applied (the wait tells the rest) - or
            # the server is away; either way the next config is sent even if it is the same.
            log.warning("model server reload: %s", exc.details())
            certain = False
        else:
            if response.status.error_code != 0:
                self._sent_once = False
                raise SyncError(
                    f"model server reload: error {response.status.error_code}: "
                    f"{response.status.error_message}"
                )
        self._current = state
        self._sent_once = certain
        with self._cond:
            self._snapshot = dict(state)
        config.write_file(self.settings.config_file, message)
        log.info(
            "model server config reloaded",
            extra={
                "models": {
                    m: {"versions": sorted(s.versions), "labels": s.labels}
                    for m, s in state.items()
                }
            },
        )

    def _statuses(self, model: str) -> dict[int, tuple[int, int]]:
        """Version -> (state, error code) of a model's versions (empty when none is known)."""
        try:
            response = self._models.GetModelStatus(
                get_model_status_pb2.GetModelStatusRequest(
                    model_spec=model_pb2.ModelSpec(name=model)
                ),
                timeout=self.settings.rpc_timeout_seconds,
            )
        except grpc.RpcError as exc:
            if exc.code() == grpc.StatusCode.NOT_FOUND:
                return {}
            raise SyncError(f"model server status: {exc.code().name}: {exc.details()}") from exc
        return {s.version: (s.state, s.status.error_code) for s in response.model_version_status}

    def _available_now(self, model: str) -> set[int]:
        return {v for v, (state, _) in self._statuses(model).items() if state == _AVAILABLE}

    def _wait_available(self, needed: dict[str, set[int]]) -> dict[str, set[int]]:
        """Waits (bounded) until the needed versions are AVAILABLE; returns those that are. A
        version that ended with an error (failed to load) is not waited for."""
        deadline = time.monotonic() + self.settings.load_timeout_seconds
        available: dict[str, set[int]] = {m: set() for m in needed}
        pending = {m: set(v) for m, v in needed.items()}
        while True:
            for model in list(pending):
                states = self._statuses(model)
                for version in list(pending[model]):
                    state, error = states.get(version, (None, 0))
                    if state == _AVAILABLE:
                        available[model].add(version)
                        pending[model].discard(version)
                    elif state == _END and error != 0:
                        pending[model].discard(version)
                if not pending[model]:
                    del pending[model]
            if not pending or time.monotonic() >= deadline or self._stop.is_set():
                return available
            if self._trigger.is_set():
                raise Superseded
            self._stop.wait(self.settings.status_poll_seconds)

    def _remove_unloaded(self) -> None:
        """Deletes the folders of retired versions the model server no longer serves."""
        base = self.settings.serving_base_path
        by_model: dict[str, set[int]] = {}
        for model, version in self._retired:
            by_model.setdefault(model, set()).add(version)
        for model, versions in by_model.items():
            served = self._current.get(model, ModelState()).versions
            states = self._statuses(model)
            for version in versions:
                if version in served:
                    self._retired.discard((model, version))
                    continue
                if states.get(version, (_END, 0))[0] != _END:
                    continue  # still loaded or draining in-flight requests
                layout.remove_version(base, model, version)
                self._retired.discard((model, version))
                self._verified = {k for k in self._verified if k[:2] != (model, version)}


def run(settings: SyncSettings, stop: threading.Event | None = None) -> None:
    """Runs a sync until stop is set; without one, until SIGTERM or SIGINT (main thread only)."""
    if stop is None:
        stop = threading.Event()
        event = stop

        def _on_signal(signum: int, _frame: FrameType | None) -> None:
            log.info("signal %d: stopping", signum)
            event.set()

        signal.signal(signal.SIGTERM, _on_signal)
        signal.signal(signal.SIGINT, _on_signal)
    sync = ServingSync(settings)
    sync.start()
    try:
        stop.wait()
    finally:
        sync.stop()
