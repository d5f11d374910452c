"""Configuration management of the standard: the hierarchy (defaults in code -> files -> environment
variables -> configuration service), typed keys, secrets only by reference, environment isolation and
connectivity checks. `bayat-deploy config validate` is the command; this package is the machinery."""
