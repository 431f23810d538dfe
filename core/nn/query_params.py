"""How each field of a training configuration is written into a share link and read back.

`TrainingConfig.to_query_params` and `from_query_params` use these two tables; layer sizes
are also what the Train page's text boxes show (`format_sizes`, `parse_sizes`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def format_sizes(sizes: list[int] | tuple[int, ...]) -> str:
    """Write layer sizes for a URL or a text box: "256,128", or "none" for no layers."""
    return ",".join(str(size) for size in sizes) if sizes else "none"


def parse_sizes(text: str) -> tuple[int, ...]:
    """Read layer sizes such as "256, 128" ("none" or "" for no layers).

    Raises:
        ValueError: When a part is not a whole number.
    """
    text = text.strip().lower()
    if text in {"", "none"}:
        return ()
    try:
        return tuple(int(part) for part in text.replace(" ", "").split(","))
    except ValueError as error:
        raise ValueError(
            f"Write layer sizes as whole numbers separated by commas, e.g. 256,128; got {text!r}."
        ) from error


def _format_float(value: float) -> str:
    """The shortest text that reads back as exactly this float (0.001, 1e-05)."""
    return repr(float(value))


def _parse_optional_int(text: str) -> int | None:
    return None if text.strip().lower() in {"", "all", "none"} else int(text)


def _parse_bool(text: str) -> bool:
    value = text.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ValueError(f"Write 1 or 0 (true or false); got {text!r}.")


QUERY_FORMATTERS: dict[str, Callable[[Any], str]] = {
    "architecture": str,
    "hidden_layers": format_sizes,
    "conv_filters": format_sizes,
    "activation": str,
    "dropout": _format_float,
    "optimizer": str,
    "learning_rate": _format_float,
    "batch_size": str,
    "epochs": str,
    "scaling": str,
    "split": str,
    "validation_fraction": _format_float,
    "train_size": lambda value: "all" if value is None else str(value),
    "seed": str,
    "batch_norm": lambda value: "1" if value else "0",
    "schedule": str,
    "adam_beta_1": _format_float,
    "adam_beta_2": _format_float,
}
QUERY_PARSERS: dict[str, Callable[[str], Any]] = {
    "architecture": str.strip,
    "hidden_layers": parse_sizes,
    "conv_filters": parse_sizes,
    "activation": str.strip,
    "dropout": float,
    "optimizer": str.strip,
    "learning_rate": float,
    "batch_size": int,
    "epochs": int,
    "scaling": str.strip,
    "split": str.strip,
    "validation_fraction": float,
    "train_size": _parse_optional_int,
    "seed": int,
    "batch_norm": _parse_bool,
    "schedule": str.strip,
    "adam_beta_1": float,
    "adam_beta_2": float,
}
