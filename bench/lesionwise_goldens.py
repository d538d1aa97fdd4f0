"""Golden values for the lesion-wise scoring: the official BraTS evaluation package run on `lesionwise.stress_cases`.

The package is not a dependency of brats_repro (AGPL-3.0 metadata, numpy<2.3 pin). Install it in a throwaway venv
and run this script with that venv's Python, from the repository root:

    python -m venv /tmp/ev && /tmp/ev/bin/pip install brats-evaluation
    PYTHONPATH=. /tmp/ev/bin/python bench/lesionwise_goldens.py        # writes nbs/fixtures/lesionwise_goldens.json

Each case is written as two 1 mm NIfTI files and scored with `evaluate_single_exam`, the way BraTS users run the
package; `parse_seg_results` then writes the leaderboard CSV (with one missing case), which is stored too.
"""
from __future__ import annotations
import csv, json, sys, tempfile
from importlib.metadata import version
from pathlib import Path
import numpy as np
import nibabel as nib
from brats_repro.lesionwise import stress_cases

FIXTURE = Path(__file__).resolve().parent.parent / "nbs" / "fixtures" / "lesionwise_goldens.json"
REGION = {"wt": "WT", "tc": "TC", "et": "ET"}
KEYS = {"tp": "tp", "fp": "fp", "fn": "fn", "prec": "precision", "rec": "recall", "rq": "f1",
        "sq_dsc": "lesionwise_dice", "sq_dsc_std": "lesionwise_dice_std", "sq_hd95": "lesionwise_hd95",
        "sq_hd95_std": "lesionwise_hd95_std", "sq_nsd": "lesionwise_nsd", "sq_nsd_std": "lesionwise_nsd_std",
        "global_bin_dsc": "global_dice", "global_bin_hd95": "global_hd95", "global_bin_nsd": "global_nsd"}

def _evaluator():
    "The package's evaluator with its `gli` configuration (the BraTS 2023+ glioma regions)."
    from panoptica import Panoptica_Evaluator
    from brats_evaluation.evaluation import files
    return Panoptica_Evaluator.load_from_config(str(files("brats_evaluation").joinpath("configs", "config_gli.yaml")))

def _save(path:Path, labels:np.ndarray) -> str:
    "Write a 1 mm NIfTI label map; its path as a string."
    nib.save(nib.Nifti1Image(labels.astype(np.uint8), np.eye(4)), str(path))
    return str(path)

def official_raw(cases:dict) -> dict:
    "`{name: the package's result dict}` for `{name: (prediction, reference)}` label maps in 2023 labels."
    from brats_evaluation.evaluation import evaluate_single_exam
    ev, out = _evaluator(), {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, (pred, ref) in cases.items():
            res = evaluate_single_exam(_save(Path(tmp) / f"{name}_pred.nii.gz", pred),
                                       _save(Path(tmp) / f"{name}_ref.nii.gz", ref), name, ev)
            if "error" in res: raise RuntimeError(f"{name}: the package failed: {res['error']}")
            out[name] = res
    return out

def to_ours(res:dict) -> dict:
    "One case's package result as `lesionwise_case` keys (`tp_WT`, `lesionwise_dice_ET`, ...); absent → NaN."
    return {f"{ours}_{R}": float(res[g].get(theirs, np.nan)) for g, R in REGION.items() for theirs, ours in KEYS.items()}

def official_scores(cases:dict) -> dict:
    "`{name: scores}` computed by the official package, keyed like `lesionwise_case`."
    return {name: to_ours(res) for name, res in official_raw(cases).items()}

def leaderboard(raw:dict, missing:list[str]) -> list[dict]:
    "The package's leaderboard rows (`parse_seg_results`) for the results `raw` and the `missing` subjects."
    from brats_evaluation.metrics_parser import parse_seg_results
    keep = {n: {k: v for k, v in r.items() if k in (*REGION, "subject_name")} for n, r in raw.items()}
    with tempfile.TemporaryDirectory() as tmp:
        js, out = Path(tmp) / "s.json", Path(tmp) / "s.csv"
        js.write_text(json.dumps({"metrics": list(keep.values()), "missings": missing}, default=float))
        parse_seg_results(str(js), str(out))
        rows = list(csv.DictReader(out.open()))
    return [{k: (v if k == "subject_id" else float(v) if v != "" else np.nan) for k, v in r.items()} for r in rows]

def main():
    cases = stress_cases()
    raw = official_raw(cases)
    board = leaderboard(raw, ["missing_case"])
    golden = {"package": f"brats-evaluation {version('brats-evaluation')} (panoptica {version('panoptica')})",
              "cases": {n: to_ours(r) for n, r in raw.items()}, "leaderboard": board}
    FIXTURE.parent.mkdir(parents=True, exist_ok=True)
    FIXTURE.write_text(json.dumps(golden, indent=1) + "\n")
    print(f"{FIXTURE}: {len(cases)} cases, {len(board)} leaderboard rows, {golden['package']}", file=sys.stderr)

if __name__ == "__main__": main()
