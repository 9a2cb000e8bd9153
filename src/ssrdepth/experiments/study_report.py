"""The report of ``ssrdepth study matchers``: ``report.md``, ``targets.csv``, ``trained.csv``,
``d1_vs_delta1.png`` and ``results.json`` in the study's folder, from the dict that
:func:`ssrdepth.experiments.study_matchers.study_matchers` builds.

The advice sentence is computed from the numbers: the matcher whose network reached the highest
δ < 1.25 against the exact depth, and whether its lead over each other matcher exceeds the seed noise
(two standard errors of the difference, :func:`ssrdepth.experiments.report_writer.seed_noise`, the
rule of ``reproduce``'s seed section); among matchers the seeds cannot separate, the cheaper one; and
for the training modes without a matcher's targets (photometric, hybrid), whether they beat or trail
that matcher by more than the seed noise, in the Garg crop and over the whole image.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ssrdepth.core.io import atomic_path, write_json, write_text
from ssrdepth.experiments.report import format_duration
from ssrdepth.experiments.report_writer import seed_noise
from ssrdepth.experiments.target_quality import ALL, DEPTH_BINS

#: targets.csv columns
TARGET_COLUMNS = (
    "variant",
    "method",
    "reference",
    "trained",
    "data",
    "region",
    "pairs",
    "pixels",
    "density",
    "epe_px",
    "d1",
    "single_pairs_per_s",
    "parallel_pairs_per_s",
    "workers",
    "settings",
)
#: trained.csv columns
TRAINED_COLUMNS = (
    "kind",
    "evaluation",
    "seeds",
    "images",
    "target_density",
    "target_epe_px",
    "target_d1",
    "abs_rel_mean",
    "abs_rel_std",
    "rmse_mean",
    "rmse_std",
    "delta1_mean",
    "delta1_std",
    "beyond_cap_mean",
    "beyond_cap_std",
    "step_s_mean",
    "step_s_std",
)
SYNTHETIC = "synthetic streets, exact depth"
WHOLE = "synthetic streets, exact depth, whole image"
REAL = "real KITTI frames, lidar"
#: trained.csv's evaluation of one region (:mod:`ssrdepth.evaluation.regions`)
REGION = "synthetic streets, exact depth, {region}"


def _quality(results: Mapping[str, Any], kind: str) -> dict[str, Any]:
    """The target quality (all pixels with true depth) behind a trained kind: the variant's own; for
    hybrid its hints'; ``{}`` for photometric (no targets)."""
    source = results.get("hints", "sgm") if kind == "hybrid" else kind
    q = results["quality"].get(source)
    return {} if q is None or kind == "photometric" else q["regions"][ALL]


def _modes(results: Mapping[str, Any]) -> set[str]:
    """The trained kinds that are training modes (photometric, hybrid), not a variant's targets."""
    return {k for k, t in results["trained"].items() if t.get("mode")}


def _csv(columns: tuple[str, ...], rows: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(columns), lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: ("" if r.get(k) is None else r.get(k)) for k in columns})
    return buf.getvalue()


def target_rows(results: Mapping[str, Any]) -> list[dict[str, Any]]:
    """targets.csv: one row per variant, data set and region (synthetic) or pair (real)."""
    cost = results["cost"].get("methods", {})
    trained = results["trained"]
    rows = []
    for v in results["variants"]:
        c = cost.get(v["name"], {})
        common = {
            "variant": v["name"],
            "method": v["method"],
            "reference": v["reference"],
            "trained": v["name"] in trained,
            "single_pairs_per_s": c.get("single_pairs_per_s"),
            "parallel_pairs_per_s": c.get("parallel_pairs_per_s"),
            "workers": results["cost"].get("workers") if c else None,
            "settings": json.dumps(results["quality"][v["name"]]["config"]["settings"]),
        }
        q = results["quality"][v["name"]]
        for region, r in q["regions"].items():
            rows.append(
                common
                | {"data": "synthetic", "region": region, "pairs": q["pairs"], "pixels": r["pixels"]}
                | {"density": r["density"], "epe_px": r["epe"], "d1": r["d1"]}
            )
        for pair, per in results["real_pairs"]["pairs"].items():
            if v["name"] in per:
                e = per[v["name"]]
                rows.append(
                    common
                    | {"data": pair, "region": ALL, "pairs": 1, "pixels": e["known"]}
                    | {"density": e["density"], "epe_px": e["epe"], "d1": e["d1"]}
                )
    return rows


