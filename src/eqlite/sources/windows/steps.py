"""Named step functions that modules call with ``- call: {fn: NAME}``.

These are the pipeline scripts whose logic does not fit the simple step kinds: the Security module's
user/target/subject juggling, 4688 process fields, bit-flag descriptions, and the PowerShell context
parsing. Every function takes ``(event_data, document, params)`` and edits both in place; which event
ids it runs for is data in the module file, not code here.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from eqlite.sources.windows import functions
from eqlite.sources.windows.functions import (
    append_unique,
    dns_results,
    java_split,
    parse_long,
    quote_aware_split,
    registry_fields,
    split_hashes,
)

StepFn = Callable[[dict[str, Any], dict[str, Any], dict[str, Any]], None]
STEP_FUNCTIONS: dict[str, StepFn] = {}
# Event data keys a function may add, for the code generator's pruning: ``None`` means any key, a
# string names the parameter that holds the key.
ADDED_KEYS: dict[str, frozenset[str] | str | None] = {}


def _step(fn: StepFn) -> StepFn:
    STEP_FUNCTIONS[fn.__name__] = fn
    ADDED_KEYS.setdefault(fn.__name__, frozenset())
    return fn


def _adds(keys: frozenset[str] | str | None) -> Callable[[StepFn], StepFn]:
    def mark(fn: StepFn) -> StepFn:
        ADDED_KEYS[fn.__name__] = keys
        return fn

    return mark


# Event data keys of which at least one must be present for a function to do anything (a string names
# the parameter that holds the key); functions not listed always run.
NEEDED_KEYS: dict[str, frozenset[str] | str] = {}


def _needs(*keys: str, param: str | None = None) -> Callable[[StepFn], StepFn]:
    def mark(fn: StepFn) -> StepFn:
        NEEDED_KEYS[fn.__name__] = param if param is not None else frozenset(keys)
        return fn

    return mark


_BIT_TABLES: dict[int, tuple[dict[str, str], tuple[tuple[int, str], ...]]] = {}


def _bits(table: dict[str, str]) -> tuple[tuple[int, str], ...]:
    """A ``0x%08X``-keyed flag table as (bit, name) pairs in bit order, computed once per table."""
    hit = _BIT_TABLES.get(id(table))
    # The cache keeps the table alive, so its id cannot be reused by another table meanwhile.
    if hit is None or hit[0] is not table:
        hit = _BIT_TABLES[id(table)] = (table, tuple(sorted((int(k, 16), v) for k, v in table.items())))
    return hit[1]


def _obj(parent: dict[str, Any], key: str) -> dict[str, Any]:
    node = parent.get(key)
    if node is None:
        node = parent[key] = {}
    return node


def apply_hashes(value: str, target: dict[str, Any], related: dict[str, Any]) -> None:
    """Sysmon ``Hashes`` -> ``<target>.hash.*``, ``<target>.pe.imphash`` and ``related.hash``."""
    hashes = split_hashes(value)
    if not hashes:
        return
    related["hash"] = list(hashes.values())
    imphash = hashes.pop("imphash", None)
    if hashes:
        target["hash"] = hashes
    if imphash is not None:
        _obj(target, "pe")["imphash"] = imphash


@_step
@_needs("QueryResults")
def dns_answers(ed: dict[str, Any], doc: dict[str, Any], params: dict[str, Any]) -> None:
    """Sysmon 22 ``QueryResults`` -> ``dns.answers``, ``dns.resolved_ip`` and ``related.hosts``."""
    results = ed.get("QueryResults")
    if not results:
        return
    answers, ips, hosts = dns_results(results, params["table"])
    if answers:
        _obj(doc, "dns")["answers"] = answers
    if ips:
        _obj(doc, "dns")["resolved_ip"] = ips
    if hosts:
        _obj(doc, "related")["hosts"] = hosts


@_step
def resolved_ips_related(ed: dict[str, Any], doc: dict[str, Any], params: dict[str, Any]) -> None:
    """Each ``dns.resolved_ip`` -> ``related.ip``."""
    ips = doc.get("dns", {}).get("resolved_ip")
    if ips:
        related = _obj(doc, "related")
        for ip in ips:
            append_unique(related, "ip", ip)


@_step
def community_id(ed: dict[str, Any], doc: dict[str, Any], params: dict[str, Any]) -> None:
    """``network.community_id`` from the flow's addresses, ports and transport."""
    source, destination = doc.get("source"), doc.get("destination")
    transport = doc.get("network", {}).get("transport")
    if not (source and destination and transport):
        return
    sip, dip, sport, dport = source.get("ip"), destination.get("ip"), source.get("port"), destination.get("port")
    if sip is None or dip is None or sport is None or dport is None:
        return
    value = functions.community_id(sip, dip, sport, dport, transport)
    if value is not None:
        doc["network"]["community_id"] = value


