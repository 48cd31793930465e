"""The scheduler's plugins, one module each, and the registry that names them (``registry.REGISTRY``)."""
