"""Aliases over real gRPC on both backends: atomic moves, audit history, the promotion gate."""

from __future__ import annotations

import grpc
from google.rpc import error_details_pb2
from weather.registry.v1 import registry_service_pb2 as pb

from tests.conftest import RunningRegistry
from tests.registry.helpers import (
    make_artifact,
    metric,
    rpc_error,
    status_details,
    version_request,
    violated_fields,
)


def _setup(registry: RunningRegistry) -> None:
    """Model t2m: v1 beats both baselines everywhere, v2 loses to climatology at +24 h, v3 has no baselines."""
    registry.stub.CreateRegisteredModel(pb.CreateRegisteredModelRequest(name="t2m"))
    artifact = make_artifact(registry.artifact_root, "v")
    good = [
        metric("rmse", "t2m", 1, 0.40, persistence=0.578, climatology=1.804),
        metric("rmse", "t2m", 24, 1.20, persistence=1.538, climatology=1.889),
        metric("acc", "t2m", 24, 0.93, pb.METRIC_GOAL_MAXIMIZE, persistence=0.85, climatology=0.80),
        metric("bias", "t2m", 24, -0.05, pb.METRIC_GOAL_ZERO, persistence=0.3),
    ]
    bad = [
        metric("rmse", "t2m", 1, 0.40, persistence=0.578, climatology=1.804),
        metric("rmse", "t2m", 24, 1.95, persistence=1.538, climatology=1.889),
    ]
    registry.stub.CreateModelVersion(version_request("t2m", artifact, metrics=good))
    registry.stub.CreateModelVersion(version_request("t2m", artifact, metrics=bad))
    registry.stub.CreateModelVersion(version_request("t2m", artifact, metrics=[metric("rmse")]))


def _history(registry: RunningRegistry, alias: str = "") -> list[pb.AliasChange]:
    return list(
        registry.stub.ListAliasHistory(
            pb.ListAliasHistoryRequest(model_name="t2m", alias=alias)
        ).changes
    )


def _gate_violations(error: grpc.RpcError) -> list[error_details_pb2.PreconditionFailure.Violation]:
    """The violations of a gate refusal's PreconditionFailure detail."""
    failures = [
        d for d in status_details(error) if isinstance(d, error_details_pb2.PreconditionFailure)
    ]
    return list(failures[0].violations)


def test_gate_lets_a_better_version_into_production(registry: RunningRegistry) -> None:
    _setup(registry)
    change = registry.stub.SetAlias(
        pb.SetAliasRequest(model_name="t2m", alias="production", version=1)
    ).change
    assert (change.from_version, change.to_version, change.actor) == (0, 1, "tester")
    assert change.gate.passed and len(change.gate.checks) == 7
    assert not change.gate_overridden
    assert all(check.skill > 0 for check in change.gate.checks)
    model = registry.stub.GetRegisteredModel(pb.GetRegisteredModelRequest(name="t2m")).model
    assert dict(model.aliases) == {"production": 1}


def test_gate_refuses_naming_the_failing_metrics_and_writes_nothing(
    registry: RunningRegistry,
) -> None:
    _setup(registry)
    registry.stub.SetAlias(pb.SetAliasRequest(model_name="t2m", alias="production", version=1))
    before = _history(registry)
    error = rpc_error(
        registry.stub.SetAlias, pb.SetAliasRequest(model_name="t2m", alias="production", version=2)
    )
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "t2m/rmse/+24h vs climatology" in error.details()
    subjects = [v.subject for v in _gate_violations(error)]
    assert subjects == ["t2m/rmse/+24h vs climatology", "t2m/rmse/+24h vs persistence"]
    assert _history(registry) == before
    got = registry.stub.GetModelVersion(
        pb.GetModelVersionRequest(model_name="t2m", alias="production")
    )
    assert got.version.version == 1

    no_baselines = rpc_error(
        registry.stub.SetAlias, pb.SetAliasRequest(model_name="t2m", alias="production", version=3)
    )
    assert no_baselines.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "no metrics with baselines" in no_baselines.details()