@_step
@_needs("TargetObject")
def registry(ed: dict[str, Any], doc: dict[str, Any], params: dict[str, Any]) -> None:
    """Sysmon 12/13/14 ``TargetObject``/``Details`` -> ``registry.*``."""
    target = ed.get("TargetObject")
    if target:
        doc["registry"] = registry_fields(target, ed.get("Details"))


# --- Security ---------------------------------------------------------------------------------------


def _related_user(doc: dict[str, Any], name: str) -> None:
    append_unique(_obj(doc, "related"), "user", name)


@_step
@_needs("AccountName", "AccountDomain", "ClientAddress", "ClientName", "LogonID")
def session_user(ed: dict[str, Any], doc: dict[str, Any], params: dict[str, Any]) -> None:
    """4778/4779: account, client address and logon id of a reconnected or disconnected session."""
    name = ed.get("AccountName")
    if name is not None:
        _obj(doc, "user")["name"] = name
        _related_user(doc, name)
    domain = ed.get("AccountDomain")
    if domain is not None:
        _obj(doc, "user")["domain"] = domain
    address = ed.get("ClientAddress")
    if address is not None and address not in ("-", "Unknown"):
        if address == "LOCAL":
            address = ed["ClientAddress"] = "127.0.0.1"
        _obj(doc, "source")["ip"] = address
        append_unique(_obj(doc, "related"), "ip", address)
    client = ed.get("ClientName")
    if client is not None:
        _obj(doc, "source")["domain"] = client
    logon_id = ed.get("LogonID")
    if logon_id is not None:
        _obj(doc["winlog"], "logon")["id"] = logon_id


@_step
@_needs("TargetUserSid", "TargetSid", "TargetUserName", "TargetDomainName")
def target_user(ed: dict[str, Any], doc: dict[str, Any], params: dict[str, Any]) -> None:
    """Logon-type events: the target account is the user; a second one goes to ``user.target``."""
    user = _obj(doc, "user")
    sid = ed.get("TargetUserSid")
    if sid is None:
        sid = ed.get("TargetSid")
    if sid is not None:
        if "id" not in user:
            user["id"] = sid
        else:
            _obj(user, "target")["id"] = sid
    name = ed.get("TargetUserName")
    if name is not None:
        name = name.split("@")[0]
        if "name" not in user:
            user["name"] = name
        else:
            _obj(user, "target")["name"] = name
        _related_user(doc, name)
    domain = ed.get("TargetDomainName")
    if domain is not None:
        if "domain" not in user:
            user["domain"] = domain
        else:
            _obj(user, "target")["domain"] = domain
    if not user:
        del doc["user"]


