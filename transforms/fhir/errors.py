"""Errors of the FHIR stage; each carries a check id for its quarantine row."""

from __future__ import annotations


class BuildError(ValueError):
    """A standard row that cannot become a resource (e.g. no person key)."""

    def __init__(self, check_id: str, reason: str) -> None:
        super().__init__(reason)
        self.check_id = check_id
        self.reason = reason


class InvalidResource(ValueError):
    """A built resource that failed R4B validation or a required binding."""

    def __init__(self, check_id: str, resource_type: str, resource_id: str | None, reason: str) -> None:
        super().__init__(f"{resource_type}/{resource_id}: {reason}")
        self.check_id = check_id
        self.resource_type = resource_type
        self.resource_id = resource_id
        self.reason = reason
