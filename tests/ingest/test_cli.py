"""weatherctl's ingest commands against a real ingest server."""

from __future__ import annotations

import pytest

from tests.ingest.conftest import NAVY, RunningIngest
from weatherctl.main import main


def test_ingest_run_and_list(ingest: RunningIngest, capsys: pytest.CaptureFixture[str]) -> None:
    address = f"127.0.0.1:{ingest.port}"
    assert (
        main(["--ingest", address, "ingest", "run", str(NAVY), "--dataset", "navy", "--quiet"]) == 0
    )
    line = capsys.readouterr().out
    assert line.startswith("navy v1 sha256:") and "UWND [m s-1]" in line
    assert main(["--ingest", address, "ingest", "datasets"]) == 0
    assert "navy v1" in capsys.readouterr().out
    assert main(["--ingest", address, "ingest", "run", "/etc/passwd", "--dataset", "x"]) == 1
    assert "INVALID_ARGUMENT" in capsys.readouterr().err