def test_override_needs_a_reason_and_is_recorded(registry: RunningRegistry) -> None:
    _setup(registry)
    missing_reason = rpc_error(
        registry.stub.SetAlias,
        pb.SetAliasRequest(model_name="t2m", alias="production", version=2, override_gate=True),
    )
    assert missing_reason.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violated_fields(missing_reason) == ["reason"]
    ops = registry.new_stub(actor="on-call@example.org")
    change = ops.SetAlias(
        pb.SetAliasRequest(
            model_name="t2m",
            alias="production",
            version=2,
            override_gate=True,
            reason="storm week hotfix",
        )
    ).change
    assert change.gate_overridden and not change.gate.passed
    recorded = _history(registry, "production")[0]
    assert recorded.id == change.id
    assert recorded.actor == "on-call@example.org"
    assert recorded.gate_overridden
    assert recorded.reason == "storm week hotfix"
    assert [c.passed for c in recorded.gate.checks] == [c.passed for c in change.gate.checks]


def test_ungated_aliases_move_freely_and_history_is_newest_first(registry: RunningRegistry) -> None:
    _setup(registry)
    for version in (3, 2, 1):
        registry.stub.SetAlias(
            pb.SetAliasRequest(model_name="t2m", alias="staging", version=version)
        )
    registry.stub.SetAlias(pb.SetAliasRequest(model_name="t2m", alias="canary", version=2))
    staging = _history(registry, "staging")
    assert [(c.from_version, c.to_version) for c in staging] == [(2, 1), (3, 2), (0, 3)]
    assert all(not c.HasField("gate") for c in staging)
    assert len(_history(registry)) == 4
    deleted = registry.stub.DeleteAlias(
        pb.DeleteAliasRequest(model_name="t2m", alias="canary", reason="done")
    ).change
    assert (deleted.from_version, deleted.to_version, deleted.reason) == (2, 0, "done")
    model = registry.stub.GetRegisteredModel(pb.GetRegisteredModelRequest(name="t2m")).model
    assert dict(model.aliases) == {"staging": 1}
    gone = rpc_error(
        registry.stub.DeleteAlias, pb.DeleteAliasRequest(model_name="t2m", alias="canary")
    )
    assert gone.code() == grpc.StatusCode.NOT_FOUND


def test_compare_and_set_and_validate_only(registry: RunningRegistry) -> None:
    _setup(registry)
    stub = registry.stub
    stub.SetAlias(
        pb.SetAliasRequest(model_name="t2m", alias="staging", version=1, expected_current_version=0)
    )
    lost = rpc_error(
        stub.SetAlias,
        pb.SetAliasRequest(
            model_name="t2m", alias="staging", version=2, expected_current_version=3
        ),
    )
    assert lost.code() == grpc.StatusCode.ABORTED
    stub.SetAlias(
        pb.SetAliasRequest(model_name="t2m", alias="staging", version=2, expected_current_version=1)
    )
    dry = stub.SetAlias(
        pb.SetAliasRequest(model_name="t2m", alias="production", version=1, validate_only=True)
    ).change
    assert dry.id == 0 and dry.gate.passed
    dry_fail = rpc_error(
        stub.SetAlias,
        pb.SetAliasRequest(model_name="t2m", alias="production", version=2, validate_only=True),
    )
    assert dry_fail.code() == grpc.StatusCode.FAILED_PRECONDITION
    model = stub.GetRegisteredModel(pb.GetRegisteredModelRequest(name="t2m")).model
    assert dict(model.aliases) == {"staging": 2}
    missing = rpc_error(
        stub.SetAlias, pb.SetAliasRequest(model_name="t2m", alias="staging", version=42)
    )
    assert missing.code() == grpc.StatusCode.NOT_FOUND


