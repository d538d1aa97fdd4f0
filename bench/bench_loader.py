"""Benchmark: random 4x128^3 training crops per second through `H5CropDataset` + `make_loader`, against in-memory NumPy.

    python bench/bench_loader.py                     # 5 and 20 synthetic 240x240x155 cases, 200 crops per rate
    python bench/bench_loader.py --cases 5 --crops 60 --repeats 1

Every rate is measured (best of `--repeats` interleaved runs) in the same run on the same packed arrays (warm page cache), each in a fresh subprocess so that
memory figures are clean:
  * numpy bare:     the arrays in RAM (`read_case`), a random 4x128^3 window copied into a zeroed array (image only;
                    the synthetic brain boxes are ~108 voxels in z, so windows are padded as in the loader);
  * numpy +aug:     the same plus the training work done the plain NumPy way: `np.flip` on random axes, per-channel
                    `x*scale+shift`, and the target `labels_to_regions(...).astype(float32)` of the label window;
  * loader nw=0/2:  `H5CropDataset(path, crop_size=(128,)*3)` (paper augmentation) through
                    `make_loader(ds, num_workers=...)`, batch size 1, reading the memory-mapped file;
  * --pool-ablation: also 2 workers with `reuse_buffers=False` (every crop in fresh shared memory).
Target: loader >= 0.8x "numpy +aug", with resident memory that does not grow with the number of cases.
Memory (from /proc/<pid>/status, summed over the main process and its workers): peak RSS (VmHWM), and at the end the
anonymous (RssAnon), file-backed (RssFile, page cache mapped from the packed file) and shared-memory (RssShmem) parts.
Prints a markdown table and writes JSON to bench/out/bench_loader.json (git-ignored).
"""
import argparse, json, os, platform, subprocess, sys, tempfile, time
from pathlib import Path
import numpy as np
from _common import OUT, proc_mem, run_json, markdown_table

CROP = (128, 128, 128)


def make_packed(root: Path, n: int) -> Path:
    "A packed file of the first `n` of 20 synthetic 240x240x155 cases (cached under `root`)."
    from brats_repro.synth import synth_dataset
    from brats_repro.h5 import pack_dataset
    data, out = root / "data20", root / f"cases{n}.h5"
    if not out.exists():
        if not data.exists(): synth_dataset(data, 20, seed=0, workers=2, progress=False)
        src = root / f"src{n}"
        if not src.exists():
            subjects = sorted(p.parent for p in data.rglob("*_seg.nii*"))[:n]
            for s in subjects:  # hard links: the scanner does not follow symbolic links
                (src / s.name).mkdir(parents=True)
                for f in s.iterdir(): os.link(f, src / s.name / f.name)
        pack_dataset(src, out, workers=2, progress=False)
    return out


def numpy_rate(path: str, n: int, aug: bool, seed: int = 0) -> dict:
    "Crops/s of the in-memory NumPy baseline (arrays read into RAM first)."
    from brats_repro.h5 import PackedFile
    from brats_repro.brats import labels_to_regions
    from brats_repro.loader import crop_window
    with PackedFile(path) as pf: cases = [pf.read(s) for s in pf.ids]
    rng = np.random.default_rng(seed)

    def one(k):
        c = cases[k % len(cases)]
        st = crop_window(c.image.shape[1:], CROP, rng)   # negative where the volume is smaller: pad
        src = tuple(slice(max(a, 0), min(a + s, d)) for a, s, d in zip(st, CROP, c.image.shape[1:]))
        dst = tuple(slice(x.start - a, x.stop - a) for x, a in zip(src, st))
        img = np.zeros((4,) + CROP, np.float32)
        img[(slice(None),) + dst] = c.image[(slice(None),) + src]
        if not aug: return img
        axes = [a for a in range(3) if rng.random() < 0.5]
        scale, shift = rng.uniform(0.9, 1.1, 4).astype(np.float32), rng.uniform(-0.1, 0.1, 4).astype(np.float32)
        img = np.flip(img, [a + 1 for a in axes]) * scale[:, None, None, None] + shift[:, None, None, None]
        tgt = np.zeros((3,) + CROP, bool)
        tgt[(slice(None),) + dst] = labels_to_regions(c.label[src], int(c.meta["et_label"]))
        return img, np.flip(tgt, [a + 1 for a in axes]).astype(np.float32)

    for k in range(3): one(k)
    t0 = time.perf_counter()
    for k in range(n): one(k)
    return dict(rate=n / (time.perf_counter() - t0), mem={"main": proc_mem()})


