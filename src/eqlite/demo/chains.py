"""Planting MMC20 DCOM lateral-movement chains, true or near miss, into the event stream.

A baseline chain on host H, from peer P, looks like this (offsets from the chain start):

==========  =============================================================================
0 ms        ``log_on`` (network logon) of an admin account from P on H
+15..120    svchost.exe (DcomLaunch) starts ``mmc.exe -Embedding`` as that account
+55..150    mmc.exe loads mmcndmgr.dll and mmcbase.dll
+4..6 s     ``connection_accepted``: tcp from P:49152+ to H:49152+, ``network.direction``
            ``incoming``, ``process.entity_id`` = mmc's
+0.25..4 s  mmc.exe starts ``cmd.exe /c <recon> > C:\\Windows\\Temp\\<tag>.txt``
            (``process.parent.entity_id`` = mmc's), then conhost, the tool, the output
            file and the process ends
later       ``disconnect_received`` for the connection
==========  =============================================================================

Rule v3 wants ``network.direction == "incoming"``, the value Elastic Endpoint wrote up to
7.15 (7.16 and later write ``ingress``). True chains are therefore planted on hosts that run
the legacy agent; this models data in which that value is present (an older Endpoint, or
Beats data normalised to it). Background traffic keeps each host's own vocabulary.
"""

from __future__ import annotations

from eqlite.demo.catalog import LATERAL_COMMANDS, LATERAL_TOOLS, MMC_LIBRARIES
from eqlite.demo.documents import Doc
from eqlite.demo.manifest import PlantedChain
from eqlite.demo.scene import Planned, Scene
from eqlite.demo.variants import ChainVariant, Patch, PatchValue
from eqlite.demo.world import Host, Proc, User

_CONHOST = r"\??\C:\Windows\system32\conhost.exe 0xffffffff -ForceV1"
_HIGH_PORTS = (49152, 65535)


def plant_chain(scene: Scene, variant: ChainVariant, number: int, t0: int) -> tuple[list[Planned], PlantedChain]:
    """Render one chain starting at ``t0`` (every event is at or after ``t0``) and its manifest entry."""
    rng, fleet, docs = scene.rng, scene.fleet, scene.docs
    host = rng.choice([candidate for candidate in fleet.hosts if candidate.legacy != variant.modern_host])
    others = [candidate for candidate in fleet.hosts if candidate is not host]
    peer = rng.choice(others)
    operator = rng.choice(fleet.admins)
    out: list[Planned] = []
    related: list[str] = []

    def emit(ts: int, on: Host, doc: Doc) -> str:
        out.append((ts, on, doc))
        event_id: str = doc["event"]["id"]
        return event_id

    related.append(
        emit(
            t0,
            host,
            docs.logon(host, t0, host.core["lsass"], operator, source_ip=peer.ip, logon_type="Network"),
        )
    )
    t_mmc = t0 + rng.randint(15, 120)
    mmc = _start_mmc(scene, host, operator, t_mmc, variant.mmc_name)
    related.append(emit(t_mmc, host, docs.process(host, t_mmc, mmc)))
    for offset, dll in zip((40, 95), MMC_LIBRARIES, strict=False):
        ts = t_mmc + offset + rng.randint(0, 30)
        related.append(emit(ts, host, docs.library(host, ts, mmc, fleet.image(host, dll))))
    parent = mmc
    if variant.child_of_other_mmc:
        t_other = t_mmc + rng.randint(300, 900)
        parent = _start_mmc(scene, host, operator, t_other, variant.mmc_name)
        related.append(emit(t_other, host, docs.process(host, t_other, parent)))

    t_net = t_mmc + rng.randint(4_000, 6_000)
    local_port = rng.randint(*_HIGH_PORTS)
    if variant.earlier_connection:
        t_early = t_net - rng.randint(1_500, 3_500)
        for ts, doc in _connection(scene, host, mmc, peer, t_early, local_port, ()):
            related.append(emit(ts, host, doc))
    (t_net, network), disconnect = _connection(scene, host, mmc, peer, t_net, local_port, variant.network_patch)
    network_id = emit(t_net, host, network)
    related.append(emit(disconnect[0], host, disconnect[1]))

    delay = variant.child_delay_ms if variant.child_delay_ms is not None else rng.randint(250, 4_000)
    t_child = t_net + delay
    child_host = host
    if variant.child_on_other_host:
        bystanders = [candidate for candidate in others if candidate is not peer]
        child_host = rng.choice(bystanders or others)
    child_events = _remote_command(scene, child_host, parent, operator, t_child)
    child_ts, child_doc = child_events[0]
    apply_patch(child_doc, variant.child_patch)
    child_id = emit(child_ts, child_host, child_doc)
    for ts, doc in child_events[1:]:
        related.append(emit(ts, child_host, doc))
    if variant.second_child:
        t_second = t_child + rng.randint(1_500, 3_000)
        for ts, doc in _remote_command(scene, child_host, parent, operator, t_second):
            related.append(emit(ts, child_host, doc))

    record = PlantedChain(
        chain_id=f"chain-{number:04d}",
        kind=variant.kind,
        expected_match=variant.expected_match,
        host_id=host.id,
        child_host_id=child_host.id,
        entity_id=mmc.entity_id,
        network_event_id=network_id,
        child_event_id=child_id,
        network_timestamp=network["@timestamp"],
        child_timestamp=child_doc["@timestamp"],
        reason=variant.reason,
        related_event_ids=tuple(related),
        uncertain=variant.uncertain,
    )
    return out, record


