"""The optional extras (pyproject.toml's optional-dependencies) and one check that names the missing one.

Heavy or niche dependencies are extras so that `pip install collapse-bench` stays small: `parallel` (Ray),
`text` (MAUVE, sacreBLEU, GGUF reading) and `export` (TensorBoard, MLflow). A command that needs one checks it
before any work starts, without importing it (importing Ray alone takes seconds), and refuses in one line.
"""

from __future__ import annotations

import importlib.util

# extra -> {importable module: the distribution that provides it}
EXTRAS: dict[str, dict[str, str]] = {
    "parallel": {"ray": "ray"},
    "text": {"mauve": "mauve-text", "sacrebleu": "sacrebleu", "gguf": "gguf"},
    "export": {
        "tensorboard": "tensorboard",
        "mlflow": "mlflow-skinny",
        "sqlalchemy": "sqlalchemy",
        "alembic": "alembic",
    },
}


class MissingExtra(ValueError):
    """An optional extra a command needs is not installed (exit 2, one line)."""


def missing(extra: str, modules: tuple[str, ...] | None = None) -> str | None:
    """The first distribution of ``extra`` (or of its ``modules``) that is not installed; ``None`` when all are."""
    for module, distribution in EXTRAS[extra].items():
        if (modules is None or module in modules) and importlib.util.find_spec(module) is None:
            return distribution
    return None


def require(extra: str, needed_by: str, modules: tuple[str, ...] | None = None) -> None:
    """Raise :class:`MissingExtra` naming ``extra`` when any of its modules (or of ``modules``) is missing."""
    if (distribution := missing(extra, modules)) is not None:
        raise MissingExtra(
            f"{needed_by} needs the '{extra}' extra (pip install 'collapse-bench[{extra}]'): "
            f"{distribution} is not installed"
        )
