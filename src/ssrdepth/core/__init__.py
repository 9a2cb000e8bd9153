"""The small core every layer may use: atomic I/O, sizes, TargetScale and disparity ↔ depth, image preparation, hardware, machine description, FLOPs."""
