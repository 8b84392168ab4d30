"""Schemathesis against the OpenAPI schema of every HTTP service: no 5xx on any generated request,
with valid credentials (clinician, manager, admin) and without.

Schemathesis 4.x is not in the lock yet. The test runs in one of two ways:
- in-process, when ``import schemathesis`` works in this environment (the lead adds
  ``schemathesis`` to the test extras in pyproject.toml);
- against a live server (``python -m plugins.rhp_api.serve``) with the ``st`` command named by
  ``RHP_SCHEMATHESIS_CLI`` — e.g. from a separate venv:
  ``python3 -m venv /tmp/st-venv && /tmp/st-venv/bin/pip install schemathesis==4.32.5`` then
  ``RHP_SCHEMATHESIS_CLI=/tmp/st-venv/bin/st pytest tests/test_schemathesis_api.py``.
Otherwise it skips with the reason, unless ``RHP_REQUIRE_SCHEMATHESIS=1`` (then it fails).
"""

from __future__ import annotations

import importlib.util
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.local
REPO = Path(__file__).resolve().parent.parent
MAX_EXAMPLES = int(os.environ.get("RHP_SCHEMATHESIS_EXAMPLES", "10"))
AUTH_MODES = ["none", "clinician", "manager", "admin"]


def _app_names() -> list[str]:
    from plugins.rhp_api.registry import APP_PREFIXES

    return sorted(APP_PREFIXES)


def _mode() -> str:
    if importlib.util.find_spec("schemathesis") is not None:
        return "inprocess"
    cli = os.environ.get("RHP_SCHEMATHESIS_CLI")
    if cli and Path(cli).is_file():
        return "cli"
    reason = ("schemathesis is not importable (not in the lock: add `schemathesis` to the test extras in "
              "pyproject.toml) and RHP_SCHEMATHESIS_CLI does not name an `st` executable")
    if os.environ.get("RHP_REQUIRE_SCHEMATHESIS") == "1":
        pytest.fail(f"RHP_REQUIRE_SCHEMATHESIS=1 but {reason}")
    pytest.skip(reason)


@pytest.fixture()
def seeded(rhp_home, tmp_path):
    """(warehouse url, tokens file, {role: token}) on a seeded DuckDB warehouse."""
    from test_reliability_api import seed_services

    from transforms.settings import load_settings
    from transforms.warehouse.db import _engine_for

    url = load_settings().warehouse_url
    tokens = tmp_path / "tokens.json"
    tok = seed_services(url, tokens)
    _engine_for.cache_clear()  # release the DuckDB file for a server process
    import gc

    gc.collect()
    return url, tokens, tok


def _headers(tok: dict[str, str], auth: str) -> dict[str, str]:
    h = {"X-Purpose-Of-Use": "treatment"}
    if auth != "none":
        h["Authorization"] = f"Bearer {tok[auth]}"
    return h


def _run_inprocess(url: str, tokens: Path, app: str, headers: dict[str, str]) -> None:
    import schemathesis
    from hypothesis import HealthCheck, given, settings
    from schemathesis.checks import not_a_server_error

    from plugins.rhp_api.registry import APP_PREFIXES, factory
    from transforms.recognition.demo_data import DEMO_AT

    asgi = factory(app)(url, tokens, clock=lambda: DEMO_AT)
    schema = schemathesis.openapi.from_asgi("/openapi.json", asgi)
    failures = []
    for result in schema.get_all_operations():
        operation = result.ok()

        @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def check(case):
            case.call_and_validate(headers=headers, checks=[not_a_server_error])

        try:
            check()
        except (Exception, BaseExceptionGroup) as exc:  # collect every operation's failure, then report them together
            failures.append(f"{APP_PREFIXES[app]} {operation.method.upper()} {operation.path}: {exc}"[:2000])
    assert not failures, "\n".join(failures)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run_cli(url: str, tokens: Path, app: str, headers: dict[str, str], tmp: Path) -> None:
    from plugins.rhp_api.registry import APP_PREFIXES

    port = _free_port()
    env = {**os.environ, "RHP_API_TOKENS_FILE": str(tokens), "PYTHONPATH": str(REPO)}
    server = subprocess.Popen([sys.executable, "-m", "plugins.rhp_api.serve", "--app", app, "--port", str(port),
                               "--warehouse-url", url], cwd=REPO, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}{APP_PREFIXES[app]}"
        deadline = time.monotonic() + 60
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"server did not start: {server.stdout.read().decode()[-2000:]}") from None
                time.sleep(0.2)
        cmd = [os.environ["RHP_SCHEMATHESIS_CLI"], "run", f"{base}/openapi.json", "--url", base,
               "--checks", "not_a_server_error", "--max-examples", str(MAX_EXAMPLES), "--seed", "20261101",
               "--workers", "1", "--request-timeout", "20", "--phases", "examples,coverage,fuzzing",
               "--suppress-health-check", "all", "--warnings", "off"]
        for k, v in headers.items():
            cmd += ["-H", f"{k}: {v}"]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=tmp)
        assert proc.returncode == 0, f"schemathesis found failures on {base}:\n{proc.stdout[-4000:]}{proc.stderr[-1000:]}"
        assert re.search(r"Tested: [1-9]", proc.stdout) and "No issues found" in proc.stdout, proc.stdout[-2000:]
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
        server.stdout.close()


@pytest.mark.parametrize("app", _app_names())
@pytest.mark.parametrize("auth", AUTH_MODES)
def test_no_server_error_on_generated_requests(seeded, tmp_path, app, auth):
    mode = _mode()
    url, tokens, tok = seeded
    if mode == "inprocess":
        _run_inprocess(url, tokens, app, _headers(tok, auth))
    else:
        _run_cli(url, tokens, app, _headers(tok, auth), tmp_path)


def test_the_services_under_test_are_registered():
    """The parametrisation comes from the registry; the two original services must be in it."""
    assert {"fhir", "recognition"} <= set(_app_names())


def test_harness_detects_a_server_error(seeded, monkeypatch):
    """The in-process harness must be able to fail: break the /audit read and expect a 5xx report."""
    if _mode() != "inprocess":
        pytest.skip("needs schemathesis importable in this environment (in-process mode)")
    import plugins.rhp_api.recognition_app as mod

    def broken(*a, **k):
        raise RuntimeError("injected by test")

    monkeypatch.setattr(mod, "read_audit", broken)
    url, tokens, tok = seeded
    with pytest.raises(AssertionError, match="GET /audit"):
        _run_inprocess(url, tokens, "recognition", _headers(tok, "admin"))
