"""Model registry: ``create_model(name, in_channels, **options)`` and ``list_models()``."""

from __future__ import annotations

from typing import Any

from ssrdepth.models.networks import ARCHITECTURES, DepthNet, ModelOptions

#: Other spellings the paper uses for the same networks.
ALIASES = {"SCR": "SCRX", "SCRUX": "SCRXU"}


def list_models() -> list[str]:
    """Names of the registered networks, in the paper's order."""
    return list(ARCHITECTURES)


def canonical_name(name: str) -> str:
    """Upper-case ``name`` and resolve aliases; ValueError listing the valid names if unknown."""
    key = name.strip().upper()
    key = ALIASES.get(key, key)
    if key not in ARCHITECTURES:
        valid = ", ".join(list_models())
        aliases = ", ".join(f"{a} = {b}" for a, b in ALIASES.items())
        raise ValueError(
            f"unknown model {name!r}; valid names: {valid} (aliases: {aliases}; case-insensitive)"
        )
    return key


def create_model(name: str, in_channels: int = 1, **options: Any) -> DepthNet:
    """Build a network by name. ``options`` are the fields of :class:`ModelOptions`.

    >>> create_model("scrx", in_channels=3, width=0.5)  # doctest: +ELLIPSIS
    DepthNet(...)
    """
    arch = ARCHITECTURES[canonical_name(name)]
    unknown = set(options) - set(ModelOptions.names())
    if unknown:
        raise ValueError(
            f"unknown model option(s) {sorted(unknown)}; valid options: {', '.join(ModelOptions.names())}"
        )
    return DepthNet(arch, in_channels, ModelOptions(**options))
