"""Compile a profile's steps for one (channel, event id) into one Python function.

Walking the steps for every record would pay an interpreter round per step. Instead each step emits a
few lines of Python, the lines of all steps that apply to the event id are joined into one function and
``compile()``d once; the mapper then calls that function per record. Output objects (``process``,
``process.parent`` ...) become local dicts attached to the document up front and pruned at the end if
they stayed empty, so a step writes ``o_process['pid'] = n`` instead of walking a dotted path.

The function comes in two forms with the same steps: the ``record`` form reads a normalized
:class:`~.records.WinRecord`; the ``evtx`` form reads the ``evtx`` package's JSON (the ``System`` element
and the rendered ``EventData``) directly, which spares EVTX records the normalized record in between.

:func:`render_source` returns the generated source; it is the readable answer to "what does the
profile do with this event".
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Literal

from eqlite.sources.windows import functions, records, steps
from eqlite.sources.windows.profile import ChannelSpec, Module, Profile, Step

MapFn = Callable[[Any, "str | None"], dict[str, Any]]
# The EVTX form: ``(event, event["System"], event_data, host_id)``, straight from the evtx JSON.
EvtxMapFn = Callable[[dict[str, Any], dict[str, Any], dict[str, Any], "str | None"], dict[str, Any]]
# What the generated function reads: a normalized record (``record``) or the evtx JSON (``evtx``).
Form = Literal["record", "evtx"]

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


class NotCompilable(NotImplementedError):
    """A step the requested form of generated function cannot express (the caller uses the other form)."""


def keyword_names(mask: int, cache: dict[int, tuple[str, ...]]) -> tuple[str, ...]:
    """Names of the standard keyword bits set in ``mask`` (cached per mask)."""
    names = cache.get(mask)
    if names is None:
        names = cache[mask] = tuple(name for bit, name in _KEYWORD_BITS if mask & bit)
    return names


class _Emitter:
    """Collects the lines of one generated function and the objects and constants it uses."""

    def __init__(self, present: frozenset[str] | None, form: Form = "record") -> None:
        self.form = form
        self.lines: list[str] = []
        self.objects: dict[str, str] = dict(_BASE_OBJECTS)
        self.consts: dict[str, Any] = {}
        # Event data keys the record may hold at this point; ``None``: any. Steps that read a key
        # outside this set are left out of the generated function.
        self.present: set[str] | None = None if present is None else set(present)
        # Every key whose presence the steps asked about: the generated code depends on no other.
        self.queried: set[str] = set()

    def has(self, key: str) -> bool:
        self.queried.add(key)
        return self.present is None or key in self.present

    def has_any(self, keys: frozenset[str]) -> bool:
        self.queried.update(keys)
        return self.present is None or not self.present.isdisjoint(keys)

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
            if em.form == "record":
                em.emit(f"v = get({key!r})")
            elif key in _EVTX_RECORD_LOCALS:
                em.emit(f"v = {_EVTX_RECORD_LOCALS[key]}")
            else:
                raise NotCompilable(f"{step.where}: record key {key!r} is not read by the EVTX fast path")
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
            if not em.has_any(wanted):
                return
        em.emit(f"_fn_{body['fn']}(ed, out, {em.const(params)})")
        added = steps.ADDED_KEYS[body["fn"]]
        em.adds(frozenset({params[added]}) if isinstance(added, str) else added)
    else:  # pragma: no cover - the loader rejects unknown kinds
        raise AssertionError(kind)


def _table_params(module: Module, body: dict[str, Any]) -> dict[str, Any]:
    return {"table": module.tables[body["table"]]} if "table" in body else {}


def _generate(
    profile: Profile,
    spec: ChannelSpec,
    event_id: int,
    present: frozenset[str] | None = None,
    form: Form = "record",
    channel: str = "",
) -> tuple[str, dict[str, Any], bool]:
    """Source text, its global constants, and whether the event id is one the module lists.

    ``present`` is the set of event data keys the records will have (``None``: unknown); steps that
    read other keys are left out. ``form`` says what the function reads; the ``evtx`` form is only
    for records of ``channel`` (spelled as the records spell it).
    """
    return _generate_with(profile, spec, event_id, _Emitter(present, form), channel)


def _generate_with(
    profile: Profile, spec: ChannelSpec, event_id: int, em: _Emitter, channel: str
) -> tuple[str, dict[str, Any], bool]:
    module = spec.module
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
    _emit_prologue(em, profile, spec, event_id, channel)
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
    header = "def _map(rec, host_id):" if em.form == "record" else "def _map(ev, system, raw, host_id):"
    lines = [header, *prologue, *creation, *body_lines, *epilogue]
    return "\n".join(lines) + "\n", em.consts, known


# Record keys that ``set_from_record`` may read in the EVTX form, as the local variables that hold them.
_EVTX_RECORD_LOCALS = {"time_created": "created", "computer": "computer"}

# How the EVTX form reads the System element: what :func:`.records.from_evtx` and ``_system_fields``
# do together, written out without the record in between. ``{levels}``, ``{keywords}`` and ``{guids}`` are
# constants: tables and caches.
_EVTX_SYSTEM = """\
a = system.get('Provider')
a = a.get('#attributes') if type(a) is dict else None
if type(a) is dict:
    v = a.get('Name')
    if v:
        winlog['provider_name'] = event['provider'] = v
    v = a.get('Guid')
    if v:
        winlog['provider_guid'] = {guids}.get(v) or _braced_attr(v)
