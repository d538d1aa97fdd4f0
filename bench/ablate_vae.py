r"""What the VAE branch buys: the paired ablation grid (arms x training-set sizes x seeds) of nbs/32_ablation.ipynb.

Each run is trained, predicts the held-out cases as `brats_repro predict` does by default (8-flip TTA, thresholds
0.5, no post-processing) and is scored with `metrics.evaluate_folder`; the code is `brats_repro.ablation.run_grid`.

Every run has its own folder, --out/runs/<arm>-n<size>-s<seed>/; a rerun skips finished runs and resumes an
interrupted one. --out/results.csv (one row per run) and --out/cases.csv (one row per held-out case) grow as runs
finish and are copied to --publish after each run (by default where the notebook's report reads them). Runs go
smallest size first, seeds in order, the arms of one (size, seed) together, so complete paired cells come early.
After the synthetic generator or the 'demo' preset changes, start a new --out: the data made there are reused
as long as their DemoData settings match, whatever generator made them, and an unfinished run would continue
under the new settings.

    # the synthetic grid on this CPU, in the background (3 arms × 4 sizes × 5 seeds = 60 runs)
    PYTHONPATH=. nohup nice -n 10 python bench/ablate_vae.py --out runs/ablation_vae > runs/ablation_vae.log 2>&1 &
    # a part of it: the two smallest sizes, three seeds
    PYTHONPATH=. nohup nice -n 10 python bench/ablate_vae.py --out runs/ablation_vae --sizes 4 8 --seeds 0 1 2 \
        > runs/ablation_vae.log 2>&1 &
    # real BraTS on one GPU, the paper's crop (50 held-out cases, the same for every seed)
    PYTHONPATH=. nohup python bench/ablate_vae.py --preset paper --data /data/MICCAI_BraTS_2018_Data_Training \
        --out runs/ablation_brats > runs/ablation_brats.log 2>&1 &
"""
from __future__ import annotations
import argparse
from brats_repro.ablation import ARMS, GRID_SETTINGS, run_grid
from brats_repro.brats import BratsError
from brats_repro.config import TrainConfig

PUBLISH = {"demo": "nbs/ablation", "paper": "nbs/ablation_brats"}   # what the notebook's report reads

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="\n".join(__doc__.splitlines()[12:]))
    ap.add_argument("--out", required=True, help="the grid's folder (outside git, or git-ignored like runs/)")
    ap.add_argument("--arms", nargs="+", default=list(ARMS), choices=list(ARMS), help="default: all three")
    ap.add_argument("--sizes", nargs="+", type=int, default=[4, 8, 16, 32], help="training-set sizes (first n cases)")
    ap.add_argument("--seeds", nargs="+", type=int, default=list(range(5)), help="default: 0 1 2 3 4")
    ap.add_argument("--preset", choices=list(GRID_SETTINGS), default="demo",
                    help="demo: synthetic data on a CPU; paper: real BraTS (--data) at 160x192x128 on one GPU")
    ap.add_argument("--data", help="a real BraTS training folder (with --preset paper)")
    ap.add_argument("--n-test", type=int, default=50, help="held-out cases of real data (default 50)")
    ap.add_argument("--epochs", type=int, help="override the preset's epochs (the same for every run)")
    ap.add_argument("--steps-per-epoch", type=int, help="override the preset's steps per epoch")
    ap.add_argument("--amp", help="override the preset's precision: 'auto', 'bf16', 'fp16' or 'none' (float32), as for "
                                  "`brats_repro train --amp`; to continue a grid in the precision its finished runs used")
    ap.add_argument("--publish", help="copy the CSVs there after each run (default: nbs/ablation for demo, "
                                      "nbs/ablation_brats for paper; 'none' to skip)")
    a = ap.parse_args()
    if (a.preset == "paper") != (a.data is not None): ap.error("--data goes with --preset paper, and only with it")
    overrides = {k: v for k, v in dict(epochs=a.epochs, steps_per_epoch=a.steps_per_epoch).items() if v is not None}
    if a.amp is not None: overrides["amp"] = a.amp
    try: TrainConfig.preset(a.preset).update(**overrides)   # the settings' own checks, before any data is made
    except BratsError as e: ap.error(str(e))
    dest = None if a.publish == "none" else a.publish or PUBLISH[a.preset]
    ran = run_grid(a.out, a.arms, a.sizes, a.seeds, a.preset, data_dir=a.data, n_test=a.n_test, overrides=overrides,
                   dest=dest, log=lambda line: print(line, flush=True))
    print(f"{len(ran)} runs done in this call; results in {a.out}/results.csv" + (f", copied to {dest}" if dest else ""))

if __name__ == "__main__":
    main()
