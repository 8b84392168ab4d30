"""Pydantic model of a SQL-on-FHIR v2 ViewDefinition.

Why a model: a wrong view must fail before any SQL runs, with the offending field named
(``select[0].forEach: Input should be a valid string``), not as an opaque database error.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from transforms.warehouse.sof.errors import ViewDefinitionError

COLUMN_NAME = r"^[A-Za-z][A-Za-z0-9_]*$"


class _Base(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True, strict=True)


class Column(_Base):
    name: str = Field(pattern=COLUMN_NAME)
    path: str
    type: str | None = None
    collection: bool | None = None
    description: str | None = None


class Select(_Base):
    column: list[Column] = Field(default_factory=list)
    select: list[Select] = Field(default_factory=list)
    forEach: str | None = None
    forEachOrNull: str | None = None
    repeat: list[str] | None = None
    unionAll: list[Select] = Field(default_factory=list)

    @model_validator(mode="after")
    def _one_iteration(self) -> Select:
        given = [k for k in ("forEach", "forEachOrNull", "repeat") if getattr(self, k) is not None]
        if len(given) > 1:
            raise ValueError(f"at most one of forEach, forEachOrNull, repeat may be given, got {given}")
        return self


class Where(_Base):
    path: str
    description: str | None = None


class Constant(_Base):
    model_config = ConfigDict(extra="allow", strict=True)
    name: str = Field(pattern=COLUMN_NAME)

    @model_validator(mode="after")
    def _one_value(self) -> Constant:
        values = [k for k in (self.model_extra or {}) if k.startswith("value")]
        if len(values) != 1:
            raise ValueError(f"constant {self.name!r} needs exactly one value[x], got {values or 'none'}")
        return self

    @property
    def value_type(self) -> str:
        """The FHIR type of the value, e.g. 'String', 'Integer', 'Boolean'."""
        return next(k for k in (self.model_extra or {}) if k.startswith("value"))[5:]

    @property
    def value(self) -> Any:
        return (self.model_extra or {})["value" + self.value_type]


class ViewDefinition(_Base):
    resource: str = Field(pattern=r"^[A-Z][A-Za-z]+$")
    name: str | None = None
    status: str | None = None
    constant: list[Constant] = Field(default_factory=list)
    select: list[Select] = Field(min_length=1)
    where: list[Where] = Field(default_factory=list)


def _loc(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(view)"


def parse_view(view: dict) -> ViewDefinition:
    """Validate a ViewDefinition dict; raises ViewDefinitionError naming every bad field."""
    if not isinstance(view, dict):
        raise ViewDefinitionError(f"ViewDefinition must be a JSON object, got {type(view).__name__}")
    try:
        return ViewDefinition.model_validate(view)
    except ValidationError as exc:
        name = view.get("name") or view.get("resource") or "<unnamed>"
        problems = "; ".join(f"{_loc(e['loc'])}: {e['msg']}" for e in exc.errors())
        raise ViewDefinitionError(f"ViewDefinition {name!r} is invalid: {problems}") from None
