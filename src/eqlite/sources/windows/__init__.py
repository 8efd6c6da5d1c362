"""Raw Windows logs -> ECS documents, exactly as Winlogbeat 8 or Elastic Agent map them.

Readers: EVTX (through the Rust ``evtx`` package), flat NXLog/Mordor JSON lines, raw Winlogbeat 6 JSON
lines, and zip archives of any of these. Mapping: the ``winlogbeat`` and ``agent`` profiles, kept as
YAML under ``profiles/`` and ``modules/`` and compiled per event id into Python functions.

>>> from eqlite.sources.windows import PROFILES, map_record
>>> sorted(PROFILES)
['agent', 'winlogbeat']
"""

from eqlite.sources.windows.codegen import render_source
from eqlite.sources.windows.detect import FileFormat, detect_format
from eqlite.sources.windows.mapper import Mapped, Mapper, map_record
from eqlite.sources.windows.profile import PROFILES, Profile, ProfileError, load_profile
from eqlite.sources.windows.readers import iter_windows_records, read_windows_file
from eqlite.sources.windows.records import WinRecord, from_evtx, from_nxlog, from_winlogbeat6

__all__ = [
    "PROFILES",
    "FileFormat",
    "Mapped",
    "Mapper",
    "Profile",
    "ProfileError",
    "WinRecord",
    "detect_format",
    "from_evtx",
    "from_nxlog",
    "from_winlogbeat6",
    "iter_windows_records",
    "load_profile",
    "map_record",
    "read_windows_file",
    "render_source",
]
