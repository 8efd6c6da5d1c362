"""Mapping profiles kept as data: the YAML files under ``profiles/`` and ``modules/``, loaded and checked.

A *module* (``modules/sysmon.yaml``) describes what one collector module does to one channel: the ECS
categorization per event id, rendered task names, lookup tables and an ordered list of *steps* in the
order the ingest pipeline runs its processors. A *profile* (``profiles/winlogbeat.yaml``) picks a module
per channel and adds what the shipper itself sets: index or data stream, ``event.module``, ECS version.

Loading checks every step against the step catalogue (:data:`STEP_KINDS`) and reports problems as
``file:line: message`` so a typo in a profile is caught when it is loaded, not when a record hits it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import yaml

from eqlite.sources.windows.steps import STEP_FUNCTIONS

# Each step kind and the keys its body may hold; ``codes``/``not_codes``/``profiles`` may go with any.
STEP_KINDS: dict[str, str] = {
    "move": "map",  # event_data field -> ECS path, removed from event_data (ingest ``rename``)
    "copy": "map",  # event_data field -> ECS path, kept (``set`` with ``copy_from``)
    "to_long": "map",  # event_data field -> ECS path as an integer (``convert`` type long; source kept)
    "to_ip": "map",  # event_data field -> ECS path if it is an IP address (``convert`` type ip)
    "to_bool": "map",  # event_data field -> ECS path as a boolean
    "set": "map",  # ECS path -> constant
    "set_from_record": "map",  # normalized record key -> ECS path
    "copy_out": "map",  # ECS path -> ECS path, when the source is set
    "switch": "switch",  # {field, cases: {value: {path: constant}}}
    "lookup": "lookup",  # {field, table, to, normalize?, keep_unknown?}
    "remove": "list",  # event_data fields to drop
    "basename": "map",  # ECS path -> ECS path: last part of a Windows path
    "argv": "map",  # ECS path -> ECS path: CommandLineToArgv split (+ ``<to>_count``)
    "file_parts": "scalar",  # ECS path of a file path -> name/directory/extension beside it
    "user_split": "user_split",  # {field, domain, name}: split DOMAIN\\name
    "related": "related",  # {user|ip|hosts|hash: [ECS paths]} appended without duplicates
    "related_from_data": "related",  # same, from event_data fields, skipping "-"
    "hashes": "hashes",  # {field, process: [codes], file: [codes]}
    "call": "call",  # {fn, params?}: a named function of the step library
}
_COMMON_KEYS = frozenset({"codes", "not_codes", "profiles"})


class ProfileError(ValueError):
    """A profile or module file that does not follow the schema."""


@dataclass(frozen=True, slots=True)
class Step:
    """One processing step of a module, in pipeline order."""

    kind: str
    body: Any
    codes: frozenset[int] | None = None
    not_codes: frozenset[int] = frozenset()
    profiles: frozenset[str] | None = None
    where: str = ""

    def applies(self, event_id: int | None, profile: str) -> bool:
        """Whether this step runs for ``event_id`` (``None``: an id the module does not list)."""
        if self.profiles is not None and profile not in self.profiles:
            return False
        if self.codes is not None and event_id not in self.codes:
            return False
        return event_id not in self.not_codes


@dataclass(frozen=True, slots=True)
class Module:
    """What one collector module does to the events of one channel."""

    name: str
    source: str
    drop_values: frozenset[str]
    timestamp: str | None
    events: Mapping[int, Mapping[str, Any]]
    task_names: Mapping[int, str]
    opcode_names: Mapping[int, str]
    tables: Mapping[str, Mapping[str, Any]]
    steps: tuple[Step, ...]


@dataclass(frozen=True, slots=True)
class ChannelSpec:
    """How a profile ships one channel: which module, which data stream, which constant fields."""

    channel: str
    module: Module | None
    dataset: str | None = None
    set_fields: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Profile:
    """A collector's whole mapping: channels -> modules, plus the shipper's own fields.

    Attributes:
        name: ``winlogbeat`` or ``agent``.
        index: index name, or a pattern with ``{dataset}`` and ``{namespace}`` (data streams).
        namespace: data stream namespace (``default``).
        ecs_version: value of ``ecs.version``.
        channels: lower-cased channel name -> spec (Windows channel names are case-insensitive).
        default: spec for channels the profile does not know.
    """

    name: str
    description: str
    index: str
    namespace: str
    ecs_version: str
    channels: Mapping[str, ChannelSpec]
    default: ChannelSpec
    # Compiled mapping functions by (channel, event id), filled by the mapper; shared by all its users.
    compiled: dict[tuple[str, int], Any] = field(default_factory=dict, compare=False, repr=False)

    def channel(self, name: str) -> ChannelSpec:
        """The spec for a channel (case-insensitive), or the default spec."""
        return self.channels.get(name.lower(), self.default)

    def index_for(self, spec: ChannelSpec) -> str:
        """The index (or data stream) name that events of ``spec`` go to."""
        return self.index.format(dataset=spec.dataset or "", namespace=self.namespace)


class _LineLoader(yaml.SafeLoader):
    """A safe loader whose mappings remember the line they start on (for error messages)."""


class _LineDict(dict[Any, Any]):
    line = 0


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> _LineDict:
    mapping = _LineDict(loader.construct_mapping(node, deep=True))
    mapping.line = node.start_mark.line + 1
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _load_yaml(folder: str, name: str) -> tuple[str, Any]:
    path = f"{folder}/{name}.yaml"
    resource = resources.files("eqlite.sources.windows").joinpath(path)
    try:
        text = resource.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ProfileError(f"{path}: no such profile file") from exc
    try:
        return path, yaml.load(text, Loader=_LineLoader)
    except yaml.YAMLError as exc:
        raise ProfileError(f"{path}: {exc}") from exc


def _where(path: str, node: Any) -> str:
    return f"{path}:{getattr(node, 'line', 0)}"


def _codes(value: Any, where: str) -> frozenset[int]:
    """Event ids from a list of ids and ``"first-last"`` ranges."""
    if not isinstance(value, list):
        raise ProfileError(f"{where}: codes must be a list of event ids or 'first-last' ranges")
    codes: set[int] = set()
    for item in value:
        if isinstance(item, int):
            codes.add(item)
            continue
        first, sep, last = str(item).partition("-")
        if not (sep and first.isdigit() and last.isdigit() and int(first) <= int(last)):
            raise ProfileError(f"{where}: {item!r} is neither an event id nor a 'first-last' range")
        codes.update(range(int(first), int(last) + 1))
    return frozenset(codes)


def _step(raw: Any, path: str) -> Step:
    where = _where(path, raw)
    if not isinstance(raw, dict):
        raise ProfileError(f"{where}: a step must be a mapping like '- move: {{Image: process.executable}}'")
    kinds = [k for k in raw if k not in _COMMON_KEYS]
    if len(kinds) != 1 or kinds[0] not in STEP_KINDS:
        known = ", ".join(sorted(STEP_KINDS))
        raise ProfileError(f"{where}: expected exactly one step kind out of: {known}; got {kinds}")
    kind = kinds[0]
    body = raw[kind]
    shape = STEP_KINDS[kind]
    ok = {
        "map": isinstance(body, dict) and bool(body),
        "list": isinstance(body, list) and all(isinstance(v, str) for v in body),
        "scalar": isinstance(body, str),
        "switch": isinstance(body, dict) and "field" in body and isinstance(body.get("cases"), dict),
        "lookup": isinstance(body, dict) and {"field", "table", "to"} <= body.keys(),
        "user_split": isinstance(body, dict) and {"field", "domain", "name"} <= body.keys(),
        "related": isinstance(body, dict) and set(body) <= {"user", "ip", "hosts", "hash"},
        "hashes": isinstance(body, dict) and "field" in body,
        "call": isinstance(body, dict) and "fn" in body,
    }[shape]
    if not ok:
        raise ProfileError(f"{where}: malformed '{kind}' step body: {body!r}")
    profiles = raw.get("profiles")
    if profiles is not None and not (isinstance(profiles, list) and all(isinstance(p, str) for p in profiles)):
        raise ProfileError(f"{where}: profiles must be a list of profile names")
    return Step(
        kind=kind,
        body=body,
        codes=_codes(raw["codes"], where) if "codes" in raw else None,
        not_codes=_codes(raw["not_codes"], where) if "not_codes" in raw else frozenset(),
        profiles=frozenset(profiles) if profiles is not None else None,
        where=where,
    )


def load_module(name: str) -> Module:
    """Load and check ``modules/<name>.yaml``.

    Raises:
        ProfileError: the file is missing or does not follow the schema.
    """
    path, raw = _load_yaml("modules", name)
    return parse_module(raw, path, name)


def parse_module(raw: Any, path: str, name: str = "") -> Module:
    """Check a module's parsed YAML (``path`` is only for messages) and build the :class:`Module`.

    >>> try:
    ...     parse_module(yaml.load("steps: [{rename: {a: b}}]", Loader=_LineLoader), "m.yaml")
    ... except ProfileError as exc:
    ...     print(str(exc)[:48])
    m.yaml:1: expected exactly one step kind out of:
    """
    if not isinstance(raw, dict):
        raise ProfileError(f"{path}:1: a module file must be a mapping")
    events = raw.get("events") or {}
    if not isinstance(events, dict) or not all(isinstance(k, int) for k in events):
        raise ProfileError(f"{_where(path, events)}: 'events' must map event ids to categorization")
    for code, spec in events.items():
        extra = set(spec or {}) - {"category", "type", "action", "outcome"}
        if extra:
            raise ProfileError(f"{_where(path, spec)}: event {code}: unknown keys {sorted(extra)}")
    tables = raw.get("tables") or {}
    steps = tuple(_step(s, path) for s in raw.get("steps") or [])
    for step in steps:
        if step.kind == "call" and step.body["fn"] not in STEP_FUNCTIONS:
            known = ", ".join(sorted(STEP_FUNCTIONS))
            raise ProfileError(f"{step.where}: unknown step function {step.body['fn']!r}; known: {known}")
        table = step.body.get("table") if isinstance(step.body, dict) else None
        if table is not None and table not in tables:
            raise ProfileError(f"{step.where}: unknown table '{table}'")
    return Module(
        name=str(raw.get("name", name)),
        source=str(raw.get("source", "")),
        drop_values=frozenset(str(v) for v in raw.get("drop_values", [""])),
        timestamp=raw.get("timestamp"),
        events={int(k): dict(v or {}) for k, v in events.items()},
        task_names={int(k): str(v) for k, v in (raw.get("task_names") or {}).items()},
        opcode_names={int(k): str(v) for k, v in (raw.get("opcode_names") or {}).items()},
        tables={str(k): {str(kk): vv for kk, vv in v.items()} for k, v in tables.items()},
        steps=steps,
    )


def _channel_spec(raw: Any, path: str, modules: dict[str, Module]) -> ChannelSpec:
    where = _where(path, raw)
    if not isinstance(raw, dict):
        raise ProfileError(f"{where}: a channel entry must be a mapping")
    extra = set(raw) - {"channel", "module", "dataset", "set"}
    if extra:
        raise ProfileError(f"{where}: unknown keys {sorted(extra)}")
    module_name = raw.get("module")
    module = None
    if module_name is not None:
        if module_name not in modules:
            modules[module_name] = load_module(module_name)
        module = modules[module_name]
    return ChannelSpec(
        channel=str(raw.get("channel", "")),
        module=module,
        dataset=raw.get("dataset"),
        set_fields=dict(raw.get("set") or {}),
    )


def load_profile(name: str) -> Profile:
    """Load and check ``profiles/<name>.yaml`` with the modules it names.

    Raises:
        ProfileError: a file is missing or does not follow the schema.
    """
    path, raw = _load_yaml("profiles", name)
    if not isinstance(raw, dict) or not isinstance(raw.get("channels"), list):
        raise ProfileError(f"{path}:1: a profile must be a mapping with a 'channels' list")
    modules: dict[str, Module] = {}
    channels = {}
    for entry in raw["channels"]:
        spec = _channel_spec(entry, path, modules)
        channels[spec.channel.lower()] = spec
    return Profile(
        name=str(raw.get("name", name)),
        description=str(raw.get("description", "")),
        index=str(raw["index"]),
        namespace=str(raw.get("namespace", "default")),
        ecs_version=str(raw.get("ecs_version", "8.17.0")),
        channels=channels,
        default=_channel_spec(raw.get("default") or _LineDict(), path, modules),
    )


PROFILE_NAMES = ("winlogbeat", "agent")


class _Profiles(Mapping[str, Profile]):
    """Read-only name -> :class:`Profile` mapping that loads each profile on first use."""

    def __init__(self) -> None:
        self._loaded: dict[str, Profile] = {}

    def __getitem__(self, name: str) -> Profile:
        if name not in PROFILE_NAMES:
            raise KeyError(f"unknown profile {name!r}; known: {', '.join(PROFILE_NAMES)}")
        profile = self._loaded.get(name)
        if profile is None:
            profile = self._loaded[name] = load_profile(name)
        return profile

    def __iter__(self) -> Iterator[str]:
        return iter(PROFILE_NAMES)

    def __len__(self) -> int:
        return len(PROFILE_NAMES)


PROFILES: Mapping[str, Profile] = _Profiles()
"""The built-in profiles by name (``winlogbeat``, ``agent``), loaded lazily."""
