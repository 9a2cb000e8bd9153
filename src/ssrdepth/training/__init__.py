"""Training: configuration and presets, run folder, processes and devices, data order, logs, the loop (``train``)."""
