"""Compile a profile's steps for one (channel, event id) into one Python function.

Walking the steps for every record would pay an interpreter round per step. Instead each step emits a
few lines of Python, the lines of all steps that apply to the event id are joined into one function and
``compile()``d once; the mapper then calls that function per record. Output objects (``process``,
``process.parent`` ...) become local dicts attached to the document up front and pruned at the end if
they stayed empty, so a step writes ``o_process['pid'] = n`` instead of walking a dotted path.

:func:`render_source` returns the generated source; it is the readable answer to "what does the
profile do with this event".
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from eqlite.sources.windows import functions, steps
from eqlite.sources.windows.profile import ChannelSpec, Module, Profile, Step

MapFn = Callable[[Any, "str | None"], dict[str, Any]]

# Objects the template (``_system_fields``) may already have put in the document.
_TEMPLATE_MAY_SET = frozenset({"log", "winlog.user", "winlog.process", "winlog.process.thread", "winlog.user_data"})
# Base objects the template always creates, by path -> local variable.
_BASE_OBJECTS = {"": "out", "event": "event", "winlog": "winlog", "winlog.event_data": "ed", "host": "host"}

_LEVELS = {0: "information", 1: "critical", 2: "error", 3: "warning", 4: "information", 5: "verbose"}
_OPCODES = {0: "Info", 1: "Start", 2: "Stop", 3: "DCStart", 4: "DCStop", 7: "Extension", 8: "Reply",
            9: "Resume", 10: "Suspend", 11: "Send", 240: "Receive"}  # fmt: skip
# Standard keyword bits (winmeta.xml); Winlogbeat renders no name for provider-specific bits.
_KEYWORD_BITS = ((0x1000000000000, "Response Time"), (0x4000000000000, "WDI Diag"), (0x8000000000000, "SQM"),
                 (0x10000000000000, "Audit Failure"), (0x20000000000000, "Audit Success"),
                 (0x40000000000000, "Correlation Hint"), (0x80000000000000, "Classic"))  # fmt: skip
_WELL_KNOWN_SIDS = {
    "S-1-5-18": ("SYSTEM", "NT AUTHORITY", "Well Known Group"),
    "S-1-5-19": ("LOCAL SERVICE", "NT AUTHORITY", "Well Known Group"),
    "S-1-5-20": ("NETWORK SERVICE", "NT AUTHORITY", "Well Known Group"),
}


def keyword_names(mask: int, cache: dict[int, tuple[str, ...]]) -> tuple[str, ...]:
    """Names of the standard keyword bits set in ``mask`` (cached per mask)."""
    names = cache.get(mask)
    if names is None:
        names = cache[mask] = tuple(name for bit, name in _KEYWORD_BITS if mask & bit)
    return names


class _Emitter:
    """Collects the lines of one generated function and the objects and constants it uses."""

    def __init__(self, present: frozenset[str] | None) -> None:
        self.lines: list[str] = []
        self.objects: dict[str, str] = dict(_BASE_OBJECTS)
        self.consts: dict[str, Any] = {}
        # Event data keys the record may hold at this point; ``None``: any. Steps that read a key
        # outside this set are left out of the generated function.
        self.present: set[str] | None = None if present is None else set(present)

    def has(self, key: str) -> bool:
        return self.present is None or key in self.present

    def adds(self, keys: frozenset[str] | None) -> None:
        if keys is None:
            self.present = None
        elif self.present is not None:
            self.present.update(keys)

    def emit(self, line: str, indent: int = 1) -> None:
        self.lines.append("    " * indent + line)

    def const(self, value: Any) -> str:
        name = f"C{len(self.consts)}"
        self.consts[name] = value
        return name

    def obj(self, path: str) -> str:
        var = self.objects.get(path)
        if var is None:
            parent = path.rpartition(".")[0]
            self.obj(parent)
            var = self.objects[path] = "o_" + path.replace(".", "_").replace("@", "at_")
        return var

    def target(self, dotted: str) -> tuple[str, str]:
        parent, _, key = dotted.rpartition(".")
        return self.obj(parent), key

    def assign(self, dotted: str, expr: str, indent: int) -> None:
        if dotted.startswith("winlog.event_data."):
            self.adds(frozenset({dotted[len("winlog.event_data.") :]}))
        var, key = self.target(dotted)
        self.emit(f"{var}[{key!r}] = {expr}", indent)

    def read(self, dotted: str) -> str:
        parent, _, key = dotted.rpartition(".")
        if parent in self.objects or parent == "":
            return f"{self.obj(parent)}.get({key!r})"
        return f"_dig(out, {tuple(dotted.split('.'))!r})"


def _dig(doc: dict[str, Any], path: tuple[str, ...]) -> Any:
    node: Any = doc
    for key in path:
        if not isinstance(node, dict):
            return None
        node = node.get(key)
    return node


def _emit_step(em: _Emitter, step: Step, module: Module, event_id: int | None) -> None:
    body = step.body
    kind = step.kind
    if kind in ("move", "copy", "to_long", "to_ip", "to_bool"):
        for src, dst in body.items():
            if not em.has(src):
                continue
            if kind == "move" and em.present is not None:
                # The record's empty values were dropped up front, so a present value is not empty
                # (keys a function may add, such as the 4103 context pairs, make present None).
                em.emit(f"v = ed.pop({src!r}, None)")
                em.emit("if v is not None:")
            else:
                em.emit(f"v = ed.get({src!r})")
                em.emit("if v:")
                if kind == "move":
                    em.emit(f"del ed[{src!r}]", 2)
            if kind in ("move", "copy"):
                em.assign(dst, "v", 2)
            elif kind == "to_ip":
                em.emit("if _is_ip(v):", 2)
                em.assign(dst, "v", 3)
            else:
                conv = "_long" if kind == "to_long" else "_bool"
                em.emit(f"n = {conv}(v)", 2)
                em.emit("if n is not None:", 2)
                em.assign(dst, "n", 3)
    elif kind == "set":
        for dst, value in body.items():
            em.assign(dst, repr(value), 1)
    elif kind == "set_from_record":
        for key, dst in body.items():
            em.emit(f"v = get({key!r})")
            em.emit("if v:")
            em.assign(dst, "v", 2)
    elif kind == "copy_out":
        for src, dst in body.items():
            em.emit(f"v = {em.read(src)}")
            em.emit("if v:")
            em.assign(dst, "v", 2)
    elif kind == "switch":
        if not em.has(body["field"]):
            return
        em.emit(f"v = ed.get({body['field']!r})")
        for i, (value, fields) in enumerate(body["cases"].items()):
            em.emit(f"{'if' if i == 0 else 'elif'} v == {str(value)!r}:")
            for dst, const in fields.items():
                em.assign(dst, repr(const), 2)
    elif kind == "lookup":
        if not em.has(body["field"]):
            return
        table = em.const(module.tables[body["table"]])
        norm = {None: "v", "lower": "v.lower()", "upper": "v.upper()", "strip_percent": "v.replace('%%', '')"}
        em.emit(f"v = ed.get({body['field']!r})")
        em.emit("if v:")
        em.emit(f"r = {table}.get({norm[body.get('normalize')]})", 2)
        if body.get("keep_unknown"):
            em.emit("if r is None:", 2)
            em.emit("r = v", 3)
        em.emit("if r is not None:", 2)
        em.assign(body["to"], "r", 3)
    elif kind == "remove":
        keys = tuple(k for k in body if em.has(k))
        if keys:
            em.emit(f"for k in {keys!r}:")
            em.emit("ed.pop(k, None)", 2)
    elif kind == "basename":
        for src, dst in body.items():
            dvar, dkey = em.target(dst)
            em.emit(f"v = {em.read(src)}")
            em.emit(f"if v and {dkey!r} not in {dvar}:")
            em.emit("n = _basename(v, True)", 2)
            em.emit("if n:", 2)
            em.emit(f"{dvar}[{dkey!r}] = n", 3)
    elif kind == "argv":
        for src, dst in body.items():
            em.emit(f"v = {em.read(src)}")
            em.emit("if v:")
            em.emit("a = _argv(v)", 2)
            em.assign(dst, "a", 2)
            em.assign(dst + "_count", "len(a)", 2)
    elif kind == "file_parts":
        parent = body.rpartition(".")[0]
        em.emit(f"v = {em.read(body)}")
        em.emit("p = _file_parts(v) if v else None")
        em.emit("if p is not None:")
        em.assign(f"{parent}.name", "p[0]", 2)
        em.assign(f"{parent}.directory", "p[1]", 2)
        em.emit("if p[2] is not None:", 2)
        em.assign(f"{parent}.extension", "p[2]", 3)
    elif kind == "user_split":
        if not em.has(body["field"]):
            return
        em.emit(f"v = ed.get({body['field']!r})")
        em.emit("parts = v.split('\\\\') if v is not None else ()")
        em.emit("if len(parts) == 2:")
        em.emit("if parts[0]:", 2)
        em.assign(body["domain"], "parts[0]", 3)
        em.emit("if parts[1]:", 2)
        em.assign(body["name"], "parts[1]", 3)
    elif kind in ("related", "related_from_data"):
        related = em.obj("related")
        for group, sources in body.items():
            for src in [sources] if isinstance(sources, str) else sources:
                if kind == "related_from_data" and not em.has(src):
                    continue
                if kind == "related":
                    em.emit(f"v = {em.read(src)}")
                    em.emit("if v:")
                else:
                    em.emit(f"v = ed.get({src!r})")
                    em.emit("if v and v != '-':")
                em.emit(f"_append({related}, {group!r}, v)", 2)
    elif kind == "hashes":
        which = next((w for w in ("process", "file") if event_id in body.get(w, ())), None)
        if which is not None and em.has(body["field"]):
            em.obj("related")
            em.obj(which)
            em.emit(f"v = ed.get({body['field']!r})")
            em.emit("if v:")
            em.emit(f"_apply_hashes(v, o_{which}, o_related)", 2)
    elif kind == "call":
        fn = steps.STEP_FUNCTIONS.get(body["fn"])
        if fn is None:
            raise KeyError(f"{step.where}: unknown step function {body['fn']!r}")
        params = dict(body.get("params") or {}, **_table_params(module, body))
        needed = steps.NEEDED_KEYS.get(body["fn"])
        if needed is not None:
            wanted = frozenset({params[needed]}) if isinstance(needed, str) else needed
            if em.present is not None and em.present.isdisjoint(wanted):
                return
        em.emit(f"_fn_{body['fn']}(ed, out, {em.const(params)})")
        added = steps.ADDED_KEYS[body["fn"]]
        em.adds(frozenset({params[added]}) if isinstance(added, str) else added)
    else:  # pragma: no cover - the loader rejects unknown kinds
        raise AssertionError(kind)


def _table_params(module: Module, body: dict[str, Any]) -> dict[str, Any]:
    return {"table": module.tables[body["table"]]} if "table" in body else {}


def _generate(
    profile: Profile, spec: ChannelSpec, event_id: int, present: frozenset[str] | None = None
) -> tuple[str, dict[str, Any], bool]:
    """Source text, its global constants, and whether the event id is one the module lists.

    ``present`` is the set of event data keys the records will have (``None``: unknown); steps that
    read other keys are left out.
    """
    module = spec.module
    em = _Emitter(present)
    known = module is not None and event_id in module.events
    step_id = event_id if known else None
    if spec.dataset:
        em.emit(f"out['data_stream'] = {{'type': 'logs', 'dataset': {spec.dataset!r},"
                f" 'namespace': {profile.namespace!r}}}")  # fmt: skip
        em.emit(f"event['dataset'] = {spec.dataset!r}")
    for dst, value in spec.set_fields.items():
        em.assign(dst, repr(value), 1)
    if module is not None:
        if module.timestamp and em.has(module.timestamp):
            em.emit(f"v = ed.get({module.timestamp!r})")
            em.emit("t = _utc(v) if v else None")
            em.emit("if t:")
            em.emit("out['@timestamp'] = t", 2)
        for step in module.steps:
            if step.applies(step_id, profile.name):
                _emit_step(em, step, module, event_id)
    body_lines = em.lines
    em.lines = []
    _emit_prologue(em, profile, spec, event_id)
    prologue = em.lines
    objects = [(p, v) for p, v in em.objects.items() if p not in _BASE_OBJECTS]
    objects.sort(key=lambda item: item[0].count("."))
    creation = []
    for path, var in objects:
        parent, _, key = path.rpartition(".")
        pvar = em.objects[parent]
        if path in _TEMPLATE_MAY_SET:
            creation.append(f"    {var} = {pvar}.get({key!r})")
            creation.append(f"    if {var} is None:")
            creation.append(f"        {var} = {pvar}[{key!r}] = {{}}")
        else:
            creation.append(f"    {var} = {pvar}[{key!r}] = {{}}")
    epilogue = []
    for path, var in reversed(objects):
        parent, _, key = path.rpartition(".")
        epilogue.append(f"    if not {var}:")
        epilogue.append(f"        {em.objects[parent]}.pop({key!r}, None)")
    epilogue.append("    if ed:")
    epilogue.append("        winlog['event_data'] = ed")
    epilogue.append("    return out")
    lines = ["def _map(rec, host_id):", *prologue, *creation, *body_lines, *epilogue]
    return "\n".join(lines) + "\n", em.consts, known


def _emit_prologue(em: _Emitter, profile: Profile, spec: ChannelSpec, event_id: int) -> None:
    module = spec.module
    drop = em.const(module.drop_values if module else frozenset({""}))
    tasks = em.const(dict(module.task_names) if module else {})
    opcodes = em.const({**_OPCODES, **(module.opcode_names if module else {})})
    categorization = dict(module.events.get(event_id, {})) if module else {}
    event_consts = {"kind": "event", "code": str(event_id)}
    for key in ("category", "type", "outcome"):
        if key in categorization:
            event_consts[key] = categorization[key]
    em.emit("get = rec.get")
    em.emit("computer = rec['computer']")
    em.emit("raw = rec['event_data']")
    # Most records hold no droppable value: a plain copy is cheaper than filtering.
    em.emit(f"if {drop}.isdisjoint(raw.values()):")
    em.emit("ed = dict(raw)", 2)
    em.emit("else:")
    em.emit(f"ed = {{k: v for k, v in raw.items() if v not in {drop}}}", 2)
    em.emit(f"event = {event_consts!r}")
    em.emit(f"winlog = {{'channel': rec['channel'], 'computer_name': computer, 'event_id': {str(event_id)!r}}}")
    em.emit("host = {'name': computer, 'hostname': computer, 'id': host_id or computer,"
            " 'os': {'type': 'windows', 'family': 'windows', 'platform': 'windows'}}")  # fmt: skip
    em.emit(f"out = {{'@timestamp': rec['time_created'], 'ecs': {{'version': {profile.ecs_version!r}}},"
            " 'event': event, 'host': host, 'winlog': winlog}")  # fmt: skip
    em.emit("_system_fields(rec, get, out, event, winlog)")
    em.emit(f"task = get('task_name') or {tasks}.get(get('task'))")
    em.emit("if task:")
    em.emit("winlog['task'] = task", 2)
    if "action" in categorization:
        em.emit(f"event['action'] = {categorization['action']!r}")
    else:
        em.emit("event['action'] = task", 2)
    em.emit(f"v = get('opcode_name') or {opcodes}.get(get('opcode'))")
    em.emit("if v:")
    em.emit("winlog['opcode'] = v", 2)


def _system_fields(rec: Any, get: Any, out: dict[str, Any], event: dict[str, Any], winlog: dict[str, Any]) -> None:
    """Fields every event gets from the ``System`` part, as Winlogbeat's event log reader sets them."""
    v = get("provider_name")
    if v:
        winlog["provider_name"] = event["provider"] = v
    v = get("provider_guid")
    if v:
        winlog["provider_guid"] = v
    v = get("record_id")
    if v is not None:
        winlog["record_id"] = str(v)
    v = get("version")
    if v is not None:
        winlog["version"] = v
    pid = get("process_id")
    if pid is not None:
        proc: dict[str, Any] = {"pid": pid}
        tid = get("thread_id")
        if tid is not None:
            proc["thread"] = {"id": tid}
        winlog["process"] = proc
    v = get("activity_id")
    if v:
        winlog["activity_id"] = v
    v = get("related_activity_id")
    if v:
        winlog["related_activity_id"] = v
    level = get("level_name") or _LEVELS.get(get("level"))
    if level:
        out["log"] = {"level": level}
    mask = get("keywords")
    names: tuple[str, ...] | list[str] | None = get("keyword_names")
    if mask is not None and names is None:
        names = keyword_names(mask, _KEYWORD_CACHE)
    if names:
        winlog["keywords"] = list(names)
        if "Audit Success" in names:
            event["outcome"] = "success"
        elif "Audit Failure" in names:
            event["outcome"] = "failure"
    sid = get("user_sid")
    if sid:
        user = {"identifier": sid}
        name = get("user_name")
        if name:
            user["name"] = name
            v = get("user_domain")
            if v:
                user["domain"] = v
            v = get("user_type")
            if v:
                user["type"] = v
        elif sid in _WELL_KNOWN_SIDS:
            user["name"], user["domain"], user["type"] = _WELL_KNOWN_SIDS[sid]
        winlog["user"] = user
    ud = get("user_data")
    if ud:
        data = dict(ud)
        v = get("user_data_name")
        if v:
            data["xml_name"] = v
        winlog["user_data"] = data
    v = get("message")
    if v:
        out["message"] = v.replace("\r\n", "\n").rstrip("\n")


