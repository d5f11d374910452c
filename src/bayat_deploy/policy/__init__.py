"""The deployment policy: `.bayat/deploy.yml` over the standard, parsed and validated once."""
