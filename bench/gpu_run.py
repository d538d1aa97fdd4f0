"""One prepared GPU run that fills the notebooks' GPU figures and pictures, in under 8 minutes on one
modern GPU. It writes `gpu_run.json` (figures, each beside the hardware they came from) and PNG pictures into
`nbs/gpu_results/`, which the `#| gpu` cells of 12_model and 30_demo read.

    python bench/gpu_run.py                 # on a CUDA machine: the whole run
    python bench/gpu_run.py --smoke         # the same code path on the CPU with tiny shapes (< 1 minute); a test runs it

What it does:
1. the paper configuration (1×4×160×192×128, init_filters 32, VAE on): training-step time and peak GPU memory in fp32,
   bf16 and fp16 autocast, with and without activation checkpointing, bf16 with channels_last_3d; MONAI's
   SegResNetVAE beside it where MONAI is installed;
2. a short run of the paper recipe on full-size synthetic cases (learning curve), then whole-volume prediction with
   8-flip TTA of held-out cases, scored with the BraTS rules, with slice pictures of prediction against truth;
3. a DistributedDataParallel check when more than one GPU is present (skipped with a line otherwise).
"""
from __future__ import annotations
import argparse, json, os, platform, shutil, subprocess, sys, tempfile, time
from pathlib import Path
from _common import cpu_name, monai_segresnetvae, monai_loss

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "nbs" / "gpu_results"
PAPER_SHAPE, SMOKE_SHAPE = (160, 192, 128), (32, 32, 32)
STEP_CONFIGS = {  # name: (autocast dtype name or None, activation checkpointing, channels_last_3d)
    "fp32": (None, False, False), "fp32 + checkpoint": (None, True, False),
    "bf16": ("bf16", False, False), "bf16 + checkpoint": ("bf16", True, False),
    "bf16 + channels_last_3d": ("bf16", False, True), "fp16": ("fp16", False, False),
}


