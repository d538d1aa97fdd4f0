"""Kill-and-resume: does a training run killed with SIGKILL at random moments, and resumed until done, end with the
same checkpoints and history as an uninterrupted run?

A tiny packed synthetic dataset (brats_repro.synth + pack_dataset) and a tiny deterministic config (init_filters 8,
32³ crops, a few steps per epoch, several epochs, one thread). First one uninterrupted reference run; then `--runs`
runs, each killed up to `--kills` times and resumed (`resume=True`, as `--resume`) until it finishes. A kill is one
of four kinds, chosen at random:

- `random`: at a uniformly random moment of the run (start-up included);
- `in write`: as soon as a temporary checkpoint file (`.last.pt.*.tmp`, `.best.pt.*.tmp`) appears;
- `in best.pt write`: as soon as `.best.pt.*.tmp` appears (`last.pt` of the epoch is complete, `best.pt` not);
- `after last.pt`: 0-30 ms after `last.pt` was replaced (while `best.pt` and the logs are being written).

After each run: `last.pt` (epoch, weights, optimiser state, scheduler), `best.pt` (epoch, weights) and
`history.json` (timings left out) are compared with the reference, and no temporary file may be left.
Results: bench/out/faults.json and bench/out/faults.md.

    python bench/faults.py              # 4 runs, up to 3 kills each (a couple of minutes on 2 cores)
    python bench/faults.py --runs 20 --kills 5 --epochs 6
"""
from __future__ import annotations
import argparse, json, os, random, re, shutil, signal, subprocess, sys, tempfile, time
from pathlib import Path
from _common import OUT, markdown_table, cpu_name

ROOT = Path(__file__).resolve().parent.parent   # the brats_repro imported by the training processes (--src)
CHILD = """
import json, sys
from brats_repro.config import TrainConfig
from brats_repro.train import train
data, out, cfg, resume = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), sys.argv[4] == "1"
train(data, out, None if resume else TrainConfig.from_dict(cfg), resume=resume, progress=False)
"""
KINDS = ("random", "in write", "in best.pt write", "after last.pt")
TEMP = re.compile(r"\.(last|best)\.pt\.[a-z0-9_]{8}\.tmp")

def make_data(work:Path, cases:int, side:int) -> Path:
    "A packed synthetic dataset of `cases` cases of side `side`."
    from brats_repro.synth import synth_dataset
    from brats_repro.h5 import pack_dataset
    synth_dataset(work / "raw", n_cases=cases, seed=0, shape=(side,) * 3, progress=False)
    pack_dataset(work / "raw", work / "data.h5", progress=False)
    return work / "data.h5"

def start(data:Path, out:Path, cfg:dict) -> subprocess.Popen:
    "A training process into `out`: a new run, or `resume=True` when `out/last.pt` exists."
    env = dict(os.environ, PYTHONPATH=os.environ.get("FAULTS_SRC", str(ROOT)))
    resume = "1" if (out / "last.pt").exists() else "0"
    with open(out.parent / f"{out.name}.log", "a") as log:   # a file, not a pipe: it never fills up and blocks
        return subprocess.Popen([sys.executable, "-c", CHILD, str(data), str(out), json.dumps(cfg), resume], env=env,
                                stdout=subprocess.DEVNULL, stderr=log, cwd=out.parent)   # cwd: no other package

def last_error(out:Path) -> str:
    "The last line the training processes of `out` wrote to stderr."
    lines = (out.parent / f"{out.name}.log").read_text().strip().splitlines()
    return lines[-1] if lines else "(nothing)"

def temps(out:Path) -> list[str]:
    "The temporary checkpoint files in `out` now."
    try: return [e.name for e in os.scandir(out) if TEMP.fullmatch(e.name)]
    except FileNotFoundError: return []

def mtime(p:Path) -> float:
    try: return p.stat().st_mtime_ns
    except FileNotFoundError: return 0

def watch_and_kill(p:subprocess.Popen, out:Path, kind:str, at:float, rng:random.Random) -> str|None:
    "Kill `p` as `kind` says (`at`: seconds, for 'random'); what was being written at the kill, or None if it ended."
    t0, last0, stale = time.time(), mtime(out / "last.pt"), set(temps(out))   # a killed run's temp files
    trigger = None
    while p.poll() is None:
        now = time.time() - t0
        if kind == "random" and now >= at: trigger = "random"
        elif kind == "in write" and set(temps(out)) - stale: trigger = kind
        elif kind == "in best.pt write" and any(n.startswith(".best") for n in set(temps(out)) - stale): trigger = kind
        elif kind == "after last.pt" and mtime(out / "last.pt") != last0:
            time.sleep(rng.uniform(0, 0.03)); trigger = "after last.pt"
        if trigger:
            seen = set(temps(out)) - stale
            p.send_signal(signal.SIGKILL); p.wait()
            return ", ".join(sorted(seen)) or "-"
        time.sleep(0.001)
    return None

def load(path:Path) -> dict:
    import torch
    return torch.load(path, map_location="cpu", weights_only=True)

def untimed(history:list) -> list:
    return [{k: v for k, v in r.items() if not k.startswith(("time_", "elapsed"))} for r in history]

def same_tensors(a, b) -> bool:
    "Whether two nested containers of tensors and numbers are equal, bit for bit."
    import torch
    if isinstance(a, torch.Tensor): return isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b)
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same_tensors(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)): return len(a) == len(b) and all(same_tensors(x, y) for x, y in zip(a, b))
    return a == b

