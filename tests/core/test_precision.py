"""``precision = "auto"`` and the CPU flags it is read from (``ssrdepth.core.hardware``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ssrdepth.core import hardware
from ssrdepth.core.hardware import cpu_flags, native_bf16, resolve_precision, speed_flags

#: An excerpt of a Sapphire Rapids /proc/cpuinfo (x86: the "flags" line) and of an ARM one ("Features").
X86 = """processor\t: 0
vendor_id\t: GenuineIntel
model name\t: Intel(R) Xeon(R) Platinum 8480+
flags\t\t: fpu sse2 avx2 avx512f avx512_bf16 avx512_vnni amx_bf16 amx_tile amx_int8
bugs\t\t: spectre_v1

processor\t: 1
flags\t\t: fpu sse2
"""
ARM = "processor\t: 0\nFeatures\t: fp asimd evtstrm bf16 i8mm\nCPU implementer\t: 0x41\n"


def test_cpu_flags_are_read_from_the_first_flags_line(tmp_path: Path) -> None:
    (tmp_path / "x86").write_text(X86)
    (tmp_path / "arm").write_text(ARM)
    try:
        assert cpu_flags(str(tmp_path / "x86")) == {
            "fpu", "sse2", "avx2", "avx512f", "avx512_bf16", "avx512_vnni", "amx_bf16", "amx_tile", "amx_int8",
        }  # fmt: skip
        assert cpu_flags(str(tmp_path / "arm")) == {"fp", "asimd", "evtstrm", "bf16", "i8mm"}
        assert cpu_flags(str(tmp_path / "absent")) == frozenset()
    finally:
        cpu_flags.cache_clear()  # the cache holds one entry: give it back to the real /proc/cpuinfo


def test_native_bf16_means_amx_bf16_or_avx512_bf16() -> None:
    assert native_bf16(frozenset({"amx_bf16"})) and native_bf16(frozenset({"avx512_bf16"}))
    # AVX-512 without its bf16 extension, AMX without AMX-BF16, and ARM's "bf16" do not count.
    assert not native_bf16(frozenset({"avx2", "avx512f", "avx512_vnni", "amx_int8", "amx_tile", "bf16"}))
    assert not native_bf16(frozenset())
    assert speed_flags(frozenset({"avx2", "amx_bf16", "sse2"})) == {
        "avx2": True, "avx512f": False, "avx512_bf16": False, "avx512_vnni": False, "avx_vnni": False,
        "amx_bf16": True, "amx_int8": False, "amx_tile": False,
    }  # fmt: skip


@pytest.mark.parametrize(
    ("precision", "device", "flags", "expected"),
    [
        ("auto", "cuda", frozenset(), "bf16"),  # CUDA: bf16 whatever the CPU
        ("auto", "cpu", frozenset({"avx512f", "avx512_bf16"}), "bf16"),
        ("auto", "cpu", frozenset({"amx_tile", "amx_bf16"}), "bf16"),
        ("auto", "cpu", frozenset({"avx2", "avx512f", "avx512_vnni"}), "fp32"),
        ("auto", "cpu", frozenset(), "fp32"),
        ("fp32", "cuda", frozenset(), "fp32"),  # an explicit choice is kept
        ("bf16", "cpu", frozenset(), "bf16"),  # even where it is emulated
        ("fp16", "cuda", frozenset(), "fp16"),
    ],
)
def test_resolve_precision(precision: str, device: str, flags: frozenset[str], expected: str) -> None:
    assert resolve_precision(precision, device, flags) == expected


def test_resolve_precision_reads_this_machines_flags(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hardware, "cpu_flags", lambda cpuinfo="/proc/cpuinfo": frozenset({"amx_bf16"}))
    assert resolve_precision("auto", "cpu") == "bf16"
    monkeypatch.setattr(hardware, "cpu_flags", lambda cpuinfo="/proc/cpuinfo": frozenset({"avx2"}))
    assert resolve_precision("auto", "cpu") == "fp32"


def test_resolve_precision_refuses_fp16_on_a_cpu_and_unknown_names() -> None:
    with pytest.raises(ValueError, match="precision 'fp16' needs a CUDA device"):
        resolve_precision("fp16", "cpu", frozenset({"amx_bf16"}))
    with pytest.raises(ValueError, match="unknown precision 'fp8'; valid values: auto, fp32, bf16, fp16"):
        resolve_precision("fp8", "cuda")


def test_usable_cores_follow_the_affinity_mask(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    from ssrdepth.core.hardware import usable_cores

    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 3, 5}, raising=False)
    assert usable_cores() == 3  # a container or taskset allowing 3 of the CPU's cores
    monkeypatch.delattr(os, "sched_getaffinity", raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 7)
    assert usable_cores() == 7  # no affinity call on this OS: the CPU count
