"""The Dask cluster a service computes on: a scheduler address, or a local cluster it starts."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from distributed import Client, LocalCluster
from distributed.security import Security

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DaskSettings:
    """Where to compute: scheduler address (empty: a local cluster of worker processes)."""

    scheduler_address: str = ""
    local_workers: int = 2
    local_threads: int = 1
    memory_limit: str = "2GiB"
    local_directory: str = ""
    # TLS of every Dask connection (distributed.security): the CA verifying the peers and the
    # certificate and key this process presents (it needs both server and client auth usages:
    # a local cluster's scheduler and workers serve with it too). No CA: an external scheduler
    # is reached as its address says, a local cluster gets throwaway in-memory certificates.
    tls_ca_file: str = ""
    tls_cert_file: str = ""
    tls_key_file: str = ""
    require_encryption: bool | None = None  # None: True when tls_ca_file is set

    def security(self) -> Security:
        """The Security of the client (and of a local cluster's scheduler and workers)."""
        if self.tls_ca_file:
            cert, key = self.tls_cert_file or None, self.tls_key_file or None
            require = True if self.require_encryption is None else self.require_encryption
            return Security(
                require_encryption=require,
                tls_ca_file=self.tls_ca_file,
                tls_client_cert=cert,
                tls_client_key=key,
                tls_scheduler_cert=cert,
                tls_scheduler_key=key,
                tls_worker_cert=cert,
                tls_worker_key=key,
            )
        if not self.scheduler_address:
            temporary: Security = Security.temporary()  # in memory, this process only
            return temporary
        return Security(require_encryption=self.require_encryption)  # None: Dask's config


class DaskRuntime:
    """A lazily started Dask client shared by a service's threads."""

    def __init__(self, settings: DaskSettings) -> None:
        self.settings = settings
        self._client: Client | None = None
        self._cluster: LocalCluster | None = None
        self._lock = threading.Lock()

    def client(self) -> Client:
        """The client, connecting (or starting the local cluster) on first use."""
        with self._lock:
            if self._client is None:
                s = self.settings
                if s.scheduler_address:
                    log.info("connecting to the Dask scheduler at %s", s.scheduler_address)
                    self._client = Client(
                        s.scheduler_address, set_as_default=False, timeout=30, security=s.security()
                    )
                else:
                    security = s.security()
                    self._cluster = LocalCluster(
                        security=security,
                        protocol="tls://",
                        n_workers=s.local_workers,
                        threads_per_worker=s.local_threads,
                        processes=True,
                        memory_limit=s.memory_limit,
                        dashboard_address=None,
                        local_directory=s.local_directory or None,
                    )
                    self._client = Client(self._cluster, set_as_default=False, security=security)
                    log.info("started a local Dask cluster: %s", self._cluster.scheduler_address)
            return self._client

    @property
    def started(self) -> bool:
        return self._client is not None

    def close(self) -> None:
        """Closes the client and a local cluster."""
        with self._lock:
            if self._client is not None:
                self._client.close()
            if self._cluster is not None:
                self._cluster.close()
            self._client = None
            self._cluster = None


#: Worker task states in which a task runs now or may still start (queued, waiting for its
#: inputs, or cancelled while its thread runs on).
_BUSY_STATES = frozenset(
    {"waiting", "ready", "constrained", "executing", "long-running", "cancelled", "resumed"}
)


def running_keys(dask_worker: Any) -> list[str]:
    """On a worker (through Client.run): keys of the tasks it runs now or may still start,
    cancelled ones included."""
    return [str(ts.key) for ts in dask_worker.state.tasks.values() if ts.state in _BUSY_STATES]


def wait_until_idle(
    client: Client,
    keys: Collection[str] | None = None,
    timeout: float = 30.0,
    quiet_for: float = 0.2,
) -> bool:
    """Waits (bounded) until no worker runs or holds queued one of keys (None: any task), seen
    on polls spanning quiet_for seconds; True when that happened in time. The scheduler forgets
    a cancelled task at once, but a worker thread that started it runs it on (writing its
    chunk, training its model), and a task already on its way to a worker may still start, so
    the workers themselves are asked, more than once."""
    wanted = None if keys is None else {str(key) for key in keys}
    deadline = time.monotonic() + timeout
    quiet_since: float | None = None
    while time.monotonic() < deadline:
        try:
            running = {key for found in client.run(running_keys).values() for key in found}
        except Exception:  # noqa: BLE001 - a lost cluster has nothing running for us
            return True
        now = time.monotonic()
        if running if wanted is None else running & wanted:
            quiet_since = None
        elif quiet_since is None:
            quiet_since = now
        elif now - quiet_since >= quiet_for:
            return True
        time.sleep(0.05)
    return False
