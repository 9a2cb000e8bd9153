"""``bench``: the JSON's structure and its arithmetic on a tiny run (no timing is asserted)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from ssrdepth.cli import main as cli
from ssrdepth.core.hardware import native_bf16
from ssrdepth.experiments.bench import (
    INFERENCE_LEGEND,
    PHOTOMETRIC_LEGEND,
    SCHEMA,
    TRAINING_LEGEND,
    BenchConfig,
    Setting,
    format_table,
    interleaved_medians,
    load_result,
    peak_memory,
    run_bench,
)

TINY = (Setting("24x16 gray", (16, 24), 1, 2),)


def test_quick_run_structure_and_arithmetic() -> None:
    cfg = BenchConfig.quick_config(
        models=("C",), settings=TINY, backends=("eager", "eager-channels-last", "onnxruntime"), stereo=False
    )
    snapshots: list[dict[str, object]] = []
    result = run_bench(cfg, progress=False, on_update=lambda r: snapshots.append(json.loads(json.dumps(r))))
    assert result["schema"] == SCHEMA and result["config"]["quick"] is True and result["complete"] is True
    # written after the one (model, setting) and at the end: a stopped run keeps what it measured
    assert [s["complete"] for s in snapshots] == [False, True]
    assert result["stereo"] == {"skipped": "disabled (--no-stereo)"}
    cpu = result["devices"]["cpu"]
    peak = cpu["matmul_peak"]
    assert peak["dtype"] == "float32" and peak["gflops"] == max(peak["gflops_start"], peak["gflops_end"]) > 0
    # the bf16 ceiling is measured exactly where bf16 is native, and shown in the table's header
    assert ("bf16_gflops" in peak) == native_bf16()
    if native_bf16():
        assert peak["bf16_gflops"] == max(peak["bf16_gflops_start"], peak["bf16_gflops_end"]) > 0
        assert f"bf16 matmul peak {peak['bf16_gflops']:,.0f} GFLOP/s" in format_table(result)
    entry = cpu["models"]["C"]
    # Parameters by hand: 3×3 weights + biases of the five convs (1→8, 8→16, 16→32, 32→64, 64→1).
    assert entry["parameters"] == (72 + 8) + (1152 + 16) + (4608 + 32) + (18432 + 64) + (576 + 1) == 24_961
    (train,) = entry["train"]
    expected = {"contiguous", "channels-last"} | (
        {"contiguous-bf16", "channels-last-bf16"} if native_bf16() else set()
    )
    assert train["batch"] == 2 and set(train["variants"]) == expected
    assert "width 1.0" in train["keras_skipped"] or "disabled" in train["keras_skipped"]
    for v in train["variants"].values():
        assert len(v["step_s_runs"]) == cfg.repeats
        assert v["step_s"] == pytest.approx(float(np.median(v["step_s_runs"])))
        assert v["images_per_s"] == pytest.approx(2 / v["step_s"])
        assert v["achieved_gflops"] == pytest.approx(train["flops_per_step"] / v["step_s"] / 1e9)
        assert v["memory"]["peak_mib"] > 0
    # The step `train` runs (recipe, data loading), timed apart: its rate is its batch over its time.
    real = train["as_train_runs_it"]
    assert real["step_s"] > 0 and real["images_per_s"] == pytest.approx(2 / real["step_s"])
    assert "AdamW" in real["what"]
    # The photometric loss's share of a step, in the training precision (auto: bf16 where native).
    photo = train["photometric_loss"]
    assert photo["precision"] == ("bf16" if native_bf16() else "fp32")
    for key, name in (("loss_s", "loss"), ("photometric_step_s", "photometric_step")):
        assert len(photo["runs"][name]) == cfg.repeats
        assert photo[key] == pytest.approx(float(np.median(photo["runs"][name])))
    assert photo["fraction"] == pytest.approx(photo["loss_s"] / photo["photometric_step_s"])
    assert photo["extra"] == pytest.approx(photo["photometric_step_s"] / photo["supervised_step_s"] - 1)
    (inf,) = entry["inference"]
    # FLOPs per image by hand: a conv costs 2·k²·Cin·Cout·H·W (2 per multiply-add, bias and ReLU not
    # counted). Model C at width 0.125 on a 16×24 grey image: 3×3 convs 1→8 at 16×24, pool, 8→16 at
    # 8×12, pool, 16→32, 32→64 and the head 64→1 at 4×6:
    # 18 · (1·8·384 + 8·16·96 + 16·32·24 + 32·64·24 + 64·1·24) = 18 · 78,336 = 1,410,048.
    assert inf["flops_per_image"] == 18 * (1 * 8 * 384 + 8 * 16 * 96 + 16 * 32 * 24 + 32 * 64 * 24 + 64 * 24)
    assert inf["flops_per_image"] == 1_410_048
    # forward + backward ≈ 3 × forward (backward = grads of inputs and weights; the first conv has no
    # input grad, so a little under 3×).
    ratio = train["flops_per_step"] / (2 * inf["flops_per_image"])
    assert 2.0 < ratio <= 3.0
    assert set(inf["backends"]) == {"eager", "eager-channels-last", "onnxruntime"}
    for r in inf["backends"].values():
        assert r["latency_ms"] > 0 and r["throughput_img_s"] > 0
        assert r["achieved_gflops"] == pytest.approx(inf["flops_per_image"] * r["throughput_img_s"] / 1e9)
    assert inf["backends"]["onnxruntime"]["provider"] == "CPUExecutionProvider"
    table = format_table(result)
    # the inference table names its last column and explains every column under it
    assert "| max abs err | auto |" in table and INFERENCE_LEGEND in table
    assert "| C | 24x16 gray b2 |" in table and "fp32 matmul peak" in table
    assert f"| C | 24x16 gray b2 | {photo['precision']} | {photo['loss_s'] * 1e3:,.1f} ms |" in table
    assert PHOTOMETRIC_LEGEND in table
    assert "| C | 24x16 gray b1/b4 | onnxruntime |" in table


def test_bench_reports_flags_precision_auto_int8_openvino_and_keras() -> None:
    cfg = BenchConfig.quick_config(models=("SCRX",), settings=TINY, train=False, stereo=False)
    result = run_bench(cfg, progress=False)
    flags = result["machine"]["cpu_flags"]
    assert {"avx2", "avx512_bf16", "amx_bf16", "amx_int8"} <= set(flags)
    assert all(isinstance(v, bool) for v in flags.values())
    assert result["precision"]["auto_cpu"] in ("fp32", "bf16")
    assert result["precision"]["native_bf16"] == (result["precision"]["auto_cpu"] == "bf16")
    (inf,) = result["devices"]["cpu"]["models"]["SCRX"]["inference"]
    rows = inf["backends"]
    assert rows["onnxruntime"]["max_abs_error"] < 1e-4
    assert "latency_ms" in rows["onnxruntime-int8"]  # INT8 row measured (speed; random calibration)
    ov_rows = [b for b in rows if b.startswith("openvino-") and b != "openvino-int8"]
    if "openvino" in rows:  # not installed: one skipped row naming the extra
        assert "ssrdepth[openvino]" in rows["openvino"]["skipped"]
    else:
        assert {"openvino-f32-latency", "openvino-f32-throughput"} <= set(ov_rows)
    # the Keras rows: measured with TensorFlow at width 1.0 only, else skipped with the reason
    assert "width 1.0" in rows["keras"]["skipped"] or "TensorFlow" in rows["keras"]["skipped"]
    chosen = inf["auto"]["backend"]
    assert chosen is not None and rows[chosen]["max_abs_error"] <= inf["auto"]["tolerance"]
    assert not chosen.startswith(("keras", "onnxruntime-int8", "openvino-int8"))
    assert "**auto**" in format_table(result) and "precision auto →" in format_table(result)


def test_cli_writes_json_and_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "b.json"
    rc = cli(["bench", "--quick", "--models", "sc", "--device", "cpu", "--no-train", "--no-stereo",
              "--backends", "eager", "--out", str(out)])  # fmt: skip
    assert rc == 0
    result = load_result(out)
    assert (
        list(result["devices"]["cpu"]["models"]) == ["SC"]
        and "train" not in result["devices"]["cpu"]["models"]["SC"]
    )
    assert (tmp_path / "b.md").read_text().startswith("**cpu**")
    assert "wrote" in capsys.readouterr().out
    bad = tmp_path / "other.json"
    bad.write_text(json.dumps({"schema": "x"}))
    with pytest.raises(ValueError, match="not an ssrdepth bench result"):
        load_result(bad)


def test_interleaving_and_memory_helpers() -> None:
    calls: list[str] = []
    times = interleaved_medians(
        {"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}, 3, 1, torch.device("cpu"), settle=1
    )
    # warm-up a, b; then three rounds of (settle + timed) per function, round-robin
    assert calls == ["a", "b"] + ["a", "a", "b", "b"] * 3
    assert {k: len(v) for k, v in times.items()} == {"a": 3, "b": 3}
    with peak_memory(torch.device("cpu")) as mem:
        block = np.ones(200 * 2**20, np.uint8)  # 200 MiB, touched
        del block
    if mem["method"].startswith("VmHWM"):
        assert 190 <= mem["rise_mib"] <= 400
    assert mem["peak_mib"] >= mem["baseline_mib"]


def test_training_table_heads_with_the_step_train_runs() -> None:
    # A training row as run_bench writes it: the headline is the step `train` runs, the bare-step
    # variants beside it.
    bare = {"step_s": 0.5, "images_per_s": 8.0, "achieved_gflops": 3.0, "memory": {"rise_mib": 12.0}}
    real = {"what": "the step `ssrdepth train` runs", "step_s": 0.8, "images_per_s": 5.0}
    row = {
        "setting": "24x16 gray",
        "batch": 4,
        "variants": {"contiguous": bare, "channels-last": bare},
        "as_train_runs_it": real,
        "headline": "as_train_runs_it",
        "step_s": 0.8,
        "images_per_s": 5.0,
    }
    result = {
        "machine": {"cpu": "test CPU", "cpu_flags": {}},
        "devices": {
            "cpu": {"matmul_peak": {"gflops": 100.0}, "models": {"C": {"train": [row], "inference": []}}}
        },
        "stereo": {"skipped": "disabled (--no-stereo)"},
    }
    table = format_table(result)
    assert (
        "| training | setting | train step (as `ssrdepth train` runs it) | bare contiguous | bare channels-last |"
        in table
    )
    assert "| C | 24x16 gray b4 | **5.0** img/s (800 ms) | 8.0 img/s (500 ms, 3 GFLOP/s, 12 MiB) |" in table
    assert TRAINING_LEGEND in table
    # a result written without the real step keeps its bare rows, the headline cell empty
    del row["as_train_runs_it"]
    assert "| C | 24x16 gray b4 | – | 8.0 img/s" in format_table(result)


def test_quick_training_row_headline_is_the_step_train_runs() -> None:
    cfg = BenchConfig.quick_config(
        models=("C",), settings=TINY, backends=("eager",), stereo=False, keras=False
    )
    (train,) = run_bench(cfg, progress=False)["devices"]["cpu"]["models"]["C"]["train"]
    real = train["as_train_runs_it"]
    assert train["headline"] == "as_train_runs_it"
    assert (train["step_s"], train["images_per_s"]) == (real["step_s"], real["images_per_s"])
    assert "bare-step variants" in train["variants_what"] and "SGD" in train["variants_what"]