v = system.get('EventRecordID')
if type(v) is int:
    winlog['record_id'] = str(v)
v = system.get('Version')
if type(v) is int:
    winlog['version'] = v
a = system.get('Execution')
a = a.get('#attributes') if type(a) is dict else None
if type(a) is dict:
    v = a.get('ProcessID')
    if type(v) is int:
        p = {{'pid': v}}
        v = a.get('ThreadID')
        if type(v) is int:
            p['thread'] = {{'id': v}}
        winlog['process'] = p
a = system.get('Correlation')
if a:
    a = a.get('#attributes') if type(a) is dict else None
    if type(a) is dict:
        v = a.get('ActivityID')
        if v:
            winlog['activity_id'] = {guids}.get(v) or _braced_attr(v)
        v = a.get('RelatedActivityID')
        if v:
            winlog['related_activity_id'] = {guids}.get(v) or _braced_attr(v)
v = system.get('Level')
v = {levels}.get(v) if type(v) is int else None
if v:
    out['log'] = {{'level': v}}
v = system.get('Keywords')
names = {keywords}.get(v) if type(v) is str else None
if names is None and type(v) is str and v.startswith('0x'):
    names = _keywords(v)
if names:
    winlog['keywords'] = list(names)
    if 'Audit Success' in names:
        event['outcome'] = 'success'
    elif 'Audit Failure' in names:
        event['outcome'] = 'failure'
a = system.get('Security')
if a:
    a = a.get('#attributes') if type(a) is dict else None
    v = a.get('UserID') if type(a) is dict else None
    if v:
        v = str(v)
        user = {{'identifier': v}}
        w = _WELL_KNOWN_SIDS.get(v)
        if w is not None:
            user['name'], user['domain'], user['type'] = w
        winlog['user'] = user
if 'UserData' in ev:
    v = _user_data(ev)
    if v is not None:
        winlog['user_data'] = v
"""


def analyze(profile: Profile, spec: ChannelSpec, event_id: int) -> tuple[frozenset[str], bool]:
    """What the generated code for ``event_id`` depends on: event data keys, and the form of the record.

    Returns the keys whose presence the code tests (functions specialized to key sets ``K`` and
    ``K & keys`` are the same function, so one compiled function serves every layout of a kind that
    differs only in other keys), and whether the ``evtx`` form can be compiled (see :class:`NotCompilable`).

    >>> from eqlite.sources.windows.profile import PROFILES
    >>> profile = PROFILES["winlogbeat"]
    >>> keys, evtx = analyze(profile, profile.channel("Microsoft-Windows-Sysmon/Operational"), 1)
    >>> "Image" in keys, "LogonGuid" in keys, evtx
    (True, False, True)
    """
    em = _Emitter(frozenset(), "evtx")
    try:
        _generate_with(profile, spec, event_id, em, "")
    except NotCompilable:
        em = _Emitter(frozenset())
        _generate_with(profile, spec, event_id, em, "")
        return frozenset(em.queried), False
    return frozenset(em.queried), True


def drop_values(spec: ChannelSpec) -> frozenset[str]:
    """Event data values that the channel's module removes before any step runs."""
    return spec.module.drop_values if spec.module else frozenset({""})


