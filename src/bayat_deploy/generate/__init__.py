"""`generate-pipeline`: scaffold a repository's policy and render its pipelines from it."""
