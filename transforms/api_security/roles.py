"""Roles and what each may do, read from ``mappings/recognition/access.yaml``.

Why data: who may see resident-level results is a governance decision the data centre's
privacy officer owns; changing it should not need a code change.
"""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict

from transforms.settings import MAPPINGS_DIR
from transforms.yamlio import load_yaml

ACCESS_FILE = MAPPINGS_DIR / "recognition" / "access.yaml"
Action = Literal["lookup", "fhir_read", "record_outcome", "rates", "audit_read", "indicators",
                 "indicators_drilldown", "quality_report"]


class Role(StrEnum):
    clinician = "clinician"
    quality_officer = "quality_officer"
    manager = "manager"
    admin = "admin"


class RolePolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")
    actions: list[Action]
    resident_scope: Literal["relationship", "none"]
    purposes: list[str]


class AccessPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: str
    purposes: list[str]
    roles: dict[Role, RolePolicy]

    def can(self, role: Role, action: Action) -> bool:
        pol = self.roles.get(role)
        return pol is not None and action in pol.actions

    def purpose_ok(self, role: Role, purpose: str | None) -> bool:
        pol = self.roles.get(role)
        return pol is not None and purpose in pol.purposes


def load_policy(path: Path = ACCESS_FILE) -> AccessPolicy:
    return AccessPolicy.model_validate(load_yaml(path))


@lru_cache(maxsize=2)
def default_policy() -> AccessPolicy:
    return load_policy()
