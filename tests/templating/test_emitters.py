"""Every rendered file (pipelines, router configs, manifests, Terraform) places values only through an emitter
that is safe for the position, and a template that does not cannot be compiled."""

from __future__ import annotations

import pytest
import yaml
from jinja2 import TemplateSyntaxError

from bayat_deploy import templating
from bayat_deploy.templating import UnsafeValue, block, comment, expression, flow, hcl_string, word, yaml_scalar


def shipped():
    for package in templating.PACKAGES:
        env = templating.environment(package)
        for name in env.list_templates(filter_func=lambda n: n.endswith(".j2")):
            yield package, name


def test_both_template_directories_are_found():
    packages = {package for package, _ in shipped()}
    assert packages == set(templating.PACKAGES)
    names = {name for _, name in shipped()}
    assert {"github/deploy.yml.j2", "gitlab/gitlab-ci.yml.j2", "haproxy.cfg.j2", "kubernetes/rollout.yaml.j2",
            "terraform/releases.tf.j2", "serverless/template.yaml.j2"} <= names


@pytest.mark.parametrize("package, name", list(shipped()), ids=lambda v: str(v).rsplit(".", 1)[-1])
def test_every_shipped_template_passes_the_placement_check(package, name):
    templating.environment(package).get_template(name)  # compiling runs the check


@pytest.mark.parametrize("source", ["{{ value }}", "{{ value | upper }}", "{% if x %}{{ x.name }}{% endif %}"])
def test_a_raw_placement_is_refused_when_the_template_compiles(source):
    env = templating.environment("bayat_deploy.generate")
    with pytest.raises(TemplateSyntaxError, match="without an emitter"):
        env.from_string(source)


@pytest.mark.parametrize("value", ["yes", "no", "on", "y", "1.0", "0x1f", "1e3", "a: b", "- item", "#x", "",
                                   "it's", "line\nbreak", "tab\there", "\u2028", "null", "~", "*alias", "!tag"])
def test_a_yaml_scalar_reads_back_as_the_same_string(value):
    placed = yaml_scalar(value)
    assert yaml.safe_load(f"key: {placed}") == {"key": value}
    assert "\n" not in placed


@pytest.mark.parametrize("value", ["${{ secrets.TOKEN }}", "$[[ inputs.x ]]"])
def test_platform_expressions_never_reach_a_generated_file(value):
    with pytest.raises(UnsafeValue, match="evaluated by the CI platform"):
        yaml_scalar(value)
    with pytest.raises(UnsafeValue):
        block(value, 4)


@pytest.mark.parametrize("value", ["a b", "x;rm -rf /", "$(id)", "`id`", "a\nb", "a'b", "{x}"])
def test_a_word_holds_inert_characters_only(value):
    with pytest.raises(UnsafeValue, match="only letters"):
        word(value)


def test_the_other_emitters_keep_their_position():
    assert comment("one\ntwo\u2028three") == "one two three"
    assert yaml.safe_load("k: " + flow(["a:b", "yes", "plain"])) == {"k": ["a:b", "yes", "plain"]}
    assert block("first\nsecond", 4) == "first\n    second"
    assert expression("github.event_name == 'push'") == "github.event_name == 'push'"
    with pytest.raises(UnsafeValue):
        expression("x }} ${{ secrets.TOKEN")
    assert hcl_string('a "${var.x}" %{if}') == '"a \\"$${var.x}\\" %%{if}"'
