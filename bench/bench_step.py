"""One NvNet training step (forward, loss, backward) at the paper's size on CPU: wall time and peak memory.

Each configuration runs in its own subprocess, so that its peak resident memory (VmHWM, read by the child at the
end of its step) belongs to it alone. Results: bench/out/bench_step.json and bench/out/bench_step.md.

    python bench/bench_step.py                                   # paper size, all configurations (~10-20 min)
    python bench/bench_step.py --shape 64 64 48 --init-filters 8  # a quick look
    nohup python bench/bench_step.py > bench/out/bench_step.log 2>&1 &

MONAI's SegResNetVAE runs side by side in a comparable configuration when `monai` is importable (skipped with
a message otherwise).
"""
from __future__ import annotations
import argparse, json, os, platform, resource, sys, time
from pathlib import Path
from _common import OUT, proc_mem, run_json, markdown_table, monai_segresnetvae, monai_loss

CONFIGS = {  # name: (autocast bf16, checkpointing, channels_last_3d)
    "fp32": (False, False, False),
    "fp32 + checkpoint": (False, True, False),
    "bf16": (True, False, False),
    "bf16 + checkpoint": (True, True, False),
    "bf16 + checkpoint + channels_last_3d": (True, True, True),
}

def make_loss():
    "brats_repro.losses.NvNetLoss, as a function returning the total."
    from brats_repro.losses import NvNetLoss
    loss = NvNetLoss()
    return lambda out, image, target: loss(out, image, target)[0], "brats_repro.losses.NvNetLoss"

def child(name:str, shape, init_filters:int, seed:int=0) -> dict:
    "Build the model, run one training step, return the measurements (runs in a fresh process)."
    import torch
    torch.manual_seed(seed)
    image = torch.randn(1, 4, *shape)
    target = (torch.rand(1, 3, *shape) > 0.9).float()
    if name.startswith("monai"):
        model = monai_segresnetvae(shape, init_filters)
        loss_fn, loss_name, (ac, ck, cl) = monai_loss, "Dice(sigmoid) + 0.1 MONAI vae_loss", (name.endswith("bf16"), False, False)
    else:
        from brats_repro.model import NvNet
        ac, ck, cl = CONFIGS[name]
        model = NvNet(init_filters=init_filters, input_shape=shape, checkpoint=ck)
        loss_fn, loss_name = make_loss()
    if cl: model = model.to(memory_format=torch.channels_last_3d)
    model.train()
    n_params = sum(p.numel() for p in model.parameters())
    rss_before = proc_mem()["rss"] / 1024
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=ac):
        out = model(image)
    t_fwd = time.perf_counter() - t0
    loss = loss_fn(out, image, target)
    loss.backward()
    t_step = time.perf_counter() - t0
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu_s = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    grads_ok = all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters() if p.requires_grad)
    return dict(config=name, shape=list(shape), init_filters=init_filters, params=n_params, loss=loss_name,
                loss_value=float(loss), finite_grads=bool(grads_ok), forward_s=round(t_fwd, 2), step_s=round(t_step, 2),
                cpu_s=round(cpu_s, 1), load_avg=os.getloadavg()[0],
                rss_before_gib=round(rss_before, 2), peak_rss_gib=round(proc_mem()["peak_rss"] / 1024, 2),
                torch=torch.__version__,
                threads=torch.get_num_threads())

def run_child(name, args) -> dict:
    "Run one configuration in a subprocess; its JSON result (or the error)."
    t = time.perf_counter()
    r = run_json([__file__, "--child", name, "--shape", *args.shape, "--init-filters", args.init_filters])
    return r if "error" not in r else dict(config=name, error=r["error"], wall_s=round(time.perf_counter() - t, 1))

def markdown(rows, base="fp32") -> str:
    "A markdown table of the results, with time and memory relative to the plain fp32 step."
    ref = next((r for r in rows if r.get("config") == base and "error" not in r), None)
    header = ["configuration", "params", "step wall (s)", "step CPU (s)", "forward wall (s)", "peak RSS (GiB)",
              "wall vs fp32", "CPU vs fp32", "memory vs fp32"]
    cells = []
    for r in rows:
        if "error" in r: cells.append([r["config"], "–", f"failed: {r['error'][:80]}"] + [""] * 6); continue
        rel = [f"{r['step_s'] / ref['step_s']:.2f}×", f"{r['cpu_s'] / ref['cpu_s']:.2f}×",
               f"{r['peak_rss_gib'] / ref['peak_rss_gib']:.0%}"] if ref else ["–", "–", "–"]
        cells.append([r["config"], f"{r['params'] / 1e6:.2f} M", f"{r['step_s']:.1f}", f"{r['cpu_s']:.1f}",
                      f"{r['forward_s']:.1f}", f"{r['peak_rss_gib']:.2f}", *rel])
    return markdown_table(header, cells)

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shape", type=int, nargs=3, default=[160, 192, 128])
    ap.add_argument("--init-filters", type=int, default=32)
    ap.add_argument("--configs", nargs="*", default=list(CONFIGS), help="subset of: " + ", ".join(CONFIGS))
    ap.add_argument("--no-monai", action="store_true")
    ap.add_argument("--out", default=str(OUT))
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.child, tuple(args.shape), args.init_filters))); return
    names = list(args.configs)
    if not args.no_monai:
        try:
            import monai  # noqa: F401
            names.append("monai SegResNetVAE fp32")
        except ImportError:
            print("monai is not installed: skipping the SegResNetVAE comparison", flush=True)
    out = Path(args.out); out.mkdir(parents=True, exist_ok=True)
    meta = dict(command=" ".join(["python", *sys.argv]), machine=platform.platform(),
                cpus=os.cpu_count(), date=time.strftime("%Y-%m-%d %H:%M"))
    stem = "bench_step" if args.shape == [160, 192, 128] and args.init_filters == 32 else \
           f"bench_step_{'x'.join(map(str, args.shape))}_f{args.init_filters}"
    rows = []
    for name in names:
        print(f"running {name} at {args.shape} ...", flush=True)
        rows.append(run_child(name, args))
        print("  ", json.dumps(rows[-1]), flush=True)
        (out / f"{stem}.json").write_text(json.dumps(dict(meta=meta, results=rows), indent=1))  # after each, so a
        md = f"One training step (forward, loss, backward), batch 1, input 4×{'×'.join(map(str, args.shape))}, " \
             f"init_filters {args.init_filters}, CPU ({meta['cpus']} cores), {meta['date']}.\n\n" + markdown(rows)
        (out / f"{stem}.md").write_text(md + "\n")                                          # partial run counts
    print(md)

if __name__ == "__main__":
    main()
