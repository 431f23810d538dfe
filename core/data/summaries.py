"""What the Explore page shows of a dataset: counts and mean images per class, IDX headers."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from core.data.idx import IdxHeader

if TYPE_CHECKING:
    import pandas as pd


def class_counts(labels: np.ndarray, num_classes: int) -> np.ndarray:
    """Return how many labels each class has, as an ``int64`` array ``(num_classes,)``."""
    return np.bincount(np.asarray(labels, dtype=np.intp), minlength=num_classes)[:num_classes]


def mean_images(images: np.ndarray, labels: np.ndarray, num_classes: int) -> np.ndarray:
    """Return the mean image of each class, ``float32`` ``(num_classes, rows, columns)``.

    A class without images gets an all-zero image.
    """
    sums = np.zeros((num_classes, images.shape[1] * images.shape[2]), dtype=np.float64)
    flat = images.reshape(len(images), -1)
    for label in range(num_classes):
        members = flat[labels == label]
        if len(members):
            sums[label] = members.mean(axis=0, dtype=np.float64)
    return sums.reshape(num_classes, *images.shape[1:]).astype(np.float32)


def header_table(headers: dict[str, IdxHeader]) -> pd.DataFrame:
    """Return one row per IDX file: magic number, type, count, rows, columns, size.

    Rows and columns are text ("–" for label files, which have neither).
    """
    # pandas takes about a second to import and nothing else in core.data needs it: imported
    # here, `import core.data` (the test kit, core.nn, the preprocessing benches) stays
    # without it. The app loads it anyway (core.runs, core.jobs).
    import pandas as pd

    rows = []
    for file_name, header in headers.items():
        rows.append(
            {
                "file": file_name,
                "magic": f"0x{header.magic:08X}",
                "type": header.type_name,
                "count": header.count,
                "rows": str(header.shape[1]) if header.ndim > 1 else "–",
                "columns": str(header.shape[2]) if header.ndim > 2 else "–",
                "bytes": header.header_bytes + header.payload_bytes,
            }
        )
    return pd.DataFrame(rows)


def filter_indices(labels: np.ndarray, label: int | None = None) -> np.ndarray:
    """Return the indices of the images with `label` (all indices when `label` is None)."""
    if label is None:
        return np.arange(len(labels))
    return np.flatnonzero(labels == label)
