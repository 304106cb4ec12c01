"""Hostile URIs through the ingest, registry and model server gRPC APIs: each refused, naming
the field, before any I/O."""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import pytest
from pydantic import ValidationError
from tensorflow_serving.apis import model_management_pb2
from weather.ingest.v1 import ingest_service_pb2 as pb
from weather.ingest.v1 import ingest_service_pb2_grpc as pb_grpc
from weather.registry.v1 import registry_service_pb2 as rpb
from weather.registry.v1 import registry_service_pb2_grpc as rpb_grpc

from tests.modelserver.support import model_config, server_config, start_modelserver
from tests.registry.helpers import rpc_error, version_request, violated_fields
from weather_data.cluster import DaskRuntime, DaskSettings
from weather_ingest.server import build_ingest_server
from weather_ingest.settings import IngestSettings
from weather_registry.server import build_registry_server
from weather_registry.settings import RegistrySettings
from weather_runtime.errors import InvalidArgument
from weather_runtime.uris import MAX_URI_LENGTH, UriPolicy, normalise

BUCKET = "weather-bucket"
HTTPS_HOST = "data.example"
# a string found in every hostile URI below that is not empty: an I/O event naming one of these
# during the check means the target was touched
NEEDLES = (
    "forbidden-target",
    "passwd",
    "169.254",
    "metadata",
    "evil",
    "fd00",
    "2852039166",
    "0xa9",
    "0251",
    "2130706433",
    "0x7f",
    "127.0.0.1",
    "localhost",
    "::1",
    "10.0.0.1",
    "192.168",
)

