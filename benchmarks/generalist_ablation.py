"""What limits the generalist on unseen data: every generalist_benchmark.py run on one left-out dataset side by side.

    .venv/bin/python benchmarks/generalist_ablation.py [--dataset bbbc007 | --dataset all]

Reads the results of generalist_benchmark.py for each protocol and recipe variant (benchmarks/results/generalist*.json,
made with e.g. `generalist_benchmark.py --variant sharp --datasets bbbc007`) and tabulates and plots the left-out
model's margin over the best classical baseline on the dataset, per photon level. Runs that differ only by the seed
variant show the run-to-run spread that any other difference must exceed. Writes
benchmarks/results/generalist_ablation_DATASET.{md,png}. With --dataset all: one row per run and one column per
left-out dataset and photon level (runs that scored at least two datasets), as a table and a heat map
(generalist_ablation_all.{md,png}).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from generalist_benchmark import DEFAULT_PROTOCOL, network_words, variant_changes  # noqa: E402

RESULTS = HERE / "results"
LODO = "generalist without it (LODO)"


def runs(dataset: str) -> list[dict]:
    """One entry per benchmark result that scored `dataset`: its steps, filters, variants and margins per photon
    level."""
    found = []
    for path in sorted(RESULTS.glob("generalist*.json")):
        result = json.loads(path.read_text())
        protocol = result["protocol"]
        entries = [e for e in result["summary"] if e["dataset"] == dataset and LODO in e["models"]]
        if not entries:
            continue
        found.append({"result": path.stem, "steps": protocol["epochs"] * protocol["steps_per_epoch"],
                      "filters": protocol["unet_filters"], "variants": protocol["variants"],
                      "changes": variant_changes(tuple(protocol["variants"]))[0],
                      "margins": {e["photons"]: e["models"][LODO]["margin"] for e in entries}})
    return sorted(found, key=lambda r: (r["steps"], r["filters"], label(r)))


def label(run: dict) -> str:
    return f"{run['steps']} steps, {run['filters']} filters" + "".join(f", {v}" for v in run["variants"])


def markdown(dataset: str, found: list[dict]) -> str:
    photons = sorted({p for r in found for p in r["margins"]})
    lines = [f"# Generalist ablations: left-out {dataset}", "",
             f"Each row: a generalist_benchmark.py model trained without {dataset} (the recipe's network: "
             f"{network_words(DEFAULT_PROTOCOL[2])}, unless a variant or the filters say otherwise), margin in dB "
             f"of its mean PSNR over the best oracle-tuned classical baseline on {dataset}'s held-out images. Variant "
             "seed1 changes only the seeds: the run-to-run spread.",
             "", "| run | what the variant changes | " + " | ".join(f"margin, {p:g} photons" for p in photons) + " |",
             "| --- | --- | " + " | ".join("---" for _ in photons) + " |"]
    for r in found:
        cells = [f"{r['margins'][p]:+.2f}" if p in r["margins"] else "-" for p in photons]
        lines.append(f"| {label(r)} | {r['changes']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def figure(dataset: str, found: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")  # a script: owns the backend
    import matplotlib.pyplot as plt

    photons = sorted({p for r in found for p in r["margins"]})
    fig, axes = plt.subplots(1, len(photons), figsize=(5 * len(photons), 0.32 * len(found) + 1.2), sharey=True,
                             squeeze=False)
    axes = axes[0]
    for ax, p in zip(axes, photons):
        for row, r in enumerate(found):
            if p in r["margins"]:
                color = "tab:gray" if not r["variants"] or r["variants"] == ["seed1"] else "tab:blue"
                ax.plot(r["margins"][p], row, "o", color=color)
        ax.axvline(0, color="tab:red", ls="--", lw=1, label="best classical baseline")
        ax.axvline(1, color="tab:red", ls=":", lw=1, label="goal: +1 dB")
        ax.set(title=f"left-out {dataset}, {p:g} photons", xlabel="margin over the best baseline (dB)")
    axes[0].set_yticks(range(len(found)), [label(r) for r in found], fontsize=7)
    axes[0].invert_yaxis()
    axes[0].legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def all_datasets() -> tuple[list[tuple[str, float]], list[dict]]:
    """(cases: (dataset, photons) columns, runs that scored at least two datasets with their margins per case)."""
    from carekit.generalist import DATASETS

    per_dataset = {name: {r["result"]: r for r in runs(name)} for name in DATASETS}  # one result file per run
    results = list(dict.fromkeys(stem for name in DATASETS for stem in per_dataset[name]))
    cases = [(name, p) for name in DATASETS for p in sorted({p for r in per_dataset[name].values()
                                                            for p in r["margins"]})]
    found = []
    for stem in results:
        scored = {name: per_dataset[name][stem] for name in DATASETS if stem in per_dataset[name]}
        if len(scored) >= 2:
            first = next(iter(scored.values()))
            found.append({"label": label(first), "steps": first["steps"],
                          "margins": {(name, p): r["margins"][p] for name, r in scored.items() for p in r["margins"]}})
    return cases, sorted(found, key=lambda r: (r["steps"], r["label"]))


def markdown_all(cases: list, found: list[dict]) -> str:
    lines = ["# Generalist ablations: every left-out dataset", "",
             "Each row: generalist_benchmark.py runs of one protocol and recipe variants (the recipe's network: "
             f"{network_words(DEFAULT_PROTOCOL[2])}, unless a variant or the filters say otherwise) that scored at "
             "least two left-out datasets; each cell: margin in dB of the left-out model's mean PSNR over the best "
             "oracle-tuned classical baseline (bold: the goal, >= +1 dB). Variant seed1 changes only the seeds, bf16 "
             "only the arithmetic: both show the run-to-run spread. Mean margin: over all cases, or (in parentheses) "
             "over the cases a run scored, which do not compare with the full rows.", "",
             "| run | " + " | ".join(f"{d} {p:g} ph" for d, p in cases) + " | cases >= +1 dB | mean margin |",
             "| --- | " + " | ".join("---" for _ in cases) + " | --- | --- |"]
    for r in found:
        values = [r["margins"].get(c) for c in cases]
        cells = ["-" if v is None else f"**{v:+.2f}**" if v >= 1 else f"{v:+.2f}" for v in values]
        given = [v for v in values if v is not None]
        mean = f"{sum(given) / len(given):+.2f}"
        lines.append(f"| {r['label']} | " + " | ".join(cells) + f" | {sum(v >= 1 for v in given)} of {len(given)} | "
                     + (mean if len(given) == len(cases) else f"({mean})") + " |")
    return "\n".join(lines) + "\n"


def figure_all(cases: list, found: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")  # a script: owns the backend
    import matplotlib.pyplot as plt
    import numpy as np

    grid = np.array([[r["margins"].get(c, np.nan) for c in cases] for r in found])
    fig, ax = plt.subplots(figsize=(1.0 * len(cases) + 3.5, 0.36 * len(found) + 1.6))
    image = ax.imshow(grid, cmap="RdBu", vmin=-5, vmax=5, aspect="auto")
    for (row, col), value in np.ndenumerate(grid):
        if np.isfinite(value):
            ax.text(col, row, f"{value:+.1f}", ha="center", va="center", fontsize=7,
                    color="white" if abs(value) > 3.5 else "black", fontweight="bold" if value >= 1 else "normal")
    ax.set_xticks(range(len(cases)), [f"{d}\n{p:g} ph" for d, p in cases], fontsize=7)
    ax.set_yticks(range(len(found)), [r["label"] for r in found], fontsize=7)
    fig.colorbar(image, ax=ax, label="margin over the best baseline (dB); goal >= +1")
    ax.set_title("left-out generalist vs best classical baseline", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dataset", default="bbbc007")
    args = parser.parse_args()
    if args.dataset == "all":
        cases, found = all_datasets()
        stem = RESULTS / "generalist_ablation_all"
        stem.with_suffix(".md").write_text(markdown_all(cases, found))
        figure_all(cases, found, stem.with_suffix(".png"))
        print(stem.with_suffix(".md").read_text())
        return
    found = runs(args.dataset)
    stem = RESULTS / f"generalist_ablation_{args.dataset}"
    stem.with_suffix(".md").write_text(markdown(args.dataset, found))
    figure(args.dataset, found, stem.with_suffix(".png"))
    print(stem.with_suffix(".md").read_text())


if __name__ == "__main__":
    main()
