"""Errors of the SQL-on-FHIR runner; each names the view field or FHIRPath at fault.

Why a small hierarchy: callers (conformance tests, mart builders) catch ``SofError`` for
"this view is wrong" and let database errors that are not about the view propagate.
"""

from __future__ import annotations


class SofError(ValueError):
    """Base class: a ViewDefinition cannot be compiled or run."""


class ViewDefinitionError(SofError):
    """The ViewDefinition does not match the model (message names the field)."""


class FhirPathSyntaxError(SofError):
    """A FHIRPath expression does not parse (message names the expression and position)."""


class UnsupportedFhirPath(SofError):
    """A FHIRPath construct this compiler does not translate to SQL."""


class ViewRuntimeError(SofError):
    """The database rejected a view at run time (e.g. a non-collection column with many values)."""