@_step
@_needs("MemberName", "TargetUserSid", "TargetSid", "TargetUserName", "TargetDomainName")
def member_group(ed: dict[str, Any], doc: dict[str, Any], params: dict[str, Any]) -> None:
    """Group-management events: the member goes to ``user.target``, the group to ``group``."""
    member = ed.get("MemberName")
    if member is not None:
        parts = member.split(",")
        name = parts[0].replace("CN=", "").replace("cn=", "")
        target = _obj(_obj(doc, "user"), "target")
        target["name"] = name
        _related_user(doc, name)
        if len(parts) >= 4:
            target["domain"] = parts[3].replace("DC=", "").replace("dc=", "")
    group: dict[str, Any] = {}
    for key in ("TargetUserSid", "TargetSid"):
        if ed.get(key) is not None:
            group["id"] = ed[key]
    if ed.get("TargetUserName") is not None:
        group["name"] = ed["TargetUserName"]
    if ed.get("TargetDomainName") is not None:
        group["domain"] = ed["TargetDomainName"].replace("DC=", "").replace("dc=", "")
    if group:
        doc["group"] = group
    target = doc.get("user", {}).get("target")
    if target is not None:
        target["group"] = dict(group)


@_step
@_needs("TargetSid", "TargetUserName", "TargetDomainName")
def computer_object(ed: dict[str, Any], doc: dict[str, Any], params: dict[str, Any]) -> None:
    """4741-4743: the computer account goes to ``winlog.computerObject``."""
    fields = {"id": ed.get("TargetSid"), "name": ed.get("TargetUserName"), "domain": ed.get("TargetDomainName")}
    fields = {k: v for k, v in fields.items() if v is not None}
    if fields:
        doc["winlog"]["computerObject"] = fields


@_step
@_needs("SubjectUserSid", "SubjectUserName", "SubjectDomainName")
def subject_user(ed: dict[str, Any], doc: dict[str, Any], params: dict[str, Any]) -> None:
    """The subject (the account that acted) is the user."""
    _subject(ed, doc)


@_step
def subject_from_user_data(ed: dict[str, Any], doc: dict[str, Any], params: dict[str, Any]) -> None:
    """1102: the subject comes from ``winlog.user_data``."""
    _subject(doc["winlog"].get("user_data", {}), doc)


def _subject(source: dict[str, Any], doc: dict[str, Any]) -> None:
    sid, name, domain = source.get("SubjectUserSid"), source.get("SubjectUserName"), source.get("SubjectDomainName")
    if sid is not None:
        _obj(doc, "user")["id"] = sid
    if name is not None:
        _obj(doc, "user")["name"] = name
        _related_user(doc, name)
    if domain is not None:
        _obj(doc, "user")["domain"] = domain


def _other_user(ed: dict[str, Any], doc: dict[str, Any], key: str, sid_field: str) -> None:
    user = _obj(doc, "user")
    other = _obj(user, key)
    sid = ed.get(sid_field)
    if sid not in (None, "", "-"):
        other["id"] = sid
    name = ed.get("TargetUserName")
    if name not in (None, "", "-"):
        other["name"] = name.split("@")[0]
        _related_user(doc, other["name"])
    domain = ed.get("TargetDomainName")
    if domain not in (None, "", "-"):
        other["domain"] = domain
    if not other:
        del user[key]
    if not user:
        del doc["user"]


@_step
@_needs("TargetSid", "TargetUserName", "TargetDomainName")
def target_to_user_target(ed: dict[str, Any], doc: dict[str, Any], params: dict[str, Any]) -> None:
    """Account-management events: the account acted upon goes to ``user.target``."""
    _other_user(ed, doc, "target", "TargetSid")


@_step
@_needs("TargetUserSid", "TargetUserName", "TargetDomainName")
def target_to_effective(ed: dict[str, Any], doc: dict[str, Any], params: dict[str, Any]) -> None:
    """4648/4688: the account whose credentials were used goes to ``user.effective``."""
    _other_user(ed, doc, "effective", "TargetUserSid")


def _decoded_pid(value: Any) -> int | None:
    return parse_long(value) if isinstance(value, str) else value if isinstance(value, int) else None


