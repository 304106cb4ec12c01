"""Starts the implemented services locally on loopback with embedded defaults, and stops them."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from weather_runtime.local_ca import LOCAL_HOSTS, Issued, LocalCA, LocalPki, make_local_pki
from weather_runtime.tls import ClientTLS
from weather_runtime.trace_files import TRACES_DIR_VARIABLE
from weatherctl.tokens import LocalAuth, make_local_auth


@dataclass(frozen=True)
class ServiceSpec:
    """How to run one service: its module, environment prefix and the settings it gets locally."""

    name: str
    module: str
    prefix: str
    local_settings: dict[str, str] = field(default_factory=dict)
    # False for a sidecar without a gRPC server (the serving sync): no port, no health check
    serves_grpc: bool = True
    start_timeout: float = 60


def source_root() -> Path:
    """Where sources may be ingested from locally: $WEATHER_DATA_DIR or ./data."""
    return Path(os.environ.get("WEATHER_DATA_DIR", "data")).resolve()


# Aliases the serving sync follows, each served as a version label of the same name.
SERVED_ALIASES = "production,staging,canary"
EMPTY_MODEL_CONFIG = "model_config_list {}\n"
# Names of the services in start order: the model server before the sync and the predictor.
SERVICE_NAMES = (
    "registry",
    "ingest",
    "preprocess",
    "trainer",
    "modelserver",
    "serving-sync",
    "predictor",
)


def serving_base(data_dir: Path) -> Path:
    """The model server's base folder: <model>/<version>/ copies made by the serving sync."""
    return data_dir / "serving"


def archive_url(data_dir: Path) -> str:
    """The suite's archive (ingest writes it, preprocess, trainer and predictor read it)."""
    return str(data_dir / "archive")


def implemented_services(
    data_dir: Path, scheduler: str, ports: dict[str, int]
) -> list[ServiceSpec]:
    """The services the suite has so far, with embedded defaults under data_dir; ports holds
    each service's gRPC port (services that call others find them there)."""
    archive = archive_url(data_dir)
    return [
        ServiceSpec(
            "registry",
            "weather_registry",
            "REGISTRY_",
            {
                "DATABASE_URL": f"sqlite:///{data_dir / 'registry' / 'registry.db'}",
                "ARTIFACT_ROOTS": str(data_dir),
                # the gate judges the skill score's metric; MAE, ACC and bias are kept beside it
                "GATE_METRICS": "rmse",
            },
        ),
        ServiceSpec(
            "ingest",
            "weather_ingest",
            "INGEST_",
            {
                "ARCHIVE_URL": archive,
                "ALLOWED_ROOTS": str(source_root()),
                "DASK_SCHEDULER": scheduler,
            },
        ),
        ServiceSpec(
            "preprocess",
            "weather_preprocess",
            "PREPROCESS_",
            {"ARCHIVE_URL": archive, "DASK_SCHEDULER": scheduler},
        ),
        ServiceSpec(
            "trainer",
            "weather_trainer",
            "TRAINER_",
            {
                "ARCHIVE_URL": archive,
                "WORK_ROOT": str(data_dir / "trainer"),
                "REGISTRY_ADDRESS": f"127.0.0.1:{ports['registry']}",
                "DASK_SCHEDULER": scheduler,
            },
        ),
        ServiceSpec(
            "modelserver",
            "weather_modelserver",
            "MODELSERVER_",
            # starts serving nothing; the serving sync reloads its config as aliases move
            {
                "MODEL_CONFIG_FILE": str(data_dir / "modelserver" / "empty.config"),
                # reloads may point only at the serving sync's copies
                "ALLOWED_ROOTS": str(serving_base(data_dir)),
            },
            start_timeout=180,
        ),
        ServiceSpec(
            "serving-sync",
            "weather_predictor.sync",
            "SERVING_SYNC_",
            {
                "REGISTRY_ADDRESS": f"127.0.0.1:{ports['registry']}",
                "MODEL_SERVER_ADDRESS": f"127.0.0.1:{ports['modelserver']}",
                "SERVING_BASE_PATH": str(serving_base(data_dir)),
                # MODEL_NAMES left unset: every registered model is served
                "ALIASES": SERVED_ALIASES,
            },
            serves_grpc=False,
        ),
        ServiceSpec(
            "predictor",
            "weather_predictor",
            "PREDICTOR_",
            {
                "MODELSERVER_ADDRESS": f"127.0.0.1:{ports['modelserver']}",
                "MODEL_ROOT": str(serving_base(data_dir)),
                "ARCHIVE_URL": archive,
            },
            start_timeout=180,
        ),
    ]


