"""nginx weights: each track's share of traffic spread over its instances, exactly."""

from __future__ import annotations

import pytest

from bayat_deploy.deploy.targets.routing import RouterError, upstream_weights


@pytest.mark.parametrize("tracks, expected", [
    ({"stable": (100, [("a", "1")])}, [("a", 1)]),
    ({"stable": (95, [("a", "1"), ("b", "1"), ("c", "1")]), "candidate": (5, [("d", "2")])},
     [("a", 19), ("b", 19), ("c", 19), ("d", 3)]),
    ({"stable": (50, [("a", "1"), ("b", "1")]), "candidate": (50, [("c", "2"), ("d", "2")])},
     [("a", 1), ("b", 1), ("c", 1), ("d", 1)]),
    ({"stable": (0, [("a", "1")]), "candidate": (100, [("b", "2")])}, [("b", 1)]),
    ({"stable": (75, [("a", "1"), ("b", "1")]), "candidate": (25, [("c", "2")])}, [("a", 3), ("b", 3), ("c", 2)]),
])
def test_weights_preserve_each_tracks_share(tracks, expected):
    servers = upstream_weights(tracks)
    assert [(s.address, s.weight) for s in servers] == expected
    total = sum(s.weight for s in servers)
    for name, (percent, _) in tracks.items():
        share = sum(s.weight for s in servers if s.track == name) / total
        assert share == pytest.approx(percent / 100)


def test_no_traffic_anywhere_is_refused():
    with pytest.raises(RouterError, match="no instance"):
        upstream_weights({"stable": (0, [("a", "1")])})