# (kind, uri) with {root} the allowed local folder and {outside} a folder next to it
HOSTILE: list[tuple[str, str]] = [
    # plain traversal
    ("traversal", "{root}/../forbidden-target/secret.nc"),
    ("traversal", "{root}/../../../../../../etc/passwd"),
    ("traversal", "{root}/./../forbidden-target/secret.nc"),
    ("traversal", "{root}/sub/../../forbidden-target/secret.nc"),
    ("traversal", "file://{root}/../forbidden-target/secret.nc"),
    ("traversal", "{root}/../forbidden-target/"),
    ("traversal", f"s3://{BUCKET}/incoming/../../evil/key"),
    ("traversal", f"https://{HTTPS_HOST}/incoming/../evil"),
    # encoded traversal: percent, double, overlong UTF-8, backslashes, NUL
    ("encoded", "{root}/%2e%2e/forbidden-target/secret.nc"),
    ("encoded", "{root}/%2E%2E/forbidden-target/secret.nc"),
    ("encoded", "{root}/..%2fforbidden-target/secret.nc"),
    ("encoded", "{root}/%2e%2e%2fforbidden-target%2fsecret.nc"),
    ("encoded", "{root}/%252e%252e/forbidden-target/secret.nc"),
    ("encoded", "{root}/%c0%ae%c0%ae/forbidden-target/secret.nc"),
    ("encoded", "{root}/%e0%80%ae%e0%80%ae/forbidden-target/secret.nc"),
    ("encoded", "file://{root}/%2e%2e/forbidden-target/secret.nc"),
    ("encoded", "{root}/..\\forbidden-target\\secret.nc"),
    ("encoded", "{root}\\..\\forbidden-target\\secret.nc"),
    ("encoded", "{root}/%5c..%5cforbidden-target/secret.nc"),
    ("encoded", "{root}/secret.nc\x00/../../forbidden-target"),
    ("encoded", "{root}/a.nc%00.forbidden-target"),
    ("encoded", f"s3://{BUCKET}/incoming/%2e%2e/%2e%2e/evil"),
    # file: and paths outside the roots
    ("outside", "{outside}/secret.nc"),
    ("outside", "file://{outside}/secret.nc"),
    ("outside", "file:///etc/passwd"),
    ("outside", "/etc/passwd"),
    ("outside", "file://localhost/etc/passwd"),
    ("outside", "//etc/passwd"),
    ("outside", "file://evil.example{outside}/secret.nc"),
    ("outside", "file:{outside}/secret.nc"),
    ("outside", "{root}-forbidden-target/secret.nc"),
    ("outside", "forbidden-target/secret.nc"),
    ("outside", "~/forbidden-target/secret.nc"),
    # schemes that are not allowed
    ("scheme", "http://evil.example/data.nc"),
    ("scheme", "ftp://evil.example/passwd"),
    ("scheme", "gopher://evil.example:70/_passwd"),
    ("scheme", "data:text/plain,evil"),
    ("scheme", "jar:file://{outside}/x.jar!/evil"),
    ("scheme", "php://filter/resource=/etc/passwd"),
    ("scheme", "dict://evil.example:11211/"),
    ("scheme", "ldap://evil.example/"),
    ("scheme", "sftp://evil.example/passwd"),
    ("scheme", "smb://evil.example/share"),
    ("scheme", "zip://evil::file://{outside}/a.zip"),
    ("scheme", "simplecache::s3://evil/key"),
    ("scheme", "HTTP://EVIL.example/"),
    # hosts (buckets) that are not allowed
    ("host", "s3://evil-bucket/incoming/x.nc"),
    ("host", "gs://evil-bucket/incoming/x.nc"),
    ("host", "memory://evil/incoming/x.nc"),
    ("host", f"s3://{BUCKET}.evil.example/incoming/x.nc"),
    ("host", "https://evil.example/incoming/x.nc"),
    # user-info tricks
    ("userinfo", f"s3://{BUCKET}@evil/incoming/x.nc"),
    ("userinfo", f"s3://{BUCKET}:secret@evil/incoming/x.nc"),
    ("userinfo", f"s3://evil@{BUCKET}/incoming/x.nc"),
    ("userinfo", f"https://{HTTPS_HOST}@169.254.169.254/incoming/x"),
    ("userinfo", f"https://{HTTPS_HOST}@evil.example/incoming/x"),
    ("userinfo", f"https://{HTTPS_HOST}:443@metadata.google.internal/incoming/"),
    # link-local, loopback, private and metadata-service addresses in any spelling
    ("address", "https://169.254.169.254/latest/meta-data/"),
    ("address", "https://[fd00:ec2::254]/latest/meta-data/"),
    ("address", "https://metadata.google.internal/computeMetadata/v1/"),
    ("address", "https://metadata/computeMetadata/v1/"),
    ("address", "https://2852039166/latest/meta-data/"),
    ("address", "https://0xa9fea9fe/latest/meta-data/"),
    ("address", "https://0251.0376.0251.0376/latest/"),
    ("address", "https://0xa9.0xfe.0xa9.0xfe/latest/"),
    ("address", "https://169.254.169.254.nip.io/latest/"),
    ("address", "https://127.0.0.1/incoming/x"),
    ("address", "https://localhost/incoming/x"),
    ("address", "https://2130706433/incoming/x"),
    ("address", "https://0x7f000001/incoming/x"),
    ("address", "https://[::1]/incoming/x"),
    ("address", "https://[::ffff:169.254.169.254]/incoming/x"),
    ("address", "https://10.0.0.1/incoming/x"),
    ("address", "https://192.168.0.1/incoming/x"),
    ("address", "s3://169.254.169.254/incoming/x"),
    # unicode look-alikes
    ("unicode", "{root}/\u2025/forbidden-target/secret.nc"),
    ("unicode", "{root}/\uff0e\uff0e/forbidden-target/secret.nc"),
    ("unicode", "{root}/\u2215..\u2215forbidden-target/secret.nc"),
    ("unicode", "s3://weather-buck\u0435t/incoming/evil"),
    ("unicode", "s3://weather\u2010bucket/incoming/evil"),
    ("unicode", "{root}\uff0fforbidden-target"),
    # empty, blank, enormous and otherwise malformed strings
    ("malformed", ""),
    ("malformed", "   "),
    ("malformed", " {root}/x.nc"),
    ("malformed", "{root}/" + "a" * (MAX_URI_LENGTH + 10) + "/forbidden-target"),
    ("malformed", "{root}/x.nc\n/forbidden-target"),
    ("malformed", "{root}/x.nc?evil=1"),
    ("malformed", "{root}/x.nc#evil"),
    ("malformed", f"s3://{BUCKET}/incoming/*/../../evil"),
    ("malformed", "{root}/[a-z]*/forbidden-target"),
]


@dataclass
class Recorder:
    """Audit events (open, listdir, scandir, connect, getaddrinfo) while recording is on."""

    active: bool = False
    events: list[tuple[str, str]] | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def hook(self, event: str, args: tuple[object, ...]) -> None:
        if not self.active:
            return
        if event in ("open", "os.listdir", "os.scandir", "socket.getaddrinfo"):
            target = args[0] if args else ""
        elif event == "socket.connect":
            target = args[1] if len(args) > 1 else ""
        else:
            return
        with self.lock:
            assert self.events is not None
            self.events.append((event, str(target)))

    def touched(self, needles: tuple[str, ...]) -> list[tuple[str, str]]:
        return [
            (event, target)
            for event, target in self.events or []
            if any(needle.lower() in target.lower() for needle in needles)
        ]