_KEYWORD_CACHE: dict[int, tuple[str, ...]] = {}

_RUNTIME: dict[str, Any] = {
    "_system_fields": _system_fields,
    "_dig": _dig,
    "_utc": functions.sysmon_utc_time,
    "_long": functions.parse_long,
    "_bool": functions.parse_bool,
    "_is_ip": functions.is_ip,
    "_basename": functions.basename,
    "_file_parts": functions.file_parts,
    "_argv": functions.command_line_to_argv,
    "_append": functions.append_unique,
    "_apply_hashes": steps.apply_hashes,
    **{f"_fn_{name}": fn for name, fn in steps.STEP_FUNCTIONS.items()},
}


def render_source(profile: Profile, channel: str, event_id: int, keys: Iterable[str] | None = None) -> str:
    """The Python source the profile compiles for ``channel``/``event_id`` (for reading and debugging).

    ``keys``: the event data keys of the records; without it, the unspecialized function.

    >>> from eqlite.sources.windows.profile import PROFILES
    >>> "o_process['executable'] = v" in render_source(PROFILES["winlogbeat"], "Security", 4688)
    False
    """
    present = None if keys is None else frozenset(keys)
    return _generate(profile, profile.channel(channel), event_id, present)[0]


def compile_mapper(
    profile: Profile, spec: ChannelSpec, event_id: int, keys: Iterable[str] | None = None
) -> tuple[MapFn, bool]:
    """Compile the mapping function for one event id of one channel; also tell whether it is listed.

    With ``keys`` (the event data keys of the records it will see) the function is specialized to them.
    """
    source, consts, known = _generate(profile, spec, event_id, None if keys is None else frozenset(keys))
    namespace: dict[str, Any] = {**_RUNTIME, **consts}
    code = compile(source, f"<eqlite:{profile.name}:{spec.channel or '*'}:{event_id}>", "exec")
    exec(code, namespace)
    fn: MapFn = namespace["_map"]
    return fn, known