def apply_patch(doc: Doc, patch: tuple[tuple[str, PatchValue], ...]) -> None:
    """Set (or with :attr:`Patch.DROP`, remove) dotted fields in a nested document.

    >>> doc = {"source": {"port": 50000, "address": "10.0.0.1"}}
    >>> apply_patch(doc, (("source.port", 49151), ("source.address", Patch.DROP)))
    >>> doc
    {'source': {'port': 49151}}
    """
    for dotted, value in patch:
        *parents, leaf = dotted.split(".")
        node = doc
        for part in parents:
            node = node.setdefault(part, {})
        if value is Patch.DROP:
            node.pop(leaf, None)
        else:
            node[leaf] = list(value) if isinstance(value, list) else value


def _start_mmc(scene: Scene, host: Host, user: User, ts: int, name: str) -> Proc:
    executable = r"C:\Windows\system32\mmc.exe" if name == "mmc.exe" else rf"C:\WINDOWS\SYSTEM32\{name}"
    return scene.fleet.spawn(
        scene.rng,
        host,
        host.core["dcomlaunch"],
        "mmc.exe",
        f"{executable} -Embedding",
        user=user,
        at=ts,
        integrity="high",
        name=name,
        executable=executable,
    )


def _connection(
    scene: Scene,
    host: Host,
    mmc: Proc,
    peer: Host,
    ts: int,
    local_port: int,
    patch: tuple[tuple[str, PatchValue], ...],
) -> tuple[tuple[int, Doc], tuple[int, Doc]]:
    """An accepted connection to mmc.exe and its later disconnect, both patched alike.

    The patch's ``event.type`` applies to the accepted event only: the disconnect is an
    ``end`` event whatever the variant.
    """
    rng, docs = scene.rng, scene.docs
    remote = (peer.ip, rng.randint(*_HIGH_PORTS))
    local = (host.ip, local_port)
    accepted = docs.network(
        host,
        ts,
        mmc,
        action="connection_accepted",
        types=["start"],
        direction=host.inbound,
        transport="tcp",
        source=remote,
        destination=local,
    )
    t_end = ts + rng.randint(3_000, 9_000)
    closed = docs.network(
        host,
        t_end,
        mmc,
        action="disconnect_received",
        types=["end"],
        direction=host.inbound,
        transport="tcp",
        source=remote,
        destination=local,
    )
    apply_patch(accepted, patch)
    apply_patch(closed, tuple(item for item in patch if item[0] != "event.type"))
    return (ts, accepted), (t_end, closed)


def _remote_command(scene: Scene, host: Host, parent: Proc, user: User, ts: int) -> list[tuple[int, Doc]]:
    """cmd.exe started by mmc.exe, with its console, the recon tool, the output file and the ends.

    The first element is the cmd.exe start event.
    """
    rng, fleet, docs = scene.rng, scene.fleet, scene.docs
    tag = f"{rng.getrandbits(40):010x}"
    command = rng.choice(LATERAL_COMMANDS).format(tag=tag)
    shell = fleet.spawn(rng, host, parent, "cmd.exe", command, user=user, at=ts, integrity="high")
    events = [(ts, docs.process(host, ts, shell))]
    t_console = ts + rng.randint(15, 60)
    console = fleet.spawn(rng, host, shell, "conhost.exe", _CONHOST, user=user, at=t_console, integrity="high")
    events.append((t_console, docs.process(host, t_console, console)))
    tool_command = command.partition("/c ")[2].partition(" >")[0]
    t_tool = t_console + rng.randint(20, 120)
    tool = fleet.spawn(
        rng, host, shell, LATERAL_TOOLS[tool_command.split()[0]], tool_command, user=user, at=t_tool, integrity="high"
    )
    events.append((t_tool, docs.process(host, t_tool, tool)))
    t_file = t_tool + rng.randint(100, 600)
    events.append((t_file, docs.file(host, t_file, shell, "creation", rf"C:\Windows\Temp\{tag}.txt")))
    t_tool_end = t_file + rng.randint(20, 300)
    events.append((t_tool_end, docs.process(host, t_tool_end, tool, exit_code=0)))
    t_end = t_tool_end + rng.randint(20, 200)
    events.append((t_end, docs.process(host, t_end, console, exit_code=0)))
    events.append((t_end + 1, docs.process(host, t_end + 1, shell, exit_code=0)))
    return events