def trained_rows(results: Mapping[str, Any]) -> list[dict[str, Any]]:
    """trained.csv: one row per trained kind and evaluation (mean and sample std over the seeds): the
    Garg crop, the whole image, each region (sky: the share put beyond the cap) and the real frames;
    every row carries the kind's seconds per training step."""
    rows = []
    for kind, t in results["trained"].items():
        q = _quality(results, kind)
        evaluations = [(SYNTHETIC, t["synthetic"], None), (WHOLE, t.get("whole_image"), None)]
        evaluations += [(REGION.format(region=r), st, None) for r, st in (t.get("regions") or {}).items()]
        evaluations.append((REAL, t["real"], t.get("real_images")))
        step = t.get("step_seconds") or {}
        for evaluation, stats, images in evaluations:
            if not stats:
                continue
            row: dict[str, Any] = {
                "kind": kind,
                "evaluation": evaluation,
                "seeds": t["seeds"],
                "images": images,
            }
            row |= {
                "target_density": q.get("density"),
                "target_epe_px": q.get("epe"),
                "target_d1": q.get("d1"),
            }
            for m in ("abs_rel", "rmse", "delta1", "beyond_cap"):
                if m in stats:
                    row[f"{m}_mean"], row[f"{m}_std"] = stats[m]["mean"], stats[m]["std"]
            row["step_s_mean"], row["step_s_std"] = step.get("mean"), step.get("std")
            rows.append(row)
    return rows


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.1f} %"


def _px(x: float | None) -> str:
    return "—" if x is None else f"{x:.2f}"


def _rate(x: float | None) -> str:
    return "—" if x is None else f"{x:.1f}"


def advice(results: Mapping[str, Any]) -> str:
    """One paragraph of advice that follows from the trained δ < 1.25 (mean ± std over seeds), the
    seed-noise rule and the matchers' cost."""
    trained = results["trained"]
    refs = {v["name"] for v in results["variants"] if v["reference"]}
    matchers = {k: t for k, t in trained.items() if k not in refs and k not in _modes(results)}
    if not matchers:
        return "No matcher was trained on, so the study gives no advice on the choice of matcher."
    d1 = {k: t["synthetic"]["delta1"] for k, t in matchers.items()}
    n = min(t["seeds"] for t in matchers.values())
    best = max(d1, key=lambda k: d1[k]["mean"])
    b = d1[best]
    ties = [k for k in d1 if k != best and b["mean"] - d1[k]["mean"] <= seed_noise(b["std"], d1[k]["std"], n)]
    worse = [k for k in d1 if k != best and k not in ties]
    rate = {k: results["cost"].get("methods", {}).get(k, {}).get("parallel_pairs_per_s") for k in d1}
    head = (
        f"{best} targets trained the best network"
        if len(d1) > 1
        else f"{best} was the only matcher trained on"
    )
    text = f"{head}: δ < 1.25 = {b['mean']:.3f} ± {b['std']:.3f} ({n} seeds)"
    if worse:
        text += ", ahead of " + ", ".join(f"{k} ({d1[k]['mean']:.3f})" for k in worse)
        text += " by more than two standard errors"
    if ties:
        group = [best, *ties]
        known = [k for k in group if rate.get(k)]
        cheapest = max(known, key=lambda k: rate[k] or 0.0) if known else best
        text += (
            "; the seeds do not separate it from "
            + ", ".join(f"{k} ({d1[k]['mean']:.3f})" for k in ties)
            + f", so among those take the cheapest, {cheapest}"
            + (f" ({rate[cheapest]:.1f} pairs/s on all cores)" if rate.get(cheapest) else "")
        )
    text += ". "
    if "exact" in trained:
        e = trained["exact"]["synthetic"]["delta1"]
        gap = e["mean"] - b["mean"]
        inside = gap <= seed_noise(e["std"], b["std"], n)
        text += (
            f"Perfect targets (the exact disparity) reached {e['mean']:.3f}: better stereo than {best} could "
            + ("gain no more than the seed noise here" if inside else f"gain up to {gap:.3f} in δ < 1.25")
        )
        if "lidar-like" in trained:
            lidar = trained["lidar-like"]["synthetic"]["delta1"]
            text += f"; lidar-like sparse targets reached {lidar['mean']:.3f}"
            w_lidar = (trained["lidar-like"].get("whole_image") or {}).get("delta1")
            w_best = (trained[best].get("whole_image") or {}).get("delta1")
            if w_lidar and w_best:
                text += (
                    f" inside the Garg crop, where their points are, but {w_lidar['mean']:.3f} over the whole "
                    f"image (against {w_best['mean']:.3f} for {best}): sparse targets teach only where they "
                    "have points"
                )
        text += "."
    modes = _modes_advice(results, best, n)
    return f"{text.rstrip()} {modes}" if modes else text