@dataclass
class RunningService:
    """A started service process and where it listens."""

    spec: ServiceSpec
    process: subprocess.Popen[bytes]
    port: int
    metrics_port: int
    log_path: Path

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}" if self.spec.serves_grpc else "-"


def free_port() -> int:
    """A TCP port free on loopback right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_serving(
    address: str,
    process: subprocess.Popen[bytes],
    timeout: float,
    security: ClientTLS | None = None,
) -> None:
    """Waits until the server's health says SERVING; raises if the process dies or time runs out."""
    deadline = time.monotonic() + timeout
    channel = (
        grpc.insecure_channel(address)
        if security is None
        else grpc.secure_channel(address, security.credentials())
    )
    with channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"exited with code {process.returncode} during start-up")
            try:
                status = stub.Check(health_pb2.HealthCheckRequest(), timeout=1).status
                if status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.RpcError:
                pass
            time.sleep(0.1)
    raise TimeoutError(f"{address} not serving after {timeout:.0f} s")


def wait_alive(process: subprocess.Popen[bytes], settle: float = 2.0) -> None:
    """A sidecar without a server: it must still be running once its settings were read."""
    deadline = time.monotonic() + settle
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"exited with code {process.returncode} during start-up")
        time.sleep(0.1)


class LocalSuite:
    """The implemented services as child processes; a context manager that always stops them."""

    def __init__(
        self,
        data_dir: Path,
        ports: dict[str, int] | None = None,
        log_level: str = "INFO",
        extra_env: dict[str, str] | None = None,
        tls: bool = True,
        auth: bool = True,
    ) -> None:
        # absolute: the predictor and the sync take their folders as URLs, not relative paths
        self.data_dir = data_dir.absolute()
        self.ports = ports or {}
        self.log_level = log_level
        # given to every service process last (e.g. OTEL_* variables, a setting to override)
        self.extra_env = dict(extra_env or {})
        self.services: dict[str, RunningService] = {}
        self.dask = DaskProcesses(data_dir / "dask")
        # mTLS between everything (a fresh local CA under <data-dir>/tls at each start)
        self.tls = tls
        self.pki: LocalPki | None = None
        # bearer tokens checked against the shipped policy (a fresh key under <data-dir>/auth)
        self.auth = auth
        self.local_auth: LocalAuth | None = None

    @property
    def client_tls(self) -> ClientTLS | None:
        """weatherctl's identity (CN=weatherctl) and the suite's CA; None without TLS."""
        if self.pki is None:
            return None
        mine = self.pki.clients[CTL_IDENTITY]
        return ClientTLS.from_files(self.pki.ca_file, mine.cert_file, mine.key_file)

    def _tls_env(self, spec: ServiceSpec) -> dict[str, str]:
        """A service's TLS settings: its server certificate, the CA its clients' certificates
        must come from (mTLS), and its own client certificate for the calls it makes."""
        if self.pki is None:
            return {}
        ca = str(self.pki.ca_file)
        mine = self.pki.clients[spec.name]
        env = {
            "CLIENT_CA_FILE": ca,
            "CLIENT_CERT_FILE": str(mine.cert_file),
            "CLIENT_KEY_FILE": str(mine.key_file),
        }
        if "DASK_SCHEDULER" in spec.local_settings:  # Dask over mTLS too, as this client
            env["DASK_TLS_CA_FILE"] = ca
            env["DASK_TLS_CERT_FILE"] = str(mine.cert_file)
            env["DASK_TLS_KEY_FILE"] = str(mine.key_file)
        if spec.serves_grpc:
            server = self.pki.servers[spec.name]
            env["TLS_CERT_FILE"] = str(server.cert_file)
            env["TLS_KEY_FILE"] = str(server.key_file)
            env["TLS_CLIENT_CA_FILE"] = ca
        return {spec.prefix + k: v for k, v in env.items()}

    @property
    def client_token_file(self) -> str:
        """weatherctl's bearer token file (admin role); '' without authentication."""
        if self.local_auth is None:
            return ""
        return str(self.local_auth.tokens[CTL_IDENTITY])

    def _auth_env(self, spec: ServiceSpec) -> dict[str, str]:
        """A service's AUTH_* settings (a server) and the token of its outgoing calls."""
        if self.local_auth is None:
            return {}
        env = self.local_auth.server_env() if spec.serves_grpc else {}
        env["CLIENT_TOKEN_FILE"] = str(self.local_auth.tokens[spec.name])
        return {spec.prefix + k: v for k, v in env.items()}

    @property
    def archive_url(self) -> str:
        return archive_url(self.data_dir)

    @property
    def traces_dir(self) -> Path:
        """Where the services write their spans (OTLP JSON lines) unless told otherwise."""
        return Path(os.environ.get(TRACES_DIR_VARIABLE) or self.data_dir / "traces")

    def start(self, timeout: float = 60) -> None:
        """Starts a Dask scheduler and workers, then every service in order; waits until each
        serves (a sidecar: until it is past start-up). Stops what started when one fails."""
        (self.data_dir / "logs").mkdir(parents=True, exist_ok=True)
        (self.data_dir / "modelserver").mkdir(parents=True, exist_ok=True)
        (self.data_dir / "modelserver" / "empty.config").write_text(EMPTY_MODEL_CONFIG)
        serving_base(self.data_dir).mkdir(parents=True, exist_ok=True)
        ports = {name: self.ports.get(name) or free_port() for name in SERVICE_NAMES}
        specs = implemented_services(self.data_dir, "", ports)  # the names, for the PKI
        if self.tls:
            self.pki = make_local_pki(
                self.data_dir / "tls",
                servers=[spec.name for spec in specs if spec.serves_grpc],
                clients=[*(spec.name for spec in specs), CTL_IDENTITY],
            )
            # the scheduler and workers serve and dial: one certificate with both usages
            node = LocalCA.load(self.data_dir / "tls").issue(
                "dask", "dask-node", hosts=LOCAL_HOSTS, server=True, client=True
            )
            self.dask.tls = (self.pki.ca_file, node)
        scheduler = self.dask.start(self.data_dir / "logs", timeout)
        specs = implemented_services(self.data_dir, scheduler, ports)
        if self.auth:
            self.local_auth = make_local_auth(
                self.data_dir / "auth", [*(spec.name for spec in specs), CTL_IDENTITY]
            )
        security = self.client_tls
        for spec in specs:
            port = ports[spec.name] if spec.serves_grpc else 0
            metrics_port = free_port() if spec.serves_grpc else 0
            env = {
                **os.environ,
                **{spec.prefix + k: v for k, v in spec.local_settings.items()},
                **self._tls_env(spec),
                **self._auth_env(spec),
                spec.prefix + "LOG_LEVEL": self.log_level,
            }
            # spans go to local files unless the caller chose a folder (or OTLP) already
            env.setdefault(TRACES_DIR_VARIABLE, str(self.traces_dir))
            if spec.serves_grpc:
                env[spec.prefix + "HOST"] = "127.0.0.1"
                env[spec.prefix + "PORT"] = str(port)
                env[spec.prefix + "METRICS_PORT"] = str(metrics_port)
            env.update(self.extra_env)
            log_path = self.data_dir / "logs" / f"{spec.name}.log"
            with log_path.open("ab") as log:
                process = subprocess.Popen(
                    [sys.executable, "-m", spec.module],
                    env=env,
                    stdout=log,
                    stderr=log,
                    start_new_session=True,
                )
            running = RunningService(spec, process, port, metrics_port, log_path)
            self.services[spec.name] = running
            try:
                if spec.serves_grpc:
                    wait_serving(
                        running.address, process, max(timeout, spec.start_timeout), security
                    )
                else:
                    wait_alive(process)
            except (RuntimeError, TimeoutError) as exc:
                self.stop()
                tail = log_path.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"{spec.name} failed to start: {exc}\n{tail}") from None

    def stop(self, grace: float = 20) -> dict[str, int]:
        """SIGTERM to every service (the last started first), then SIGKILL past the grace;
        returns exit codes."""
        started = list(self.services.items())[::-1]
        for _, running in started:
            if running.process.poll() is None:
                running.process.send_signal(signal.SIGTERM)
        codes = {}
        deadline = time.monotonic() + grace
        for name, running in started:
            try:
                codes[name] = running.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                running.process.kill()
                codes[name] = running.process.wait()
        self.services.clear()
        self.dask.stop()
        return codes

    def dead(self) -> list[str]:
        """Services whose process has exited."""
        return [name for name, s in self.services.items() if s.process.poll() is not None]

    def __enter__(self) -> LocalSuite:
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class DaskProcesses:
    """A local `dask scheduler` and worker processes shared by the data services."""

    def __init__(self, folder: Path, workers: int = 2) -> None:
        self.folder = folder
        self.workers = workers
        self.processes: list[subprocess.Popen[bytes]] = []
        # (CA file, certificate with server and client usages): mutual TLS, tls:// address
        self.tls: tuple[Path, Issued] | None = None

    def _tls_args(self) -> list[str]:
        if self.tls is None:
            return []
        ca, node = self.tls
        files = ["--tls-ca-file", str(ca), "--tls-cert", str(node.cert_file)]
        return ["--protocol", "tls", *files, "--tls-key", str(node.key_file)]

    def _env(self) -> dict[str, str]:
        # with every worker gone for good (nannies too), queued tasks fail after two minutes
        # (the operation ends UNAVAILABLE) instead of waiting for ever
        env = {**os.environ, "DASK_DISTRIBUTED__SCHEDULER__NO_WORKERS_TIMEOUT": "120s"}
        if self.tls is not None:
            env["DASK_DISTRIBUTED__COMM__REQUIRE_ENCRYPTION"] = "True"
        return env

    def start(self, logs: Path, timeout: float) -> str:
        """Starts them and returns the scheduler address once the workers have joined."""
        self.folder.mkdir(parents=True, exist_ok=True)
        scheduler_file = self.folder / "scheduler.json"
        scheduler_file.unlink(missing_ok=True)
        dask = str(Path(sys.executable).parent / "dask")
        with (logs / "dask.log").open("ab") as log:
            self.processes.append(
                subprocess.Popen(
                    [
                        dask,
                        "scheduler",
                        "--host",
                        "127.0.0.1",
                        "--port",
                        "0",
                        "--no-dashboard",
                        "--scheduler-file",
                        str(scheduler_file),
                        *self._tls_args(),
                    ],
                    env=self._env(),
                    stdout=log,
                    stderr=log,
                    start_new_session=True,
                )
            )
            deadline = time.monotonic() + timeout
            while not scheduler_file.exists():
                if time.monotonic() > deadline or self.processes[0].poll() is not None:
                    self.stop()
                    raise RuntimeError("the Dask scheduler did not start; see dask.log")
                time.sleep(0.1)
            address = str(json.loads(scheduler_file.read_text())["address"])
            for index in range(self.workers):
                self.processes.append(
                    subprocess.Popen(
                        [
                            dask,
                            "worker",
                            address,
                            "--nworkers",
                            "1",
                            "--nthreads",
                            "1",
                            "--no-dashboard",
                            "--name",
                            f"local-{index}",
                            "--local-directory",
                            str(self.folder / f"worker-{index}"),
                            *self._tls_args(),
                        ],
                        env=self._env(),
                        stdout=log,
                        stderr=log,
                        start_new_session=True,
                    )
                )
        return address

    def stop(self, grace: float = 20) -> None:
        """Workers first, then the scheduler."""
        for process in reversed(self.processes):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in reversed(self.processes):
            try:
                process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.processes.clear()


