"""Experiments built on the library: reproduce, demo, reports, paper numbers, bench, the model table."""
