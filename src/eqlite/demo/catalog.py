"""Static tables the demo generator draws from: executables, command lines, paths, names.

Everything here is data. The generator picks from these tables with a seeded
``random.Random``, so the tables' order is part of the output: append, don't reorder.
Internet addresses come from the documentation ranges (RFC 5737), so generated data never
points at a real public host.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final


@dataclass(frozen=True, slots=True)
class BinarySpec:
    """An executable or library as it ships, before it lands on a host."""

    name: str
    directory: str
    description: str
    company: str = "Microsoft Corporation"
    product: str = "Microsoft® Windows® Operating System"
    signer: str = "Microsoft Windows"

    @property
    def path(self) -> str:
        return f"{self.directory}\\{self.name}"


_SYS32 = r"C:\Windows\System32"
_PROGRAMS = r"C:\Program Files"
_PROGRAMS86 = r"C:\Program Files (x86)"

BINARIES: Final[Mapping[str, BinarySpec]] = MappingProxyType(
    {
        spec.name.lower(): spec
        for spec in (
            BinarySpec("smss.exe", _SYS32, "Windows Session Manager"),
            BinarySpec("wininit.exe", _SYS32, "Windows Start-Up Application"),
            BinarySpec("winlogon.exe", _SYS32, "Windows Logon Application"),
            BinarySpec("services.exe", _SYS32, "Services and Controller app"),
            BinarySpec("lsass.exe", _SYS32, "Local Security Authority Process"),
            BinarySpec("svchost.exe", _SYS32, "Host Process for Windows Services"),
            BinarySpec("userinit.exe", _SYS32, "Userinit Logon Application"),
            BinarySpec("explorer.exe", r"C:\Windows", "Windows Explorer"),
            BinarySpec("cmd.exe", _SYS32, "Windows Command Processor"),
            BinarySpec("powershell.exe", _SYS32 + r"\WindowsPowerShell\v1.0", "Windows PowerShell"),
            BinarySpec("conhost.exe", _SYS32, "Console Window Host"),
            BinarySpec("whoami.exe", _SYS32, "whoami - displays logged on user information"),
            BinarySpec("ipconfig.exe", _SYS32, "IP Configuration Utility"),
            BinarySpec("net.exe", _SYS32, "Net Command"),
            BinarySpec("systeminfo.exe", _SYS32, "Displays system information"),
            BinarySpec("tasklist.exe", _SYS32, "Lists the current running tasks"),
            BinarySpec("findstr.exe", _SYS32, "Find String (QGREP) Utility"),
            BinarySpec("ping.exe", _SYS32, "TCP/IP Ping Command"),
            BinarySpec("gpupdate.exe", _SYS32, "Microsoft® Windows® GPUpdate Utility"),
            BinarySpec("notepad.exe", _SYS32, "Notepad"),
            BinarySpec("taskhostw.exe", _SYS32, "Host Process for Windows Tasks"),
            BinarySpec("backgroundtaskhost.exe", _SYS32, "Background Task Host"),
            BinarySpec("runtimebroker.exe", _SYS32, "Runtime Broker"),
            BinarySpec("compattelrunner.exe", _SYS32, "Microsoft Compatibility Telemetry"),
            BinarySpec("wermgr.exe", _SYS32, "Windows Problem Reporting"),
            BinarySpec("sppsvc.exe", _SYS32, "Microsoft Software Protection Platform Service"),
            BinarySpec("wmiprvse.exe", _SYS32 + r"\wbem", "WMI Provider Host"),
            BinarySpec("dllhost.exe", _SYS32, "COM Surrogate"),
            BinarySpec("mmc.exe", _SYS32, "Microsoft Management Console"),
            BinarySpec("hh.exe", r"C:\Windows", "Microsoft® HTML Help Executable"),
            BinarySpec("msinfo32.exe", _SYS32, "System Information"),
            BinarySpec("searchindexer.exe", _SYS32, "Microsoft Windows Search Indexer"),
            BinarySpec("spoolsv.exe", _SYS32, "Spooler SubSystem App"),
            BinarySpec(
                "msmpeng.exe",
                r"C:\ProgramData\Microsoft\Windows Defender\Platform\4.18.24030.9-0",
                "Antimalware Service Executable",
                signer="Microsoft Windows Publisher",
            ),
            BinarySpec(
                "mpcmdrun.exe",
                r"C:\ProgramData\Microsoft\Windows Defender\Platform\4.18.24030.9-0",
                "Microsoft Malware Protection Command Line Utility",
                signer="Microsoft Windows Publisher",
            ),
            BinarySpec(
                "msedge.exe",
                _PROGRAMS86 + r"\Microsoft\Edge\Application",
                "Microsoft Edge",
                product="Microsoft Edge",
                signer="Microsoft Corporation",
            ),
            BinarySpec(
                "chrome.exe",
                _PROGRAMS + r"\Google\Chrome\Application",
                "Google Chrome",
                company="Google LLC",
                product="Google Chrome",
                signer="Google LLC",
            ),
            BinarySpec(
                "onedrive.exe",
                _PROGRAMS + r"\Microsoft OneDrive",
                "Microsoft OneDrive",
                product="Microsoft OneDrive",
                signer="Microsoft Corporation",
            ),
            BinarySpec(
                "sqlservr.exe",
                _PROGRAMS + r"\Microsoft SQL Server\MSSQL15.MSSQLSERVER\MSSQL\Binn",
                "SQL Server Windows NT - 64 Bit",
                product="Microsoft SQL Server",
                signer="Microsoft Corporation",
            ),
        )
    }
)

LIBRARIES: Final[tuple[BinarySpec, ...]] = (
    BinarySpec("ntdll.dll", _SYS32, "NT Layer DLL"),
    BinarySpec("kernel32.dll", _SYS32, "Windows NT BASE API Client DLL"),
    BinarySpec("kernelbase.dll", _SYS32, "Windows NT BASE API Client DLL"),
    BinarySpec("advapi32.dll", _SYS32, "Advanced Windows 32 Base API"),
    BinarySpec("combase.dll", _SYS32, "Microsoft COM for Windows"),
    BinarySpec("rpcrt4.dll", _SYS32, "Remote Procedure Call Runtime"),
    BinarySpec("ws2_32.dll", _SYS32, "Windows Socket 2.0 32-Bit DLL"),
    BinarySpec("crypt32.dll", _SYS32, "Crypto API32"),
    BinarySpec("wintrust.dll", _SYS32, "Microsoft Trust Verification APIs"),
    BinarySpec("shell32.dll", _SYS32, "Windows Shell Common Dll"),
    BinarySpec("ole32.dll", _SYS32, "Microsoft OLE for Windows"),
    BinarySpec("user32.dll", _SYS32, "Multi-User Windows USER API Client DLL"),
    BinarySpec("winhttp.dll", _SYS32, "Windows HTTP Services"),
    BinarySpec("dnsapi.dll", _SYS32, "DNS Client API DLL"),
    BinarySpec("amsi.dll", _SYS32, "Anti-Malware Scan Interface"),
    BinarySpec("clrjit.dll", r"C:\Windows\Microsoft.NET\Framework64\v4.0.30319", "Microsoft .NET JIT"),
    BinarySpec("wldp.dll", _SYS32, "Windows Lockdown Policy"),
    BinarySpec("samcli.dll", _SYS32, "Security Accounts Manager Client DLL"),
)

MMC_LIBRARIES: Final[tuple[BinarySpec, ...]] = (
    BinarySpec("mmcndmgr.dll", _SYS32, "MMC Node Manager DLL"),
    BinarySpec("mmcbase.dll", _SYS32, "MMC Base DLL"),
    BinarySpec("rpcrt4.dll", _SYS32, "Remote Procedure Call Runtime"),
)

# (image key, command line) pairs; ``{user}`` is replaced by the session's user name.
SHELLS: Final[tuple[tuple[str, str], ...]] = (
    ("cmd.exe", r'"C:\Windows\system32\cmd.exe"'),
    ("powershell.exe", r'"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe"'),
    ("powershell.exe", r'"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe" -NoLogo'),
)

SHELL_TOOLS: Final[tuple[tuple[str, str], ...]] = (
    ("whoami.exe", r'"C:\Windows\system32\whoami.exe"'),
    ("ipconfig.exe", r'"C:\Windows\system32\ipconfig.exe" /all'),
    ("ipconfig.exe", r'"C:\Windows\system32\ipconfig.exe" /flushdns'),
    ("ping.exe", r'"C:\Windows\system32\PING.EXE" -n 2 fileserver01'),
    ("tasklist.exe", r'"C:\Windows\system32\tasklist.exe"'),
    ("systeminfo.exe", r'"C:\Windows\system32\systeminfo.exe"'),
    ("gpupdate.exe", r'"C:\Windows\system32\gpupdate.exe" /force'),
    ("findstr.exe", r'findstr /i "error" C:\Users\{user}\Documents\build.log'),
    ("net.exe", r'"C:\Windows\system32\net.exe" use'),
    ("notepad.exe", r'"C:\Windows\system32\notepad.exe" C:\Users\{user}\Documents\notes.txt'),
)

SCHEDULED_TASKS: Final[tuple[tuple[str, str], ...]] = (
    ("taskhostw.exe", r"taskhostw.exe {222A245B-E637-4AE9-A93F-A59CA119A75E}"),
    ("taskhostw.exe", r"taskhostw.exe Install $(Arg0)"),
    (
        "backgroundtaskhost.exe",
        r'"C:\Windows\system32\backgroundTaskHost.exe" -ServerName:App.AppXmtcan0h2tfbfy7k9kn8hbxb6dmzz1zh0.mca',
    ),
    (
        "compattelrunner.exe",
        r"C:\Windows\system32\compattelrunner.exe -m:appraiser.dll -f:DoScheduledTelemetryRun",
    ),
    ("wermgr.exe", r"C:\Windows\system32\wermgr.exe -upload"),
    ("sppsvc.exe", r"C:\Windows\system32\sppsvc.exe"),
    (
        "mpcmdrun.exe",
        r'"C:\ProgramData\Microsoft\Windows Defender\Platform\4.18.24030.9-0\MpCmdRun.exe"'
        r" -IdleTask -TaskName WdCacheMaintenance",
    ),
)

DCOM_SERVERS: Final[tuple[tuple[str, str], ...]] = (
    ("wmiprvse.exe", r"C:\Windows\system32\wbem\wmiprvse.exe -Embedding"),
    ("wmiprvse.exe", r"C:\Windows\system32\wbem\wmiprvse.exe -secured -Embedding"),
    ("dllhost.exe", r"C:\Windows\system32\DllHost.exe /Processid:{AB8902B4-09CA-4BB6-B78D-A8F59079A8D5}"),
    ("dllhost.exe", r"C:\Windows\system32\DllHost.exe /Processid:{3EB3C877-1F16-487C-9050-104DBCD66683}"),
    ("runtimebroker.exe", r"C:\Windows\System32\RuntimeBroker.exe -Embedding"),
    ("mmc.exe", r"C:\Windows\system32\mmc.exe -Embedding"),
)

ADMIN_CONSOLES: Final[tuple[str, ...]] = (
    r'"C:\Windows\system32\mmc.exe" "C:\Windows\system32\compmgmt.msc" /s',
    r'"C:\Windows\system32\mmc.exe" "C:\Windows\system32\services.msc"',
    r'"C:\Windows\system32\mmc.exe" "C:\Windows\system32\eventvwr.msc" /s',
    r'"C:\Windows\system32\mmc.exe" "C:\Windows\system32\dsa.msc"',
    r'"C:\Windows\system32\mmc.exe" "C:\Windows\system32\gpedit.msc"',
)

MMC_HELPERS: Final[tuple[tuple[str, str], ...]] = (
    ("hh.exe", r'"C:\Windows\hh.exe" C:\Windows\Help\mui\0409\mmc.CHM'),
    ("msinfo32.exe", r'"C:\Windows\system32\msinfo32.exe"'),
)

# The commands an operator runs through an MMC20.Application object; ``{tag}`` names the output file.
LATERAL_COMMANDS: Final[tuple[str, ...]] = (
    r'"C:\Windows\System32\cmd.exe" /c whoami /all > C:\Windows\Temp\{tag}.txt 2>&1',
    r'"C:\Windows\System32\cmd.exe" /c ipconfig /all > C:\Windows\Temp\{tag}.txt 2>&1',
    r'"C:\Windows\System32\cmd.exe" /c net localgroup administrators > C:\Windows\Temp\{tag}.txt 2>&1',
    r'"C:\Windows\System32\cmd.exe" /c tasklist /v > C:\Windows\Temp\{tag}.txt 2>&1',
    r'"C:\Windows\System32\cmd.exe" /c systeminfo > C:\Windows\Temp\{tag}.txt 2>&1',
)
LATERAL_TOOLS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "whoami": "whoami.exe",
        "ipconfig": "ipconfig.exe",
        "net": "net.exe",
        "tasklist": "tasklist.exe",
        "systeminfo": "systeminfo.exe",
    }
)

# (name, resolved address) for outbound traffic; addresses are RFC 5737 documentation ranges.
WEB_DESTINATIONS: Final[tuple[tuple[str, str], ...]] = (
    ("www.bing.com", "203.0.113.10"),
    ("login.microsoftonline.com", "203.0.113.24"),
    ("outlook.office365.com", "203.0.113.37"),
    ("teams.microsoft.com", "203.0.113.41"),
    ("www.google.com", "198.51.100.14"),
    ("github.com", "198.51.100.22"),
    ("docs.python.org", "198.51.100.35"),
    ("news.example.com", "192.0.2.80"),
    ("intranet.corp.example.com", "10.10.1.20"),
    ("cdn.example.net", "192.0.2.133"),
)

SERVICE_DESTINATIONS: Final[tuple[tuple[str, str, str], ...]] = (
    ("netsvcs", "settings-win.data.microsoft.com", "203.0.113.51"),
    ("wuauserv", "fe2cr.update.microsoft.com", "203.0.113.62"),
    ("wuauserv", "sls.update.microsoft.com", "203.0.113.63"),
    ("msmpeng", "wdcp.microsoft.com", "203.0.113.70"),
    ("msmpeng", "definitionupdates.microsoft.com", "203.0.113.71"),
    ("netsvcs", "ctldl.windowsupdate.com", "198.51.100.90"),
)

USER_FILES: Final[tuple[str, ...]] = (
    r"C:\Users\{user}\Documents\Q{n}-report.docx",
    r"C:\Users\{user}\Documents\budget-{n}.xlsx",
    r"C:\Users\{user}\Downloads\invoice-{n}.pdf",
    r"C:\Users\{user}\Desktop\notes-{n}.txt",
    r"C:\Users\{user}\AppData\Local\Temp\~DF{n}.tmp",
    r"C:\Users\{user}\AppData\Roaming\Microsoft\Windows\Recent\report-{n}.lnk",
)

BROWSER_FILES: Final[tuple[str, ...]] = (
    r"C:\Users\{user}\AppData\Local\Microsoft\Edge\User Data\Default\Cache\Cache_Data\f_{n}",
    r"C:\Users\{user}\AppData\Local\Google\Chrome\User Data\Default\Cache\Cache_Data\f_{n}",
    r"C:\Users\{user}\Downloads\setup-{n}.msi",
    r"C:\Users\{user}\Downloads\slides-{n}.pptx",
)

DEFENDER_FILES: Final[tuple[str, ...]] = (
    r"C:\ProgramData\Microsoft\Windows Defender\Scans\History\Service\DetectionHistory\{n}",
    r"C:\ProgramData\Microsoft\Windows Defender\Scans\mpcache-{n}.bin",
    r"C:\ProgramData\Microsoft\Windows Defender\Support\MPLog-{n}.log",
)

# (path template, value, data strings, data type); ``{sid}`` is the session user's SID.
REGISTRY_CHANGES: Final[tuple[tuple[str, str, str, str], ...]] = (
    (
        r"HKEY_USERS\{sid}\Software\Microsoft\Windows\CurrentVersion\Explorer\RecentDocs\.docx\{n}",
        "{n}",
        "report.docx",
        "REG_BINARY",
    ),
    (
        r"HKLM\SYSTEM\ControlSet001\Services\bam\State\UserSettings\{sid}\\Device\HarddiskVolume3\Windows\System32\notepad.exe",
        r"\Device\HarddiskVolume3\Windows\System32\notepad.exe",
        "binary",
        "REG_BINARY",
    ),
    (
        r"HKLM\SOFTWARE\Microsoft\Windows Defender\Signature Updates\SignaturesLastUpdated",
        "SignaturesLastUpdated",
        "{n}",
        "REG_BINARY",
    ),
    (
        r"HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\WindowsUpdate\Auto Update\LastOnlineScanTimeForAppCategory",
        "LastOnlineScanTimeForAppCategory",
        "{n}",
        "REG_QWORD",
    ),
    (
        r"HKEY_USERS\{sid}\Software\Microsoft\Windows\CurrentVersion\Internet Settings\ZoneMap\ProxyBypass",
        "ProxyBypass",
        "1",
        "REG_DWORD",
    ),
    (
        r"HKLM\SYSTEM\ControlSet001\Services\Tcpip\Parameters\Interfaces\{{6f1b2c4d-{n}}}\DhcpIPAddress",
        "DhcpIPAddress",
        "10.20.{n}",
        "REG_SZ",
    ),
)

FIRST_NAMES: Final[tuple[str, ...]] = (
    "alice", "bruno", "chen", "dana", "emeka", "farah", "gustav", "hana", "ivan", "jonas",
    "keiko", "lucia", "marek", "nadia", "omar", "priya", "quinn", "rosa", "sven", "tariq",
)  # fmt: skip
LAST_NAMES: Final[tuple[str, ...]] = (
    "adams", "berg", "costa", "diaz", "eriksen", "fischer", "garcia", "huang", "ito", "jensen",
    "kowalski", "larsen", "meyer", "novak", "okafor", "petrov", "quist", "rossi", "silva", "tanaka",
)  # fmt: skip
DEPARTMENTS: Final[tuple[str, ...]] = ("fin", "hr", "eng", "ops", "sales", "it", "legal", "mkt")
SERVER_ROLES: Final[tuple[str, ...]] = ("app", "sql", "file", "web", "print", "mgmt")


@dataclass(frozen=True, slots=True)
class OsSpec:
    """A Windows release as Elastic Endpoint reports it in ``host.os``."""

    variant: str
    version: str
    build: str
    role: str

    def full(self, patch: int) -> str:
        return f"{self.variant} {self.version} ({self.build}.{patch})"


WORKSTATION_OS: Final[tuple[OsSpec, ...]] = (
    OsSpec("Windows 10 Enterprise", "22H2", "10.0.19045", "workstation"),
    OsSpec("Windows 11 Enterprise", "23H2", "10.0.22631", "workstation"),
    OsSpec("Windows 10 Pro", "21H2", "10.0.19044", "workstation"),
)
SERVER_OS: Final[tuple[OsSpec, ...]] = (
    OsSpec("Windows Server 2019 Datacenter", "1809", "10.0.17763", "server"),
    OsSpec("Windows Server 2022 Standard", "21H2", "10.0.20348", "server"),
)

# Elastic Endpoint wrote network.direction "incoming"/"outgoing" up to 7.15 and "ingress"/"egress"
# from 7.16 on. Seed rule v3 compares == "incoming", so only the legacy generation can match it.
LEGACY_AGENT: Final[tuple[str, str, str, str]] = ("7.15.2", "1.11.0", "incoming", "outgoing")
MODERN_AGENT: Final[tuple[str, str, str, str]] = ("8.13.4", "8.10.0", "ingress", "egress")