# The client identity weatherctl gets from the local CA (its certificate's CN).
CTL_IDENTITY = "weatherctl"
# What weatherctl reads its TLS files from (also written into suite.json).
TLS_VARIABLES = {
    "ca_file": "WEATHER_CA_FILE",
    "cert_file": "WEATHER_CERT_FILE",
    "key_file": "WEATHER_KEY_FILE",
}


def suite_tls(suite: LocalSuite) -> dict[str, str]:
    """The suite's CA and weatherctl's certificate and key ({} without TLS), as suite.json
    holds them."""
    tls = suite.client_tls
    if tls is None or tls.cert is None or tls.key is None:
        return {}
    return {
        "ca_file": str(tls.ca.path),
        "cert_file": str(tls.cert.path),
        "key_file": str(tls.key.path),
    }


# The addresses file `weatherctl up` writes in its data folder while the suite runs (for
# `weatherctl pipeline run FILE --suite <data-dir>/suite.json`); removed when it stops.
SUITE_FILE = "suite.json"


def write_suite_file(suite: LocalSuite) -> Path:
    """Writes the running suite's gRPC addresses, archive URL and data folder as JSON."""
    path = suite.data_dir / SUITE_FILE
    addresses = {n: s.address for n, s in suite.services.items() if s.spec.serves_grpc}
    content = {
        "data_dir": str(suite.data_dir),
        "archive_url": suite.archive_url,
        "services": addresses,
        "pid": os.getpid(),
    }
    tls = suite_tls(suite)
    if tls:
        content["tls"] = tls
    if suite.client_token_file:
        content["auth"] = {"token_file": suite.client_token_file}
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(content, indent=2) + "\n")
    os.replace(temporary, path)
    return path


