"""The six networks of the paper and their registry."""

from ssrdepth.models.networks import ARCHITECTURES, MIN_SIZE, DepthNet, ModelOptions
from ssrdepth.models.registry import ALIASES, canonical_name, create_model, list_models

__all__ = [
    "ALIASES",
    "ARCHITECTURES",
    "MIN_SIZE",
    "DepthNet",
    "ModelOptions",
    "canonical_name",
    "create_model",
    "list_models",
]
