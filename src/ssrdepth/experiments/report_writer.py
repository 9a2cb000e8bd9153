"""Write the report folder of ``reproduce`` / ``demo`` from the results dict and figure arrays.

Files: ``report.md`` (tables like the paper's, ours beside the published numbers, under their protocol
names; the standard set; ranking agreement; models, time, machine; figures), ``results.json`` (every
number), ``table<N>-<protocol>.csv``, ``fig12_qualitative.png``, ``fig13_kitti_gray_vs_colour.png``,
``fig14_nyu_gray_vs_colour.png`` and ``training_curves.png`` (those whose runs exist).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ssrdepth.core.io import write_json, write_text
from ssrdepth.evaluation.metrics import LABELS
from ssrdepth.experiments.paper_results import INCONSISTENCIES, PAPER_MEASURES, TABLES
from ssrdepth.experiments.report import (
    comparison_table,
    format_duration,
    gray_colour_figure,
    qualitative_figure,
    ranking_agreement,
    training_curves_figure,
)

PAPER_KEYS = dict(zip(PAPER_MEASURES, ("rmse", "mse", "ard", "lrmse", "lrmse_si", "srd"), strict=True))
STANDARD_KEYS = ("abs_rel", "sq_rel", "rmse", "rmse_log", "silog", "log10", "delta1", "delta2", "delta3")
PROTOCOL_TEXT = {
    "paper": "the paper's six measures exactly as printed (eqs. 2–7; ARD and SRD divide by the prediction, "
    "LRMSE-SI has no scale-invariant term), normalised [0, 1] maps, all pixels, ε = 1e-3, per-image mean",
    "normalised": "the standard set (Eigen et al. 2014) on the normalised [0, 1] maps, valid target pixels "
    "(> 1e-3), per-image mean",
    "kitti": "the standard set in metres against true depth (lidar / exact synthetic depth), Garg crop, "
    "1e-3–80 m, per-image mean",
    "kitti-eigen": "the standard set in metres against true depth, Eigen crop, 1e-3–80 m, per-image mean",
    "kitti-full": "the standard set in metres against dense true depth (exact synthetic depth), the whole "
    "image (no crop), 1e-3–80 m, per-image mean",
    "nyu": "the standard set in metres against the NYU depth, Eigen crop, 1e-3–10 m, per-image mean",
}
TITLES = {
    "1": "Table 1 — KITTI-like stereo, 147×37 grayscale, {models}",
    "2": "Table 2 — improved SCRX, 310×94, grayscale vs colour",
    "3": "Table 3 — improved SCRX on NYU Depth v2, 320×240, grayscale vs colour",
}


def table_title(table: str, models: list[str]) -> str:
    """A table's heading, naming the models that ran (Table 1: "all six models" only when all did)."""
    from ssrdepth.models import list_models

    every = list(list_models())
    ran = [m for m in every if m in models] + [m for m in models if m not in every]
    which = "all six models" if ran == every else f"{len(ran)} of the six models ({', '.join(ran)})"
    return TITLES[table].format(models=which)


def _mean_run(runs: list[Mapping[str, Any]]) -> dict[str, Any]:
    """One column from its seeds: every metric averaged, its sample std beside it (``"std"``)."""
    first = dict(runs[0])
    if len(runs) == 1:
        return first
    merged: dict[str, Any] = {}
    for proto, r in runs[0]["results"].items():
        if "metrics" not in r:
            merged[proto] = r
            continue
        per = [run["results"].get(proto, {}).get("metrics", {}) for run in runs]
        keys = [k for k in r["metrics"] if all(k in m for m in per)]
        merged[proto] = {
            **r,
            "metrics": {k: float(np.mean([m[k] for m in per])) for k in keys},
            "std": {k: float(np.std([m[k] for m in per], ddof=1)) for k in keys},
            "seeds": len(runs),
        }
    first["results"] = merged
    return first


def _runs_of(results: Mapping[str, Any], table: str) -> dict[str, dict[str, Any]]:
    """Table ``table``'s columns; a column trained with several seeds is their mean."""
    by_column: dict[str, list[Mapping[str, Any]]] = {}
    for r in results["runs"].values():
        if r["table"] == table:
            by_column.setdefault(r["column"], []).append(r)
    return {col: _mean_run(rs) for col, rs in by_column.items()}