def _name_of(proc: dict[str, Any]) -> None:
    exe = proc.get("executable")
    if "name" not in proc and exe is not None:
        proc["name"] = exe.split("\\")[-1]


@_step
@_needs("ProcessId", "ProcessName", "IpAddress", "IpPort", "WorkstationName", "ClientAddress")
def common_auth(ed: dict[str, Any], doc: dict[str, Any], params: dict[str, Any]) -> None:
    """Process and network fields shared by authentication and account events."""
    pid = _decoded_pid(ed.pop("ProcessId", None))
    if pid is not None:
        _obj(doc, "process")["pid"] = pid
    exe = ed.pop("ProcessName", None)
    if exe is not None:
        _obj(doc, "process")["executable"] = exe
    ip = ed.get("IpAddress")
    if ip is not None and ip != "-":
        _obj(doc, "source")["ip"] = ed.pop("IpAddress")
    port = ed.get("IpPort")
    if port is not None and port != "-":
        value = parse_long(ed.pop("IpPort"))
        if value is not None:
            _obj(doc, "source")["port"] = value
    workstation = ed.pop("WorkstationName", None)
    if workstation is not None:
        _obj(doc, "source")["domain"] = workstation
    client = ed.get("ClientAddress")
    if client is not None and client != "-":
        # The pipeline puts a plain string here, not a list.
        _obj(doc, "related")["ip"] = ed.pop("ClientAddress")
    if "process" in doc:
        _name_of(doc["process"])


@_step
def process_4688(ed: dict[str, Any], doc: dict[str, Any], params: dict[str, Any]) -> None:
    """4688: the new process; ``ProcessId`` (the creator) becomes ``process.parent.pid``.

    There is no entity id: Security events carry no process GUID.
    """
    proc = _obj(doc, "process")
    pid = _decoded_pid(ed.pop("NewProcessId", None))
    if pid is not None:
        proc["pid"] = pid
    exe = ed.pop("NewProcessName", None)
    if exe is not None:
        proc["executable"] = exe
    parent_exe = ed.pop("ParentProcessName", None)
    if parent_exe is not None:
        _obj(proc, "parent")["executable"] = parent_exe
    _name_of(proc)
    if "parent" in proc:
        _name_of(proc["parent"])
    ppid = _decoded_pid(ed.get("ProcessId"))
    if ppid is not None:
        _obj(proc, "parent")["pid"] = ppid
    cmd = ed.get("CommandLine")
    if cmd is not None:
        proc["args"] = quote_aware_split(cmd)
        proc["command_line"] = cmd
    name = ed.get("TargetUserName")
    if name is not None and name != "-":
        _related_user(doc, name)


@_step
@_adds("to")
@_needs(param="field")
def bit_flags(ed: dict[str, Any], doc: dict[str, Any], params: dict[str, Any]) -> None:
    """Describe the bits of a flag field with a ``0x%08X``-keyed table (ticket options, UAC)."""
    raw = ed.get(params["field"])
    value = parse_long(raw) if isinstance(raw, str) else None
    if value is None:
        return
    names = [name for bit, name in _bits(params["table"]) if value & bit == bit]
    if not names:
        return
    ed[params["to"]] = names
    split_field = params.get("split_field")
    if split_field and isinstance(ed.get(split_field), str):
        ed[split_field] = [part.strip() for part in ed[split_field].split("%%") if part.strip()]


@_step
@_adds(frozenset({"Category", "SubCategory"}))
@_needs("SubcategoryGuid")
def audit_category(ed: dict[str, Any], doc: dict[str, Any], params: dict[str, Any]) -> None:
    """``SubcategoryGuid`` -> ``Category``/``SubCategory`` names in event_data."""
    guid = ed.get("SubcategoryGuid")
    if guid is None:
        return
    names = params["table"].get(guid.replace("{", "").replace("}", "").upper())
    if names:
        ed["Category"], ed["SubCategory"] = names[1], names[0]


