"""The warehouse: one SQLAlchemy URL chooses DuckDB (default) or PostgreSQL."""
