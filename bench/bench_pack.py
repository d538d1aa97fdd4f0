"""Benchmark: seconds per case of `brats_repro.h5.pack_dataset` against plain nibabel loading of the same files.

    python bench/bench_pack.py                      # 10 synthetic 240x240x155 cases, workers 1 and 2
    python bench/bench_pack.py --cases 4 --shape 120 120 78 --workers 1

Both are timed in the same run on the same files with a warm page cache. "nibabel" is the least a loader must
do: `np.asanyarray(nib.load(f).dataobj)` for the 5 files of each case (stored dtype, no float conversion).
Packing adds validation, cropping, z-scoring and the HDF5 write. Target: pack (workers=1) <= 1.3x nibabel.
Wall-clock seconds are what a user waits; CPU seconds (process + worker processes) are also reported because
they do not depend on other jobs sharing the machine. Prints a markdown table and writes JSON to bench/out/bench_pack.json (git-ignored).
"""
import argparse, json, os, platform, resource, shutil, sys, tempfile, time
from pathlib import Path
import numpy as np
import nibabel as nib
from brats_repro.brats import NAMINGS, MODALITIES
from brats_repro.data import find_cases
from brats_repro.h5 import pack_dataset
from _common import OUT, markdown_table


def _toy_case(root, sid, shape, seed):
    "Fallback generator when brats_repro.synth is missing: ellipsoid brain, tumour, noisy int16 modalities."
    rng = np.random.default_rng(seed)
    g = np.stack(np.meshgrid(*[np.arange(s, dtype=np.float32) / s for s in shape], indexing="ij"))
    c, r = np.array([0.55, 0.45, 0.5], np.float32)[:, None, None, None], np.array([0.3, 0.36, 0.45], np.float32)[:, None, None, None]
    brain = (((g - c) / r) ** 2).sum(0) < 1
    d = np.sqrt(((g - np.array([0.6, 0.5, 0.5], np.float32)[:, None, None, None]) ** 2).sum(0))
    seg = (np.select([d < 0.05, d < 0.09, d < 0.14], [1, 4, 2], 0) * brain).astype(np.uint8)
    folder = Path(root) / sid
    folder.mkdir(parents=True)
    nm = NAMINGS["2021"]
    for k, m in enumerate(MODALITIES):
        v = 200 + 150 * k + 40 * g[0] + rng.normal(0, 10, shape).astype(np.float32) + 80 * (seg > 0) * (k + 1)
        nib.save(nib.Nifti1Image(np.where(brain, v, 0).astype(np.int16), np.eye(4)), folder / nm.filename(sid, m))
    nib.save(nib.Nifti1Image(seg, np.eye(4)), folder / nm.filename(sid, "seg"))


def make_data(root, n, shape, workers):
    "n synthetic cases under root; returns the generator's name."
    try:
        from brats_repro.synth import synth_dataset
    except ImportError:
        for i in range(n): _toy_case(root, NAMINGS["2021"].subject_id(i), tuple(shape), i)
        return "bench toy generator (brats_repro.synth not available)"
    synth_dataset(root, n, seed=0, shape=tuple(shape), naming="2021", workers=workers, progress=False)
    return "brats_repro.synth"


def cpu_s():
    "CPU seconds used so far by this process and its finished children (robust to other jobs' load)."
    a, b = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return a.ru_utime + a.ru_stime + b.ru_utime + b.ru_stime


def nibabel_load(cases):
    "Seconds for plain nibabel loading of all files of `cases`."
    t0 = time.perf_counter()
    for c in cases:
        for f in c.files: np.asanyarray(nib.load(str(f)).dataobj)
    return time.perf_counter() - t0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=10)
    ap.add_argument("--shape", type=int, nargs=3, default=(240, 240, 155))
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--repeat", type=int, default=2, help="best of N runs for each measurement")
    ap.add_argument("--data", type=Path, help="use this BraTS folder instead of synthetic cases")
    ap.add_argument("--out", type=Path, default=OUT / "bench_pack.json")
    a = ap.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="bench_pack_"))
    try:
        if a.data is None:
            t0 = time.time()
            source = make_data(work / "nii", a.cases, a.shape, max(a.workers))
            data = work / "nii"
            print(f"generated {a.cases} cases {tuple(a.shape)} with {source} in {time.time() - t0:.0f} s", file=sys.stderr)
        else:
            data, source = a.data, str(a.data)
        cases = find_cases(data)
        n = len(cases)
        mb = sum(os.path.getsize(f) for c in cases for f in c.files) / 2**20 / n
        for c in cases:  # warm the page cache for both contenders
            for f in c.files: Path(f).read_bytes()
        t_nib, c_nib, best, cpu, h5_mb = [], [], {w: [] for w in a.workers}, {w: [] for w in a.workers}, {}
        for _ in range(a.repeat):  # interleaved, so that both see the same machine load; best of N
            c0 = cpu_s(); t_nib.append(nibabel_load(cases) / n); c_nib.append((cpu_s() - c0) / n)
            for w in a.workers:
                out = work / f"packed_w{w}.h5"
                c0 = cpu_s()
                best[w].append(pack_dataset(data, out, workers=w, progress=False).seconds / n)
                cpu[w].append((cpu_s() - c0) / n)
                h5_mb[w] = out.stat().st_size / 2**20 / n
                out.unlink()
        t_nib, c_nib = min(t_nib), min(c_nib)
        rows = [dict(workers=w, pack_s_per_case=min(best[w]), ratio=min(best[w]) / t_nib, h5_mb_per_case=h5_mb[w],
                     pack_cpu_s_per_case=min(cpu[w]), cpu_ratio=min(cpu[w]) / c_nib, all_runs=best[w]) for w in a.workers]
        load = os.getloadavg()[0]
        res = dict(cases=n, shape=list(a.shape), source=source, nii_mb_per_case=mb, nibabel_s_per_case=t_nib,
                   nibabel_cpu_s_per_case=c_nib,
                   pack=rows, target_ratio=1.3, cpus=os.cpu_count(), load_avg_1min=load, python=platform.python_version(),
                   date=time.strftime("%Y-%m-%d %H:%M:%S"))
        print(f"\n{n} cases {tuple(a.shape)} ({source}), .nii.gz {mb:.1f} MB/case, {os.cpu_count()} CPUs (load average {load:.1f}), best of {a.repeat}\n")
        print(markdown_table(
            ["workers", "nibabel s/case", "pack s/case", "pack / nibabel", "nibabel CPU s/case", "pack CPU s/case",
             "CPU ratio", "h5 MB/case"],
            [[r["workers"], f"{t_nib:.3f}", f"{r['pack_s_per_case']:.3f}", f"{r['ratio']:.2f}×", f"{c_nib:.3f}",
              f"{r['pack_cpu_s_per_case']:.3f}", f"{r['cpu_ratio']:.2f}×", f"{r['h5_mb_per_case']:.0f}"] for r in rows]))
        r1 = rows[0]
        print(f"\nworkers={r1['workers']}: pack/nibabel = {r1['ratio']:.2f}× (target ≤ 1.3×): {'PASS' if r1['ratio'] <= 1.3 else 'FAIL'}")
        a.out.parent.mkdir(parents=True, exist_ok=True)
        a.out.write_text(json.dumps(res, indent=1))
        print(f"wrote {a.out}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