@_step
@_adds(frozenset({"AccessMaskDescription"}))
@_needs("AccessMask")
def access_mask(ed: dict[str, Any], doc: dict[str, Any], params: dict[str, Any]) -> None:
    """``AccessMask`` -> a list of its tokens plus ``AccessMaskDescription`` for its known bits."""
    raw = ed.get("AccessMask")
    if not isinstance(raw, str):
        return
    tokens, desc = _access_mask_parts(raw, params["table"])
    if tokens:
        ed["AccessMask"] = list(tokens)
    if desc:
        ed["AccessMaskDescription"] = list(desc)


_ACCESS_MASKS: dict[tuple[int, str], tuple[dict[str, str], tuple[str, ...], tuple[str, ...]]] = {}
_MEMO_MAX = 4096


def _access_mask_parts(raw: str, table: dict[str, str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The tokens of an ``AccessMask`` value and the names of its known bits (a few values recur all the time)."""
    hit = _ACCESS_MASKS.get((id(table), raw))
    # The memo keeps the table alive, so its id cannot be reused by another table meanwhile.
    if hit is not None and hit[0] is table:
        return hit[1], hit[2]
    tokens = tuple(t for t in raw.split() if t)
    mask = 0
    for token in tokens:
        mask |= parse_long(token.replace("%%", "")) or 0
    desc = tuple(name for bit, name in _bits(table) if mask & bit == bit)
    if len(_ACCESS_MASKS) >= _MEMO_MAX:
        _ACCESS_MASKS.clear()
    _ACCESS_MASKS[(id(table), raw)] = (table, tokens, desc)
    return tokens, desc


@_step
@_needs("PrivilegeList")
def split_privileges(ed: dict[str, Any], doc: dict[str, Any], params: dict[str, Any]) -> None:
    """``PrivilegeList`` -> a list, split on whitespace."""
    value = ed.get("PrivilegeList")
    if isinstance(value, str):
        hit = _PRIVILEGE_LISTS.get(value)
        if hit is None:
            if len(_PRIVILEGE_LISTS) >= _MEMO_MAX:
                _PRIVILEGE_LISTS.clear()
            hit = _PRIVILEGE_LISTS[value] = tuple(java_split(_BLANKS.sub(" ", value), " "))
        ed["PrivilegeList"] = list(hit)


_PRIVILEGE_LISTS: dict[str, tuple[str, ...]] = {}
_BLANKS = re.compile(r"\s+")


@_step
def strip_v4_mapped_source(ed: dict[str, Any], doc: dict[str, Any], params: dict[str, Any]) -> None:
    """Remove ``::ffff:`` from ``source.ip``."""
    source = doc.get("source")
    if source is not None and isinstance(source.get("ip"), str):
        source["ip"] = source["ip"].replace("::ffff:", "")


@_step
def drop_empty(ed: dict[str, Any], doc: dict[str, Any], params: dict[str, Any]) -> None:
    """Remove empty values from event_data (the pipelines' last cleanup; keys added by ``kv`` can be empty)."""
    for key in [k for k, v in ed.items() if v is None or v == ""]:
        del ed[key]


# --- PowerShell -------------------------------------------------------------------------------------


def _kv(text: str, field_split: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    # Winlogbeat hands over CRLF-free text; the EVTX and NXLog values still have the CR.
    for pair in java_split(text.replace("\r", ""), field_split):
        key, sep, value = pair.partition("=")
        if sep:
            pairs[key.strip(" \n\t")] = value.strip(" \n\t")
    return pairs


@_step
@_adds(None)
@_needs(param="field")
def ps_kv(ed: dict[str, Any], doc: dict[str, Any], params: dict[str, Any]) -> None:
    """Split a ``key = value`` block (4103 ``ContextInfo``, classic ``param2``/``param3``) into event_data."""
    value = ed.get(params["field"])
    if isinstance(value, str):
        ed.update(_kv(value, params.get("split", "\n")))


@_step
@_adds(None)
def strip_key_spaces(ed: dict[str, Any], doc: dict[str, Any], params: dict[str, Any]) -> None:
    """Remove whitespace from every event_data key (``Host Application`` -> ``HostApplication``)."""
    if any(" " in key or "\t" in key for key in ed):
        items = [(_no_blanks(k), v) for k, v in ed.items()]
        ed.clear()
        ed.update(items)


_KEYS_WITHOUT_BLANKS: dict[str, str] = {}
_BLANK = re.compile(r"\s")


def _no_blanks(key: str) -> str:
    hit = _KEYS_WITHOUT_BLANKS.get(key)
    if hit is None:
        if len(_KEYS_WITHOUT_BLANKS) >= _MEMO_MAX:
            _KEYS_WITHOUT_BLANKS.clear()
        hit = _KEYS_WITHOUT_BLANKS[key] = _BLANK.sub("", key)
    return hit


@_step
@_needs("ConnectedUser")
def ps_connected_user(ed: dict[str, Any], doc: dict[str, Any], params: dict[str, Any]) -> None:
    """A remote session: the connected user is the user; the local account becomes ``destination.user``."""
    value = ed.get("ConnectedUser")
    parts = value.split("\\") if value is not None else []
    if len(parts) != 2:
        return
    source_user = {k: v for k, v in (("domain", parts[0]), ("name", parts[1])) if v}
    if not source_user:
        return
    _obj(doc, "source")["user"] = source_user
    if "name" in source_user:
        _related_user(doc, source_user["name"])
    user = doc.get("user", {})
    moved = {k: user.pop(k) for k in ("domain", "name") if k in user}
    if moved:
        _obj(doc, "destination")["user"] = moved
    _obj(doc, "user").update(source_user)


_BINDING = re.compile(r"name=(.+);\s*value=(.+)\Z")


def _invocation_parts(line: str, classic: bool) -> tuple[str, str, str | None] | None:
    """``TYPE(COMMAND): VALUE`` split the way the pipelines' regexes split it, without their backtracking.

    Operational: ``(.+)\\((.+)\\):\\s*(.+)?`` (greedy: the last "(" that has a "):" after it);
    classic: ``([^:(]+)\\((.+)\\):\\s*(.+)?`` (the first "(", with no ":" before it).
    """
    open_at = line.find("(") if classic else line.rfind("(", 1)
    if classic and (open_at <= 0 or ":" in line[:open_at]):
        return None
    while open_at >= 1:
        rest = line[open_at + 1 :]
        close_at = rest.rfind("):")
        if close_at >= 1:
            value = rest[close_at + 2 :].lstrip()
            return line[:open_at], rest[:close_at], value or None
        if classic:
            return None
        open_at = line.rfind("(", 1, open_at)
    return None


@_step
@_needs(param="field")
def ps_invocation(ed: dict[str, Any], doc: dict[str, Any], params: dict[str, Any]) -> None:
    """Command invocation lines (4103 ``Payload``, 800 ``param3``) -> ``powershell.command.invocation_details``."""
    value = ed.get(params["field"])
    if not isinstance(value, str):
        return
    classic = params.get("style") == "classic"
    details: list[dict[str, Any]] = []
    for line in java_split(value.replace("\r", ""), "\n"):
        parts = _invocation_parts(line, classic)
        if parts is None:
            details.append({"value": line})
            continue
        kind, command, detail = parts
        binding = _BINDING.match(detail or "") if kind == "ParameterBinding" else None
        if kind != "ParameterBinding":
            details.append({"type": kind, "related_command": command, "value": detail})
        elif binding is None:
            details.append({"value": detail})
        else:
            details.append({"type": kind, "related_command": command,
                            "name": binding.group(1), "value": binding.group(2)})  # fmt: skip
    if details:
        _obj(_obj(doc, "powershell"), "command")["invocation_details"] = details
