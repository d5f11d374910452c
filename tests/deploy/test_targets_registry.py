"""Every target kind the policy model accepts has a registered target, and only those."""

from __future__ import annotations

import importlib
import typing

import pytest

from bayat_deploy.deploy.targets import REGISTRY, target_for
from bayat_deploy.errors import BayatError
from bayat_deploy.policy.model.targets import Target


def model_kinds() -> set[str]:
    """The `type` literal of every class in the model's Target union."""
    return {typing.get_args(typing.get_type_hints(cls)["type"])[0] for cls in typing.get_args(Target)}


def test_every_target_kind_of_the_policy_model_is_registered_and_nothing_else():
    assert model_kinds() == set(REGISTRY), "register the new target in deploy/targets/__init__.py REGISTRY"


@pytest.mark.parametrize("kind", sorted(REGISTRY))
def test_each_registration_names_a_factory_that_exists(kind):
    module, factory = REGISTRY[kind].split(":")
    assert callable(getattr(importlib.import_module(module), factory))


def test_a_kind_without_a_registration_is_an_error_not_another_target(monkeypatch, tmp_path):
    from tests.versioning.support import session_for, write_policy

    write_policy(tmp_path, "project: web\n")
    session = session_for(tmp_path)
    monkeypatch.delitem(REGISTRY, "docker-host")
    with pytest.raises(BayatError, match=r"target.type 'docker-host' has no registered target"):
        target_for(session, "development")
