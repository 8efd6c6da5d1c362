"""Builders for Elastic-Endpoint-shaped ECS documents (``logs-endpoint.events.<kind>-*``).

Each builder returns a fresh, fully nested ``_source`` dict that shares no sub-object with
any other document, so callers may change what they get. ``event.sequence`` is left at 0:
the generator numbers events per host in delivery order.
"""

from __future__ import annotations

import random
from typing import Any

from eqlite.demo.clock import IdMint, Stamper
from eqlite.demo.world import Host, Image, Proc, User

Doc = dict[str, Any]
Endpoint = tuple[str, int]

_FILE_TYPES = {
    "creation": "creation",
    "deletion": "deletion",
    "modification": "change",
    "rename": "change",
    "overwrite": "change",
}
# The first bytes of a file, as Endpoint reports them (``file.Ext.header_bytes``), by extension: Office
# Open XML files are ZIP archives, MSI files and Office temporary files OLE compound files, and so on.
# Files without an extension here (caches, Defender's history) hold data of their own format.
_HEADER_BYTES = {
    "docx": "504b0304140006000800000021",
    "xlsx": "504b0304140006000800000021",
    "pptx": "504b0304140006000800000021",
    "pdf": "255044462d312e370d0a25b5b5b5b50d",
    "txt": "4d656574696e67206e6f7465730d0a2d",
    "log": "fffe2a002a002a002a002a0020004d00",
    "tmp": "d0cf11e0a1b11ae10000000000000000",
    "msi": "d0cf11e0a1b11ae10000000000000000",
    "lnk": "4c0000000114020000000000c0000000",
    "bin": "0300000018000000a861000000000000",
}
_OTHER_HEADER_BYTES = "0800000001000000e4040000a8000000"
_PROTOCOLS = {53: "dns", 80: "http", 443: "https", 445: "smb", 135: "dcerpc", 3389: "rdp", 1433: "tds"}


def index_of(doc: Doc) -> str:
    """The data stream a document belongs to, from its ``data_stream`` fields.

    >>> index_of({"data_stream": {"type": "logs", "dataset": "endpoint.events.file", "namespace": "default"}})
    'logs-endpoint.events.file-default'
    """
    stream = doc["data_stream"]
    return f"{stream['type']}-{stream['dataset']}-{stream['namespace']}"