def _emit_prologue(em: _Emitter, profile: Profile, spec: ChannelSpec, event_id: int, channel: str) -> None:
    module = spec.module
    drop = em.const(drop_values(spec))
    tasks = em.const(dict(module.task_names) if module else {})
    opcodes = em.const({**_OPCODES, **(module.opcode_names if module else {})})
    categorization = dict(module.events.get(event_id, {})) if module else {}
    event_consts = {"kind": "event", "code": str(event_id)}
    for key in ("category", "type", "outcome"):
        if key in categorization:
            event_consts[key] = categorization[key]
    evtx = em.form == "evtx"
    if evtx:
        # ``raw`` is the record's own EventData dict, rendered and without droppable values: no copy.
        em.emit("ed = raw")
        em.emit("computer = system.get('Computer') or ''")
        em.emit("a = system.get('TimeCreated')")
        em.emit("a = a.get('#attributes') if type(a) is dict else None")
        em.emit("created = a.get('SystemTime') if type(a) is dict else None")
        em.emit("if type(created) is not str:")
        em.emit("created = ''", 2)
    else:
        em.emit("get = rec.get")
        em.emit("computer = rec['computer']")
        em.emit("raw = rec['event_data']")
        # Most records hold no droppable value: a plain copy is cheaper than filtering.
        em.emit(f"if {drop}.isdisjoint(raw.values()):")
        em.emit("ed = dict(raw)", 2)
        em.emit("else:")
        em.emit(f"ed = {{k: v for k, v in raw.items() if v not in {drop}}}", 2)
    em.emit(f"event = {event_consts!r}")
    channel_expr = repr(channel) if evtx else "rec['channel']"
    em.emit(f"winlog = {{'channel': {channel_expr}, 'computer_name': computer, 'event_id': {str(event_id)!r}}}")
    em.emit("host = {'name': computer, 'hostname': computer, 'id': host_id or computer,"
            " 'os': {'type': 'windows', 'family': 'windows', 'platform': 'windows'}}")  # fmt: skip
    created = "created" if evtx else "rec['time_created']"
    em.emit(f"out = {{'@timestamp': {created}, 'ecs': {{'version': {profile.ecs_version!r}}},"
            " 'event': event, 'host': host, 'winlog': winlog}")  # fmt: skip
    if evtx:
        system = _EVTX_SYSTEM.format(levels=em.const(_LEVELS), keywords=em.const(_KEYWORDS_BY_TEXT),
                                     guids=em.const(_BRACED_ATTRS))
        for line in system.splitlines():
            em.emit(line)
        em.emit("v = system.get('Task')")
        em.emit(f"task = {tasks}.get(v) if type(v) is int else None")
    else:
        em.emit("_system_fields(rec, get, out, event, winlog)")
        em.emit(f"task = get('task_name') or {tasks}.get(get('task'))")
    em.emit("if task:")
    em.emit("winlog['task'] = task", 2)
    if "action" in categorization:
        em.emit(f"event['action'] = {categorization['action']!r}")
    else:
        em.emit("event['action'] = task", 2)
    if evtx:
        em.emit("v = system.get('Opcode')")
        em.emit(f"v = {opcodes}.get(v) if type(v) is int else None")
    else:
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
# The evtx crate prints Keywords as hex text; the names of each text seen, so a record needs no int().
_KEYWORDS_BY_TEXT: dict[str, tuple[str, ...]] = {}
_KEYWORDS_BY_TEXT_MAX = 4096


