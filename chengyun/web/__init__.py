"""The thin web layer: app factory, dependencies, error mapping, templates and vendored assets."""
