"""What the benchmarks share: memory figures from /proc, a subprocess runner for clean per-run measurements, and a
markdown table printer. Run the benchmarks from the repository root (`python bench/<name>.py`)."""
from __future__ import annotations
import json, subprocess, sys
from pathlib import Path

OUT = Path(__file__).resolve().parent / "out"   # results (git-ignored)

_STATUS = {"VmHWM": "peak_rss", "VmRSS": "rss", "RssAnon": "anon", "RssFile": "file", "RssShmem": "shmem"}

def proc_mem(pid="self") -> dict:
    "Memory figures of a process in MB from /proc/<pid>/status: peak_rss, rss, anon, file, shmem."
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        k, _, v = line.partition(":")
        if k in _STATUS: out[_STATUS[k]] = int(v.split()[0]) / 1024
    return out

def run_json(args:list, **kwargs) -> dict:
    "Run `python args...` in a fresh process; the JSON object on its last stdout line, or `{'error': ...}`."
    p = subprocess.run([sys.executable, *map(str, args)], capture_output=True, text=True, **kwargs)
    if p.returncode != 0:
        return dict(error=(p.stderr.strip().splitlines() or [f"exit {p.returncode}"])[-1])
    return json.loads(p.stdout.strip().splitlines()[-1])

def markdown_table(header:list[str], rows:list[list]) -> str:
    "A markdown table: one header row, then one row per list of cells (formatted with `str`)."
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)