def _compare(a: Mapping[str, float], b: Mapping[str, float], n: int) -> str:
    """``a`` against ``b`` (δ < 1.25 mean and std over ``n`` seeds) under the 2-standard-error rule."""
    diff = a["mean"] - b["mean"]
    if abs(diff) <= seed_noise(a["std"], b["std"], n):
        return f"{a['mean']:.3f}, within the seed noise of {b['mean']:.3f}"
    return f"{a['mean']:.3f}, {'above' if diff > 0 else 'below'} {b['mean']:.3f} by more than two standard errors"


def _modes_advice(results: Mapping[str, Any], best: str, n: int) -> str:
    """The sentence on training without a matcher's targets: each mode's δ < 1.25 against ``best``'s
    targets, in the Garg crop and over the whole image, with the seed-noise rule; its cost per step."""
    trained = results["trained"]
    parts = []
    for mode in sorted(_modes(results), key=lambda m: m != "photometric"):
        t, b = trained[mode], trained[best]
        n_m = min(n, t["seeds"])
        text = (
            f"{mode} reached δ < 1.25 = {_compare(t['synthetic']['delta1'], b['synthetic']['delta1'], n_m)}"
        )
        text += f" ({best}) in the crop"
        if t.get("whole_image") and b.get("whole_image"):
            text += f" and {_compare(t['whole_image']['delta1'], b['whole_image']['delta1'], n_m)} over the whole image"
        step, step_b = t.get("step_seconds"), b.get("step_seconds")
        if step and step_b:
            text += f", at {step['mean']:.2f} s per step against {step_b['mean']:.2f}"
        parts.append(text)
    if not parts:
        return ""
    return (
        " Without a matcher's targets (photometric) and with them as hints (hybrid): "
        + "; ".join(parts)
        + "."
    )


def _target_table(results: Mapping[str, Any]) -> list[str]:
    cost = results["cost"].get("methods", {})
    workers = results["cost"].get("workers", "all")
    near, far = DEPTH_BINS[0][0], DEPTH_BINS[-1][0]
    lines = [
        f"| target | setting | density | EPE (px) | D1 | road density | road D1 | building D1 | vehicle D1 "
        f"| D1 {near} | D1 {far} | sky false matches | pairs/s, 1 process | pairs/s, {workers} processes |",
        "|---|---|" + "---:|" * 12,
    ]
    for v in results["variants"]:
        q = results["quality"][v["name"]]["regions"]
        c = cost.get(v["name"], {})
        g = {name: q.get(name, {}) for name in (ALL, "road", "building", "vehicle", near, far, "sky")}
        lines.append(
            f"| **{v['name']}** | {v['what']} | {_pct(g[ALL].get('density'))} | {_px(g[ALL].get('epe'))} "
            f"| {_pct(g[ALL].get('d1'))} | {_pct(g['road'].get('density'))} | {_pct(g['road'].get('d1'))} "
            f"| {_pct(g['building'].get('d1'))} | {_pct(g['vehicle'].get('d1'))} | {_pct(g[near].get('d1'))} "
            f"| {_pct(g[far].get('d1'))} | {_pct(g['sky'].get('density'))} "
            f"| {_rate(c.get('single_pairs_per_s'))} | {_rate(c.get('parallel_pairs_per_s'))} |"
        )
    return lines


