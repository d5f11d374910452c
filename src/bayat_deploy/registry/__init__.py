"""Talking to artifact registries: the OCI distribution API, credentials, immutability, pushing with
retries, signatures and retention."""