RECORDER = Recorder(events=[])
sys.addaudithook(RECORDER.hook)  # audit hooks cannot be removed: the recorder has an off switch


@dataclass
class Site:
    root: Path
    outside: Path
    archive: Path
    stub: pb_grpc.IngestServiceStub


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    root = tmp_path / "incoming"
    root.mkdir()
    outside = tmp_path / "forbidden-target"
    outside.mkdir()
    (outside / "secret.nc").write_bytes(b"CDF\x01 not for you")
    archive = tmp_path / "archive"
    settings = IngestSettings(
        host="127.0.0.1",
        port=0,
        metrics_port=-1,
        archive_url=str(archive),
        allowed_roots=[str(root), f"s3://{BUCKET}/incoming", f"https://{HTTPS_HOST}/incoming"],
        allowed_schemes=["file", "s3", "gs", "memory", "https"],
    )
    # a Dask runtime never started: every call here must end before any computing
    server, port = build_ingest_server(settings, runtime=DaskRuntime(DaskSettings()))
    server.start()
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    try:
        yield Site(root, outside, archive, pb_grpc.IngestServiceStub(channel))
    finally:
        channel.close()
        server.stop(2)


def _uri(template: str, site: Site) -> str:
    return template.replace("{root}", str(site.root)).replace("{outside}", str(site.outside))


def _refused_without_io(site: Site, uri: str, validate_only: bool) -> list[tuple[str, str]]:
    """Sends uri; asserts INVALID_ARGUMENT naming source_uri; returns I/O events on targets."""
    RECORDER.events = []
    RECORDER.active = True
    try:
        error = rpc_error(
            site.stub.StartIngest,
            pb.StartIngestRequest(
                source_uri=uri, dataset_id="hostile", validate_only=validate_only
            ),
            timeout=10,
        )
    finally:
        RECORDER.active = False
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, (uri, error.details())  # type: ignore[attr-defined]
    assert violated_fields(error) == ["source_uri"], uri
    return RECORDER.touched(NEEDLES)


def test_the_list_is_long_and_every_entry_names_a_target() -> None:
    assert len(HOSTILE) >= 50
    assert len({kind for kind, _ in HOSTILE}) >= 9
    site = Site(Path("/srv/incoming"), Path("/srv/forbidden-target"), Path("/srv"), None)  # type: ignore[arg-type]
    uris = [_uri(template, site) for _, template in HOSTILE]
    blank = [uri for uri in uris if not any(n.lower() in uri.lower() for n in NEEDLES)]
    assert blank == ["", "   ", " /srv/incoming/x.nc"]


@pytest.mark.parametrize("validate_only", [False, True], ids=["start", "validate-only"])
def test_hostile_uris_are_refused_before_any_io(site: Site, validate_only: bool) -> None:
    touched = {}
    for kind, template in HOSTILE:
        uri = _uri(template, site)
        events = _refused_without_io(site, uri, validate_only)
        if events:
            touched[f"{kind}: {uri[:120]}"] = events
    assert touched == {}
    assert not site.archive.exists() or not any(site.archive.rglob("*.json"))


def test_the_recorder_sees_io_on_server_threads(site: Site) -> None:
    """The control: an allowed source is opened (its format sniffed) and the hook sees it."""
    source = site.root / "forbidden-target-lookalike.bin"
    source.write_bytes(b"\x00garbage, no format")
    events = _refused_without_io_or_format(site, str(source))
    assert ("open", str(source)) in events


def _refused_without_io_or_format(site: Site, uri: str) -> list[tuple[str, str]]:
    RECORDER.events = []
    RECORDER.active = True
    try:
        error = rpc_error(
            site.stub.StartIngest,
            pb.StartIngestRequest(source_uri=uri, dataset_id="control", validate_only=True),
            timeout=10,
        )
    finally:
        RECORDER.active = False
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT  # type: ignore[attr-defined]
    assert violated_fields(error) == ["format"]
    return RECORDER.touched(("forbidden-target",))