def hardware() -> dict:
    "GPU model(s), driver, torch, CUDA and cuDNN versions, and the CPU: recorded beside every figure."
    import torch
    hw = dict(torch=torch.__version__, cpu=cpu_name(), cpu_cores=os.cpu_count(), cuda=torch.version.cuda, cudnn=None, gpus=[], driver=None)
    if torch.cuda.is_available():
        hw["cudnn"] = torch.backends.cudnn.version()
        hw["gpus"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
        smi = shutil.which("nvidia-smi")
        if smi:
            q = subprocess.run([smi, "--query-gpu=driver_version,memory.total", "--format=csv,noheader"],
                               capture_output=True, text=True).stdout.strip().splitlines()
            hw["driver"], hw["gpu_memory"] = (q[0].split(", ") + [None])[:2] if q else (None, None)
    return hw


def _sync(device):
    import torch
    if device.type == "cuda": torch.cuda.synchronize(device)


def _peak_gib(device) -> float | None:
    import torch
    return round(torch.cuda.max_memory_allocated(device) / 2**30, 2) if device.type == "cuda" else None


def make_net(name: str, shape, init_filters: int, checkpoint: bool):
    "brats_repro's NvNet, or MONAI's SegResNetVAE in a comparable configuration (its forward gives (logits, vae loss))."
    if name.startswith("monai"): return monai_segresnetvae(shape, init_filters)
    from brats_repro.model import NvNet
    return NvNet(init_filters=init_filters, input_shape=shape, checkpoint=checkpoint)


def step_loss(name: str, out, image, target):
    "The paper's loss for NvNet; Dice on sigmoid(logits) + 0.1 × its own VAE loss for SegResNetVAE."
    if name.startswith("monai"): return monai_loss(out, image, target)
    from brats_repro.losses import NvNetLoss
    return NvNetLoss()(out, image, target)[0]


def time_step(name: str, config: tuple, device, shape, init_filters: int, repeats: int) -> dict:
    "Median seconds of one training step (forward, loss, backward, Adam) and the peak memory of `config`."
    import torch
    from brats_repro.precision import choose_precision, autocast
    amp, ck, cl = config
    torch.manual_seed(0)
    net = make_net(name, shape, init_filters, ck).to(device).train()
    prec = choose_precision(amp, device.type, channels_last=cl)
    if prec.channels_last: net = net.to(memory_format=torch.channels_last_3d)
    opt = torch.optim.Adam(net.parameters(), 1e-4)
    scaler = torch.amp.GradScaler(device.type, enabled=prec.dtype == torch.float16)
    image = torch.randn(1, 4, *shape, device=device)
    target = (torch.rand(1, 3, *shape, device=device) > 0.9).float()
    times = []
    if device.type == "cuda": torch.cuda.reset_peak_memory_stats(device)
    for i in range(repeats + 1):                     # the first step warms up (cuDNN autotuning, allocator)
        _sync(device); t = time.perf_counter()
        with autocast(device.type, prec.dtype):
            out = net(image)
        loss = step_loss(name, out, image, target)
        opt.zero_grad(set_to_none=True)
        scaler.scale(loss).backward(); scaler.step(opt); scaler.update()
        _sync(device)
        if i: times.append(time.perf_counter() - t)
    finite = bool(torch.isfinite(loss).item())
    return dict(config=name, step_s=round(sorted(times)[len(times) // 2], 3), peak_gib=_peak_gib(device),
                finite_loss=finite, params_m=round(sum(p.numel() for p in net.parameters()) / 1e6, 2),
                precision=prec.why)


def step_table(device, smoke: bool) -> list[dict]:
    "Every step configuration of the paper network (and MONAI's, where installed); an error is a row, not a crash."
    import torch
    shape, filters, repeats = (SMOKE_SHAPE, 8, 1) if smoke else (PAPER_SHAPE, 32, 3)
    names = list(STEP_CONFIGS) if device.type == "cuda" else ["fp32", "fp32 + checkpoint"]
    try:
        import monai  # noqa: F401
        names.append("monai SegResNetVAE fp32")
    except ImportError: print("MONAI is not installed: no SegResNetVAE comparison", flush=True)
    rows = []
    for name in names:
        config = STEP_CONFIGS.get(name, (None, False, False))
        try: rows.append(time_step(name, config, device, shape, filters, repeats))
        except torch.OutOfMemoryError: rows.append(dict(config=name, error="out of GPU memory"))
        except Exception as e: rows.append(dict(config=name, error=f"{type(e).__name__}: {str(e)[:200]}"))
        print("  step:", json.dumps(rows[-1]), flush=True)
        if device.type == "cuda": torch.cuda.empty_cache()
    return rows


def make_cases(work: Path, smoke: bool) -> tuple[Path, Path, Path]:
    "Synthetic training and held-out cases (full size on a GPU machine) and the packed training file."
    from brats_repro.synth import synth_dataset
    from brats_repro.h5 import pack_dataset
    shape, n_train, n_test = ((48, 48, 32), 3, 1) if smoke else ((240, 240, 155), 24, 6)
    workers = max(1, min(8, (os.cpu_count() or 2) - 1))
    train_dir, test_dir, h5 = work / "train", work / "test", work / "train.h5"
    synth_dataset(train_dir, n_train, seed=0, shape=shape, workers=workers, progress=False)
    synth_dataset(test_dir, n_test, seed=10_000, shape=shape, workers=workers, progress=False)
    pack_dataset(train_dir, h5, workers=workers, progress=False)
    return train_dir, test_dir, h5


def short_training(work: Path, device, smoke: bool, out: Path) -> dict:
    "The paper recipe for a few hundred steps, then 8-flip TTA prediction of the held-out cases, scored and drawn."
    from brats_repro.config import TrainConfig
    from brats_repro.train import train
    from brats_repro.runfolder import plot_history
    from brats_repro.infer import predict_folder
    from brats_repro.metrics import evaluate_folder, summarise
    from brats_repro.demo import draw_predictions
    t0 = time.perf_counter()
    _, test_dir, h5 = make_cases(work, smoke)
    t_data = time.perf_counter() - t0
    overrides = dict(epochs=2, steps_per_epoch=2, init_filters=8, crop_size=(32, 32, 32), num_workers=0) if smoke \
        else dict(epochs=10, steps_per_epoch=40, num_workers=4, amp="bf16")
    cfg = TrainConfig.preset("paper", device=device.type, val_fraction=0.15, tumour_p=0.5, **overrides)
    t1 = time.perf_counter()
    history = train(h5, work / "run", cfg, progress=False)
    t_train = time.perf_counter() - t1
    plot_history(history, out / "gpu_curves.png")
    t2 = time.perf_counter()
    predict_folder(work / "run" / "last.pt", test_dir, work / "pred", tta=True, progress=False, device=device.type)
    t_pred = time.perf_counter() - t2
    rows = evaluate_folder(work / "pred", test_dir, progress=False)
    mean = next(r for r in summarise(rows) if r["subject"] == "mean")
    pictures = [p.name for p in draw_predictions(test_dir, work / "pred", out, n=1 if smoke else 2)]
    return dict(config={k: v for k, v in cfg.__dict__.items() if k in overrides or k in ("lr", "batch_size")},
                steps=len(history) * cfg.steps_per_epoch, n_test=len(rows), data_s=round(t_data, 1),
                train_s=round(t_train, 1), predict_tta_s=round(t_pred, 1),
                held_out_mean={k: round(float(v), 4) for k, v in mean.items() if k != "subject"},
                history=history, pictures=["gpu_curves.png"] + pictures)


def ddp_check(work: Path, device) -> dict:
    "Two processes, one per GPU, train two steps with DistributedDataParallel (NCCL); skipped on fewer GPUs."
    import torch
    n = torch.cuda.device_count() if device.type == "cuda" else 0
    if n < 2: return dict(skipped=f"{n} GPU(s): the DDP check needs at least 2")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "-m", "brats_repro.cli", "train",
           str(work / "train.h5"), "--out", str(work / "ddp"), "--preset", "paper", "--epochs", "1",
           "--steps-per-epoch", "2", "--num-workers", "0"]
    t = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True)
    return dict(returncode=p.returncode, wall_s=round(time.perf_counter() - t, 1),
                tail=(p.stdout + p.stderr).strip().splitlines()[-3:])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--smoke", action="store_true", help="CPU, tiny shapes, same code path (< 1 minute)")
    ap.add_argument("--out", default=str(RESULTS), help="folder for gpu_run.json and the pictures")
    args = ap.parse_args(argv)
    import torch
    if not args.smoke and not torch.cuda.is_available():
        print("no CUDA device: run with --smoke for the CPU check, or on a machine with a GPU"); return 2
    device = torch.device("cpu" if args.smoke else "cuda")
    out = Path(args.out); out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    result = dict(smoke=args.smoke, date=time.strftime("%Y-%m-%d %H:%M"), hardware=hardware(),
                  command=" ".join(["python", "bench/gpu_run.py", *(argv or sys.argv[1:])]))
    print("hardware:", json.dumps(result["hardware"]), flush=True)
    result["steps"] = step_table(device, args.smoke)
    with tempfile.TemporaryDirectory(prefix="brats_gpu_run_") as work:
        result["training"] = short_training(Path(work), device, args.smoke, out)
        print("training:", json.dumps({k: v for k, v in result["training"].items() if k != "history"}), flush=True)
        result["ddp"] = ddp_check(Path(work), device)
        print("ddp:", json.dumps(result["ddp"]), flush=True)
    result["wall_s"] = round(time.perf_counter() - t0, 1)
    (out / "gpu_run.json").write_text(json.dumps(result, indent=1, default=str))
    print(f"wrote {out / 'gpu_run.json'} in {result['wall_s']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
