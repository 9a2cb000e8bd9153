"""Image sizes as people write them: the paper's ``WIDTHxHEIGHT`` (``147x37``), returned as ``(H, W)``."""

from __future__ import annotations


def parse_size(text: str, example: str = "147x37") -> tuple[int, int]:
    """Parse ``WIDTHxHEIGHT`` (``147x37`` or ``147×37``, pixels) into ``(H, W)``.

    Raises:
        ValueError: not two positive integers joined by ``x``; the message shows ``example``.
    """
    parts = text.lower().replace("×", "x").split("x")
    if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
        raise ValueError(f"size {text!r}: expected WIDTHxHEIGHT, e.g. {example}")
    w, h = int(parts[0]), int(parts[1])
    return h, w