def _real_pairs_table(results: Mapping[str, Any]) -> list[str]:
    rp = results["real_pairs"]
    lines = [f"- {name}: skipped — {why}" for name, why in rp.get("skipped", {}).items()]
    if not rp["pairs"]:
        return lines
    names = list(rp["pairs"])
    lines += ["", "| target | " + " | ".join(f"{n}: density / EPE (px) / D1" for n in names) + " |"]
    lines.append("|---|" + "---:|" * len(names))
    for v in results["variants"]:
        if v["reference"]:
            continue
        cells = []
        for n in names:
            e = rp["pairs"][n].get(v["name"])
            cells.append("—" if e is None else f"{_pct(e['density'])} / {_px(e['epe'])} / {_pct(e['d1'])}")
        lines.append(f"| {v['name']} | " + " | ".join(cells) + " |")
    return lines


def _trained_table(results: Mapping[str, Any]) -> list[str]:
    from ssrdepth.evaluation.regions import BOUNDARIES, ROAD, SKY

    def cell(s: Mapping[str, Any] | None, m: str) -> str:
        return "—" if not s or m not in s else f"{s[m]['mean']:.3f} ± {s[m]['std']:.3f}"

    lines = [
        "| trained on | target density | target D1 | δ < 1.25 ↑ | AbsRel ↓ | RMSE (m) ↓ "
        "| whole image δ < 1.25 ↑ | real KITTI δ < 1.25 ↑ | real KITTI AbsRel ↓ | whole image AbsRel ↓ "
        "| road δ < 1.25 ↑ | road AbsRel ↓ | occlusion boundaries δ < 1.25 ↑ "
        "| occlusion boundaries AbsRel ↓ | sky beyond 80 m ↑ | s / step |",
        "|---|" + "---:|" * 15,
    ]
    for kind, t in results["trained"].items():
        q = _quality(results, kind)
        syn, whole, real = t["synthetic"], t.get("whole_image"), t["real"]
        regions = t.get("regions") or {}
        step = t.get("step_seconds")
        label = f"**{kind}**" + (f" ({results.get('hints', 'sgm')} hints)" if kind == "hybrid" else "")
        density = "none" if kind == "photometric" else _pct(q.get("density"))
        d1 = "—" if kind == "photometric" else _pct(q.get("d1"))
        cost = "—" if not step else f"{step['mean']:.2f}"
        lines.append(
            f"| {label} | {density} | {d1} | {cell(syn, 'delta1')} "
            f"| {cell(syn, 'abs_rel')} | {cell(syn, 'rmse')} | {cell(whole, 'delta1')} "
            f"| {cell(real, 'delta1')} | {cell(real, 'abs_rel')} | {cell(whole, 'abs_rel')} "
            f"| {cell(regions.get(ROAD), 'delta1')} | {cell(regions.get(ROAD), 'abs_rel')} "
            f"| {cell(regions.get(BOUNDARIES), 'delta1')} | {cell(regions.get(BOUNDARIES), 'abs_rel')} "
            f"| {cell(regions.get(SKY), 'beyond_cap')} | {cost} |"
        )
    exact = results["trained"].get("exact", {})
    for name, m in exact.get("baselines", {}).items():
        w = exact.get("baselines_whole_image", {}).get(name)
        whole_d1 = "" if w is None else f"{w['delta1']:.3f}"
        whole_rel = "" if w is None else f"{w['abs_rel']:.3f}"
        lines.append(
            f"| *{name}* (fitted on exact targets) | | | {m['delta1']:.3f} | {m['abs_rel']:.3f} "
            f"| {m['rmse']:.3f} | {whole_d1} | | | {whole_rel} | | | | | | |"
        )
    return lines


def regions_note() -> str:
    """What the region columns of the trained table score (:mod:`ssrdepth.evaluation.regions`)."""
    from ssrdepth.evaluation.regions import BOUNDARY_JUMP_PX

    return (
        "Regions (the whole image, metres, pooled over the test pixels): *road* is the generator's road "
        "label; *occlusion boundaries* the pixels whose exact disparity differs from a 4-neighbour's by "
        f"more than {BOUNDARY_JUMP_PX:g} px (both sides); *sky beyond 80 m* the share of the pixels without "
        "a finite exact depth below the 80 m cap that the network puts at or beyond it. s / step: the "
        "training clock's seconds per step (loading, augmentation, forward, loss, backward, update)."
    )


