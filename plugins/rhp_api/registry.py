"""The apps the platform serves and the URL prefix of each, shared by the plugin and ``serve``."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI

APP_PREFIXES: dict[str, str] = {"recognition": "/rhp-recognition", "fhir": "/fhir", "indicators": "/rhp-indicators"}


def factory(name: str) -> Callable[..., FastAPI]:
    if name == "recognition":
        from .recognition_app import create_app
    elif name == "fhir":
        from .fhir_app import create_app
    elif name == "indicators":
        from .indicators_app import create_app
    else:
        raise ValueError(f"unknown app {name!r}; choose one of {sorted(APP_PREFIXES)}")
    return create_app
