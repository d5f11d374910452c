"""One module per pipeline stage; each is `bayat-deploy <stage>` and writes one evidence envelope."""
