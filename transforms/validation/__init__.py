"""Validation stage: the check catalogue, its one implementation per check type, GX suites."""