def label_offsets(
    points: list[tuple[float, float]], x_tol: float = 2.0, y_tol: float = 0.03, step: int = 11
) -> list[tuple[int, int]]:
    """Text offsets (points) for labels at ``points`` (x, y in data units): a label whose point lies
    within ``x_tol`` and ``y_tol`` of earlier ones is stacked ``step`` points above them, so labels at
    the same place (exact and lidar-like, both at D1 = 0) do not overlap."""
    offsets: list[tuple[int, int]] = []
    for i, (x, y) in enumerate(points):
        k = sum(1 for px, py in points[:i] if abs(px - x) <= x_tol and abs(py - y) <= y_tol)
        offsets.append((5, 4 + step * k))
    return offsets


def d1_figure(
    path: Path, results: Mapping[str, Any]
) -> list[tuple[str, tuple[float, float], tuple[int, int]]]:
    """Target D1 (all pixels with true depth) against the trained δ < 1.25 (mean ± std over seeds),
    on the synthetic streets (filled) and the real KITTI frames (hollow). Returns the labels drawn:
    ``(kind, (x, y), text offset in points)``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    marks: list[tuple[str, tuple[float, float]]] = []
    for kind, t in results["trained"].items():
        if kind not in results["quality"]:  # photometric / hybrid: no target D1 of their own
            continue
        x = 100 * (results["quality"][kind]["regions"][ALL]["d1"] or 0.0)
        for stats, marker, fill in ((t["synthetic"], "o", True), (t["real"], "s", False)):
            if stats is None:
                continue
            d = stats["delta1"]
            ax.errorbar(
                x, d["mean"], yerr=d["std"], fmt=marker, capsize=3,
                markerfacecolor=None if fill else "none", color="C0" if fill else "C1",
            )  # fmt: skip
            marks.append((kind, (x, d["mean"])))
    labels = []
    for (kind, xy), offset in zip(marks, label_offsets([xy for _, xy in marks]), strict=True):
        ax.annotate(kind, xy, textcoords="offset points", xytext=offset, fontsize=8)
        labels.append((kind, xy, offset))
    ax.set_xlabel("target D1 against the exact disparity (%)")
    ax.set_ylabel("trained δ < 1.25 (mean ± std over seeds)")
    ax.set_title(
        "Target quality vs trained accuracy (● synthetic exact depth, □ real KITTI lidar)", fontsize=9
    )
    ax.grid(alpha=0.3)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, bbox_inches="tight", format="png")
    plt.close(fig)
    return labels


def reused_pieces(results: Mapping[str, Any]) -> list[str]:
    """The pieces this invocation took from an earlier one's stored results (target quality, cost, real
    pairs, trained runs), as report phrases; empty when everything was computed now."""
    pieces = [f"target quality of {name}" for name, q in results["quality"].items() if q.get("reused")]
    if results["cost"].get("reused"):
        pieces.append("the matcher timings")
    if results["real_pairs"].get("reused"):
        pieces.append("the real-pair quality")
    runs = [(kind, r) for kind, t in results["trained"].items() for r in t["runs"].values()]
    n = sum(1 for _, r in runs if r.get("reused"))
    if n:
        pieces.append(f"{n} of the {len(runs)} trained runs")
    return pieces


def _timing(results: Mapping[str, Any]) -> str:
    """The header's sentence on time: this invocation, and what came from an earlier one (only if any)."""
    m = results["machine"]
    runs = [r for t in results["trained"].values() for r in t["runs"].values()]
    now = sum(r["seconds"] for r in runs if not r.get("reused"))
    before = sum(r["seconds"] for r in runs if r.get("reused"))
    text = (
        f"Ran on {m['cpu']} ({m['cores']} cores; torch {m['torch']}) in {format_duration(results['seconds'])}"
    )
    reused = reused_pieces(results)
    if not reused:
        return text + f", everything computed in this run; training took {format_duration(now)} of it."
    text += f"; reused from an earlier run: {', '.join(reused)}"
    text += f". Training took {format_duration(now)} in this run"
    return text + (f" and {format_duration(before)} in the earlier one." if before else ".")


def quick_note(cfg: Mapping[str, Any], pairs: int) -> str:
    """The warning at the top of a ``--quick`` report (and in its advice): a smoke run, not a result."""
    return (
        f"**This is a `--quick` smoke run** ({cfg['steps']} training steps, width ×{cfg['width']}, "
        f"{pairs} synthetic pairs, target quality on {cfg['quality_pairs']}): it checks that every step "
        "runs; its numbers are not a result. Run without `--quick` for the study."
    )


