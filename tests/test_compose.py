"""The production topology file is valid and has every service the runbook relies on."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from transforms.yamlio import loads_yaml

REPO = Path(__file__).resolve().parent.parent
SECRETS = {"POSTGRES_PASSWORD": "p", "RHP_PSEUDONYM_KEY": "k", "AIRFLOW_FERNET_KEY": "f", "AIRFLOW_API_SECRET": "s"}

pytestmark = pytest.mark.unit


def _compose() -> dict:
    exe = shutil.which("docker-compose")
    if not exe:
        if os.environ.get("CI"):
            pytest.fail("docker-compose is not installed (scripts/install_test_services.sh installs it)")
        pytest.skip("docker-compose not installed: run scripts/install_test_services.sh")
    out = subprocess.run([exe, "-f", str(REPO / "docker-compose.yaml"), "config"], capture_output=True, text=True,
                         env={**os.environ, **SECRETS}, cwd=REPO)
    assert out.returncode == 0, out.stderr
    return loads_yaml(out.stdout)


def test_compose_config_is_valid_and_complete():
    cfg = _compose()
    services = cfg["services"]
    for name in ("postgres", "redis", "airflow-init", "airflow-apiserver", "airflow-scheduler",
                 "airflow-dag-processor", "airflow-triggerer", "airflow-worker-1", "airflow-worker-2", "rhp-api"):
        assert name in services, name
    for name, svc in services.items():
        if name != "airflow-init":
            assert "healthcheck" in svc, f"{name} has no health check"
    assert {"postgres-data", "redis-data", "rhp-data"} <= set(cfg["volumes"])
    targets = {v["target"] if isinstance(v, dict) else v.split(":")[1] for v in services["airflow-worker-1"]["volumes"]}
    for folder in ("dags", "plugins", "transforms", "expectations", "mappings"):
        assert f"/opt/airflow/{folder}" in targets
    env = services["airflow-scheduler"]["environment"]
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert env["RHP_PSEUDONYM_KEY"] == "k"  # injected from the environment, not from the file


def test_compose_refuses_to_start_without_secrets():
    exe = shutil.which("docker-compose")
    if not exe:
        pytest.skip("docker-compose not installed")
    env = {k: v for k, v in os.environ.items() if k not in SECRETS}
    out = subprocess.run([exe, "-f", str(REPO / "docker-compose.yaml"), "config", "-q"], capture_output=True,
                         text=True, env=env, cwd=REPO)
    assert out.returncode != 0 and "POSTGRES_PASSWORD" in (out.stderr + out.stdout)
