"""What the shipped generalist's own prediction modes cost: restore() seconds for the model alone at full size, with
rescale search, and with search and the classical blend (its defaults), on dsb2018 (the independent test image,
tiled to each size) at a light level where the blend leaves the model alone (3 photons) and one where it mixes
(100 photons), best of `--repeats` in this process after a warm-up.

    .venv/bin/python benchmarks/default_modes_benchmark.py [--sizes 512 1024 2048] [--repeats 2]

Results: benchmarks/results/default_modes.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from generalist_benchmark import RESULTS, SHIPPED  # noqa: E402
from precision_benchmark import machine  # noqa: E402

ARMS = {"model alone, full size": {"rescale": None, "classical_blend": False},
        "rescale search": {"rescale": "search", "classical_blend": False},
        "search + classical blend (the default)": {}}
LEVELS = (3.0, 100.0)


def noisy_image(size: int, photons: float) -> np.ndarray:
    from carekit.config import SynthConfig
    from carekit.data import builtin
    from carekit.synth.pairs import make_pairs

    (clean,), _ = builtin.clean_images("dsb2018", 2, None)
    tiled = np.tile(clean, (-(-size // clean.shape[0]), -(-size // clean.shape[1])))[:size, :size]
    return make_pairs([tiled.astype(np.float32)], SynthConfig(photons=[photons], seed=7))[0][0].astype(np.float32)


def timed(runner, image: np.ndarray, options: dict, repeats: int) -> tuple[float, object]:
    import warnings

    from carekit.predict import restore

    best, result = float("inf"), None
    for _ in range(repeats):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            started = time.perf_counter()
            result = restore(runner, image, axes="YX", progress=False, check_domain=False, **options)
            best = min(best, time.perf_counter() - started)
    return best, result


def main() -> None:
    from carekit.models import load_model

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[512, 1024, 2048])
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    runner = load_model(SHIPPED)
    timed(runner, noisy_image(256, 10.0), {}, 1)  # warm-up: the runtime's first call
    rows = []
    for size in args.sizes:
        for photons in LEVELS:
            image = noisy_image(size, photons)
            row = {"size": size, "photons": photons, "seconds": {}}
            for arm, options in ARMS.items():
                row["seconds"][arm], result = timed(runner, image, options, args.repeats)
            row["factor"], (blend,) = result.factor, result.classical_blend
            row["share"] = blend.share
            rows.append(row)
            print(json.dumps(row), flush=True)
    results = {"protocol": {"repeats": args.repeats, "machine": machine(), "load_average": os.getloadavg()},
               "rows": rows}
    (RESULTS / "default_modes.json").write_text(json.dumps(results, indent=1))
    lines = ["# What the shipped generalist's own modes cost", "",
             "restore() seconds (best of %d, after a warm-up) on dsb2018 tiled to each size; the factor search "
             "chose and the model's share in the blend (1: not mixed)." % args.repeats, "",
             "| size | photons | " + " | ".join(ARMS) + " | factor | share |",
             "| --- | --- | " + " | ".join("---" for _ in ARMS) + " | --- | --- |"]
    lines += [f"| {r['size']}² | {r['photons']:g} | " + " | ".join(f"{r['seconds'][a]:.1f}" for a in ARMS)
              + f" | {r['factor']:g} | {r['share']:g} |" for r in rows]
    text = "\n".join(lines) + f"\n\n{machine()}.\n"
    (RESULTS / "default_modes.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