def real_frames_note(results: Mapping[str, Any]) -> str:
    """Where the real KITTI frames of the trained table came from and how many there were (or why
    there were none)."""
    trained = list(results["trained"].values())
    evaluated = [t for t in trained if t.get("real_root")]
    where = (
        "`--real-kitti ROOT` chooses the folder; without it, `$SSRDEPTH_REAL_KITTI`, else "
        "`../shared/data/kitti_object` beside the working directory"
    )
    if evaluated:
        t = evaluated[0]
        return (
            f"- Real KITTI: {t['real_images']} frames with lidar from `{t['real_root']}`, the `kitti` "
            f"protocol against the lidar in metres ({where})."
        )
    why = next((t["real_skipped"] for t in trained if t.get("real_skipped")), "no folder given")
    return f"- Real KITTI: none evaluated ({why}; {where})."


def advice_text(results: Mapping[str, Any]) -> str:
    """The Advice section: :func:`advice`, behind the smoke-run warning for a ``--quick`` run."""
    if not results.get("config", {}).get("quick"):
        return str(results["advice"])
    return (
        f"{quick_note(results['config'], results['data']['pairs'])} What follows is what the smoke run's "
        f"numbers give, shown to check the report, not advice: {results['advice']}"
    )


def _setup(results: Mapping[str, Any]) -> list[str]:
    cfg = results["config"]
    head = [quick_note(cfg, results["data"]["pairs"]) + "\n"] if cfg.get("quick") else []
    return [
        *head,
        _timing(results) + " Every number is in `results.json`, the tables in `targets.csv` and "
        "`trained.csv`.\n",
        f"- Data: {results['data']['pairs']} synthetic stereo pairs at `{results['data']['root']}` (exact "
        f"depth); target quality on {cfg['quality_pairs']} of them, spread over the set; disparities "
        f"normalised by {cfg['max_disparity']} px.",
        f"- Network: {cfg['model']} at width ×{cfg['width']}, 147×37 gray, {cfg['steps']} steps of the "
        f"ssrdepth recipe, seeds 0…{cfg['seeds'] - 1}, the same for every target kind; evaluated with "
        "protocol `kitti` (Garg crop, metres, per-image mean).",
        real_frames_note(results),
        "- D1: share of the pixels with an estimate whose error exceeds 3 px and 5 % of the true disparity "
        "(KITTI 2015); density: share of the pixels with a true disparity that have a target; sky false "
        "matches: share of sky pixels (no true disparity) that got one.",
        *[f"- {note}" for note in results.get("notes", [])],
        "",
    ]


def write_study_report(out: Path, results: dict[str, Any]) -> Path:
    """Write ``report.md``, ``targets.csv``, ``trained.csv``, ``d1_vs_delta1.png`` and ``results.json``
    into ``out``; returns report.md's path."""
    out.mkdir(parents=True, exist_ok=True)
    write_text(out / "targets.csv", _csv(TARGET_COLUMNS, target_rows(results)))
    write_text(out / "trained.csv", _csv(TRAINED_COLUMNS, trained_rows(results)))
    results["advice"] = advice(results)
    md = ["# Which stereo matcher should make the training targets?\n", *_setup(results)]
    md += ["## Target quality and cost (synthetic streets, against the exact disparity)\n"]
    md += [*_target_table(results), ""]
    md += ["## Target quality on real pairs with ground truth\n", *_real_pairs_table(results), ""]
    md += ["## The same network trained on each kind of target\n", *_trained_table(results), ""]
    md += [regions_note(), ""]
    real_skips = {t.get("real_skipped") for t in results["trained"].values()} - {None}
    md += [f"Real KITTI frames: not evaluated ({why})." for why in real_skips]
    if results["trained"]:
        d1_figure(out / "d1_vs_delta1.png", results)
        md.append("\n![target D1 vs trained δ < 1.25](d1_vs_delta1.png)\n")
    md += ["## Advice\n", advice_text(results) + "\n"]
    write_json(out / "results.json", results)
    path = out / "report.md"
    write_text(path, "\n".join(md) + "\n")
    return path
