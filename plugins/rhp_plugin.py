"""Airflow 3 plugin: serves the 互认 lookup and the FHIR read API inside the Airflow API server.

The only module that imports Airflow. Apps are created here but connect to nothing until their
first request, so plugin loading stays cheap.
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

try:
    from plugins.rhp_api.registry import APP_PREFIXES, factory
except ImportError:  # Airflow puts the plugins folder itself on sys.path
    from rhp_api.registry import APP_PREFIXES, factory  # type: ignore[no-redef]


class RhpPlugin(AirflowPlugin):
    name = "rhp_api"
    fastapi_apps = [
        {"app": factory(name)(), "url_prefix": prefix, "name": f"RHP {name}"}
        for name, prefix in APP_PREFIXES.items()
    ]