class DocFactory:
    """Renders hosts, processes and activity into documents, minting ``event.id`` as it goes."""

    __slots__ = ("_ids", "_lag", "_namespace", "_stamp")

    def __init__(self, namespace: str, ids: IdMint, lag: random.Random) -> None:
        self._namespace = namespace
        self._ids = ids
        self._lag = lag
        self._stamp = Stamper().iso

    def _base(
        self,
        host: Host,
        ts: int,
        kind: str,
        action: str,
        category: list[str],
        types: list[str],
        message: str,
    ) -> Doc:
        stamp = self._stamp(ts)
        dataset = f"endpoint.events.{kind}"
        return {
            "@timestamp": stamp,
            "agent": {"id": host.agent_id, "type": "endpoint", "version": host.agent_version},
            "data_stream": {"dataset": dataset, "namespace": self._namespace, "type": "logs"},
            "ecs": {"version": host.ecs_version},
            "event": {
                "action": action,
                "category": category,
                "dataset": dataset,
                "id": self._ids.next(),
                "ingested": self._stamp(ts + 700 + int(self._lag.random() * 2600)),
                "kind": "event",
                "module": "endpoint",
                "sequence": 0,
                "type": types,
            },
            "host": host.ecs(),
            "message": message,
        }

    def process(self, host: Host, ts: int, proc: Proc, *, exit_code: int | None = None) -> Doc:
        """A process ``start`` event, or an ``end`` event when ``exit_code`` is given."""
        ending = exit_code is not None
        doc = self._base(
            host,
            ts,
            "process",
            "end" if ending else "start",
            ["process"],
            ["end"] if ending else ["start"],
            "Endpoint process event",
        )
        block = _full_process(proc)
        if ending:
            block["exit_code"] = exit_code
            block["Ext"]["uptime"] = max(0, (ts - proc.start_ms) // 1000)
        doc["process"] = block
        doc["user"] = proc.user.ecs()
        return doc

    def network(
        self,
        host: Host,
        ts: int,
        proc: Proc,
        *,
        action: str,
        types: list[str],
        direction: str,
        transport: str,
        source: Endpoint,
        destination: Endpoint,
    ) -> Doc:
        """A connection event; for an accepted connection ``source`` is the remote peer."""
        doc = self._base(host, ts, "network", action, ["network"], types, "Endpoint network event")
        family = "ipv6" if ":" in source[0] else "ipv4"
        network: dict[str, Any] = {"direction": direction, "transport": transport, "type": family}
        protocol = _PROTOCOLS.get(destination[1]) or _PROTOCOLS.get(source[1])
        if protocol is not None:
            network["protocol"] = protocol
        doc["destination"] = {"address": destination[0], "ip": destination[0], "port": destination[1]}
        doc["network"] = network
        doc["process"] = _short_process(proc)
        doc["source"] = {"address": source[0], "ip": source[0], "port": source[1]}
        doc["user"] = proc.user.ecs()
        return doc

    def dns(self, host: Host, ts: int, proc: Proc, question: str, resolved: str) -> Doc:
        """A DNS ``lookup_result`` event of the kind Endpoint reports from the resolver."""
        doc = self._base(host, ts, "network", "lookup_result", ["network"], ["protocol", "info"], "Endpoint DNS event")
        doc["dns"] = {
            "Ext": {"options": "0x00000000", "status": 0},
            "question": {"name": question, "registered_domain": _registered(question), "type": "A"},
            "resolved_ip": [resolved],
        }
        doc["network"] = {"protocol": "dns"}
        doc["process"] = _short_process(proc)
        doc["user"] = proc.user.ecs()
        return doc

    def file(self, host: Host, ts: int, proc: Proc, action: str, path: str) -> Doc:
        """A file ``creation``/``modification``/``deletion``/``rename``/``overwrite`` event."""
        doc = self._base(host, ts, "file", action, ["file"], [_FILE_TYPES[action]], "Endpoint file event")
        directory, _, name = path.rpartition("\\")
        _, dot, extension = name.rpartition(".")
        block: dict[str, Any] = {
            "Ext": {"header_bytes": _HEADER_BYTES.get(extension.lower() if dot else "", _OTHER_HEADER_BYTES),
                    "original": {"name": name}},
            "directory": directory,
            "name": name,
            "path": path,
        }
        if dot:
            block["extension"] = extension
        doc["file"] = block
        # Endpoint's file events carry the acting process's signature (rules read it there)
        doc["process"] = {**_short_process(proc), "code_signature": _signature(proc.image)}
        doc["user"] = proc.user.ecs()
        return doc

    def registry(self, host: Host, ts: int, proc: Proc, path: str, value: str, data: str, data_type: str) -> Doc:
        """A registry value ``modification`` event."""
        doc = self._base(host, ts, "registry", "modification", ["registry"], ["change"], "Endpoint registry event")
        hive, _, rest = path.partition("\\")
        key = rest.rpartition("\\")[0]
        doc["process"] = _short_process(proc)
        doc["registry"] = {
            "data": {"strings": [data], "type": data_type},
            "hive": "HKU" if hive == "HKEY_USERS" else hive,
            "key": key,
            "path": path,
            "value": value,
        }
        doc["user"] = proc.user.ecs()
        return doc

    def library(self, host: Host, ts: int, proc: Proc, dll: Image) -> Doc:
        """A library ``load`` event."""
        doc = self._base(host, ts, "library", "load", ["library"], ["start"], "Endpoint DLL load event")
        doc["dll"] = {
            "code_signature": _signature(dll),
            "hash": {"sha256": dll.sha256},
            "name": dll.name,
            "path": dll.path,
        }
        doc["process"] = _short_process(proc)
        doc["user"] = proc.user.ecs()
        return doc

    def logon(self, host: Host, ts: int, proc: Proc, user: User, *, source_ip: str | None, logon_type: str) -> Doc:
        """A successful ``log_on`` security event."""
        doc = self._base(
            host,
            ts,
            "security",
            "log_on",
            ["authentication", "session"],
            ["start"],
            "Endpoint security event",
        )
        doc["event"]["outcome"] = "success"
        process = _short_process(proc)
        process["Ext"] = {
            "session_info": {
                "authentication_package": "NTLM" if logon_type == "Network" else "Negotiate",
                "logon_type": logon_type,
            }
        }
        doc["process"] = process
        if source_ip is not None:
            doc["source"] = {"ip": source_ip}
        doc["user"] = user.ecs()
        return doc


def _signature(image: Image) -> dict[str, Any]:
    return {"exists": True, "status": "trusted", "subject_name": image.spec.signer, "trusted": True}


def _short_process(proc: Proc) -> dict[str, Any]:
    block: dict[str, Any] = {
        "entity_id": proc.entity_id,
        "executable": proc.executable,
        "name": proc.name,
        "pid": proc.pid,
    }
    return block


def _full_process(proc: Proc) -> dict[str, Any]:
    image = proc.image
    spec = image.spec
    block: dict[str, Any] = {
        "Ext": {
            "ancestry": [proc.parent.entity_id] if proc.parent is not None else [],
            "token": {
                "elevation": proc.integrity in ("high", "system"),
                "elevation_type": "full" if proc.integrity == "high" else "default",
                "integrity_level_name": proc.integrity,
            },
        },
        "args": list(proc.args),
        "args_count": len(proc.args),
        "code_signature": _signature(image),
        "command_line": proc.command_line,
        "entity_id": proc.entity_id,
        "executable": proc.executable,
        "hash": {"md5": image.md5, "sha1": image.sha1, "sha256": image.sha256},
        "name": proc.name,
        "pe": {
            "company": spec.company,
            "description": spec.description,
            "file_version": image.file_version,
            "original_file_name": image.name,
            "product": spec.product,
        },
        "pid": proc.pid,
    }
    parent = proc.parent
    if parent is not None:
        block["parent"] = {
            "args": list(parent.args),
            "args_count": len(parent.args),
            "command_line": parent.command_line,
            "entity_id": parent.entity_id,
            "executable": parent.executable,
            "name": parent.name,
            "pid": parent.pid,
        }
    return block


def _registered(name: str) -> str:
    return ".".join(name.split(".")[-2:])
