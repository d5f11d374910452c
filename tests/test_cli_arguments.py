"""Every flag of every sub-command refuses a malformed value before anything runs: exit 2 and a message
naming the flag (argparse's own), never a traceback. The parsers are walked, so a new flag without a
checking type from `bayat_deploy.argtypes` fails here; each type's `refuses` examples are fed to every
flag that uses it."""

from __future__ import annotations

import argparse

import pytest

from bayat_deploy import argtypes, cli
from bayat_deploy.generate import cli as generate_cli

# A value each type accepts, to fill in the required flags while another flag is tested.
VALID = {
    argtypes.git_ref: "v1", argtypes.revision: "HEAD~1", argtypes.version: "1.4.0", argtypes.environment: "staging",
    argtypes.track: "canary", argtypes.duration: "5m", argtypes.instant: "2026-12-05T14:00:00Z",
    argtypes.key_value: "KEY=value", argtypes.count: "3", argtypes.seconds: "1.5",
    argtypes.image: "registry.example.com:5000/shop/web:1.4.0", argtypes.text: "a reason",
    argtypes.paragraph: "line one\nline two", argtypes.url: "https://shop.example.com/health",
    argtypes.logins: "alice,bob", argtypes.owner_repo: "bayat/shop", argtypes.project: "group/shop",
    argtypes.path: "a/b.yml", argtypes.path_text: "a/b.yml", argtypes.fingerprint: "0123456789ABCDEF",
    argtypes.word: "docker-image",
}


def _leaves(parser: argparse.ArgumentParser, path: tuple[str, ...]):
    """(argv prefix, parser) for every parser that runs a handler."""
    children = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not children:
        yield path, parser
        return
    for action in children:
        for name, child in action.choices.items():
            yield from _leaves(child, (*path, name))


def _parsers():
    for name in cli.COMMANDS:
        parser = cli.build_parser("bayat-deploy", "", cli.COMMANDS, [name])
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        for path, leaf in _leaves(sub.choices[name], (name,)):
            yield "bayat-deploy", path, leaf
    parser = cli.build_parser("generate-pipeline", "", generate_cli.COMMANDS, ["init"])
    init = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices["init"]
    yield "generate-pipeline", ("init",), init
    parser = cli.build_parser("generate-pipeline", "", generate_cli.COMMANDS, [])
    generate_cli._add_render_arguments(parser)
    yield "generate-pipeline", (), parser


def _valued(parser: argparse.ArgumentParser):
    for action in parser._actions:
        if action.option_strings and action.nargs != 0 and not isinstance(action, argparse._HelpAction) \
                and not isinstance(action, argparse._VersionAction):
            yield action


@pytest.fixture(autouse=True)
def _elsewhere(tmp_path, monkeypatch):
    """If a value got through, the command must not act on this repository (`version tag`...)."""
    monkeypatch.chdir(tmp_path)


LEAVES = list(_parsers())
FLAGS = [(program, path, leaf, action) for program, path, leaf in LEAVES for action in _valued(leaf)]


def _required(leaf: argparse.ArgumentParser, *, skip: argparse.Action | None = None) -> list[str]:
    argv = []
    for action in _valued(leaf):
        if action.required and action is not skip:
            argv += [action.option_strings[0], VALID[action.type]]
    return argv


def _main(program: str):
    return cli.main if program == "bayat-deploy" else generate_cli.main


def test_the_walk_found_every_command():
    commands = {path[0] for program, path, _ in LEAVES if program == "bayat-deploy"}
    assert commands == set(cli.COMMANDS)
    assert len(FLAGS) > 70, len(FLAGS)


@pytest.mark.parametrize("program, path, leaf, action", FLAGS,
                         ids=[f"{p} {' '.join(path)} {a.option_strings[0]}" for p, path, _, a in FLAGS])
def test_every_flag_with_a_value_has_a_checking_type(program, path, leaf, action):
    if action.choices is not None:
        return  # argparse checks choices itself
    assert action.type in argtypes.ALL, (
        f"{program} {' '.join(path)} {action.option_strings[0]} takes any text; give it a type from argtypes")


CASES = [(program, path, leaf, action, bad)
         for program, path, leaf, action in FLAGS if action.choices is None
         for bad in action.type.refuses]


@pytest.mark.parametrize("program, path, leaf, action, bad", CASES,
                         ids=[f"{p} {' '.join(path)} {a.option_strings[0]} {bad!r}" for p, path, _, a, bad in CASES])
def test_a_malformed_value_is_refused_naming_the_flag(program, path, leaf, action, bad, capsys):
    flag = action.option_strings[-1] if action.option_strings[-1].startswith("--") else action.option_strings[0]
    argv = [*path, *_required(leaf, skip=action), f"{flag}={bad}"]
    with pytest.raises(SystemExit) as exit_info:
        _main(program)(argv)
    err = capsys.readouterr().err
    assert exit_info.value.code == 2, err
    assert f"argument {'/'.join(action.option_strings)}: " in err, err
    assert "Traceback" not in err


REQUIRED = [(program, path, leaf) for program, path, leaf in LEAVES
            if any(a.required for a in _valued(leaf))]


@pytest.mark.parametrize("program, path, leaf", REQUIRED, ids=[f"{p} {' '.join(path)}" for p, path, _ in REQUIRED])
def test_a_missing_required_flag_is_named(program, path, leaf, capsys):
    with pytest.raises(SystemExit) as exit_info:
        _main(program)(list(path))
    err = capsys.readouterr().err
    assert exit_info.value.code == 2
    for action in _valued(leaf):
        if action.required:
            assert action.option_strings[0] in err.split("required:")[-1], err


GROUPS = sorted({(program, path[:1]) for program, path, leaf in LEAVES if len(path) > 1})


@pytest.mark.parametrize("program, path", GROUPS, ids=[" ".join(path) for _, path in GROUPS])
def test_a_command_with_actions_names_the_missing_action(program, path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        _main(program)(list(path))
    assert exit_info.value.code == 2
    assert "required: ACTION" in capsys.readouterr().err


@pytest.mark.parametrize("args, flag", [
    (("deploy", "--env", "staging", "--version", "1.0.0\nrun: curl evil"), "--version"),
    (("rollback", "--env", "staging", "--reason", "oops\n::set-output name=x::y"), "--reason"),
    (("deploy", "--env", "Prod", "--version", "1.0.0"), "--env/--environment"),
])
def test_the_installed_command_exits_2_without_a_traceback(bayat, args, flag):
    result = bayat(*args)
    assert result.code == 2
    assert f"argument {flag}: " in result.stderr and "Traceback" not in result.stderr
