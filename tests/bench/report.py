"""Where benchmark figures go: a JSON file named by ``RLT_BENCH_FIGURES`` (set by scripts/bench).

Each measurement records its figures under their names; several tests add to the same object,
so ``scripts/bench`` prints one JSON object with every figure.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

FIGURES_ENV = "RLT_BENCH_FIGURES"


def record(name: str, value: float) -> None:
    """Add one figure to the file named by ``RLT_BENCH_FIGURES`` (nothing when it is unset)."""
    target = os.environ.get(FIGURES_ENV)
    if not target:
        return
    path = Path(target)
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    figures = json.loads(text) if text.strip() else {}
    figures[name] = value
    path.write_text(json.dumps(figures, sort_keys=True) + "\n", encoding="utf-8")
