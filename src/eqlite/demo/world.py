"""The simulated fleet: hosts, users, executables on disk and running processes.

A :class:`Fleet` is built once per run from a seeded ``random.Random``. It holds every
host's long-lived processes (``services.exe``, the ``svchost.exe`` groups, ``explorer.exe``,
...), which later activities use as parents, so process trees hang together.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field
from typing import Any, Final

from eqlite.demo.catalog import (
    BINARIES,
    DEPARTMENTS,
    FIRST_NAMES,
    LAST_NAMES,
    LEGACY_AGENT,
    MODERN_AGENT,
    SERVER_OS,
    SERVER_ROLES,
    WORKSTATION_OS,
    BinarySpec,
    OsSpec,
)
from eqlite.demo.clock import entity_id

_DAY_MS = 86_400_000
_ARGV_CACHE_LIMIT = 4096


@dataclass(frozen=True, slots=True)
class User:
    """A Windows account as ECS ``user.*`` describes it."""

    name: str
    domain: str
    id: str

    def ecs(self) -> dict[str, Any]:
        return {"domain": self.domain, "id": self.id, "name": self.name}


SYSTEM = User("SYSTEM", "NT AUTHORITY", "S-1-5-18")
LOCAL_SERVICE = User("LOCAL SERVICE", "NT AUTHORITY", "S-1-5-19")
NETWORK_SERVICE = User("NETWORK SERVICE", "NT AUTHORITY", "S-1-5-20")


@dataclass(frozen=True, slots=True)
class Image:
    """An executable or library file on one host: its path, hashes and signature."""

    name: str
    path: str
    md5: str
    sha1: str
    sha256: str
    spec: BinarySpec
    file_version: str


@dataclass(slots=True, eq=False)
class Proc:
    """A running (or finished) process; ``name`` and ``executable`` may differ in case from the image."""

    entity_id: str
    pid: int
    name: str
    executable: str
    command_line: str
    args: tuple[str, ...]
    image: Image
    user: User
    parent: Proc | None
    start_ms: int
    integrity: str


@dataclass(slots=True, eq=False)
class Host:
    """One Windows machine with an Elastic Endpoint agent."""

    index: int
    id: str
    name: str
    role: str
    ip: str
    ip6: str
    mac: str
    os: OsSpec
    patch: int
    agent_id: str
    agent_version: str
    ecs_version: str
    inbound: str
    outbound: str
    user: User
    next_pid: int
    core: dict[str, Proc] = field(default_factory=dict)
    sequence: int = 0
    os_full: str = ""

    def __post_init__(self) -> None:
        self.os_full = self.os.full(self.patch)

    @property
    def legacy(self) -> bool:
        return self.inbound == LEGACY_AGENT[2]

    def ecs(self) -> dict[str, Any]:
        os = self.os
        return {
            "architecture": "x86_64",
            "hostname": self.name,
            "id": self.id,
            "ip": [self.ip, self.ip6],
            "mac": [self.mac],
            "name": self.name,
            "os": {
                "family": "windows",
                "full": self.os_full,
                "name": "Windows",
                "platform": "windows",
                "type": "windows",
                "version": os.version,
            },
        }


@dataclass(slots=True, eq=False)
class Fleet:
    """Every host of the run, the domain's users, and a cache of per-build executable images."""

    hosts: list[Host]
    users: list[User]
    admins: list[User]
    domain_controller: str
    _images: dict[tuple[str, str], Image] = field(default_factory=dict)
    _argv: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def image(self, host: Host, spec: BinarySpec) -> Image:
        key = (host.os.build, spec.path)
        found = self._images.get(key)
        if found is None:
            found = _image_for(spec, f"{host.os.build}.{host.patch}")
            self._images[key] = found
        return found

    def spawn(
        self,
        rng: random.Random,
        host: Host,
        parent: Proc | None,
        binary: str,
        command_line: str,
        *,
        user: User,
        at: int,
        integrity: str = "medium",
        name: str | None = None,
        executable: str | None = None,
    ) -> Proc:
        """Start a process of ``binary`` (a key of :data:`BINARIES`) on ``host`` at ``at`` ms.

        ``name`` and ``executable`` override the image's, e.g. for an upper-case ``MMC.EXE``.
        """
        image = self.image(host, BINARIES[binary])
        pid = host.next_pid + 4 + 4 * int(rng.random() * 48)
        if pid > 65_000:
            pid = 1_000 + 4 * int(rng.random() * 250)
        host.next_pid = pid
        args = self._argv.get(command_line)
        if args is None:
            if len(self._argv) >= _ARGV_CACHE_LIMIT:
                self._argv.clear()
            args = self._argv[command_line] = split_command_line(command_line)
        return Proc(
            entity_id=entity_id(host.agent_id, pid, at),
            pid=pid,
            name=name or image.name,
            executable=executable or image.path,
            command_line=command_line,
            args=args,
            image=image,
            user=user,
            parent=parent,
            start_ms=at,
            integrity=integrity,
        )