@pytest.mark.parametrize("validate_only", [False, True], ids=["start", "validate-only"])
def test_links_inside_the_root_pointing_outside_are_refused(
    site: Site, validate_only: bool
) -> None:
    secret = site.outside / "secret.nc"
    (site.root / "link.nc").symlink_to(secret)
    (site.root / "linked-dir").symlink_to(site.outside, target_is_directory=True)
    (site.root / "chain.nc").symlink_to(site.root / "link.nc")
    for name in ("link.nc", "linked-dir/secret.nc", "chain.nc"):
        uri = str(site.root / name)
        events = _refused_without_io(site, uri, validate_only)
        opened = [target for event, target in events if event == "open"]
        assert opened == [], uri


# the registry's artifact_uri and the model server's reload base paths, under the same policy

BASE_PATH = "config.model_config_list.config[0].base_path"


@dataclass
class Services:
    """A registry and a model server whose allowed roots are root (and the bucket, for the
    registry), with a folder outside both."""

    root: Path
    outside: Path
    registry: rpb_grpc.RegistryServiceStub
    reload: Callable[[str], model_management_pb2.ReloadConfigResponse]


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    root = tmp_path / "incoming"
    root.mkdir()
    outside = tmp_path / "forbidden-target"
    outside.mkdir()
    (outside / "secret.nc").write_bytes(b"CDF\x01 not for you")
    registry, port = build_registry_server(
        RegistrySettings(
            host="127.0.0.1",
            port=0,
            metrics_port=-1,
            database_url=f"sqlite:///{tmp_path / 'registry.db'}",
            artifact_roots=[str(root), f"s3://{BUCKET}/incoming", f"https://{HTTPS_HOST}/incoming"],
            allowed_schemes=["file", "s3", "gs", "memory", "https"],
        )
    )
    registry.start()
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    # started on a model config file in root and no allowed roots: root is the default
    config_file = root / "models.config"
    config_file.write_text("model_config_list {}\n")
    modelserver = start_modelserver(
        model_config_file=str(config_file), model_load_timeout_seconds=2
    )
    try:
        stub = rpb_grpc.RegistryServiceStub(channel)
        stub.CreateRegisteredModel(rpb.CreateRegisteredModelRequest(name="m"), timeout=10)

        def reload(base_path: str) -> model_management_pb2.ReloadConfigResponse:
            config = server_config(model_config("m", Path("/placeholder")))
            config.model_config_list.config[0].base_path = base_path
            return modelserver.reload(config)

        yield Services(root, outside, stub, reload)
    finally:
        channel.close()
        registry.stop(2)
        modelserver.stop()


def _create_version(services: Services, uri: str) -> object:
    request = version_request("m", Path("/placeholder"))
    request.artifact_uri = uri
    return services.registry.CreateModelVersion(request, timeout=10)


def _refused_by(call: Callable[[str], object], uri: str, field_name: str) -> list[tuple[str, str]]:
    """Calls with uri; asserts INVALID_ARGUMENT naming field_name; returns I/O on targets."""
    RECORDER.events = []
    RECORDER.active = True
    try:
        error = rpc_error(call, uri)
    finally:
        RECORDER.active = False
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, (uri, error.details())  # type: ignore[attr-defined]
    assert violated_fields(error) == [field_name], uri
    return RECORDER.touched(NEEDLES)


def test_hostile_artifact_uris_are_refused_by_the_registry_before_any_io(
    services: Services,
) -> None:
    site = Site(services.root, services.outside, services.root, None)  # type: ignore[arg-type]
    touched = {}
    for kind, template in HOSTILE:
        uri = _uri(template, site)
        events = _refused_by(lambda u: _create_version(services, u), uri, "artifact_uri")
        if events:
            touched[f"{kind}: {uri[:120]}"] = events
    assert touched == {}
    listed = services.registry.ListModelVersions(
        rpb.ListModelVersionsRequest(model_name="m"), timeout=10
    )
    assert list(listed.versions) == []
    # the control: a folder under the root is accepted (the registry does not read it)
    created = _create_version(services, str(services.root / "model" / "1"))
    assert created.version.artifact_uri == str(services.root / "model" / "1")  # type: ignore[attr-defined]


