"""Which number format a training computes in: float32, or bfloat16 where the CPU has it.

bfloat16 keeps float32's range with fewer digits, so a CPU with native bfloat16 units
(Intel's AMX and AVX-512 BF16, shown as ``amx_bf16`` and ``avx512_bf16`` in /proc/cpuinfo)
runs convolutions several times faster in it. On a CPU without them TensorFlow emulates
bfloat16 and it is slower than float32, so "auto" chooses by the CPU's flags.

The choice is made per layer (Keras dtype policies passed to each layer), never through
Keras's process-wide global policy, because trainings run side by side in threads. Only the
layers where bfloat16 pays get it: the convolutional front (convolutions, their batch
normalisation and pooling). Dense layers gained nothing from it in measurements, and the
softmax output always stays float32 so probabilities and the loss keep full precision.

Example:
    >>> choose_precision("auto", frozenset({"avx2", "amx_bf16"}))
    'bfloat16'
    >>> choose_precision("auto", frozenset({"avx2"}))
    'float32'
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

from core import settings

FLOAT32 = "float32"
BFLOAT16 = "bfloat16"
AUTO = "auto"
# CPU flags (as /proc/cpuinfo names them) that mean native bfloat16 arithmetic.
BFLOAT16_FLAGS = frozenset({"amx_bf16", "avx512_bf16"})
# Keras dtype policy of each precision, for the layers where bfloat16 pays.
LAYER_POLICIES = {FLOAT32: "float32", BFLOAT16: "mixed_bfloat16"}
# What the Train page and the run store call each precision.
PRECISION_LABELS = {
    FLOAT32: "float32",
    BFLOAT16: "bfloat16 (convolutional front), float32 elsewhere",
}
CPUINFO = Path("/proc/cpuinfo")


def parse_cpu_flags(cpuinfo_text: str) -> frozenset[str]:
    """Return the CPU flags listed in the text of /proc/cpuinfo.

    Args:
        cpuinfo_text: The file's text (on x86 the ``flags`` lines, on ARM ``Features``).

    Returns:
        The flags of the first processor listed (all cores of a machine have the same).
    """
    for line in cpuinfo_text.splitlines():
        name, _, value = line.partition(":")
        if name.strip() in {"flags", "Features"}:
            return frozenset(value.split())
    return frozenset()


@lru_cache(maxsize=1)
def cpu_flags() -> frozenset[str]:
    """Return this machine's CPU flags (empty where /proc/cpuinfo cannot be read)."""
    try:
        return parse_cpu_flags(CPUINFO.read_text(encoding="utf-8", errors="replace"))
    except OSError:
        return frozenset()


def has_native_bfloat16(flags: Iterable[str]) -> bool:
    """Return True when the flags include native bfloat16 arithmetic (AMX or AVX-512 BF16)."""
    return bool(BFLOAT16_FLAGS & set(flags))


def choose_precision(setting: str, flags: Iterable[str]) -> str:
    """Decide the precision of a training: a pure function of the setting and the CPU flags.

    Args:
        setting: "auto", "float32" or "bfloat16" (the ``precision`` setting).
        flags: The CPU's flags (see `cpu_flags`).

    Returns:
        "bfloat16" or "float32": the setting itself when it forces one, otherwise
        "bfloat16" exactly when the CPU has native bfloat16 support.

    Raises:
        ValueError: If the setting is not one of the three.
    """
    if setting == AUTO:
        return BFLOAT16 if has_native_bfloat16(flags) else FLOAT32
    if setting in LAYER_POLICIES:
        return setting
    raise ValueError(f"Precision must be auto, float32 or bfloat16; got {setting!r}.")


def training_precision() -> str:
    """Return the precision trainings use on this machine (the setting and the CPU's flags)."""
    return choose_precision(settings.precision(), cpu_flags())


def uses_bfloat16(config, precision: str) -> bool:
    """Return True when a network of `config` has layers computing in bfloat16.

    Only the convolutional front takes bfloat16, so a dense network always trains in
    float32 whatever the precision setting.

    Args:
        config: A `core.nn.config.TrainingConfig`.
        precision: "float32" or "bfloat16".
    """
    return precision == BFLOAT16 and config.architecture == "cnn"


def effective_precision(config, precision: str) -> str:
    """Return what a run of `config` really computes in: "bfloat16" or "float32"."""
    return BFLOAT16 if uses_bfloat16(config, precision) else FLOAT32
