"""``python -m ssrdepth`` (and ``torchrun -m ssrdepth``) runs the console script."""

from ssrdepth.cli import main

raise SystemExit(main())