def split_command_line(command_line: str) -> tuple[str, ...]:
    """Split a Windows command line roughly the way ``CommandLineToArgvW`` does.

    >>> split_command_line(r'"C:\\Program Files\\a.exe" /c "x y" z')
    ('C:\\\\Program Files\\\\a.exe', '/c', 'x y', 'z')
    """
    args: list[str] = []
    current: list[str] = []
    quoted = False
    started = False
    for char in command_line:
        if char == '"':
            quoted = not quoted
            started = True
        elif char in " \t" and not quoted:
            if started:
                args.append("".join(current))
                current.clear()
                started = False
        else:
            current.append(char)
            started = True
    if started:
        args.append("".join(current))
    return tuple(args)


def _image_for(spec: BinarySpec, build: str) -> Image:
    seed = f"{spec.path}|{build}".encode()
    return Image(
        name=_display_name(spec.name),
        path=f"{spec.directory}\\{_display_name(spec.name)}",
        md5=hashlib.md5(seed).hexdigest(),
        sha1=hashlib.sha1(seed).hexdigest(),
        sha256=hashlib.sha256(seed).hexdigest(),
        spec=spec,
        file_version=build,
    )


_DISPLAY_NAMES = {
    "msmpeng.exe": "MsMpEng.exe",
    "mpcmdrun.exe": "MpCmdRun.exe",
    "backgroundtaskhost.exe": "backgroundTaskHost.exe",
    "runtimebroker.exe": "RuntimeBroker.exe",
    "compattelrunner.exe": "CompatTelRunner.exe",
    "wmiprvse.exe": "WmiPrvSE.exe",
    "dllhost.exe": "dllhost.exe",
    "searchindexer.exe": "SearchIndexer.exe",
    "onedrive.exe": "OneDrive.exe",
    "ping.exe": "PING.EXE",
    "kernelbase.dll": "KernelBase.dll",
}


def _display_name(name: str) -> str:
    return _DISPLAY_NAMES.get(name, name)


def build_fleet(rng: random.Random, hosts: int, legacy_share: float, start_ms: int) -> Fleet:
    """Create ``hosts`` machines with their long-lived processes, all started before ``start_ms``.

    Host 0 always runs the legacy Endpoint (``incoming``/``outgoing``) and host 1 the modern one
    (``ingress``/``egress``), so both generations exist whatever ``legacy_share`` says.
    """
    domain_sid = "S-1-5-21-" + "-".join(str(rng.randint(10**8, 4 * 10**9)) for _ in range(3))
    people = [(first, last) for first in FIRST_NAMES for last in LAST_NAMES]
    rng.shuffle(people)
    users = [
        User(f"{first[0]}{last}", "CORP", f"{domain_sid}-{1104 + number}")
        for number, (first, last) in enumerate(people[: max(8, hosts + 4)])
    ]
    admins = [User(f"adm-{user.name}", "CORP", f"{domain_sid}-{2104 + n}") for n, user in enumerate(users[:3])]
    fleet = Fleet(hosts=[], users=users, admins=admins, domain_controller="10.10.0.10")
    for index in range(hosts):
        legacy = index == 0 or (index > 1 and rng.random() < legacy_share)
        fleet.hosts.append(_make_host(rng, fleet, index, legacy=legacy, start_ms=start_ms))
    return fleet