def loader_rate(path: str, n: int, workers: int, seed: int = 0, reuse_buffers: bool = True) -> dict:
    "Crops/s through H5CropDataset + make_loader (training mode, paper augmentation)."
    from brats_repro.loader import H5CropDataset, make_loader
    ds = H5CropDataset(path, crop_size=CROP, seed=seed)
    dl = make_loader(ds, batch_size=1, num_workers=workers, reuse_buffers=reuse_buffers)
    it, done = iter(dl), 0
    for _ in range(min(4, len(dl))): next(it); done += 1  # start the workers, map the file
    t0, got = time.perf_counter(), 0
    while got < n:
        for img, tgt in it:
            assert img.shape == (1, 4) + CROP and tgt.shape == (1, 3) + CROP
            got += 1
            if got == n: break
        else: it = iter(dl); continue
        break
    rate = n / (time.perf_counter() - t0)
    mem = {"main": proc_mem()}
    if workers:
        for w in dl._iterator._workers: mem[f"worker{w.pid}"] = proc_mem(w.pid)
    return dict(rate=rate, mem=mem)


def run_one(kind: str, path: str, n: int) -> dict:
    "Measure one configuration in a fresh Python process; returns its JSON result."
    r = run_json([__file__, "--one", kind, path, n])
    if "error" in r: raise RuntimeError(f"{kind}: {r['error']}")
    return r


def total(mem: dict, key: str) -> float:
    return sum(m.get(key, 0) for m in mem.values())


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, nargs="+", default=[5, 20])
    ap.add_argument("--crops", type=int, default=200)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--pool-ablation", action="store_true", help="also time 2 workers without the buffer pool")
    ap.add_argument("--one", nargs=3, help=argparse.SUPPRESS)
    ap.add_argument("--data", default=str(OUT / "loader_data"))
    a = ap.parse_args()
    if a.one:
        kind, path, n = a.one
        n = int(n)
        r = (numpy_rate(path, n, aug=kind == "numpy_aug") if kind.startswith("numpy")
             else loader_rate(path, n, workers=int(kind[9]), reuse_buffers=not kind.endswith("nopool")))
        print(json.dumps(r)); return
    root = Path(a.data); root.mkdir(parents=True, exist_ok=True)
    kinds = ["numpy_bare", "numpy_aug", "loader_nw0", "loader_nw2"] + (["loader_nw2_nopool"] if a.pool_ablation else [])
    rows = []
    for nc in a.cases:
        t0 = time.time(); path = make_packed(root, nc)
        print(f"{nc} cases: {path} ({path.stat().st_size / 2**20:.0f} MB, ready in {time.time() - t0:.0f} s)", file=sys.stderr)
        subprocess.run(["cat", str(path)], stdout=subprocess.DEVNULL, check=True)  # warm the page cache
        best = {}
        for rep in range(a.repeats):  # interleaved repeats, best rate kept: the machine may be shared
            for kind in kinds:
                r = run_one(kind, str(path), a.crops)
                print(f"  {kind}: {r['rate']:.1f} crops/s", file=sys.stderr)
                if kind not in best or r["rate"] > best[kind]["rate"]: best[kind] = dict(r, rates=best.get(kind, {}).get("rates", []))
                best[kind]["rates"].append(r["rate"])
        for kind in kinds:
            r = best[kind]
            rows.append(dict(cases=nc, kind=kind, rate=r["rate"], rates=r["rates"], n_procs=len(r["mem"]),
                             peak_rss_mb=total(r["mem"], "peak_rss"), anon_mb=total(r["mem"], "anon"),
                             file_mb=total(r["mem"], "file"), shmem_mb=total(r["mem"], "shmem"), mem=r["mem"]))
    for r in rows:
        base = {k: x["rate"] for x in rows if x["cases"] == r["cases"] for k in [x["kind"]]}
        r["x_numpy_aug"], r["x_numpy_bare"] = r["rate"] / base["numpy_aug"], r["rate"] / base["numpy_bare"]
    res = dict(bench="loader", crop=CROP, crops_per_rate=a.crops, cpu=platform.processor() or platform.machine(),
               cpus=os.cpu_count(), loadavg=os.getloadavg(), command=" ".join(["python", "bench/bench_loader.py"] + sys.argv[1:]), rows=rows)
    OUT.mkdir(exist_ok=True)
    (OUT / "bench_loader.json").write_text(json.dumps(res, indent=1))
    print(markdown_table(
        ["cases", "path", "crops/s", "x numpy+aug", "x numpy bare", "peak RSS MB (sum)", "anon MB", "file MB", "shmem MB"],
        [[r["cases"], r["kind"], f"{r['rate']:.1f}", f"{r['x_numpy_aug']:.2f}", f"{r['x_numpy_bare']:.2f}",
          f"{r['peak_rss_mb']:.0f}", f"{r['anon_mb']:.0f}", f"{r['file_mb']:.0f}", f"{r['shmem_mb']:.0f}"] for r in rows]))


if __name__ == "__main__":
    main()
