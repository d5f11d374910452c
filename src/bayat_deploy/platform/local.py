"""On a laptop: stage reports go to the terminal only."""

from __future__ import annotations

from bayat_deploy.platform.base import Platform


class Local(Platform):
    name = "local"
