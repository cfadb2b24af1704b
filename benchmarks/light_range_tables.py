"""The tables of benchmarks/results/light_range.md (light_range_benchmark.py): PSNR margins per dataset and light
level, the out-of-range warnings against the losses, the classical blend, and the clean-input floor."""

from __future__ import annotations

import numpy as np

LEVELS = (3.0, 10.0, 30.0, 100.0)
RANGES = {"fine-tuned at 1-50 photons": (1.0, 50.0), "fine-tuned at 1-1000 photons": (1.0, 1000.0)}
SHIPPED_NAME = "shipped generalist"
BLENDED_NAME = "shipped generalist + classical blend"


def alternatives(rows: list[dict], apart: tuple[str, ...]) -> list[str]:
    """How many losses and wins other rules for less noise than in training would warn on."""
    from carekit.domain import TOLERANCE, TOLERANCE_BELOW

    low, previous, below = rows[0]["training_noise_low"], TOLERANCE["noise"], TOLERANCE_BELOW["noise"]
    rules = {f"the previous rule ({previous:g}x below, on the noise the network sees)":
             lambda s: s["noise"] < low / previous,
             f"{below:g}x below, on the noise the network sees": lambda s: s["noise"] < low / below,
             f"this rule ({below:g}x below, on the full-size noise)": lambda s: s["noise_full_size"] < low / below}
    judged = [r for r in rows if r["dataset"] not in apart]
    lost = [r for r in judged if r["models"][SHIPPED_NAME] < r["baseline_psnr"]]
    won = [r for r in judged if r not in lost]
    return [f"- {name}: {sum(rule(r['statistics']) for r in lost)} of {len(lost)} losses, "
            f"{sum(rule(r['statistics']) for r in won)} of {len(won)} wins" for name, rule in rules.items()]


def confusion(rows: list[dict], apart: tuple[str, ...]) -> list[str]:
    """The shipped generalist's out-of-range warnings (any OutOfRangeWarning) against its losses to the best
    baseline, the datasets `apart` left out."""
    cells = {(lost, warned): 0 for lost in (True, False) for warned in (True, False)}
    for row in rows:
        if row["dataset"] not in apart:
            cells[(row["models"][SHIPPED_NAME] < row["baseline_psnr"], bool(row["warnings"]))] += 1
    return ["", f"Every level, all datasets but {' and '.join(apart)}:", "",
            "| | warned | quiet |", "| --- | --- | --- |",
            f"| lost | {cells[(True, True)]} | {cells[(True, False)]} |",
            f"| won | {cells[(False, True)]} | {cells[(False, False)]} |"]


def warning_tables(rows: list[dict]) -> list[str]:
    """The confusion tables, also without the references that hold noise of their own (nuclei3d, a raw confocal
    plane; dsb2018), which no denoiser reproduces at high light."""
    lines = ["", "The shipped generalist's out-of-range warnings (restore() as carekit predicts, any "
             "OutOfRangeWarning) against its losses to the best baseline. The level for less noise than in "
             "training was chosen on these images.",
             *confusion(rows, ("nuclei3d",)), *confusion(rows, ("nuclei3d", "dsb2018"))]
    if "statistics" in rows[0]:
        lines += ["", "Noise of the references themselves (normalized units, as the statistic): " + ", ".join(
            f"{r['dataset']} {r['statistics']['reference_noise']:.3f}" for r in rows if r["photons"] == LEVELS[0])
            + "."]
        for apart in (("nuclei3d",), ("nuclei3d", "dsb2018")):
            lines += ["", f"Rules for less noise than in training alone, all datasets but {' and '.join(apart)} "
                      f"(training range from {rows[0]['training_noise_low']:.4f}):", "", *alternatives(rows, apart)]
    return lines


def blend_table(rows: list[dict]) -> list[str]:
    return ["", "The shipped generalist with `--classical-blend` (its rescale search; the share is the model's, 1: not "
            "mixed), SSIM without and with it, and the seconds restore() took with it:", "",
            "| dataset | photons | margin alone | margin blended | share | classical | SSIM alone -> blended | s |",
            "| --- | --- | --- | --- | --- | --- | --- | --- |",
            *(f"| {r['dataset']} | {r['photons']:g} | {r['models'][SHIPPED_NAME] - r['baseline_psnr']:+.2f} | "
              f"{r['models'][BLENDED_NAME] - r['baseline_psnr']:+.2f} | {r['blend']['share']:g} | "
              f"{r['blend']['classical']} | {r['blend']['ssim_model']:.3f} -> {r['blend']['ssim_blended']:.3f} | "
              f"{r['blend']['seconds']:g} |" for r in rows)]


def floor_table(rows: list[dict]) -> list[str]:
    return ["", "The shipped generalist given the clean reference as input (PSNR against it), and at 100 photons the "
            "share of its squared error left after a Gaussian blur of sigma 8 px (smooth, large-scale error):", "",
            "| dataset | clean input -> PSNR | smooth share of the error at 100 photons |", "| --- | --- | --- |",
            *(f"| {r['dataset']} | {r['clean_input_psnr']:.2f} | {r['smooth_error_share_100_photons']:.0%} |"
              for r in rows)]


def level_margins(rows: list[dict], name: str) -> dict[float, float]:
    """{photons: mean margin of model `name` over the best baseline} over the rows' datasets."""
    levels = sorted({r["photons"] for r in rows})
    return {level: float(np.mean([r["models"][name] - r["baseline_psnr"] for r in rows if r["photons"] == level]))
            for level in levels}


def markdown(rows: list[dict], steps: int) -> str:
    names = list(rows[0]["models"])
    kept = [name for name in RANGES if name not in names]
    lines = ["# The shipped generalist across light levels, and its training photon range", "",
             f"Mean PSNR in dB over the held-out images (margin over the best oracle-tuned baseline). Fine-tuned: "
             f"the shipped generalist trained {steps} more steps on generalist pairs of its own training images with "
             "that photon range (1-50 is the recipe's: the control). Each restores with rescale 'search' (the "
             "shipped generalist's own mode; a fine-tuned model records none)."
             + "".join(f" {name}: no epoch beat the shipped weights on validation, so it kept them (its scores are "
                       "the shipped model's)." for name in kept), "",
             "| dataset | photons | images | noisy | best baseline | " + " | ".join(names) + " |",
             "| --- | --- | --- | --- | --- | " + " | ".join("---" for _ in names) + " |"]
    for key in dict.fromkeys((r["dataset"], r["photons"]) for r in rows):
        group = [r for r in rows if (r["dataset"], r["photons"]) == key]
        base = np.array([r["baseline_psnr"] for r in group])
        cells = []
        for name in names:
            got = np.array([r["models"][name] for r in group])
            cells.append(f"{got.mean():.2f} ({(got - base).mean():+.2f})")
        lines.append(f"| {key[0]} | {key[1]:g} | {len(group)} | {np.mean([r['noisy'] for r in group]):.2f} | "
                     f"{base.mean():.2f} | " + " | ".join(cells) + " |")
    lines += ["", "Mean margin over the best baseline per light level (all datasets):", "",
              "| photons | " + " | ".join(names) + " |", "| --- | " + " | ".join("---" for _ in names) + " |"]
    margins = {n: level_margins(rows, n) for n in names}
    for photons in LEVELS:
        lines.append(f"| {photons:g} | " + " | ".join(f"{margins[n][photons]:+.2f}" for n in names) + " |")
    return "\n".join(lines + (warning_tables(rows) if "warnings" in rows[0] else [])) + "\n"
