"""The indicator service: declarations as data, one engine, history, API, CLI, HTML pages."""
