"""The bench's report: a bench result (:func:`ssrdepth.experiments.bench.run_bench`) as Markdown tables —
training (the step ``train`` runs, then the bare-step variants), inference, stereo — with the legends
that say what each column is."""

from __future__ import annotations

from typing import Any


def _flags_text(result: dict[str, Any]) -> str:
    flags = result["machine"].get("cpu_flags", {})
    have = ", ".join(f for f, on in flags.items() if on) or "none of the speed flags"
    prec = result.get("precision", {}).get("auto_cpu")
    return have + (f"; precision auto → {prec}" if prec else "")


#: What the inference table's columns mean (printed under it).
INFERENCE_LEGEND = (
    "*b1/bN*: latency timed at batch 1, throughput (img/s) at batch N. *%*: achieved GFLOP/s as a share "
    "of the fp32 matmul peak in the header (bf16 and INT8 rows can pass 100 %; compare bf16 rows with "
    "the bf16 peak). *max abs err*: against eager fp32 PyTorch, normalised [0, 1] maps. *auto*: the "
    "backend `--backend auto` picks: among those within its parity tolerance, the lowest sum of each "
    "time relative to the best at batch N and at batch 1, so it need not be the fastest in either "
    "column alone; INT8 rows are not candidates for a float model (they need a calibrated export)."
)

#: What the training table's columns mean (printed under it).
TRAINING_LEGEND = (
    "*train step*: the step `ssrdepth train` runs (the recipe: masked SILog, AdamW, its grad scaler and "
    "clipping settings, augmentation, data loading, precision auto, memory format auto), timed apart — the speed "
    "training gets. *bare …*: the bare-step variants, one SGD (momentum 0.9) step of the paper's L2 "
    "loss with no scaler, clipping or data loading, interleaved round robin to compare memory formats "
    "and precisions (Keras: the peer's own step): img/s (ms per step, achieved GFLOP/s, working memory)."
)


#: What the photometric-loss table's columns mean (printed under it).
PHOTOMETRIC_LEGEND = (
    "*loss fwd+bwd*: the photometric stereo loss (warp, SSIM + L1, smoothness, auto-mask) and its "
    "backward on a fixed prediction; *photometric step*: network forward in the training precision "
    "(bf16 where native, else fp32), that loss, backward, AdamW; *loss share*: the first over the second; "
    "last column: that step against the same step with the recipe's masked SILog. Timed interleaved, no "
    "data loading; the loss itself always runs in float32 (grid coordinates in bf16 would be 0.5 px "
    "apart at x ≥ 64)."
)


def _train_step_cell(t: dict[str, Any]) -> str:
    real = t.get("as_train_runs_it")
    if real is None:
        return "–"
    return f"**{real['images_per_s']:.1f}** img/s ({real['step_s'] * 1e3:,.0f} ms)"


def _training_lines(dev: dict[str, Any]) -> list[str]:
    rows = []
    for name, entry in dev["models"].items():
        for t in entry.get("train", []):
            cells = [_train_step_cell(t)] + [
                f"{v['images_per_s']:.1f} img/s ({v['step_s'] * 1e3:,.0f} ms, {v['achieved_gflops']:.0f} GFLOP/s, "
                f"{v['memory']['rise_mib']:,.0f} MiB)"
                for v in t["variants"].values()
            ]
            rows.append(f"| {name} | {t['setting']} b{t['batch']} | " + " | ".join(cells) + " |")
    if not rows:
        return []
    any_train = next(t for e in dev["models"].values() for t in e.get("train", []))
    heads = ["train step (as `ssrdepth train` runs it)"] + [f"bare {v}" for v in any_train["variants"]]
    return [
        "| training | setting | " + " | ".join(heads) + " |",
        "|---|---|" + "---:|" * len(heads),
        *rows,
        "",
        TRAINING_LEGEND,
        "",
    ]


def _photometric_lines(dev: dict[str, Any]) -> list[str]:
    """The photometric loss's share of the step, one row per model and setting (where measured)."""
    rows = []
    for name, entry in dev["models"].items():
        for t in entry.get("train", []):
            c = t.get("photometric_loss")
            if c is None:
                continue
            rows.append(
                f"| {name} | {t['setting']} b{t['batch']} | {c['precision']} | {c['loss_s'] * 1e3:,.1f} ms "
                f"| {c['photometric_step_s'] * 1e3:,.1f} ms | **{100 * c['fraction']:.0f} %** "
                f"| {c['supervised_step_s'] * 1e3:,.1f} ms | {100 * c['extra']:+.0f} % |"
            )
    if not rows:
        return []
    return [
        "| photometric loss | setting | precision | loss fwd+bwd | photometric step | loss share "
        "| masked SILog step | photometric vs SILog step |",
        "|---|---|---|---:|---:|---:|---:|---:|",
        *rows,
        "",
        PHOTOMETRIC_LEGEND,
        "",
    ]


def _inference_lines(dev: dict[str, Any], peak: float) -> list[str]:
    rows = []
    for name, entry in dev["models"].items():
        for inf in entry["inference"]:
            chosen = inf.get("auto", {}).get("backend")
            for b, r in inf["backends"].items():
                where = f"| {name} | {inf['setting']} b1/b{inf['throughput_batch']} | {b} |"
                if "skipped" in r:
                    rows.append(f"{where} skipped: {r['skipped']} | | | |")
                    continue
                err = r.get("max_abs_error")
                rows.append(
                    f"{where} {r['latency_ms']:.1f} | {r['throughput_img_s']:.1f} "
                    f"({r['achieved_gflops']:.0f} GFLOP/s, {100 * r['achieved_gflops'] / peak:.0f} %) | "
                    f"{'' if err is None else f'{err:.1e}'} | {'**auto**' if b == chosen else ''} |"
                )
    if not rows:
        return []
    return [
        "| inference | setting | backend | latency b1 (ms) | img/s | max abs err | auto |",
        "|---|---|---|---:|---:|---:|---|",
        *rows,
        "",
        INFERENCE_LEGEND,
        "",
    ]