def test_gate_margin_is_configurable(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from tests.conftest import start_registry

    root = tmp_path / "a"
    root.mkdir()
    strict = start_registry(
        f"sqlite:///{tmp_path / 'r.db'}",
        root,
        gate_margin=0.5,
        gated_aliases=["production", "gold"],
    )
    try:
        _setup(strict)
        error = rpc_error(
            strict.stub.SetAlias, pb.SetAliasRequest(model_name="t2m", alias="gold", version=1)
        )
        assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert "margin 0.5" in error.details()
    finally:
        strict.server.stop(1)


def test_gate_judges_only_the_configured_metrics(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from tests.conftest import start_registry

    root = tmp_path / "a"
    root.mkdir()
    registry = start_registry(f"sqlite:///{tmp_path / 'r.db'}", root, gate_metrics=["rmse"])
    try:
        registry.stub.CreateRegisteredModel(pb.CreateRegisteredModelRequest(name="t2m"))
        artifact = make_artifact(registry.artifact_root, "v")
        metrics = [
            metric("rmse", "t2m", 24, 1.50, persistence=1.538, climatology=1.930),
            # loses to persistence on ACC: judged only when every metric is
            metric("acc", "t2m", 24, 0.57, pb.METRIC_GOAL_MAXIMIZE, persistence=0.64),
        ]
        registry.stub.CreateModelVersion(version_request("t2m", artifact, metrics=metrics))
        change = registry.stub.SetAlias(
            pb.SetAliasRequest(model_name="t2m", alias="production", version=1)
        ).change
        assert change.gate.passed
        assert {c.metric for c in change.gate.checks} == {"rmse"} and len(change.gate.checks) == 2
    finally:
        registry.channel.close()
        registry.server.stop(1)
    every = start_registry(f"sqlite:///{tmp_path / 'r.db'}", root, gated_aliases=["gold"])
    try:
        error = rpc_error(
            every.stub.SetAlias, pb.SetAliasRequest(model_name="t2m", alias="gold", version=1)
        )
        assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert "t2m/acc/+24h vs persistence" in error.details()
    finally:
        every.channel.close()
        every.server.stop(1)


def test_gate_judges_rolled_out_leads_unless_limited_to_shorter_leads(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Metrics keep their method (direct, rollout); the gate judges every lead and names the
    method of a failing check, or, with gate_max_lead_hours, only the leads up to it (the rest
    stays registered)."""
    from tests.conftest import start_registry

    root = tmp_path / "a"
    root.mkdir()
    url = f"sqlite:///{tmp_path / 'r.db'}"
    short = start_registry(url, root, gate_metrics=["rmse"], gate_max_lead_hours=24)
    try:
        short.stub.CreateRegisteredModel(pb.CreateRegisteredModelRequest(name="t2m"))
        artifact = make_artifact(short.artifact_root, "v")
        metrics = [
            metric("rmse", "t2m", 1, 0.40, persistence=0.578, climatology=1.804),
            metric("rmse", "t2m", 24, 1.45, persistence=1.538, climatology=1.889),
            metric("rmse", "t2m", 48, 2.10, persistence=1.870, climatology=1.900),
        ]
        for m, method in zip(metrics, ("direct", "direct", "rollout"), strict=True):
            m.method = method
        bad = version_request("t2m", artifact, metrics=[metric("rmse")])
        bad.metrics[0].method = "ensemble"
        refused = rpc_error(short.stub.CreateModelVersion, bad)
        assert refused.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert violated_fields(refused) == ["metrics[0].method"]
        short.stub.CreateModelVersion(version_request("t2m", artifact, metrics=metrics))
        stored = short.stub.GetModelVersion(pb.GetModelVersionRequest(model_name="t2m", version=1))
        assert [m.method for m in stored.version.metrics] == ["direct", "direct", "rollout"]
        change = short.stub.SetAlias(
            pb.SetAliasRequest(model_name="t2m", alias="production", version=1)
        ).change
        assert change.gate.passed and len(change.gate.checks) == 4
        assert {(c.lead_time.seconds, c.method) for c in change.gate.checks} == {
            (3600, "direct"),
            (86400, "direct"),
        }
    finally:
        short.channel.close()
        short.server.stop(1)
    every = start_registry(url, root, gate_metrics=["rmse"], gated_aliases=["gold"])
    try:
        error = rpc_error(
            every.stub.SetAlias, pb.SetAliasRequest(model_name="t2m", alias="gold", version=1)
        )
        assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert "t2m/rmse/+48h vs climatology" in error.details()
        described = [v.description for v in _gate_violations(error)]
        assert described[0].startswith("rmse (rollout) 2.1 against climatology 1.9")
    finally:
        every.channel.close()
        every.server.stop(1)
