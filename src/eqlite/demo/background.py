"""Benign background activity: short episodes of what Windows hosts do all day.

Each activity is a plain function ``(scene, host, t0) -> [(ts, host, doc), ...]`` whose
events all lie at or after ``t0``; :data:`ACTIVITY_WEIGHTS` says how often each runs per
host role. Some episodes are deliberate hard negatives for the MMC rule: incoming
connections to svchost.exe on high ports, administrators opening MMC snap-ins (outgoing
connections, occasional children), and local COM activations of ``mmc.exe -Embedding``
without any network traffic. None of them can complete a sequence of the rule.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Final

from eqlite.demo.catalog import (
    ADMIN_CONSOLES,
    BINARIES,
    BROWSER_FILES,
    DCOM_SERVERS,
    DEFENDER_FILES,
    LIBRARIES,
    MMC_HELPERS,
    MMC_LIBRARIES,
    REGISTRY_CHANGES,
    SCHEDULED_TASKS,
    SERVICE_DESTINATIONS,
    SHELL_TOOLS,
    SHELLS,
    USER_FILES,
    WEB_DESTINATIONS,
)
from eqlite.demo.documents import Doc, Endpoint
from eqlite.demo.scene import Planned, Scene
from eqlite.demo.world import SYSTEM, Host, Proc

Activity = Callable[[Scene, Host, int], list[Planned]]

_CONHOST = r"\??\C:\Windows\system32\conhost.exe 0xffffffff -ForceV1"
_EPHEMERAL = (49152, 65535)


def shell_session(scene: Scene, host: Host, t: int) -> list[Planned]:
    """A user opens cmd.exe or PowerShell from Explorer and runs a few everyday tools."""
    rng, fleet, docs = scene.rng, scene.fleet, scene.docs
    user = host.user
    binary, command = rng.choice(SHELLS)
    shell = fleet.spawn(rng, host, host.core["explorer"], binary, command, user=user, at=t)
    out: list[Planned] = [(t, host, docs.process(host, t, shell))]
    t += rng.randint(10, 60)
    console = fleet.spawn(rng, host, shell, "conhost.exe", _CONHOST, user=user, at=t)
    out.append((t, host, docs.process(host, t, console)))
    t = _libraries(scene, host, shell, t, count=2, out=out)
    for _ in range(rng.randint(1, 3)):
        t += rng.randint(800, 9_000)
        binary, template = rng.choice(SHELL_TOOLS)
        tool = fleet.spawn(rng, host, shell, binary, template.format(user=user.name), user=user, at=t)
        out.append((t, host, docs.process(host, t, tool)))
        if rng.random() < 0.35:
            path = rng.choice(USER_FILES).format(user=user.name, n=rng.randint(100, 999))
            out.append((t + 30, host, docs.file(host, t + 30, tool, "creation", path)))
        _end(scene, host, tool, t + rng.randint(60, 2_500), out)
    t += rng.randint(2_000, 20_000)
    _end(scene, host, console, t, out)
    _end(scene, host, shell, t + 2, out)
    return out


def scheduled_task(scene: Scene, host: Host, t: int) -> list[Planned]:
    """The Task Scheduler service runs a maintenance task."""
    rng, fleet, docs = scene.rng, scene.fleet, scene.docs
    binary, command = rng.choice(SCHEDULED_TASKS)
    task = fleet.spawn(rng, host, host.core["netsvcs"], binary, command, user=SYSTEM, at=t, integrity="system")
    out: list[Planned] = [(t, host, docs.process(host, t, task))]
    t = _libraries(scene, host, task, t, count=rng.randint(1, 3), out=out)
    if rng.random() < 0.5:
        t += rng.randint(50, 900)
        out.append((t, host, _registry_change(scene, host, task, t)))
    _end(scene, host, task, t + rng.randint(500, 15_000), out)
    return out


def browsing(scene: Scene, host: Host, t: int) -> list[Planned]:
    """A browser resolves a few names, connects out over HTTPS and writes to its cache."""
    rng, fleet, docs = scene.rng, scene.fleet, scene.docs
    user = host.user
    binary = "msedge.exe" if rng.random() < 0.6 else "chrome.exe"
    command = f'"{fleet.image(host, BINARIES[binary]).path}" --single-argument https://intranet.corp.example.com/'
    browser = fleet.spawn(rng, host, host.core["explorer"], binary, command, user=user, at=t)
    out: list[Planned] = [(t, host, docs.process(host, t, browser))]
    t = _libraries(scene, host, browser, t, count=2, out=out)
    resolver = host.core["dnscache"]
    for _ in range(rng.randint(1, 4)):
        name, address = rng.choice(WEB_DESTINATIONS)
        t += rng.randint(100, 6_000)
        out.append((t, host, docs.dns(host, t, resolver, name, address)))
        local = (host.ip, rng.randint(*_EPHEMERAL))
        t += rng.randint(5, 80)
        _outbound_session(scene, host, browser, t, local=local, remote=(address, 443), out=out)
        if rng.random() < 0.4:
            path = rng.choice(BROWSER_FILES).format(user=user.name, n=rng.randint(1000, 9999))
            out.append((t + 200, host, docs.file(host, t + 200, browser, "creation", path)))
    _end(scene, host, browser, t + rng.randint(5_000, 40_000), out)
    return out


def inbound_service(scene: Scene, host: Host, t: int) -> list[Planned]:
    """A peer connects to a service: SMB, the RPC endpoint mapper, dynamic RPC, LSASS or RDP.

    Dynamic RPC to svchost.exe uses high ports on both sides: it differs from the rule's
    first stage only in ``process.name``.
    """
    rng, fleet, docs = scene.rng, scene.fleet, scene.docs
    peer = rng.choice(fleet.hosts)
    if peer is host:
        peer = fleet.hosts[(host.index + 1) % len(fleet.hosts)]
    choice = rng.random()
    if choice < 0.3:
        proc, port = host.core["lsass"], 445  # stands in for the kernel's SMB server
    elif choice < 0.55:
        proc, port = host.core["rpcss"], 135
    elif choice < 0.8:
        proc, port = host.core["rpcss"], rng.randint(49664, 49700)
    elif choice < 0.9:
        proc, port = host.core["lsass"], 49668
    else:
        proc, port = host.core["termservice"], 3389
    remote = (peer.ip, rng.randint(*_EPHEMERAL))
    local = (host.ip, port)
    out: list[Planned] = []
    if port in (445, 3389):
        user = rng.choice(fleet.users)
        doc = docs.logon(host, t, host.core["lsass"], user, source_ip=peer.ip, logon_type="Network")
        out.append((t, host, doc))
        t += rng.randint(5, 50)
    for start in (True, False):
        doc = _connection(scene, host, proc, t, source=remote, destination=local, direction=host.inbound, start=start)
        out.append((t, host, doc))
        t += rng.randint(50, 60_000)
    return out


def outbound_service(scene: Scene, host: Host, t: int) -> list[Planned]:
    """Windows Update, Defender or the settings service call home."""
    rng, docs = scene.rng, scene.docs
    key, name, address = rng.choice(SERVICE_DESTINATIONS)
    out: list[Planned] = [(t, host, docs.dns(host, t, host.core["dnscache"], name, address))]
    local = (host.ip, rng.randint(*_EPHEMERAL))
    remote = (address, 443 if rng.random() < 0.85 else 80)
    t += rng.randint(5, 60)
    _outbound_session(scene, host, host.core[key], t, local=local, remote=remote, out=out)
    return out


def defender_scan(scene: Scene, host: Host, t: int) -> list[Planned]:
    """Microsoft Defender writes scan state and loads a few libraries."""
    rng, docs = scene.rng, scene.docs
    engine = host.core["msmpeng"]
    out: list[Planned] = []
    for _ in range(rng.randint(2, 4)):
        t += rng.randint(50, 4_000)
        action = rng.choice(("creation", "modification", "overwrite", "deletion"))
        path = rng.choice(DEFENDER_FILES).format(n=rng.randint(1, 10**6))
        out.append((t, host, docs.file(host, t, engine, action, path)))
    _libraries(scene, host, engine, t, count=rng.randint(1, 2), out=out)
    return out


def registry_activity(scene: Scene, host: Host, t: int) -> list[Planned]:
    """Explorer or a service updates a few registry values."""
    rng = scene.rng
    proc = host.core["explorer"] if rng.random() < 0.5 else host.core["netsvcs"]
    out: list[Planned] = []
    for _ in range(rng.randint(1, 4)):
        t += rng.randint(5, 2_000)
        out.append((t, host, _registry_change(scene, host, proc, t)))
    return out


def user_files(scene: Scene, host: Host, t: int) -> list[Planned]:
    """The user saves, renames and deletes documents; OneDrive syncs them."""
    rng, docs = scene.rng, scene.docs
    user = host.user
    out: list[Planned] = []
    for _ in range(rng.randint(1, 4)):
        t += rng.randint(100, 10_000)
        proc = host.core["explorer"] if rng.random() < 0.6 else host.core["onedrive"]
        path = rng.choice(USER_FILES).format(user=user.name, n=rng.randint(100, 999))
        action = rng.choice(("creation", "modification", "rename", "deletion", "overwrite"))
        out.append((t, host, docs.file(host, t, proc, action, path)))
    return out


def logon(scene: Scene, host: Host, t: int) -> list[Planned]:
    """An interactive unlock, or a network logon from a peer."""
    rng, fleet, docs = scene.rng, scene.fleet, scene.docs
    lsass = host.core["lsass"]
    if rng.random() < 0.5:
        doc = docs.logon(host, t, lsass, host.user, source_ip=None, logon_type="Unlock")
    else:
        peer = rng.choice(fleet.hosts)
        doc = docs.logon(host, t, lsass, rng.choice(fleet.users), source_ip=peer.ip, logon_type="Network")
    return [(t, host, doc)]


def admin_console(scene: Scene, host: Host, t: int) -> list[Planned]:
    """An administrator opens an MMC snap-in: outgoing RPC to the domain controller, maybe a helper."""
    rng, fleet, docs = scene.rng, scene.fleet, scene.docs
    admin = rng.choice(fleet.admins)
    command = rng.choice(ADMIN_CONSOLES)
    console = fleet.spawn(rng, host, host.core["explorer"], "mmc.exe", command, user=admin, at=t, integrity="high")
    out: list[Planned] = [(t, host, docs.process(host, t, console))]
    for spec in MMC_LIBRARIES:
        t += rng.randint(5, 60)
        out.append((t, host, docs.library(host, t, console, fleet.image(host, spec))))
    for port in (135, rng.randint(49664, 49700)):
        t += rng.randint(50, 1_500)
        local = (host.ip, rng.randint(*_EPHEMERAL))
        _outbound_session(scene, host, console, t, local=local, remote=(fleet.domain_controller, port), out=out)
    if rng.random() < 0.3:
        t += rng.randint(2_000, 30_000)
        binary, helper_command = rng.choice(MMC_HELPERS)
        helper = fleet.spawn(rng, host, console, binary, helper_command, user=admin, at=t, integrity="high")
        out.append((t, host, docs.process(host, t, helper)))
        _end(scene, host, helper, t + rng.randint(5_000, 60_000), out)
    _end(scene, host, console, t + rng.randint(10_000, 90_000), out)
    return out


def local_com(scene: Scene, host: Host, t: int) -> list[Planned]:
    """The DCOM launcher starts a COM server locally (WMI, COM surrogate, sometimes MMC)."""
    rng, fleet, docs = scene.rng, scene.fleet, scene.docs
    binary, command = rng.choice(DCOM_SERVERS)
    user, level = (SYSTEM, "system") if binary == "wmiprvse.exe" else (host.user, "medium")
    server = fleet.spawn(rng, host, host.core["dcomlaunch"], binary, command, user=user, at=t, integrity=level)
    out: list[Planned] = [(t, host, docs.process(host, t, server))]
    t = _libraries(scene, host, server, t, count=rng.randint(1, 3), out=out)
    _end(scene, host, server, t + rng.randint(1_000, 30_000), out)
    return out


def library_burst(scene: Scene, host: Host, t: int) -> list[Planned]:
    """A long-running process loads a handful of libraries."""
    rng = scene.rng
    proc = host.core[rng.choice(("explorer", "netsvcs", "onedrive", "msmpeng", "spoolsv"))]
    out: list[Planned] = []
    _libraries(scene, host, proc, t, count=rng.randint(2, 5), out=out)
    return out


def _libraries(scene: Scene, host: Host, proc: Proc, t: int, *, count: int, out: list[Planned]) -> int:
    rng, fleet, docs = scene.rng, scene.fleet, scene.docs
    for spec in rng.sample(LIBRARIES, count):
        t += rng.randint(2, 40)
        out.append((t, host, docs.library(host, t, proc, fleet.image(host, spec))))
    return t


def _end(scene: Scene, host: Host, proc: Proc, t: int, out: list[Planned]) -> None:
    out.append((t, host, scene.docs.process(host, t, proc, exit_code=0)))


def _registry_change(scene: Scene, host: Host, proc: Proc, t: int) -> Doc:
    rng = scene.rng
    path, value, data, kind = rng.choice(REGISTRY_CHANGES)
    n = rng.randint(10, 99)
    path = path.format(sid=host.user.id, n=n)
    return scene.docs.registry(host, t, proc, path=path, value=value.format(n=n), data=data.format(n=n), data_type=kind)


def _outbound_session(
    scene: Scene, host: Host, proc: Proc, t: int, *, local: Endpoint, remote: Endpoint, out: list[Planned]
) -> None:
    out.append(
        (
            t,
            host,
            _connection(scene, host, proc, t, source=local, destination=remote, direction=host.outbound, start=True),
        )
    )
    closed = t + scene.rng.randint(300, 45_000)
    doc = _connection(scene, host, proc, closed, source=local, destination=remote, direction=host.outbound, start=False)
    out.append((closed, host, doc))


def _connection(
    scene: Scene,
    host: Host,
    proc: Proc,
    t: int,
    *,
    source: Endpoint,
    destination: Endpoint,
    direction: str,
    start: bool,
) -> Doc:
    if start:
        action = "connection_accepted" if direction == host.inbound else "connection_attempted"
    else:
        action = "disconnect_received"
    return scene.docs.network(
        host,
        t,
        proc,
        action=action,
        types=["start"] if start else ["end"],
        direction=direction,
        transport="tcp",
        source=source,
        destination=destination,
    )


ACTIVITY_WEIGHTS: Final[Mapping[str, tuple[tuple[Activity, float], ...]]] = MappingProxyType(
    {
        "workstation": (
            (shell_session, 4),
            (scheduled_task, 5),
            (browsing, 8),
            (inbound_service, 8),
            (outbound_service, 10),
            (defender_scan, 6),
            (registry_activity, 12),
            (user_files, 10),
            (logon, 5),
            (admin_console, 0.6),
            (local_com, 3),
            (library_burst, 5),
        ),
        "server": (
            (shell_session, 1.5),
            (scheduled_task, 5),
            (inbound_service, 18),
            (outbound_service, 8),
            (defender_scan, 6),
            (registry_activity, 8),
            (user_files, 4),
            (logon, 8),
            (admin_console, 2),
            (local_com, 4),
            (library_burst, 5),
        ),
    }
)