def test_hostile_base_paths_are_refused_by_the_model_server_before_any_io(
    services: Services,
) -> None:
    site = Site(services.root, services.outside, services.root, None)  # type: ignore[arg-type]
    touched = {}
    for kind, template in HOSTILE:
        uri = _uri(template, site)
        events = _refused_by(services.reload, uri, BASE_PATH)
        if events:
            touched[f"{kind}: {uri[:120]}"] = events
    assert touched == {}
    # a link inside the root that leads out is refused too, nothing opened through it
    (services.root / "linked").symlink_to(services.outside, target_is_directory=True)
    events = _refused_by(services.reload, str(services.root / "linked"), BASE_PATH)
    assert [e for e in events if e[0] != "open" or "linked" not in e[1]] == []


def test_a_base_path_under_the_root_is_scanned(services: Services) -> None:
    """The control: a folder under the default root passes the check and is looked into."""
    folder = services.root / "forbidden-target-lookalike"
    folder.mkdir()
    RECORDER.events = []
    RECORDER.active = True
    try:
        error = rpc_error(services.reload, str(folder))
    finally:
        RECORDER.active = False
    # no version there: the new model does not become available in time
    assert error.code() == grpc.StatusCode.UNAVAILABLE, error.details()  # type: ignore[attr-defined]
    assert any(target == str(folder) for _, target in RECORDER.touched(("lookalike",)))


def test_the_model_server_settings_take_allowed_roots(tmp_path: Path) -> None:
    from weather_modelserver.settings import ModelServerSettings

    base = tmp_path / "models" / "m"
    settings = ModelServerSettings(model_base_path=str(base))
    assert settings.base_path_policy().roots == (f"file://{tmp_path / 'models'}",)
    narrowed = ModelServerSettings(model_base_path=str(base), allowed_roots=f"file://{base}, /srv")
    assert narrowed.base_path_policy().roots == (f"file://{base}", "file:///srv")
    with pytest.raises(ValidationError, match="allowed_roots"):
        ModelServerSettings(model_base_path=str(base), allowed_roots="s3://bucket/models")
    with pytest.raises(ValidationError, match="allowed_roots"):
        ModelServerSettings(model_base_path=str(base), allowed_roots="/srv/../etc")


def test_the_registry_settings_take_the_uri_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    assert RegistrySettings().artifact_roots == ["file:///"]  # today's default: any local path
    monkeypatch.setenv("REGISTRY_ALLOWED_ROOTS", "/srv/models,s3://models/v")
    monkeypatch.setenv("REGISTRY_ALLOWED_SCHEMES", "file,s3")
    settings = RegistrySettings()
    assert settings.artifact_roots == ["file:///srv/models", "s3://models/v"]
    assert settings.allowed_schemes == ["file", "s3"]
    monkeypatch.delenv("REGISTRY_ALLOWED_ROOTS")
    monkeypatch.setenv("REGISTRY_ARTIFACT_ROOTS", "/old/name")  # the older variable still works
    assert RegistrySettings().artifact_roots == ["file:///old/name"]
    with pytest.raises(ValidationError, match=r"artifact_roots|ALLOWED_ROOTS"):
        RegistrySettings(artifact_roots=["s3://169.254.169.254/x"])


# unit tests of weather_runtime.uris


def _policy(tmp_path: Path, **kwargs: list[str]) -> UriPolicy:
    return UriPolicy.build(
        [str(tmp_path / "in"), f"s3://{BUCKET}/incoming", "memory://scratch"], **kwargs
    )


@pytest.mark.parametrize(
    ("uri", "normal"),
    [
        ("{root}/a.nc", "file://{root}/a.nc"),
        ("file://{root}/a.nc", "file://{root}/a.nc"),
        ("file://localhost{root}//sub/./a.nc", "file://{root}/sub/a.nc"),
        ("{root}", "file://{root}"),
        ("{root}/My Data/a b.nc", "file://{root}/My Data/a b.nc"),
        (f"s3://{BUCKET}/incoming/x/y.grib", f"s3://{BUCKET}/incoming/x/y.grib"),
        (f"S3://{BUCKET.upper()}/incoming/", f"s3://{BUCKET}/incoming"),
        ("memory://scratch/a.zarr", "memory://scratch/a.zarr"),
    ],
)
def test_allowed_uris_normalise(tmp_path: Path, uri: str, normal: str) -> None:
    root = str(tmp_path / "in")
    assert _policy(tmp_path).check(uri.replace("{root}", root), "f") == normal.replace(
        "{root}", root
    )


