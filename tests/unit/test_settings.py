"""Settings precedence: CLI flag > ORCHESTRATE_* > pipeline > default, with origins; the typed
Settings and the option table name the same settings; what each setting's validator refuses."""

from __future__ import annotations

import dataclasses
import typing
from pathlib import Path

import pytest
from click.testing import CliRunner

from orchestrator.cli import cli
from orchestrator.errors import ConfigError
from orchestrator.model.options import OPTIONS, SETTINGS, Option
from orchestrator.model.settings import KIND_TYPES, PATHS, Settings, resolve_settings, typed
from orchestrator.model.yamlfile import Field


def field(value: object) -> Field:
    return Field(source="p.yaml", path="settings.x", value=value)


def test_precedence_and_origins() -> None:
    pipeline = {"parallel": field(3), "retries": field(1), "timeout": field(60)}
    env = {"ORCHESTRATE_RETRIES": "2", "ORCHESTRATE_PARALLEL": "5"}
    s = resolve_settings(pipeline, {"parallel": 9}, environ=env)
    assert (s.parallel, s.origins["parallel"]) == (9, "cli")
    assert (s.retries, s.origins["retries"]) == (2, "env")
    assert (s.timeout, s.origins["timeout"]) == (60, "pipeline")
    assert (s.isolation, s.origins["isolation"]) == ("oci", "default")


def test_env_values_are_parsed_and_checked() -> None:
    s = resolve_settings(
        {}, {}, environ={"ORCHESTRATE_PUSH": "yes", "ORCHESTRATE_PIP_EXTRA_INDEX_URLS": "a, b"}
    )
    assert s.push is True
    assert s.pip_extra_index_urls == ("a", "b")
    with pytest.raises(
        ConfigError,
        match=r"environment variable ORCHESTRATE_PARALLEL: expected "
        r"an integer, got 'many'",
    ):
        resolve_settings({}, {}, environ={"ORCHESTRATE_PARALLEL": "many"})
    with pytest.raises(
        ConfigError, match=r"ORCHESTRATE_ISOLATION: 'vm' is not one of: oci, chroot"
    ):
        resolve_settings({}, {}, environ={"ORCHESTRATE_ISOLATION": "vm"})


def _not_the_default(option: Option) -> str:
    match option.kind:
        case "int":
            return "7"
        case "bool":
            return "false" if option.default else "true"
        case "list":
            return "a,b"
        case "choice":
            return next(c for c in option.choices if c != option.default)
    return "/x"


@pytest.mark.parametrize(
    "option", [o for o in OPTIONS if o.scope == "setting"], ids=lambda o: o.name
)
def test_every_setting_is_set_by_its_environment_variable(option: Option) -> None:
    text = _not_the_default(option)
    settings = resolve_settings({}, {}, environ={option.env: text})
    assert settings.origins[option.name] == "env"
    assert getattr(settings, option.name) != typed(option, option.default_in({}))


def test_every_option_is_a_flag_of_the_cli_with_its_help() -> None:
    shown = " ".join(CliRunner().invoke(cli, ["--help"], terminal_width=1000).output.split())
    for option in OPTIONS:
        assert option.flag in shown, option.name
        assert " ".join(option.help.split()) in shown, option.name


def test_settings_has_one_typed_attribute_per_setting_of_the_table() -> None:
    """The dataclass and the option table cannot drift: the same names, each of its kind."""
    hints = typing.get_type_hints(Settings)
    fields = {f.name: hints[f.name] for f in dataclasses.fields(Settings) if f.name != "origins"}
    assert list(fields) == [o.name for o in SETTINGS]
    for option in SETTINGS:
        expected = Path if option.name in PATHS else KIND_TYPES[option.kind]
        assert fields[option.name] == expected, option.name


def test_every_setting_resolves_to_its_type() -> None:
    s = resolve_settings({}, {"state_dir": "~/state"}, environ={})
    for option in SETTINGS:
        value = getattr(s, option.name)
        if option.name in PATHS:
            assert isinstance(value, Path), option.name
        elif option.kind == "list":
            assert isinstance(value, tuple), option.name
        else:
            assert type(value) is KIND_TYPES[option.kind], option.name
    assert s.state_dir == Path("~/state").expanduser()
    assert s.proxies == {"http_proxy": "", "https_proxy": "", "no_proxy": ""}


@pytest.mark.parametrize(
    ("given", "name", "message"),
    [
        (
            {"push": True},
            "push",
            r"^setting 'push' \(from cli\): pushing is on but no registry is set: pass "
            r"--registry, set ORCHESTRATE_REGISTRY or settings.registry, or --no-push$",
        ),
        (
            {"sign_by": "ABCD"},
            "sign_by",
            r"^setting 'sign_by': signing is on but no registry is set: signatures are of pushed "
            r"images; pass --registry or set ORCHESTRATE_REGISTRY$",
        ),
        ({"registry": "-r"}, "registry", r"^setting 'registry' \(from cli\): '-r' is not"),
        ({"namespace": "UPPER"}, "namespace", r"^setting 'namespace' \(from cli\): 'UPPER'"),
        ({"ca_bundle": "/nonexistent.pem"}, "ca_bundle", r"^setting 'ca_bundle' \(from cli\)"),
    ],
)
def test_each_validator_refuses_with_the_message_of_its_setting(
    given: dict[str, object], name: str, message: str
) -> None:
    settings = resolve_settings({}, {"state_dir": "/s", **given}, environ={})
    others = [o.name for o in SETTINGS if o.validator is not None and o.name != name]
    settings.check(*others)  # only the setting given is refused
    with pytest.raises(ConfigError, match=message):
        settings.check(name)


def test_validators_run_only_when_checked() -> None:
    """Resolving never refuses a consistent-looking value: the commands that depend on a
    setting check it (``orchestrate history`` needs only the state directory)."""
    settings = resolve_settings({}, {"push": True, "sign_by": "ABCD"}, environ={})
    assert settings.push and settings.sign_by == "ABCD"
    settings.check("parallel", "state_dir")  # settings without a validator pass
