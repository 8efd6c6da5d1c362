"""Instructions the fast path's feed executes, counted by Valgrind's callgrind: a measure that the
machine's load does not move.

Times on these machines move by 20–30% within minutes, more than most changes to the feed gain.
An instruction count does not: the same code over the same lines executes the same instructions,
give or take Python's hash randomisation, which this fixes (``PYTHONHASHSEED=0``). Instructions
are not time (cache misses and branch mispredictions are not counted), so a change is judged on
both: instructions say whether the work went down; the side-by-side times say whether it shows.

The child (``python -m enginebench.instructions child ...``) builds the rules with callgrind's
instrumentation off (``--instr-atstart=no``), turns it on (``callgrind_control -i on``), feeds the
file through one call of a C function that eqlite never calls (COUNTED), of which alone the
instructions are counted (``--toggle-collect``), and prints the fast path's work counts as JSON.
Building the rules is left out: it is the same for every line and would drown the feed on a small
file. Each count has a cache folder of its own, and the scanners the feed would compile when first
used are compiled before counting, so the same code over the same file counts the same, to the
instruction.
"""

from __future__ import annotations

import json
import operator
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CHILD = "child"
# The C function whose calls alone are counted: the child feeds the lines through it, once, and eqlite
# never calls it. (Turning the instrumentation on and off from the child is asynchronous, and counts
# some of the callgrind_control process it starts.)
COUNTED = "_operator_call"
WORK_COUNTS = ("lines", "parsed", "noted_only", "skipped", "evaluated_stages", "deferred", "read_again")
HASH_SEED = "0"
_TOTALS = re.compile(rb"^totals:\s+(\d+)", re.MULTILINE)


class ToolMissing(RuntimeError):
    """Valgrind (with callgrind_control) is not installed."""


@dataclass(frozen=True, slots=True)
class Count:
    """What one version of the code did over the file."""

    label: str
    instructions: int
    lines: int
    work: dict[str, Any]

    @property
    def per_line(self) -> float:
        return self.instructions / self.lines if self.lines else 0.0


def tools() -> tuple[str, str]:
    """The paths of ``valgrind`` and ``callgrind_control``.

    Raises:
        ToolMissing: when either is not on PATH.
    """
    valgrind, control = shutil.which("valgrind"), shutil.which("callgrind_control")
    if valgrind is None or control is None:
        raise ToolMissing("counting instructions needs Valgrind (valgrind and callgrind_control on PATH); "
                          "on Debian or Ubuntu: apt-get install valgrind")
    return valgrind, control


def parse_totals(text: bytes) -> int:
    """The instruction count of a callgrind output file.

    >>> parse_totals(b"events: Ir\\nsummary: 0\\ntotals: 4016387377\\n")
    4016387377

    Raises:
        ValueError: when the file has no totals line.
    """
    found = _TOTALS.search(text)
    if found is None:
        raise ValueError("no 'totals:' line in the callgrind output")
    return int(found.group(1))


def count(label: str, source: Path, data: Path, workload: str, rules_root: Path, timeout: float | None = None) -> Count:
    """Run the child under callgrind with eqlite from ``source`` (a folder holding ``eqlite/``)."""
    valgrind, _ = tools()
    bench = Path(__file__).resolve().parents[1]
    with tempfile.TemporaryDirectory(prefix="eqlite-instructions-") as scratch:
        out = Path(scratch) / "callgrind.out"
        # (a fresh cache: every count compiles its scanners the same way, outside what is counted)
        environment = {**os.environ, "PYTHONHASHSEED": HASH_SEED, "EQLITE_CACHE_DIR": str(Path(scratch) / "cache"),
                       "PYTHONPATH": os.pathsep.join([str(source), str(bench)])}
        command = [valgrind, "--tool=callgrind", "--instr-atstart=no", "--collect-atstart=no",
                   f"--toggle-collect={COUNTED}", f"--callgrind-out-file={out}",
                   sys.executable, "-m", "enginebench.instructions", CHILD, str(data), workload, str(rules_root)]
        completed = subprocess.run(command, env=environment, capture_output=True, timeout=timeout, check=False)
        if completed.returncode != 0 or not out.exists():
            tail = completed.stderr.decode(errors="replace").strip().splitlines()[-15:]
            raise RuntimeError(f"{label}: the counting run failed (exit {completed.returncode}):\n" + "\n".join(tail))
        work = json.loads(completed.stdout.decode().strip().splitlines()[-1])
        return Count(label, parse_totals(out.read_bytes()), int(work["lines"]), work)


def _child(data: str, workload: str, rules_root: str) -> None:
    from enginebench.workloads import build_workloads
    from eqlite.scheduler.fast import FastExecution, read_sample, run_paths, settle_for_run
    from eqlite.semantic.schema import Schema
    from eqlite.sources.base import SourceStats

    _, control = tools()
    rules = build_workloads([workload], Path(rules_root))[0].rules
    execution = FastExecution(list(rules), Schema.ecs(), read_sample([data]))
    if getattr(execution, "scans_blocks", False):
        execution.trigger_ends(b"{}\n")  # its scanner is compiled when first used: not what is counted
    settle_for_run()
    subprocess.run([control, "-i", "on", str(os.getpid())], check=True, capture_output=True)
    operator.call(run_paths, execution, [data], SourceStats())  # what is counted (see COUNTED)
    # (counts an older commit lacks are left out)
    work = {name: getattr(execution.stats, name) for name in WORK_COUNTS if hasattr(execution.stats, name)}
    print(json.dumps(work))


if __name__ == "__main__" and len(sys.argv) == 5 and sys.argv[1] == CHILD:
    _child(*sys.argv[2:])
