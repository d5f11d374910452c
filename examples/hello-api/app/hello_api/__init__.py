"""hello-api: a small standard-library HTTP service used to exercise deployments."""

from .server import Config, HelloServer, create_server, main

__all__ = ["Config", "HelloServer", "create_server", "main"]
