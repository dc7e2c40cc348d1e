"""Cross-check of ``bench/nab.py`` against another implementation of NAB's scoring rules.

    python bench/nab_check.py DIR    # DIR holds nab_score.py (its class NAB(root))

Both score, for every profile, the detector's onsets on ``bench/realdata`` and ``MASKS`` random
detection sets (a random share of rows from one a day to one an hour, plus a few rows drawn
inside the windows so that early, late and repeated window detections all occur). Prints one
JSON line: the largest absolute difference of per-file raw scores, of normalised scores, and
whether windows found and detections outside windows agree everywhere. Not part of the test
suite (the other implementation is not in this repository); ``tests/bench/test_nab.py`` pins
hand-computed cases instead.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from bench import nab  # noqa: E402
from bench.detect_quality import REALDATA, real_spikes  # noqa: E402

MASKS = 200
SEED = 7


def reference(directory: Path) -> Any:
    spec = importlib.util.spec_from_file_location("nab_reference", directory / "nab_score.py")
    if spec is None or spec.loader is None:
        sys.exit(f"{directory}: no nab_score.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.NAB(str(REALDATA))


def random_masks(rng: np.random.Generator, files: list[nab.Labelled]) -> dict[str, np.ndarray]:
    masks = {}
    for f in files:
        rate = float(np.exp(rng.uniform(np.log(1 / 288), np.log(1 / 12))))
        mask = rng.random(f.rows) < rate
        for first, last in f.windows:
            if rng.random() < 0.7:
                picks = rng.integers(first, last + 1, size=int(rng.integers(1, 4)))
                mask[picks] = True
        masks[f.name] = mask
    return masks


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    other = reference(Path(sys.argv[1]))
    files = nab.load_corpus(REALDATA)
    rng = np.random.default_rng(SEED)
    cases = [{f.name: nab.onsets(real_spikes(REALDATA / "data" / f.name)) for f in files}]
    cases += [random_masks(rng, files) for _ in range(MASKS)]
    names = [f.name for f in files]
    raw_diff = norm_diff = 0.0
    counts_agree = True
    for case in cases:
        for profile_name, profile in nab.PROFILES.items():
            ours = nab.score_corpus(files, case, profile)
            theirs = other.score(case, profile_name, subset=names)
            norm_diff = max(norm_diff, abs(ours.normalized - theirs["normalized"]))
            per = theirs["per_file"].set_index("File")
            for s in ours.files:
                raw_diff = max(raw_diff, abs(s.raw - float(per.loc[s.name, "Score"])))
                counts_agree &= s.windows_found == int(per.loc[s.name, "windows_detected"])
                counts_agree &= s.detections_outside == int(per.loc[s.name, "FP"])
    print(
        json.dumps(
            {
                "cases": len(cases),
                "profiles": len(nab.PROFILES),
                "max_abs_diff_raw_per_file": raw_diff,
                "max_abs_diff_normalized": norm_diff,
                "windows_found_and_outside_counts_agree": counts_agree,
            }
        )
    )


if __name__ == "__main__":
    main()