def _with_baselines(
    runs: Mapping[str, Mapping[str, Any]], baselines: Mapping[str, Mapping[str, Any]]
) -> dict[str, Mapping[str, Any]]:
    """The table's columns followed by the baselines' (same shape: ``{"results": {protocol: ...}}``)."""
    return {**runs, **{name: {"results": per} for name, per in baselines.items()}}


def _values(
    run: Mapping[str, Any], protocol: str, keys: Mapping[str, str] | tuple[str, ...]
) -> dict[str, float]:
    metrics = run["results"].get(protocol, {}).get("metrics", {})
    if isinstance(keys, Mapping):
        return {label: float(metrics[k]) for label, k in keys.items() if k in metrics}
    return {LABELS.get(k, k): float(metrics[k]) for k in keys if k in metrics}


def _counts(runs: Mapping[str, Mapping[str, Any]], protocol: str) -> str:
    parts = []
    for col, run in runs.items():
        r = run["results"].get(protocol, {})
        if "images" in r:
            parts.append(f"{col}: {r['images']} images, {r['valid_pixels']:,} valid pixels")
        elif "error" in r:
            parts.append(f"{col}: not evaluated ({r['error']})")
    return "; ".join(parts)


def _csv(rows: list[str], table: Mapping[str, Mapping[str, float]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf)
    cols = list(table)
    w.writerow(["measure", *cols])
    for m in rows:
        w.writerow([m, *[table[c].get(m, "") for c in cols]])
    return buf.getvalue()


def _protocol_section(
    report: Path, table: str, runs: Mapping[str, Mapping[str, Any]], protocol: str, paper: Any
) -> list[str]:
    if protocol == "paper":
        ours = {col: _values(run, protocol, PAPER_KEYS) for col, run in runs.items()}
        measures = list(PAPER_MEASURES)
    else:
        ours = {col: _values(run, protocol, STANDARD_KEYS) for col, run in runs.items()}
        measures = [LABELS[k] for k in STANDARD_KEYS]
    if not any(ours.values()):
        counts = _counts(runs, protocol)
        return [f"#### Protocol `{protocol}`\n", f"Not evaluated: {counts or 'no run has this protocol'}.\n"]
    write_text(report / f"table{table}-{protocol}.csv", _csv(measures, ours))
    out = [
        f"#### Protocol `{protocol}` — {PROTOCOL_TEXT.get(protocol, protocol)}\n",
        f"{_counts(runs, protocol)}.\n",
        comparison_table(measures, ours, paper if protocol == "paper" else None),
    ]
    return out


def _ranking_section(runs: Mapping[str, Mapping[str, Any]]) -> tuple[list[str], dict[str, Any]]:
    paper = TABLES["table1"]
    lines = ["#### How far our ranking of the six models agrees with the paper's Table 1\n"]
    agreement: dict[str, Any] = {}
    rows = [
        "| measure | our order (best first) | paper's order | Kendall τ | Spearman ρ | same best |",
        "|---|---|---|---:|---:|---|",
    ]
    for label, key in PAPER_KEYS.items():
        ours = {c: r["results"].get("paper", {}).get("metrics", {}).get(key) for c, r in runs.items()}
        ours_f = {c: float(v) for c, v in ours.items() if v is not None}
        ref = {c: paper[c][label] for c in ours_f if c in paper}
        if len(ref) < 2:
            continue
        a = ranking_agreement(ours_f, ref)
        agreement[label] = a
        rows.append(
            f"| {label} | {' < '.join(a['ours'])} | {' < '.join(a['paper'])} | {a['kendall_tau']:.2f} "
            f"| {a['spearman_rho']:.2f} | {'yes' if a['same_best'] else 'no'} |"
        )
    if not agreement:
        return [], {}
    lines.append("\n".join(rows) + "\n")
    if "RMSE" in agreement:
        a = agreement["RMSE"]
        lines.append(
            f"By RMSE, {a['concordant_pairs']} of {a['pairs']} model pairs are ordered as in the paper "
            f"(Kendall τ = {a['kendall_tau']:.2f}); the best model is {a['ours'][0]} here and "
            f"{a['paper'][0]} in the paper.\n"
        )
    return lines, agreement


BASELINE_TEXT = (
    "Baselines beside the networks: **constant** = the median of the training split's valid targets "
    "everywhere; **row prior** = the per-row median of the training split's valid targets (depth in a "
    "street scene depends mostly on the image row). A network that does not beat the row prior has "
    "not learnt to see depth from the image.\n"
)
#: Seed-noise rule of the seed section: a pairwise order is "outside the seed noise" when the
#: difference of the means exceeds two standard errors of that difference (≈ 95 % for normal noise).
NOISE_SE = 2.0


def seed_noise(std_a: float, std_b: float, seeds: int) -> float:
    """The seed-noise threshold of a difference of two means over ``seeds`` seeds each:
    :data:`NOISE_SE` standard errors of the difference, ``NOISE_SE · √((s_a² + s_b²) / n)``."""
    return NOISE_SE * float(np.sqrt((std_a**2 + std_b**2) / seeds))


def _metric_protocol(runs: Mapping[str, Mapping[str, Any]]) -> tuple[str, tuple[str, ...]]:
    for proto in ("kitti", "kitti-eigen", "nyu"):
        if any("std" in r["results"].get(proto, {}) for r in runs.values()):
            return proto, ("rmse", "abs_rel", "delta1")
    return "paper", ("rmse", "ard")


def seed_section(runs: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Table 1 over seeds: mean ± std per model, and every pairwise order by RMSE with whether it is
    outside the seed noise (difference > :data:`NOISE_SE` standard errors) and whether the paper
    orders the pair the same way."""
    proto, keys = _metric_protocol(runs)
    stats = {c: r["results"].get(proto, {}) for c, r in runs.items()}
    stats = {c: v for c, v in stats.items() if "std" in v}
    if len(stats) < 2:
        return []
    n = min(int(v["seeds"]) for v in stats.values())
    lines = [f"#### Table 1 over {n} seeds (protocol `{proto}`; mean ± sample std)\n"]
    lines.append("| model | " + " | ".join(LABELS.get(k, k) for k in keys) + " |")
    lines.append("|---|" + "---:|" * len(keys))
    for c, v in stats.items():
        cells = [f"{v['metrics'][k]:.4f} ± {v['std'][k]:.4f}" for k in keys]
        lines.append(f"| {c} | " + " | ".join(cells) + " |")
    paper = TABLES["table1"]
    lines += ["", "| pair (better first, by RMSE) | Δ RMSE | 2 SE | outside seed noise | paper's order |"]
    lines.append("|---|---:|---:|---|---|")
    order = sorted(stats, key=lambda c: stats[c]["metrics"]["rmse"])
    held = agreed = 0
    for i, a in enumerate(order):
        for b in order[i + 1 :]:
            va, vb = stats[a], stats[b]
            diff = vb["metrics"]["rmse"] - va["metrics"]["rmse"]
            noise = seed_noise(va["std"]["rmse"], vb["std"]["rmse"], n)
            outside = diff > noise
            same = a in paper and b in paper and paper[a]["RMSE"] < paper[b]["RMSE"]
            held += outside
            agreed += outside and same
            lines.append(
                f"| {a} < {b} | {diff:.4f} | {noise:.4f} | {'yes' if outside else 'no'} "
                f"| {'same' if same else 'reversed'} |"
            )
    pairs = len(order) * (len(order) - 1) // 2
    lines.append(
        f"\n{held} of {pairs} pairwise orders are outside the seed noise; {agreed} of those agree with "
        "the paper's Table 1 order by RMSE.\n"
    )
    return lines


#: Where the real frames were scored (``score_at``), for the section's text; results made before the
#: choice existed were scored at the model's size.
_REAL_WHERE = {
    "truth": "scored at each frame's full resolution (the prediction upsampled bilinearly to the lidar's "
    "pixels, the KITTI/Eigen convention)",
    "model": "scored at the model's size (the lidar shrunk to it)",
}


def real_frames_section(
    real: Mapping[str, Any] | None, all_runs: Mapping[str, Mapping[str, Any]]
) -> list[str]:
    """Table 1's models on real KITTI frames against lidar, beside the baselines."""
    if not real:
        return []
    lines = ["## Real KITTI frames\n"]
    if "skipped" in real:
        return [*lines, f"Not evaluated: {real['skipped']}.\n"]
    per_col: dict[str, list[Mapping[str, Any]]] = {}
    for key, r in real["runs"].items():
        per_col.setdefault(all_runs[key]["column"], []).append({"results": {"kitti": r}})
    table = {c: _values(_mean_run(rs), "kitti", STANDARD_KEYS) for c, rs in per_col.items()}
    for name, r in real.get("baselines", {}).items():
        table[name] = _values({"results": {"kitti": r}}, "kitti", STANDARD_KEYS)
    lines.append(
        f"Table 1's models (trained on the training data only) applied to {real['images']} real KITTI "
        f"frames from `{real['root']}`, against the projected lidar, protocol `kitti` (metres) "
        + _REAL_WHERE.get(str(real.get("score_at", "model")), "")
        + "; the baselines are fitted on Table 1's training split.\n"
    )
    lines.append(comparison_table([LABELS[k] for k in STANDARD_KEYS], table))
    prior = table.get("row prior")
    if prior:
        best = min(per_col, key=lambda c: table[c].get("AbsRel ↓", float("inf")))
        b, p = table[best], prior
        beats = b["AbsRel ↓"] < p["AbsRel ↓"] and b["δ < 1.25 ↑"] > p["δ < 1.25 ↑"]
        lines.append(
            f"Best model by AbsRel: {best} (AbsRel {b['AbsRel ↓']:.3f}, δ < 1.25 {b['δ < 1.25 ↑']:.3f}); row "
            f"prior: AbsRel {p['AbsRel ↓']:.3f}, δ < 1.25 {p['δ < 1.25 ↑']:.3f} — the model "
            + ("beats the row prior on both.\n" if beats else "does **not** beat the row prior on both.\n")
        )
    lines += _real_median_lines(real, all_runs)
    lines += _real_per_frame_lines(real, all_runs)
    return lines


def _real_median_lines(real: Mapping[str, Any], all_runs: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """The same frames with each prediction scaled by its frame's median ratio (an oracle scale): what
    is left is the structure of the map."""
    if not real.get("median"):
        return []
    per_col: dict[str, list[Mapping[str, Any]]] = {}
    for key, r in real["median"].items():
        per_col.setdefault(all_runs[key]["column"], []).append({"results": {"kitti": r}})
    table = {c: _values(_mean_run(rs), "kitti", STANDARD_KEYS) for c, rs in per_col.items()}
    for name, r in real.get("baselines_median", {}).items():
        table[name] = _values({"results": {"kitti": r}}, "kitti", STANDARD_KEYS)
    return [
        "Median-scaled (each frame's prediction × median(lidar) / median(prediction), Zhou et al. 2017): "
        "the per-frame scale is given, so these numbers measure the structure of the maps alone.\n",
        comparison_table([LABELS[k] for k in STANDARD_KEYS], table),
    ]


def _real_per_frame_lines(real: Mapping[str, Any], all_runs: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """One row per real frame: AbsRel, δ < 1.25 and median-scaled δ < 1.25 of each model (first seed)
    and baseline."""
    per = real.get("per_frame") or {}
    if not per:
        return []
    cols = {
        all_runs[k]["column"]: v for k, v in per.items() if k in all_runs and not all_runs[k].get("seed", 0)
    }
    cols.update({k: v for k, v in per.items() if k not in all_runs})
    frames = real.get("frames") or [str(i) for i in range(len(next(iter(per.values()))))]
    head = "| frame | " + " | ".join(cols) + " |"
    out = [
        "Per frame — AbsRel / δ < 1.25 / median-scaled δ < 1.25:\n",
        head,
        "|---|" + "---:|" * len(cols),
    ]
    for i, name in enumerate(frames):
        cells = [
            "no lidar point in the crop"
            if v[i] is None
            else f"{v[i]['abs_rel']:.3f} / {v[i]['delta1']:.3f} / {v[i]['median_delta1']:.3f}"
            for v in cols.values()
        ]
        out.append(f"| {name} | " + " | ".join(cells) + " |")
    return [*out, ""]


def _figures(report: Path, results: Mapping[str, Any], figures: Mapping[str, Mapping[str, Any]]) -> list[str]:
    lines: list[str] = []
    first_seed = {k: r for k, r in results["runs"].items() if not r.get("seed", 0)}
    t1 = [k for k, r in first_seed.items() if r["table"] == "1"]
    if t1:
        first = figures[t1[0]]
        preds = {results["runs"][k]["column"]: figures[k]["predictions"] for k in t1}
        qualitative_figure(report / "fig12_qualitative.png", first["images"], first["targets"], preds)
        lines.append("![Fig. 12-like: input, stereo target, each model](fig12_qualitative.png)\n")
    for table, name, title in (
        ("2", "fig13_kitti_gray_vs_colour.png", "Fig. 13-like: gray vs colour (KITTI-like, 310×94)"),
        ("3", "fig14_nyu_gray_vs_colour.png", "Fig. 14-like: gray vs colour (NYU, 320×240)"),
    ):
        runs = {r["column"]: k for k, r in first_seed.items() if r["table"] == table}
        if "gray" in runs and "rgb" in runs:
            g, c = figures[runs["gray"]], figures[runs["rgb"]]
            gray_colour_figure(report / name, c["images"], c["targets"], g["predictions"], c["predictions"])
            lines.append(f"![{title}]({name})\n")
    hist = {k: r["train"]["history"] for k, r in first_seed.items() if r["train"]["history"]}
    if hist:
        training_curves_figure(report / "training_curves.png", hist)
        lines.append("![Training curves](training_curves.png)\n")
    return lines


def write_report(report: Path, results: dict[str, Any], figures: Mapping[str, Mapping[str, Any]]) -> Path:
    """Write ``report.md``, ``results.json``, CSVs and figures into ``report``; returns report.md's path."""
    report.mkdir(parents=True, exist_ok=True)
    m = results["machine"]
    training = results.get("training") or {"jobs": 1, "threads": m["torch_threads"]}
    threads = f"{training['threads']} threads, one training run at a time"
    if training["jobs"] > 1:
        threads = f"{training['jobs']} training runs at a time, {training['threads']} thread(s) each"
    runs = results.get("runs") or {}
    reused = sum(1 for r in runs.values() if r.get("train", {}).get("reused"))
    if reused:  # those trained under an earlier command, however it shared the cores
        threads += f"; {reused} of the {len(runs)} runs reused from an earlier command"
    md: list[str] = [f"# {results['title']}\n"]
    md.append(
        f"Ran on {m['cpu']} ({m['cores']} cores, {m.get('memory_gib')} GiB; torch {m['torch']}, "
        f"{threads}{', GPU ' + m['gpu'] if m.get('gpu') else ''}): targets, training, evaluation and "
        f"this report took {format_duration(results['seconds'])}. Every number is also in `results.json`.\n"
    )
    for note in results.get("notes", []):
        md.append(f"> {note}\n")
    for s in results.get("skipped", []):
        md.append(f"- {s}\n")
    ranking: dict[str, Any] = {}
    for table in ("1", "2", "3"):
        runs = _runs_of(results, table)
        if not runs:
            continue
        md.append(f"## {table_title(table, [r['model'] for r in runs.values()])}\n")
        baselines = results.get("baselines", {}).get(table, {})
        if baselines:
            md.append(BASELINE_TEXT)
        paper = TABLES[f"table{table}"]
        protocols: list[str] = []
        for run in runs.values():
            protocols += [p for p in run["results"] if p not in protocols]
        for proto in protocols:
            md += _protocol_section(report, table, _with_baselines(runs, baselines), proto, paper)
        if table == "1":
            lines, ranking = _ranking_section(runs)
            md += lines
            md += seed_section(runs)
    md += real_frames_section(results.get("real"), results["runs"])
    results["ranking_agreement"] = ranking
    md.append("## Why our numbers differ from the printed ones\n")
    md.append(
        "Our values come from the formulas as printed; some printed values cannot (see `paper-spec.md`):\n"
    )
    md += [f"- {x}\n" for x in INCONSISTENCIES]
    md.append(
        "- Our data, matcher, network widths and training length are stated below; the paper trained two "
        "days on a GTX 1080 with ELAS targets on 12,482 KITTI tracking pairs.\n"
    )
    md.append("## Models, training and cost\n")
    md.append(
        "| run | model | input | parameters | GFLOPs / image | steps | train time | img/s | precision | reused |"
    )
    md.append("|---|---|---|---:|---:|---:|---:|---:|---|---|")
    for key, r in results["runs"].items():
        h, w = r["size"]
        t = r["train"]
        md.append(
            f"| {key} | {r['model']} | {w}×{h}×{r['channels']} | {r['parameters']:,} | {r['gflops']:.3f} "
            f"| {t['steps']} | {t['seconds']:.0f} s | {t['images_per_second']:.1f} | "
            f"{t.get('precision') or '—'} | {'yes' if t['reused'] else 'no'} |"
        )
    md.append("")
    md.append("## Figures\n")
    md += _figures(report, results, figures)
    for section in results.get("sections", []):
        md.append(section)
    write_json(report / "results.json", results)
    path = report / "report.md"
    write_text(path, "\n".join(md) + "\n")
    return path