def _make_host(rng: random.Random, fleet: Fleet, index: int, *, legacy: bool, start_ms: int) -> Host:
    agent_version, ecs_version, inbound, outbound = LEGACY_AGENT if legacy else MODERN_AGENT
    if index % 5 == 4:
        name = f"srv-{rng.choice(SERVER_ROLES)}-{index:02d}"
        os = rng.choice(SERVER_OS)
        ip = f"10.10.1.{20 + index % 230}"
        user = fleet.admins[index % len(fleet.admins)]
    else:
        name = f"wks-{rng.choice(DEPARTMENTS)}-{1000 + index:04d}"
        os = rng.choice(WORKSTATION_OS)
        ip = f"10.20.{index // 250}.{10 + index % 240}"
        user = fleet.users[index % len(fleet.users)]
    host = Host(
        index=index,
        id=_uuid(rng),
        name=name,
        role=os.role,
        ip=ip,
        ip6="fe80::" + ":".join(f"{rng.getrandbits(16):x}" for _ in range(4)),
        mac="-".join(f"{byte:02X}" for byte in (0x00, 0x50, 0x56, *rng.randbytes(3))),
        os=os,
        patch=rng.choice((3208, 3447, 3593, 4046, 4291, 4412)),
        agent_id=_uuid(rng),
        agent_version=agent_version,
        ecs_version=ecs_version,
        inbound=inbound,
        outbound=outbound,
        user=user,
        next_pid=400,
    )
    _boot(rng, fleet, host, start_ms - rng.randint(_DAY_MS // 24, 20 * _DAY_MS))
    return host


_SVCHOST = r"C:\Windows\system32\svchost.exe -k "

# key, parent key, image, command line, account ("user" = the host's interactive user), integrity,
# start after boot (ms). Later rows may name earlier rows as parents.
_CORE_PROCESSES: Final[tuple[tuple[str, str | None, str, str, str, str, int], ...]] = (
    ("smss", None, "smss.exe", r"\SystemRoot\System32\smss.exe", "system", "system", 310),
    ("wininit", "smss", "wininit.exe", "wininit.exe", "system", "system", 1_900),
    ("services", "wininit", "services.exe", r"C:\Windows\system32\services.exe", "system", "system", 2_100),
    ("lsass", "wininit", "lsass.exe", r"C:\Windows\system32\lsass.exe", "system", "system", 2_150),
    ("winlogon", "smss", "winlogon.exe", "winlogon.exe", "system", "system", 2_300),
    ("dcomlaunch", "services", "svchost.exe", _SVCHOST + "DcomLaunch -p", "system", "system", 2_700),
    ("rpcss", "services", "svchost.exe", _SVCHOST + "RPCSS -p", "network", "system", 3_100),
    ("netsvcs", "services", "svchost.exe", _SVCHOST + "netsvcs -p -s Schedule", "system", "system", 3_600),
    ("dnscache", "services", "svchost.exe", _SVCHOST + "NetworkService -p -s Dnscache", "network", "system", 4_000),
    (
        "localservice",
        "services",
        "svchost.exe",
        _SVCHOST + "LocalServiceNetworkRestricted -p",
        "local",
        "system",
        4_300,
    ),
    ("wuauserv", "services", "svchost.exe", _SVCHOST + "netsvcs -p -s wuauserv", "system", "system", 4_900),
    ("termservice", "services", "svchost.exe", _SVCHOST + "termsvcs -s TermService", "network", "system", 5_200),
    ("msmpeng", "services", "msmpeng.exe", f'"{BINARIES["msmpeng.exe"].path}"', "system", "system", 9_000),
    ("spoolsv", "services", "spoolsv.exe", r"C:\Windows\System32\spoolsv.exe", "system", "system", 9_500),
    ("userinit", "winlogon", "userinit.exe", r"C:\Windows\system32\userinit.exe", "user", "high", 95_000),
    ("explorer", "userinit", "explorer.exe", r"C:\Windows\Explorer.EXE", "user", "medium", 95_900),
    (
        "onedrive",
        "explorer",
        "onedrive.exe",
        f'"{BINARIES["onedrive.exe"].path}" /background',
        "user",
        "medium",
        103_000,
    ),
)
_SERVER_PROCESSES: Final[tuple[tuple[str, str | None, str, str, str, str, int], ...]] = (
    (
        "sqlservr",
        "services",
        "sqlservr.exe",
        f'"{BINARIES["sqlservr.exe"].path}" -sMSSQLSERVER',
        "network",
        "high",
        12_000,
    ),
)


def _boot(rng: random.Random, fleet: Fleet, host: Host, boot: int) -> None:
    accounts = {"system": SYSTEM, "network": NETWORK_SERVICE, "local": LOCAL_SERVICE, "user": host.user}
    rows = _CORE_PROCESSES + (_SERVER_PROCESSES if host.role == "server" else ())
    for key, parent, binary, command, account, level, offset in rows:
        host.core[key] = fleet.spawn(
            rng,
            host,
            host.core[parent] if parent else None,
            binary,
            command,
            user=accounts[account],
            at=boot + offset + rng.randint(0, 300),
            integrity=level,
        )


def _uuid(rng: random.Random) -> str:
    raw = f"{rng.getrandbits(128):032x}"
    return f"{raw[:8]}-{raw[8:12]}-4{raw[13:16]}-{'89ab'[rng.getrandbits(2)]}{raw[17:20]}-{raw[20:]}"
