"""Agent processes of a run, found from /proc, for the tests that kill one."""
from __future__ import annotations

from pathlib import Path
from typing import Callable


def agent_pid(parent: int, matches: Callable[[list[bytes]], bool]) -> int | None:
    """The pid of an agent (python -m gensemcom.agents.agent) started by process `parent`
    whose argv `matches` (e.g. lambda argv: b"generator" in argv)."""
    for entry in Path("/proc").iterdir():
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError, IndexError):
            continue
        if ppid == parent and b"gensemcom.agents.agent" in argv and matches(argv):
            return int(entry.name)
    return None