# GUID attributes (provider, activity) as ``_guid_attr`` renders them, by their text in the evtx JSON.
_BRACED_ATTRS: dict[str, str] = {}


def _braced_attr(value: Any) -> str:
    text = "{" + str(value).strip("{}") + "}"
    if type(value) is str:  # only text: 1 and True are one key but render differently
        if len(_BRACED_ATTRS) >= _KEYWORDS_BY_TEXT_MAX:
            _BRACED_ATTRS.clear()
        _BRACED_ATTRS[value] = text
    return text


def _keywords(text: str) -> tuple[str, ...]:
    names = keyword_names(int(text, 16), _KEYWORD_CACHE)
    if len(_KEYWORDS_BY_TEXT) < _KEYWORDS_BY_TEXT_MAX:
        _KEYWORDS_BY_TEXT[text] = names
    return names


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
    "_user_data": records.evtx_user_data,
    "_keywords": _keywords,
    "_braced_attr": _braced_attr,
    "_WELL_KNOWN_SIDS": _WELL_KNOWN_SIDS,
    **{f"_fn_{name}": fn for name, fn in steps.STEP_FUNCTIONS.items()},
}


def render_source(
    profile: Profile, channel: str, event_id: int, keys: Iterable[str] | None = None, form: Form = "record"
) -> str:
    """The Python source the profile compiles for ``channel``/``event_id`` (for reading and debugging).

    ``keys``: the event data keys of the records; without it, the unspecialized function. ``form``:
    ``"record"`` for the function that maps normalized records, ``"evtx"`` for the one that reads the
    ``evtx`` package's JSON directly.

    >>> from eqlite.sources.windows.profile import PROFILES
    >>> "o_process['executable'] = v" in render_source(PROFILES["winlogbeat"], "Security", 4688)
    False
    >>> render_source(PROFILES["winlogbeat"], "Security", 4688, form="evtx").splitlines()[0]
    'def _map(ev, system, raw, host_id):'
    """
    present = None if keys is None else frozenset(keys)
    return _generate(profile, profile.channel(channel), event_id, present, form, channel)[0]


def _compiled(profile: Profile, channel: str, event_id: int, source: str, consts: dict[str, Any]) -> Any:
    namespace: dict[str, Any] = {**_RUNTIME, **consts}
    code = compile(source, f"<eqlite:{profile.name}:{channel or '*'}:{event_id}>", "exec")
    exec(code, namespace)
    return namespace["_map"]


def compile_mapper(
    profile: Profile, spec: ChannelSpec, event_id: int, keys: Iterable[str] | None = None
) -> tuple[MapFn, bool]:
    """Compile the mapping function for one event id of one channel; also tell whether it is listed.

    With ``keys`` (the event data keys of the records it will see) the function is specialized to them.
    """
    source, consts, known = _generate(profile, spec, event_id, None if keys is None else frozenset(keys))
    fn: MapFn = _compiled(profile, spec.channel, event_id, source, consts)
    return fn, known


def compile_evtx_mapper(
    profile: Profile, channel: str, event_id: int, keys: Iterable[str] | None = None
) -> tuple[EvtxMapFn, bool]:
    """:func:`compile_mapper` for records straight from the ``evtx`` package's JSON.

    The function maps ``(event, event["System"], event_data, host_id)`` to the document that
    :func:`~.records.from_evtx` followed by the ``record`` form would give, for records of ``channel``
    whose ``EventData`` had exactly ``keys`` and has been through :func:`~.records.prepare_event_data`
    with the channel's :func:`drop_values` (``event_data``). It may change ``event_data`` and keep it in
    the document.

    Raises:
        NotCompilable: a step of the profile needs the normalized record.
    """
    present = None if keys is None else frozenset(keys)
    source, consts, known = _generate(profile, profile.channel(channel), event_id, present, "evtx", channel)
    fn: EvtxMapFn = _compiled(profile, channel, event_id, source, consts)
    return fn, known
