"""Building artifacts: image tags, Docker images through the Docker SDK, packages, SBOMs."""