def run_up(data_dir: Path, ports: dict[str, int]) -> int:
    """`weatherctl up`: start, print addresses, wait for Ctrl-C or SIGTERM, stop cleanly."""
    suite = LocalSuite(data_dir, ports)
    stopping = False

    def on_signal(_signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        suite.start()
    except RuntimeError as exc:
        print(f"weatherctl: {exc}", file=sys.stderr)
        return 1
    for name, running in suite.services.items():
        if running.spec.serves_grpc:
            where = f"{running.address}  metrics http://127.0.0.1:{running.metrics_port}/metrics"
        else:
            where = f"(sidecar, serving base {serving_base(data_dir)})"
        print(f"{name:<12} {where}  log {running.log_path}", flush=True)
    addresses = write_suite_file(suite)
    print(f"addresses in {addresses}", flush=True)
    tls = suite_tls(suite)
    if tls:
        print("mTLS is on; for weatherctl commands against this suite:", flush=True)
        for key, variable in TLS_VARIABLES.items():
            print(f"  export {variable}={tls[key]}", flush=True)
    if suite.client_token_file:
        print("authentication is on; weatherctl's token (admin):", flush=True)
        print(f"  export WEATHER_TOKEN_FILE={suite.client_token_file}", flush=True)
    print(f"traces in {suite.traces_dir} (weatherctl trace list --dir ...)", flush=True)
    print("suite is up; Ctrl-C or SIGTERM stops it", flush=True)
    while not stopping and not suite.dead():
        time.sleep(0.2)
    crashed = suite.dead()
    addresses.unlink(missing_ok=True)
    codes = suite.stop()
    print("stopped: " + ", ".join(f"{n} exit {c}" for n, c in codes.items()), flush=True)
    if crashed:
        print(f"weatherctl: {', '.join(crashed)} exited unexpectedly", file=sys.stderr)
        return 1
    return 0 if all(code == 0 for code in codes.values()) else 1
