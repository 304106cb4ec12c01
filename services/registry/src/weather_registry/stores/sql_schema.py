"""SQLAlchemy Core tables of the registry database (the schema the migrations build)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
)

metadata = MetaData()

models = Table(
    "registered_models",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("name", String(128), nullable=False),
    Column("description", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("created_by", String(200), nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Column("latest_version", BigInteger, nullable=False),
)

model_tags = Table(
    "model_tags",
    metadata,
    Column("model_id", BigInteger, primary_key=True),
    Column("tag_key", String(128), primary_key=True),
    Column("tag_value", Text, nullable=False),
)

versions = Table(
    "model_versions",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("model_id", BigInteger, nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("artifact_uri", Text, nullable=False),
    Column("artifact_digest", String(71), nullable=False),
    Column("signature_json", Text, nullable=False),
    Column("dataset_id", Text, nullable=False),
    Column("dataset_hash", Text, nullable=False),
    Column("recipe_hash", Text, nullable=False),
    Column("stats_hash", Text, nullable=False),
    Column("training_job_id", Text, nullable=False),
    Column("code_version", Text, nullable=False),
    Column("description", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("created_by", String(200), nullable=False),
    Column("request_id", String(128)),
)

version_tags = Table(
    "version_tags",
    metadata,
    Column("version_id", BigInteger, primary_key=True),
    Column("tag_key", String(128), primary_key=True),
    Column("tag_value", Text, nullable=False),
)

metrics = Table(
    "metrics",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("version_id", BigInteger, nullable=False),
    Column("name", String(64), nullable=False),
    Column("variable", String(64), nullable=False),
    Column("lead_seconds", BigInteger, nullable=False),
    Column("value", Float(precision=53), nullable=False),
    Column("goal", SmallInteger, nullable=False),
    Column("method", String(32), nullable=False, server_default=""),
)

metric_baselines = Table(
    "metric_baselines",
    metadata,
    Column("metric_id", BigInteger, primary_key=True),
    Column("baseline", String(64), primary_key=True),
    Column("value", Float(precision=53), nullable=False),
)

aliases = Table(
    "aliases",
    metadata,
    Column("model_id", BigInteger, primary_key=True),
    Column("alias", String(64), primary_key=True),
    Column("version_id", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
)

alias_history = Table(
    "alias_history",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("model_id", BigInteger, nullable=False),
    Column("alias", String(64), nullable=False),
    Column("from_version", BigInteger),
    Column("to_version", BigInteger),
    Column("actor", String(200), nullable=False),
    Column("at", BigInteger, nullable=False),
    Column("gate_overridden", Boolean, nullable=False),
    Column("reason", Text, nullable=False),
    Column("gate_json", Text),
)

events = Table(
    "events",
    metadata,
    Column("sequence", BigInteger, primary_key=True),
    Column("at", BigInteger, nullable=False),
    Column("type", SmallInteger, nullable=False),
    Column("model_name", String(128), nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("alias", String(64), nullable=False),
    Column("previous_version", BigInteger, nullable=False),
    Column("actor", String(200), nullable=False),
    Column("trace_parent", String(64), nullable=False),
)
