"""SQL-on-FHIR v2: compile ViewDefinitions to one SELECT for DuckDB or PostgreSQL, and run them.

Public API: ``compile.compile_view`` / ``compile.compile_view_columns``, ``run.run_view``,
``run.materialise_view``, ``run.execute_sql``; errors in ``errors``. Conformance with the
official suite: ``python -m transforms.warehouse.sof.report`` (writes docs/conformance.md).
"""
