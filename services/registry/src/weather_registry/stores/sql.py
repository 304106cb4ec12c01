"""The registry store on SQL: SQLite by default, PostgreSQL for several replicas."""

from __future__ import annotations

import functools
import json
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any, ParamSpec, TypeVar

from sqlalchemy import Connection, and_, delete, exists, func, insert, or_, select, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError

from weather_registry.records import (
    AliasChange,
    Comparison,
    Event,
    EventType,
    GateCheck,
    GateReport,
    Lineage,
    Metric,
    MetricGoal,
    ModelVersion,
    NewVersion,
    RegisteredModel,
    Signature,
    TagFilter,
    TensorSpec,
    VersionQuery,
)
from weather_registry.store import RegistryStore
from weather_registry.stores import sql_schema as t
from weather_registry.stores.sql_engine import WRITE_OPTION, make_engine
from weather_registry.stores.sql_migrations import migrate
from weather_runtime.errors import Aborted, AlreadyExists, NotFound, Unavailable
from weather_runtime.retry import Backoff, GaveUp, Retrier
from weather_runtime.telemetry import current_traceparent

# Arbitrary key of the PostgreSQL advisory lock that makes event sequence numbers commit in order.
_EVENT_LOCK = 7_314_002
# A transaction that failed before its commit (the database restarted, the connection dropped)
# is run again on a fresh connection for up to this long; then the caller gets UNAVAILABLE.
RETRY_SECONDS = 3.0
_P = ParamSpec("_P")
_R = TypeVar("_R")


def _micros(moment: datetime) -> int:
    return int(moment.timestamp() * 1_000_000)


def _time(micros: int) -> datetime:
    return datetime.fromtimestamp(micros / 1_000_000, tz=UTC)


class _NotCommitted(Exception):
    """A transaction failed before its commit: it changed nothing and may be run again."""

    def __init__(self, unavailable: Unavailable) -> None:
        super().__init__(unavailable.message)
        self.unavailable = unavailable


def _unavailable(exc: DBAPIError, when: str = "") -> Unavailable:
    # the driver's error type only: its text names database hosts and users
    return Unavailable(f"registry database unavailable{when}: {type(exc.orig).__name__}")


def _lost_connection(exc: DBAPIError) -> bool:
    """The database cannot be reached, went away, is restarting or stays locked."""
    return isinstance(exc, OperationalError | InterfaceError) or exc.connection_invalidated


@contextmanager
def _transaction(begin: Callable[[], AbstractContextManager[Connection]]) -> Iterator[Connection]:
    """One transaction. A database error before the commit raises _NotCommitted (the retrying
    wrapper runs the operation again); one during the commit is UNAVAILABLE at once, as its
    outcome is unknown (CreateModelVersion's request_id makes the client's retry safe)."""
    phase = "before commit"
    try:
        with begin() as conn:
            yield conn
            phase = "during commit"
    except DBAPIError as exc:
        if not _lost_connection(exc):
            raise
        if phase == "during commit":
            raise _unavailable(exc, " during commit (the change may or may not be stored)") from exc
        raise _NotCommitted(_unavailable(exc)) from exc


@contextmanager
def _locked(
    lock: threading.Lock, inner: AbstractContextManager[Connection]
) -> Iterator[Connection]:
    with lock, inner as conn:
        yield conn


