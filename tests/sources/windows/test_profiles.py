"""Profiles and modules as data: loading, checking, compiling."""

from __future__ import annotations

import pytest
import yaml

from eqlite.sources.windows import PROFILES, ProfileError, render_source
from eqlite.sources.windows.profile import _LineLoader, parse_module


def _module(text: str) -> None:
    parse_module(yaml.load(text, Loader=_LineLoader), "bad.yaml")


def test_builtin_profiles_load_with_their_indices() -> None:
    winlogbeat, agent = PROFILES["winlogbeat"], PROFILES["agent"]
    assert winlogbeat.index_for(winlogbeat.channel("Security")) == "winlogbeat-8.17.0"
    assert (
        agent.index_for(agent.channel("microsoft-windows-sysmon/operational"))
        == "logs-windows.sysmon_operational-default"
    )
    assert agent.index_for(agent.channel("Microsoft-Windows-PowerShell/Operational")) == (
        "logs-windows.powershell_operational-default"
    )
    assert agent.index_for(agent.channel("Security")) == "logs-system.security-default"
    assert agent.index_for(agent.channel("Some/Other")) == "logs-winlog.winlog-default"
    with pytest.raises(KeyError):
        PROFILES["nxlog"]


def test_sysmon_module_maps_every_event_id_winlogbeat_maps() -> None:
    sysmon = PROFILES["winlogbeat"].channel("Microsoft-Windows-Sysmon/Operational").module
    assert sysmon is not None
    assert set(sysmon.events) == set(range(1, 30)) | {255}


def test_security_module_covers_the_required_ids() -> None:
    security = PROFILES["agent"].channel("Security").module
    assert security is not None
    required = {4624, 4625, 4634, 4648, 4672, 4688, 4689, 4697, 4698, 4720, 4728, 4732, 4768, 4769}
    assert required <= set(security.events)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("steps:\n  - rename: {a: b}\n", "bad.yaml:2: expected exactly one step kind"),
        ("steps:\n  - move: []\n", "bad.yaml:2: malformed 'move' step body"),
        ("steps:\n  - move: {a: b}\n    codes: [1, x]\n", "bad.yaml:2: 'x' is neither an event id"),
        ("steps:\n  - lookup: {field: a, table: nope, to: b}\n", "bad.yaml:2: unknown table 'nope'"),
        ("steps:\n  - call: {fn: nope}\n", "bad.yaml:2: unknown step function 'nope'"),
        ("events:\n  1: {category: [x], colour: red}\n", "bad.yaml:2: event 1: unknown keys ['colour']"),
    ],
)
def test_module_errors_name_file_and_line(text: str, message: str) -> None:
    with pytest.raises(ProfileError) as info:
        _module(text)
    assert str(info.value).startswith(message)


def test_code_ranges() -> None:
    module = parse_module(yaml.load("steps:\n  - set: {a.b: 1}\n    codes: [1, 4-6]\n", Loader=_LineLoader), "m")
    assert module.steps[0].codes == frozenset({1, 4, 5, 6})


def test_rendered_source_is_specialized_to_the_record_keys() -> None:
    profile = PROFILES["winlogbeat"]
    generic = render_source(profile, "Microsoft-Windows-Sysmon/Operational", 3)
    special = render_source(profile, "Microsoft-Windows-Sysmon/Operational", 3, ["UtcTime", "SourceIp"])
    assert "ed.get('QueryName')" in generic
    assert "ed.get('QueryName')" not in special
    assert "_is_ip(v)" in special
    compile(special, "<test>", "exec")
