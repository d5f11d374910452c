"""Deploying: a strategy (rolling, blue/green, canary, feature flags) drives a target (Docker host,
Kubernetes, serverless, Terraform) through the same few verbs; every attempt lands in the record."""