def _retried(operation: Callable[_P, _R]) -> Callable[_P, _R]:
    """Runs operation again, after a short pause, while its transaction failed before the commit
    (for up to RETRY_SECONDS); then raises UNAVAILABLE."""

    @functools.wraps(operation)
    def run(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        retrier = Retrier(Backoff(0.05, 0.5), deadline=time.monotonic() + RETRY_SECONDS)
        try:
            return retrier.call(
                lambda: operation(*args, **kwargs), lambda exc: isinstance(exc, _NotCommitted)
            )
        except GaveUp as exc:
            last = exc.last
            raise (last.unavailable if isinstance(last, _NotCommitted) else last) from None

    return run


class SqlStore(RegistryStore):
    """RegistryStore over SQLAlchemy Core; each public write is one transaction."""

    def __init__(self, url: str, pool_size: int = 16) -> None:
        self.engine = make_engine(url, pool_size)
        self.dialect = self.engine.dialect.name
        self._writer = self.engine.execution_options(**{WRITE_OPTION: True})
        # SQLite has one writer at a time. Queueing this process's writers on a lock, rather than
        # in SQLite's sleeping busy handler, keeps write latency fair; other processes still
        # wait on the database lock (BEGIN IMMEDIATE with busy_timeout).
        self._write_lock = threading.Lock() if self.dialect == "sqlite" else None
        self.schema_version = migrate(self.engine, self._writer.begin)

    # ----------------------------------------------------------------- plumbing
    def _write(self) -> AbstractContextManager[Connection]:
        if self._write_lock is None:
            return _transaction(self._writer.begin)
        return _locked(self._write_lock, _transaction(self._writer.begin))

    def _read(self) -> AbstractContextManager[Connection]:
        return _transaction(self.engine.begin)

    def close(self) -> None:
        self.engine.dispose()

    def _model_id(self, conn: Connection, name: str, lock: bool = False) -> int:
        query = select(t.models.c.id).where(t.models.c.name == name)
        if lock:
            query = query.with_for_update()
        model_id = conn.execute(query).scalar()
        if model_id is None:
            raise NotFound("model", name)
        return int(model_id)

    def _version_id(self, conn: Connection, model_id: int, model_name: str, version: int) -> int:
        version_id = conn.execute(
            select(t.versions.c.id).where(
                t.versions.c.model_id == model_id, t.versions.c.version == version
            )
        ).scalar()
        if version_id is None:
            raise NotFound("model version", f"{model_name}/{version}")
        return int(version_id)

    def _append_event(self, conn: Connection, event: Event) -> None:
        if self.dialect == "postgresql":
            # Held to commit: sequence numbers become visible in order, so a watcher that read
            # up to N never misses a smaller number committed later.
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _EVENT_LOCK})
        conn.execute(
            insert(t.events).values(
                at=_micros(event.time),
                type=int(event.type),
                model_name=event.model_name,
                version=event.version,
                alias=event.alias,
                previous_version=event.previous_version,
                actor=event.actor,
                trace_parent=event.trace_parent or current_traceparent(),
            )
        )

    @staticmethod
    def _replace_tags(
        conn: Connection,
        table: Any,
        owner_column: str,
        owner_id: int,
        set_tags: Mapping[str, str],
        remove_tags: Sequence[str],
    ) -> None:
        owner = table.c[owner_column]
        keys = list(set_tags) + list(remove_tags)
        if keys:
            conn.execute(delete(table).where(owner == owner_id, table.c.tag_key.in_(keys)))
        if set_tags:
            conn.execute(
                insert(table),
                [
                    {owner_column: owner_id, "tag_key": k, "tag_value": v}
                    for k, v in set_tags.items()
                ],
            )

    # ------------------------------------------------------------------- models
    @_retried
    def create_model(
        self, name: str, description: str, tags: Mapping[str, str], actor: str, now: datetime
    ) -> RegisteredModel:
        try:
            with self._write() as conn:
                model_id = conn.execute(
                    insert(t.models)
                    .values(
                        name=name,
                        description=description,
                        created_at=_micros(now),
                        created_by=actor,
                        updated_at=_micros(now),
                        latest_version=0,
                    )
                    .returning(t.models.c.id)
                ).scalar_one()
                self._replace_tags(conn, t.model_tags, "model_id", model_id, tags, ())
                self._append_event(conn, Event(0, EventType.MODEL_CREATED, now, name, actor=actor))
                return self._load_models(conn, [model_id])[0]
        except IntegrityError:
            raise AlreadyExists("model", name) from None

    @_retried
    def get_model(self, name: str) -> RegisteredModel:
        with self._read() as conn:
            return self._load_models(conn, [self._model_id(conn, name)])[0]

    @_retried
    def list_models(
        self, name_prefix: str, tags: Sequence[TagFilter], after_name: str | None, limit: int
    ) -> list[RegisteredModel]:
        m = t.models
        query = select(m.c.id).order_by(m.c.name).limit(limit)
        if name_prefix:
            query = query.where(m.c.name >= name_prefix, m.c.name < name_prefix + "\U0010ffff")
        for tag in tags:
            cond = and_(t.model_tags.c.model_id == m.c.id, t.model_tags.c.tag_key == tag.key)
            if tag.value:
                cond = and_(cond, t.model_tags.c.tag_value == tag.value)
            query = query.where(exists().where(cond))
        if after_name is not None:
            query = query.where(m.c.name > after_name)
        with self._read() as conn:
            ids = [int(row) for row in conn.execute(query).scalars()]
            return self._load_models(conn, ids)

    @_retried
    def update_model(
        self,
        name: str,
        description: str | None,
        set_tags: Mapping[str, str],
        remove_tags: Sequence[str],
        now: datetime,
    ) -> RegisteredModel:
        with self._write() as conn:
            model_id = self._model_id(conn, name, lock=True)
            values: dict[str, Any] = {"updated_at": _micros(now)}
            if description is not None:
                values["description"] = description
            conn.execute(update(t.models).where(t.models.c.id == model_id).values(**values))
            self._replace_tags(conn, t.model_tags, "model_id", model_id, set_tags, remove_tags)
            return self._load_models(conn, [model_id])[0]

    def _load_models(self, conn: Connection, ids: list[int]) -> list[RegisteredModel]:
        if not ids:
            return []
        rows = conn.execute(select(t.models).where(t.models.c.id.in_(ids))).mappings().all()
        tags: dict[int, dict[str, str]] = defaultdict(dict)
        for row in conn.execute(select(t.model_tags).where(t.model_tags.c.model_id.in_(ids))):
            tags[row.model_id][row.tag_key] = row.tag_value
        aliases: dict[int, dict[str, int]] = defaultdict(dict)
        alias_rows = conn.execute(
            select(t.aliases.c.model_id, t.aliases.c.alias, t.versions.c.version)
            .join(t.versions, t.versions.c.id == t.aliases.c.version_id)
            .where(t.aliases.c.model_id.in_(ids))
        )
        for row in alias_rows:
            aliases[row.model_id][row.alias] = int(row.version)
        by_id = {
            row["id"]: RegisteredModel(
                name=row["name"],
                description=row["description"],
                tags=tags[row["id"]],
                create_time=_time(row["created_at"]),
                created_by=row["created_by"],
                update_time=_time(row["updated_at"]),
                latest_version=int(row["latest_version"]),
                aliases=aliases[row["id"]],
            )
            for row in rows
        }
        return [by_id[i] for i in ids if i in by_id]

    # ----------------------------------------------------------------- versions
    @_retried
    def create_version(self, new: NewVersion, actor: str, now: datetime) -> ModelVersion:
        with self._write() as conn:
            model_id = self._model_id(conn, new.model_name, lock=True)
            if new.request_id:
                existing = conn.execute(
                    select(t.versions.c.id).where(
                        t.versions.c.model_id == model_id,
                        t.versions.c.request_id == new.request_id,
                    )
                ).scalar()
                if existing is not None:
                    return self._load_versions(conn, [int(existing)])[0]
            number = conn.execute(
                update(t.models)
                .where(t.models.c.id == model_id)
                .values(latest_version=t.models.c.latest_version + 1, updated_at=_micros(now))
                .returning(t.models.c.latest_version)
            ).scalar_one()
            lineage = new.lineage
            version_id = conn.execute(
                insert(t.versions)
                .values(
                    model_id=model_id,
                    version=number,
                    artifact_uri=new.artifact_uri,
                    artifact_digest=new.artifact_digest,
                    signature_json=json.dumps(asdict(new.signature)),
                    dataset_id=lineage.dataset_id,
                    dataset_hash=lineage.dataset_hash,
                    recipe_hash=lineage.recipe_hash,
                    stats_hash=lineage.normalisation_stats_hash,
                    training_job_id=lineage.training_job_id,
                    code_version=lineage.code_version,
                    description=new.description,
                    created_at=_micros(now),
                    created_by=actor,
                    request_id=new.request_id or None,
                )
                .returning(t.versions.c.id)
            ).scalar_one()
            self._replace_tags(conn, t.version_tags, "version_id", version_id, new.tags, ())
            self._insert_metrics(conn, version_id, new.metrics)
            self._append_event(
                conn,
                Event(0, EventType.VERSION_CREATED, now, new.model_name, number, actor=actor),
            )
            return self._load_versions(conn, [version_id])[0]

    @staticmethod
    def _insert_metrics(conn: Connection, version_id: int, metrics: Sequence[Metric]) -> None:
        if not metrics:
            return
        metric_ids = (
            conn.execute(
                insert(t.metrics).returning(t.metrics.c.id, sort_by_parameter_order=True),
                [
                    {
                        "version_id": version_id,
                        "name": m.name,
                        "variable": m.variable,
                        "lead_seconds": int(m.lead_time.total_seconds()),
                        "value": m.value,
                        "goal": int(m.goal),
                        "method": m.method,
                    }
                    for m in metrics
                ],
            )
            .scalars()
            .all()
        )
        baselines = [
            {"metric_id": metric_id, "baseline": name, "value": value}
            for metric_id, metric in zip(metric_ids, metrics, strict=True)
            for name, value in metric.baselines.items()
        ]
        if baselines:
            conn.execute(insert(t.metric_baselines), baselines)

    @_retried
    def get_version(self, model_name: str, version: int) -> ModelVersion:
        with self._read() as conn:
            model_id = self._model_id(conn, model_name)
            return self._load_versions(
                conn, [self._version_id(conn, model_id, model_name, version)]
            )[0]

    @_retried
    def resolve_alias(self, model_name: str, alias: str) -> int:
        with self._read() as conn:
            model_id = self._model_id(conn, model_name)
            number = conn.execute(
                select(t.versions.c.version)
                .join(t.aliases, t.aliases.c.version_id == t.versions.c.id)
                .where(t.aliases.c.model_id == model_id, t.aliases.c.alias == alias)
            ).scalar()
            if number is None:
                raise NotFound("alias", f"{model_name}@{alias}")
            return int(number)

    @_retried
    def list_versions(
        self, query: VersionQuery, after: tuple[str, int] | None, limit: int
    ) -> list[ModelVersion]:
        v, m = t.versions, t.models
        stmt = (
            select(v.c.id)
            .join(m, m.c.id == v.c.model_id)
            .order_by(m.c.name, v.c.version.desc())
            .limit(limit)
        )
        if query.model_name:
            stmt = stmt.where(m.c.name == query.model_name)
        for tag in query.tags:
            cond = and_(t.version_tags.c.version_id == v.c.id, t.version_tags.c.tag_key == tag.key)
            if tag.value:
                cond = and_(cond, t.version_tags.c.tag_value == tag.value)
            stmt = stmt.where(exists().where(cond))
        if query.alias:
            stmt = stmt.where(
                exists().where(t.aliases.c.version_id == v.c.id, t.aliases.c.alias == query.alias)
            )
        for mf in query.metric_filters:
            x = t.metrics.alias()
            ops = {
                Comparison.LESS: x.c.value < mf.threshold,
                Comparison.LESS_EQUAL: x.c.value <= mf.threshold,
                Comparison.GREATER: x.c.value > mf.threshold,
                Comparison.GREATER_EQUAL: x.c.value >= mf.threshold,
            }
            cond = and_(x.c.version_id == v.c.id, x.c.name == mf.name, ops[mf.comparison])
            if mf.variable:
                cond = and_(cond, x.c.variable == mf.variable)
            if mf.lead_time is not None:
                cond = and_(cond, x.c.lead_seconds == int(mf.lead_time.total_seconds()))
            stmt = stmt.where(exists().where(cond))
        if after is not None:
            name, number = after
            stmt = stmt.where(or_(m.c.name > name, and_(m.c.name == name, v.c.version < number)))
        with self._read() as conn:
            ids = [int(i) for i in conn.execute(stmt).scalars()]
            return self._load_versions(conn, ids)

    @_retried
    def update_version(
        self,
        model_name: str,
        version: int,
        description: str | None,
        set_tags: Mapping[str, str],
        remove_tags: Sequence[str],
        now: datetime,
    ) -> ModelVersion:
        with self._write() as conn:
            model_id = self._model_id(conn, model_name, lock=True)
            version_id = self._version_id(conn, model_id, model_name, version)
            if description is not None:
                conn.execute(
                    update(t.versions)
                    .where(t.versions.c.id == version_id)
                    .values(description=description)
                )
            self._replace_tags(
                conn, t.version_tags, "version_id", version_id, set_tags, remove_tags
            )
            conn.execute(
                update(t.models).where(t.models.c.id == model_id).values(updated_at=_micros(now))
            )
            return self._load_versions(conn, [version_id])[0]

    def _load_versions(self, conn: Connection, ids: list[int]) -> list[ModelVersion]:
        if not ids:
            return []
        v = t.versions
        rows = (
            conn.execute(
                select(v, t.models.c.name.label("model_name"))
                .join(t.models, t.models.c.id == v.c.model_id)
                .where(v.c.id.in_(ids))
            )
            .mappings()
            .all()
        )
        tags: dict[int, dict[str, str]] = defaultdict(dict)
        for tag in conn.execute(select(t.version_tags).where(t.version_tags.c.version_id.in_(ids))):
            tags[tag.version_id][tag.tag_key] = tag.tag_value
        metric_rows = (
            conn.execute(
                select(t.metrics).where(t.metrics.c.version_id.in_(ids)).order_by(t.metrics.c.id)
            )
            .mappings()
            .all()
        )
        baselines: dict[int, dict[str, float]] = defaultdict(dict)
        metric_ids = [row["id"] for row in metric_rows]
        for chunk_start in range(0, len(metric_ids), 5000):
            chunk = metric_ids[chunk_start : chunk_start + 5000]
            for b in conn.execute(
                select(t.metric_baselines).where(t.metric_baselines.c.metric_id.in_(chunk))
            ):
                baselines[b.metric_id][b.baseline] = float(b.value)
        metrics: dict[int, list[Metric]] = defaultdict(list)
        for row in metric_rows:
            metrics[row["version_id"]].append(
                Metric(
                    name=row["name"],
                    variable=row["variable"],
                    lead_time=timedelta(seconds=int(row["lead_seconds"])),
                    value=float(row["value"]),
                    goal=MetricGoal(row["goal"]),
                    baselines=baselines[row["id"]],
                    method=row["method"],
                )
            )
        aliases: dict[int, list[str]] = defaultdict(list)
        for a in conn.execute(
            select(t.aliases.c.version_id, t.aliases.c.alias)
            .where(t.aliases.c.version_id.in_(ids))
            .order_by(t.aliases.c.alias)
        ):
            aliases[a.version_id].append(a.alias)
        by_id = {row["id"]: self._version_record(row, tags, metrics, aliases) for row in rows}
        return [by_id[i] for i in ids if i in by_id]

    @staticmethod
    def _version_record(
        row: Any,
        tags: Mapping[int, dict[str, str]],
        metrics: Mapping[int, list[Metric]],
        aliases: Mapping[int, list[str]],
    ) -> ModelVersion:
        sig = json.loads(row["signature_json"])
        signature = Signature(
            signature_name=sig["signature_name"],
            inputs=tuple(
                TensorSpec(s["name"], s["dtype"], tuple(s["shape"])) for s in sig["inputs"]
            ),
            outputs=tuple(
                TensorSpec(s["name"], s["dtype"], tuple(s["shape"])) for s in sig["outputs"]
            ),
        )
        return ModelVersion(
            model_name=row["model_name"],
            version=int(row["version"]),
            artifact_uri=row["artifact_uri"],
            artifact_digest=row["artifact_digest"],
            signature=signature,
            lineage=Lineage(
                dataset_id=row["dataset_id"],
                dataset_hash=row["dataset_hash"],
                recipe_hash=row["recipe_hash"],
                normalisation_stats_hash=row["stats_hash"],
                training_job_id=row["training_job_id"],
                code_version=row["code_version"],
            ),
            metrics=tuple(metrics.get(row["id"], [])),
            tags=dict(tags.get(row["id"], {})),
            description=row["description"],
            create_time=_time(row["created_at"]),
            created_by=row["created_by"],
            aliases=tuple(aliases.get(row["id"], [])),
        )

    # ------------------------------------------------------------------ aliases
    @_retried
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
        with self._write() as conn:
            model_id = self._model_id(conn, model_name, lock=True)
            version_id = self._version_id(conn, model_id, model_name, version)
            current = self._alias_target(conn, model_id, alias)
            if expected_current is not None and current != expected_current:
                raise Aborted(
                    f"alias {model_name}@{alias} points at version {current or 'none'}, "
                    f"not {expected_current or 'none'}"
                )
            if current:
                conn.execute(
                    update(t.aliases)
                    .where(t.aliases.c.model_id == model_id, t.aliases.c.alias == alias)
                    .values(version_id=version_id, updated_at=_micros(now))
                )
            else:
                conn.execute(
                    insert(t.aliases).values(
                        model_id=model_id,
                        alias=alias,
                        version_id=version_id,
                        updated_at=_micros(now),
                    )
                )
            change = self._record_change(
                conn,
                model_id,
                model_name,
                alias,
                current,
                version,
                actor,
                reason,
                gate,
                gate_overridden,
                now,
            )
            self._append_event(
                conn,
                Event(0, EventType.ALIAS_SET, now, model_name, version, alias, current, actor),
            )
            return change

    @_retried
    def delete_alias(
        self, model_name: str, alias: str, actor: str, reason: str, now: datetime
    ) -> AliasChange:
        with self._write() as conn:
            model_id = self._model_id(conn, model_name, lock=True)
            current = self._alias_target(conn, model_id, alias)
            if not current:
                raise NotFound("alias", f"{model_name}@{alias}")
            conn.execute(
                delete(t.aliases).where(
                    t.aliases.c.model_id == model_id, t.aliases.c.alias == alias
                )
            )
            change = self._record_change(
                conn, model_id, model_name, alias, current, 0, actor, reason, None, False, now
            )
            self._append_event(
                conn, Event(0, EventType.ALIAS_DELETED, now, model_name, 0, alias, current, actor)
            )
            return change

    @staticmethod
    def _alias_target(conn: Connection, model_id: int, alias: str) -> int:
        number = conn.execute(
            select(t.versions.c.version)
            .join(t.aliases, t.aliases.c.version_id == t.versions.c.id)
            .where(t.aliases.c.model_id == model_id, t.aliases.c.alias == alias)
        ).scalar()
        return int(number or 0)

    def _record_change(
        self,
        conn: Connection,
        model_id: int,
        model_name: str,
        alias: str,
        from_version: int,
        to_version: int,
        actor: str,
        reason: str,
        gate: GateReport | None,
        gate_overridden: bool,
        now: datetime,
    ) -> AliasChange:
        conn.execute(
            update(t.models).where(t.models.c.id == model_id).values(updated_at=_micros(now))
        )
        change_id = conn.execute(
            insert(t.alias_history)
            .values(
                model_id=model_id,
                alias=alias,
                from_version=from_version or None,
                to_version=to_version or None,
                actor=actor,
                at=_micros(now),
                gate_overridden=gate_overridden,
                reason=reason,
                gate_json=_gate_to_json(gate),
            )
            .returning(t.alias_history.c.id)
        ).scalar_one()
        return AliasChange(
            int(change_id),
            model_name,
            alias,
            from_version,
            to_version,
            actor,
            now,
            gate_overridden,
            reason,
            gate,
        )

    @_retried
    def alias_history(
        self, model_name: str, alias: str, before_id: int | None, limit: int
    ) -> list[AliasChange]:
        h = t.alias_history
        with self._read() as conn:
            model_id = self._model_id(conn, model_name)
            stmt = select(h).where(h.c.model_id == model_id).order_by(h.c.id.desc()).limit(limit)
            if alias:
                stmt = stmt.where(h.c.alias == alias)
            if before_id is not None:
                stmt = stmt.where(h.c.id < before_id)
            return [
                AliasChange(
                    id=int(row.id),
                    model_name=model_name,
                    alias=row.alias,
                    from_version=int(row.from_version or 0),
                    to_version=int(row.to_version or 0),
                    actor=row.actor,
                    time=_time(row.at),
                    gate_overridden=bool(row.gate_overridden),
                    reason=row.reason,
                    gate=_gate_from_json(row.gate_json),
                )
                for row in conn.execute(stmt)
            ]

    # ------------------------------------------------------------------- events
    @_retried
    def events_after(self, sequence: int, model_name: str, limit: int) -> list[Event]:
        e = t.events
        stmt = select(e).where(e.c.sequence > sequence).order_by(e.c.sequence).limit(limit)
        if model_name:
            stmt = stmt.where(e.c.model_name == model_name)
        with self._read() as conn:
            return [
                Event(
                    sequence=int(row.sequence),
                    type=EventType(row.type),
                    time=_time(row.at),
                    model_name=row.model_name,
                    version=int(row.version),
                    alias=row.alias,
                    previous_version=int(row.previous_version),
                    actor=row.actor,
                    trace_parent=row.trace_parent,
                )
                for row in conn.execute(stmt)
            ]

    @_retried
    def last_event_sequence(self) -> int:
        with self._read() as conn:
            return int(conn.execute(select(func.max(t.events.c.sequence))).scalar() or 0)


def _gate_to_json(gate: GateReport | None) -> str | None:
    if gate is None:
        return None
    return json.dumps(
        {
            "passed": gate.passed,
            "margin": gate.margin,
            "checks": [
                {**asdict(c), "lead_time": c.lead_time.total_seconds(), "skill": _finite(c.skill)}
                for c in gate.checks
            ],
        }
    )


def _finite(value: float) -> float | str:
    return value if value not in (float("inf"), float("-inf")) else str(value)


def _gate_from_json(raw: str | None) -> GateReport | None:
    if not raw:
        return None
    data = json.loads(raw)
    checks = tuple(
        GateCheck(
            **{**c, "lead_time": timedelta(seconds=c["lead_time"]), "skill": float(c["skill"])}
        )
        for c in data["checks"]
    )
    return GateReport(passed=data["passed"], margin=data["margin"], checks=checks)