def _stereo_lines(stereo: dict[str, Any]) -> list[str]:
    if "methods" not in stereo:
        return [f"stereo targets: {stereo.get('skipped') or stereo.get('error')}"]
    lines = [f"stereo targets at {stereo['size'][1]}×{stereo['size'][0]} ({stereo['workers']} workers):"]
    for m, r in stereo["methods"].items():
        if "error" in r:
            lines.append(f"- {m}: {r['error']}")
        else:
            lines.append(
                f"- {m}: {r['single_pairs_per_s']:.2f} pairs/s single, {r['parallel_pairs_per_s']:.2f} parallel"
            )
    return lines


def format_table(result: dict[str, Any]) -> str:
    """Markdown tables: training images/s (the step ``train`` runs, then the bare-step variants) and
    inference (latency, throughput, GFLOP/s) per model, then the stereo matchers."""
    lines: list[str] = []
    for dev_name, dev in result["devices"].items():
        if "skipped" in dev:
            lines.append(f"**{dev_name}**: skipped ({dev['skipped']})\n")
            continue
        mm = dev["matmul_peak"]
        # cuDNN convolutions run in TF32 by default: compare with the TF32 peak where it applies.
        tf32 = bool(mm.get("cudnn_allow_tf32")) and "tf32_gflops" in mm
        peak = mm["tf32_gflops"] if tf32 else mm["gflops"]
        lines.append(
            f"**{dev_name}** — fp32 matmul peak {mm['gflops']:,.0f} GFLOP/s ({result['machine']['cpu']}"
            + (f"; bf16 matmul peak {mm['bf16_gflops']:,.0f} GFLOP/s" if "bf16_gflops" in mm else "")
            + (f"; flags: {_flags_text(result)}" if dev_name == "cpu" else "")
            + (f", {result['machine']['cuda']}" if dev_name == "cuda" else "")
            + ")"
            + (
                f"; convolutions run in TF32: TF32 matmul peak {peak:,.0f} GFLOP/s, the % below"
                if tf32
                else ""
            )
            + "\n"
        )
        lines += _training_lines(dev)
        lines += _photometric_lines(dev)
        lines += _inference_lines(dev, peak)
    lines += _stereo_lines(result.get("stereo", {}))
    lines += quality_lines(result.get("time_to_quality"))
    return "\n".join(lines) + "\n"


def _reached_cell(hit: dict[str, Any] | None) -> str:
    return "not reached" if hit is None else f"{hit['seconds']:,.0f} s (step {hit['step']})"


def _no_ratio_reason(rows: dict[str, Any]) -> str:
    """Why no speed-up could be given: a recipe's run failed, or the demo preset reached no level."""
    failed = [name for name, row in rows.items() if "error" in row]
    if failed:
        return f"the run of {', '.join(failed)} failed"
    return "the demo preset reached no level"


def quality_lines(quality: dict[str, Any] | None) -> list[str]:
    """The time-to-quality table (``bench --time-to-quality``): per recipe, the training seconds to
    each δ < 1.25 level and the best level reached; then the paper recipe's time over the demo
    preset's."""
    if not quality:
        return []
    levels = [f"{t:g}" for t in quality["thresholds"]]
    lines = [
        "",
        f"Time to quality ({quality['what']}; every {quality['eval_every_images']:,} training images, "
        f"{quality['eval_images'] or 'all'} test images, data {quality['data']}):",
        "",
        "| recipe | model | batch | steps | " + " | ".join(f"δ1 ≥ {t}" for t in levels) + " | best δ1 |",
        "|---|---|---:|---:|" + "---:|" * (len(levels) + 1),
    ]
    for name, row in quality["recipes"].items():
        if "error" in row:
            lines.append(
                f"| {name} | {row['model']} | – | – | "
                + " | ".join("–" for _ in levels)
                + f" | failed: {row['error']} |"
            )
            continue
        best = max(row["curve"], key=lambda p: p["delta1"]) if row["curve"] else None
        cells = [_reached_cell(row["reached"][t]) for t in levels]
        best_cell = f"{best['delta1']:.3f} (step {best['step']})" if best else "–"
        lines.append(
            f"| {name} | {row['model']} ×{row['width']:g} | {row['batch']} | {row['steps']} | "
            + " | ".join(cells)
            + f" | {best_cell} |"
        )
    ratios = [
        f"δ1 ≥ {t}: {'≥ ' if v['bound'] == 'at least' else ''}{v['ratio']:.1f}×"
        for t, v in quality["speedup"].items()
        if v["ratio"] is not None
    ]
    lines.append("")
    lines.append(
        "Speed-up of the demo preset over the paper's recipe (the paper's training seconds to the level "
        "over ours; ≥: the paper's recipe did not reach it, its whole run over our time): "
        + ("; ".join(ratios) if ratios else f"none ({_no_ratio_reason(quality['recipes'])})")
        + "."
    )
    return lines


__all__ = ["INFERENCE_LEGEND", "TRAINING_LEGEND", "format_table", "quality_lines"]
