"""bayat-deploy: the Bayat deployment standard as pipelines, stages and gates."""

__version__ = "0.1.0"
