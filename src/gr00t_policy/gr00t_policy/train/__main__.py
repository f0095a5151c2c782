"""``python -m gr00t_policy.train``: the same as ``gr00t-train``."""

from gr00t_policy.train.cli import main

raise SystemExit(main())