def test_every_hostile_uri_is_refused_by_the_policy_alone(tmp_path: Path) -> None:
    policy = UriPolicy.build(
        [str(tmp_path / "incoming"), f"s3://{BUCKET}/incoming", f"https://{HTTPS_HOST}/incoming"],
        schemes=["file", "s3", "gs", "memory", "https"],
    )
    site = Site(tmp_path / "incoming", tmp_path / "forbidden-target", tmp_path, None)  # type: ignore[arg-type]
    for _, template in HOSTILE:
        with pytest.raises(InvalidArgument) as caught:
            policy.check(_uri(template, site), "dest_uri")
        assert [v.field for v in caught.value.violations] == ["dest_uri"]


def test_the_check_does_no_io(tmp_path: Path) -> None:
    policy = _policy(tmp_path)
    RECORDER.events = []
    RECORDER.active = True
    try:
        policy.check(str(tmp_path / "in" / "a.nc"), "f")
        for _, template in HOSTILE:
            with contextlib.suppress(InvalidArgument):
                policy.check(template.replace("{root}", str(tmp_path / "in")), "f")
    finally:
        RECORDER.active = False
    assert RECORDER.events == []


def test_a_sibling_with_the_root_as_prefix_is_outside(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument):
        _policy(tmp_path).check(str(tmp_path / "in-other" / "a.nc"), "f")
    with pytest.raises(InvalidArgument):
        _policy(tmp_path).check(f"s3://{BUCKET}/incoming-other/a.nc", "f")


def test_hosts_default_to_the_roots_and_can_be_narrowed(tmp_path: Path) -> None:
    assert _policy(tmp_path).hosts == {BUCKET, "scratch"}
    narrowed = _policy(tmp_path, hosts=["scratch"])
    with pytest.raises(InvalidArgument, match="not an allowed host"):
        narrowed.check(f"s3://{BUCKET}/incoming/a", "f")
    assert narrowed.check("memory://scratch/a", "f") == "memory://scratch/a"


def test_schemes_default_without_http_and_can_be_narrowed(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument, match="scheme 'https' is not allowed"):
        UriPolicy.build(["https://data.example/x"]).check("https://data.example/x/a", "f")
    only_files = _policy(tmp_path, schemes=["file"])
    with pytest.raises(InvalidArgument, match="scheme 's3' is not allowed"):
        only_files.check(f"s3://{BUCKET}/incoming/a", "f")


def test_metadata_and_ip_hosts_stay_refused_even_when_listed() -> None:
    for host in ("metadata.google.internal", "169.254.169.254", "2852039166", "localhost"):
        policy = UriPolicy.build(["https://data.example/x"], schemes=["https"], hosts=[host])
        with pytest.raises(InvalidArgument, match=r"metadata|IP address|local"):
            policy.check(f"https://{host}/x/a", "f")
        with pytest.raises(ValueError):  # and cannot be configured as a root
            UriPolicy.build([f"https://{host}/x"], schemes=["https"])


def test_normalise_refuses_non_strings_and_long_input() -> None:
    with pytest.raises(ValueError, match="at most"):
        normalise("/" + "a" * MAX_URI_LENGTH)
    with pytest.raises(ValueError, match="non-empty"):
        normalise(None)  # type: ignore[arg-type]


def test_check_open_follows_links(tmp_path: Path) -> None:
    policy = _policy(tmp_path)
    (tmp_path / "in").mkdir()
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "s.nc").write_bytes(b"x")
    (tmp_path / "in" / "ok.nc").write_bytes(b"x")
    (tmp_path / "in" / "bad.nc").symlink_to(tmp_path / "out" / "s.nc")
    (tmp_path / "in" / "good.nc").symlink_to(tmp_path / "in" / "ok.nc")
    ok = policy.check(str(tmp_path / "in" / "good.nc"), "f")
    assert policy.check_open(ok, "f") == os.path.realpath(tmp_path / "in" / "ok.nc")
    bad = policy.check(str(tmp_path / "in" / "bad.nc"), "f")
    with pytest.raises(InvalidArgument, match="through a link"):
        policy.check_open(bad, "f")
    assert policy.check_open("memory://scratch/a", "f") == "memory://scratch/a"


def test_the_ingest_settings_refuse_a_hostile_root() -> None:
    with pytest.raises(ValidationError, match="allowed_roots"):
        IngestSettings(allowed_roots=["s3://169.254.169.254/x"])
    settings = IngestSettings(
        allowed_roots=["/srv/in"], allowed_schemes="file, s3", allowed_hosts="b"
    )
    assert (settings.allowed_schemes, settings.allowed_hosts) == (["file", "s3"], ["b"])
