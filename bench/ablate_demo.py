"""Which demo settings buy the held-out tumour-core Dice: the demo's data, several training configurations, each
scored on the 20 held-out test cases with and without 8-flip test-time augmentation.

Every variant trains a fixed number of steps (no wall-clock budget), so the scores do not depend on how busy the
machine is; the time column is the training wall time of this run. Test cases are grouped by what their truth
holds: high grade (enhancing tumour), low grade with a core that does not enhance, and oedema only (no core: the
BraTS rule gives Dice 1 for an empty prediction and 0 for any false positive). Results: bench/out/ablate_demo.md
and .json.

    python bench/ablate_demo.py                       # all variants, about 40 min on 2 cores
    python bench/ablate_demo.py --variants demo       # one
    nohup python bench/ablate_demo.py > bench/out/ablate_demo.log 2>&1 &
"""
from __future__ import annotations
import argparse, json, shutil, time
from pathlib import Path
import numpy as np
from brats_repro.data import find_cases, load_case
from brats_repro.demo import DemoData, make_demo_data, summary_of
from brats_repro.infer import predict_folder
from brats_repro.metrics import evaluate_folder
from brats_repro.config import TrainConfig
from brats_repro.train import train
from _common import markdown_table

VARIANTS = {  # name: overrides of the current 'demo' preset (which is Dice without smoothing + BCE, 48³, 7×150)
    "first demo: 64³, 6×90 steps, smoothed Dice": dict(crop_size=(64, 64, 64), epochs=6, steps_per_epoch=90, w_bce=0.0, dice_smooth=1.0),
    "48³, 7×150, smoothed Dice": dict(w_bce=0.0, dice_smooth=1.0),
    "48³, 7×150, smoothed Dice + BCE": dict(dice_smooth=1.0),
    "48³, 7×150, smoothed Dice + BCE, seed 1": dict(dice_smooth=1.0, seed=1),
    "demo: 48³, 7×150, Dice + BCE": {},
    "demo, seed 1": dict(seed=1),
}

def case_kind(case) -> str:
    "'HGG' (enhancing tumour), 'LGG core' (non-enhancing core only) or 'oedema only', from the case's truth."
    seg = load_case(case).seg
    if (seg == 4).any() or (seg == 3).any(): return "HGG"
    return "LGG core" if (seg == 1).any() else "oedema only"

def score(ckpt, test_dir, pred_dir, kinds:dict, tta:bool) -> dict:
    "Held-out means and tumour-core Dice per kind of case for one checkpoint."
    if pred_dir.exists(): shutil.rmtree(pred_dir)
    t = time.time()
    predict_folder(ckpt, test_dir, pred_dir, tta=tta, progress=False)
    t_pred = time.time() - t
    rows = evaluate_folder(pred_dir, test_dir, progress=False)
    out = summary_of(rows) | dict(predict_s=round(t_pred, 1))
    for k in ("HGG", "LGG core", "oedema only"):
        v = [r["dice_TC"] for r in rows if kinds[r["subject"]] == k]
        out[f"TC {k} (n={len(v)})"] = round(float(np.mean(v)), 3) if v else None
    return out

def markdown_table(results:dict) -> str:
    "The results as a markdown table, one row per variant and prediction mode."
    cols = ["dice_WT", "dice_TC", "dice_ET"] + [k for k in next(iter(results.values())) if k.startswith("TC ")]
    cols += ["steps", "train_min"]
    return markdown_table(["variant"] + cols, [[n] + [r[c] for c in cols] for n, r in results.items()]) + "\n"

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--variants", nargs="*", default=list(VARIANTS), help="names or unique prefixes")
    ap.add_argument("--data-dir", default="data/demo", help="demo data folder (made if missing)")
    ap.add_argument("--out", default="bench/out/ablate_demo")
    a = ap.parse_args()
    names = [v if v in VARIANTS else next(n for n in VARIANTS if n.startswith(v)) for v in a.variants]
    out = Path(a.out); out.mkdir(parents=True, exist_ok=True)
    _, test_dir, h5 = make_demo_data(a.data_dir, DemoData(), progress=False)
    kinds = {c.subject_id: case_kind(c) for c in find_cases(test_dir)}
    results_path = out.parent / "ablate_demo.json"   # earlier results are kept; a variant run again replaces its rows
    results = json.loads(results_path.read_text()) if results_path.is_file() else {}
    for i, name in enumerate(names):
        cfg = TrainConfig.preset("demo").update(**VARIANTS[name])
        run = out / f"run{i}"
        if run.exists(): shutil.rmtree(run)
        t = time.time()
        hist = train(h5, run, cfg, progress=False)
        train_min = (time.time() - t) / 60
        steps = sum(r["steps"] for r in hist)
        for tta in (False, True):
            s = score(run / "last.pt", test_dir, out / "pred", kinds, tta)
            results[f"{name}{' + TTA' if tta else ''}"] = s | dict(steps=steps, train_min=round(train_min, 2))
            print(name, "TTA" if tta else "", s, flush=True)
    order = [f"{n}{s}" for n in VARIANTS for s in ("", " + TTA")]
    results = {k: results[k] for k in sorted(results, key=lambda k: order.index(k) if k in order else len(order))}
    results_path.write_text(json.dumps(results, indent=1))
    table = markdown_table(results)
    (out.parent / "ablate_demo.md").write_text(table)
    print(table)

if __name__ == "__main__":
    main()