def compare(ref:Path, out:Path) -> list[str]:
    "What differs between the run folders `ref` and `out` (empty: nothing)."
    bad = []
    for name in ("last.pt", "best.pt"):
        if not (out / name).exists(): bad.append(f"{name} missing"); continue
        a, b = load(ref / name), load(out / name)
        if a["epoch"] != b["epoch"]: bad.append(f"{name} epoch {b['epoch']} != {a['epoch']}")
        keys = ("model",) if name == "best.pt" else ("model", "optimizer", "scheduler", "rng")
        bad += [f"{name} {k} differs" for k in keys if not same_tensors(a[k], b[k])]
    h_ref, h = (json.loads((d / "history.json").read_text()) for d in (ref, out))
    if untimed(h) != untimed(h_ref): bad.append("history.json differs")
    if temps(out): bad.append(f"left: {', '.join(temps(out))}")
    return bad

def one_run(data:Path, out:Path, cfg:dict, max_kills:int, t_ref:float, rng:random.Random) -> tuple[list, int]:
    "Run into `out`, killing it up to `max_kills` times and resuming; `(kills, exit code of the last process)`."
    kills = []
    while True:
        p = start(data, out, cfg)
        if len(kills) >= max_kills:
            p.wait()
            if p.returncode: print(f"{out.name}: {last_error(out)}", file=sys.stderr)
            return kills, p.returncode
        kind = rng.choice(KINDS)
        seen = watch_and_kill(p, out, kind, rng.uniform(0.2, t_ref), rng)
        if seen is None:   # it finished first
            if p.returncode: print(f"{out.name}: {last_error(out)}", file=sys.stderr)
            return kills, p.returncode
        last = load(out / "last.pt")["epoch"] if (out / "last.pt").exists() else 0
        kills.append(dict(kind=kind, writing=seen, last_epoch=last))

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=4, help="killed-and-resumed runs")
    ap.add_argument("--kills", type=int, default=3, help="kills per run at most")
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--steps", type=int, default=2, help="steps per epoch")
    ap.add_argument("--cases", type=int, default=4)
    ap.add_argument("--side", type=int, default=32, help="side of the synthetic volumes and of the crops")
    ap.add_argument("--seed", type=int, default=0, help="seed of the kill times and kinds")
    ap.add_argument("--src", type=Path, default=ROOT, help="folder holding the brats_repro to test (e.g. an older "
                    "version: git archive <commit> brats_repro | tar -x -C DIR)")
    a = ap.parse_args()
    os.environ["FAULTS_SRC"] = str(a.src.resolve())
    rng, work = random.Random(a.seed), Path(tempfile.mkdtemp(prefix="faults_"))
    try:
        data = make_data(work, a.cases, a.side)
        cfg = dict(init_filters=8, num_groups=8, crop_size=[a.side] * 3, epochs=a.epochs, steps_per_epoch=a.steps,
                   lr=1e-3, num_workers=0, val_fraction=0.25, deterministic=True, threads=1, device="cpu")
        t0 = time.time()
        p = start(data, work / "ref", cfg); p.wait()
        if p.returncode: sys.exit(f"reference run failed: {last_error(work / 'ref')}")
        t_ref = time.time() - t0
        rows, results = [], []
        for i in range(a.runs):
            kills, code = one_run(data, work / f"run{i}", cfg, a.kills, t_ref, rng)
            bad = compare(work / "ref", work / f"run{i}") if code == 0 else [f"exit code {code}"]
            results.append(dict(run=i, kills=kills, exit_code=code, mismatches=bad))
            rows.append([i, len(kills), "; ".join(f"{k['kind']} (last.pt epoch {k['last_epoch']}, writing: "
                                                  f"{k['writing']})" for k in kills) or "-", ", ".join(bad) or "none"])
            print(f"run {i}: {len(kills)} kills, mismatches: {', '.join(bad) or 'none'}", flush=True)
        survived = sum(len(r["kills"]) for r in results if not r["mismatches"])
        total = sum(len(r["kills"]) for r in results)
        in_write = sum(1 for r in results for k in r["kills"] if k["writing"] != "-")
        summary = dict(kills=total, kills_survived=survived, kills_during_checkpoint_writes=in_write,
                       runs=a.runs, runs_with_mismatch=sum(bool(r["mismatches"]) for r in results),
                       reference_seconds=round(t_ref, 1), total_seconds=round(time.time() - t0, 1),
                       config=cfg, cpu=cpu_name(), args={k: str(v) for k, v in vars(a).items()})
        OUT.mkdir(exist_ok=True)
        (OUT / "faults.json").write_text(json.dumps(dict(summary=summary, runs=results), indent=1))
        table = markdown_table(["run", "kills", "kills (kind, last.pt epoch after the kill, temp files seen)",
                                "mismatches"], rows)
        text = (f"{table}\n\n{survived} of {total} kills survived ({in_write} while a checkpoint's temporary file "
                f"existed); {summary['runs_with_mismatch']} of {a.runs} runs differ from the uninterrupted run. "
                f"Reference run {t_ref:.1f} s, all {summary['total_seconds']:.0f} s.\n")
        (OUT / "faults.md").write_text(text)
        print(text)
    finally: shutil.rmtree(work, ignore_errors=True)

if __name__ == "__main__": main()
