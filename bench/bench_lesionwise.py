"""Time the official (lesion-wise) scoring of one 240×240×155 case: brats_repro.lesionwise against the official package.

    python -m venv /tmp/ev && /tmp/ev/bin/pip install brats-evaluation      # the package, in its own venv
    PYTHONPATH=. python bench/bench_lesionwise.py [--ev /tmp/ev/bin/python]

The case is a synthetic BraTS case (`synth.synth_case`, 2023 labels) with three satellite lesions added; the
prediction is the truth shifted by a voxel, its core eroded, one satellite missed and one false positive added.
Our time is `lesionwise_case` (three regions); the package's is its `evaluate` call on the same arrays, in a
subprocess after its imports and a warm-up run, for all six groups of its `gli` configuration and for WT, TC and
ET alone. Both give the same values (checked here). Best of 3 runs each.
"""
from __future__ import annotations
import argparse, json, subprocess, sys, tempfile, time
from pathlib import Path
import numpy as np
from scipy import ndimage
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import markdown_table
from brats_repro.brats import cpu_name
from brats_repro.synth import synth_case
from brats_repro.lesionwise import lesionwise_case, same_scores

OFFICIAL = r'''
import json, sys, time, numpy as np
sys.path.insert(0, sys.argv[2])
from lesionwise_goldens import _evaluator, to_ours
d = np.load(sys.argv[1]); pred, ref = d["pred"].T.copy(), d["ref"].T.copy()   # (z, y, x), as SimpleITK reads files
ev = _evaluator(); ev.evaluate(pred, ref)                                      # warm-up
def best(**kw):
    ts = []
    for _ in range(3):
        t0 = time.perf_counter(); res = ev.evaluate(pred, ref, **kw); ts.append(time.perf_counter() - t0)
    return min(ts), res
t_all, _ = best()
t_3, res = best(skip_groups=["netc", "snfh", "rc"])
scores = to_ours({g: r.to_dict() for g, r in res.items()})
print(json.dumps({"all_groups": t_all, "three_regions": t_3, "scores": scores}))
'''

def bench_case(seed:int=1) -> tuple[np.ndarray, np.ndarray]:
    "`(prediction, reference)`: a synthetic 240×240×155 case with satellites, and a flawed prediction of it."
    ref = synth_case(seed, et_label=3).seg.copy()
    centre = np.argwhere(ref > 0).mean(0).astype(int)
    for k, off in enumerate([(25, 0, 5), (-22, 18, -4), (5, -28, 8)]):        # three satellites beside the tumour
        c = centre + off
        ref[c[0] - 3:c[0] + 3, c[1] - 3:c[1] + 3, c[2] - 2:c[2] + 3] = 2 if k else 3
    pred = np.roll(ref, 1, axis=0)
    core = np.isin(pred, (1, 3)); pred[core & ~ndimage.binary_erosion(core)] = 2     # core one voxel too small
    c = centre + (-22, 18, -4); pred[c[0] - 4:c[0] + 4, c[1] - 4:c[1] + 4, c[2] - 3:c[2] + 4] = 0   # a missed lesion
    c = centre + (0, 30, -10); pred[c[0]:c[0] + 3, c[1]:c[1] + 3, c[2]:c[2] + 3] = 2              # a false positive
    return pred, ref

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ev", default="/tmp/ev/bin/python", help="the Python of a venv with brats-evaluation")
    args = ap.parse_args()
    pred, ref = bench_case()
    ts = []
    for _ in range(3):
        t0 = time.perf_counter(); ours = lesionwise_case(pred, ref); ts.append(time.perf_counter() - t0)
    with tempfile.TemporaryDirectory() as tmp:
        np.savez(Path(tmp) / "case.npz", pred=pred, ref=ref)
        p = subprocess.run([args.ev, "-c", OFFICIAL, str(Path(tmp) / "case.npz"), str(Path(__file__).parent)],
                           capture_output=True, text=True)
    if p.returncode: sys.exit(f"the official package failed: {(p.stderr.strip().splitlines() or ['?'])[-1]}")
    off = json.loads(p.stdout.strip().splitlines()[-1])
    diff = same_scores(ours, off["scores"])
    print(f"CPU: {cpu_name()}; lesions WT ref/pred: {ours['tp_WT'] + ours['fn_WT']}/{ours['tp_WT'] + ours['fp_WT']}; "
          f"values equal to the package's: {'yes' if not diff else 'NO: ' + ', '.join(diff)}")
    print(markdown_table(["scoring of one 240×240×155 case", "seconds", "ours faster by"],
                         [["brats_repro `lesionwise_case` (WT, TC, ET)", f"{min(ts):.3f}", ""],
                          ["package, WT, TC, ET (`skip_groups`)", f"{off['three_regions']:.3f}",
                           f"{off['three_regions'] / min(ts):.1f}×"],
                          ["package, all six `gli` groups", f"{off['all_groups']:.3f}",
                           f"{off['all_groups'] / min(ts):.1f}×"]]))

if __name__ == "__main__": main()
