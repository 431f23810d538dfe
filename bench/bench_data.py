"""Time loading and validating the bundled MNIST, and the Explore page's reruns.

Run with `.venv/bin/python -m bench.bench_data`. Prints medians over several repeats;
targets: dataset load under 0.5 s, an Explore page rerun under 0.3 s.
"""

from __future__ import annotations

import gzip
import struct
import zlib

from bench.timing import median_seconds
from core import settings
from core.data.datasets import load_idx_folder
from core.data.idx import IdxTooLargeError, read_idx
from testkit.harness import app_test

repeats = 7
page_reruns = 10
data_folder = settings.PROJECT_ROOT / "data" / "mnist"
train_images_file = data_folder / "train-images-idx3-ubyte.gz"


def refuse_huge_header() -> None:
    bomb = gzip.compress(bytes([0, 0, 8, 3]) + struct.pack(">3I", 10**9, 28, 28))
    try:
        read_idx(bomb, name="bomb")
    except IdxTooLargeError:
        return
    raise RuntimeError("the huge header was not refused")


def zlib_floor() -> None:
    """Decompress the training images in one zlib call: the lower bound for reading them."""
    zlib.decompressobj(wbits=31).decompress(train_images_file.read_bytes())


def explore_page_timings() -> tuple[float, float, float]:
    """Return (first run, median plain rerun, median rerun after changing the filter)."""
    app = app_test("app_pages/explore.py")
    first = median_seconds(app.run, 1)
    if app.exception:
        raise RuntimeError(app.exception[0].message)
    rerun = median_seconds(app.run, page_reruns)
    labels = iter(["1", "2", "3", "4", "5", "6", "7", "8", "9", "0"] * 2)

    def change_filter() -> None:
        app.selectbox(key="explore_label_filter").set_value(next(labels)).run()

    interaction = median_seconds(change_filter, page_reruns)
    return first, rerun, interaction


def main() -> None:
    load_seconds = median_seconds(lambda: load_idx_folder(data_folder), repeats)
    read_seconds = median_seconds(lambda: read_idx(train_images_file), repeats)
    floor_seconds = median_seconds(zlib_floor, repeats)
    rows = [
        ("load + validate bundled MNIST (4 files)", load_seconds, 0.5),
        ("  read train-images (47 MB unpacked)", read_seconds, None),
        ("  zlib one-shot floor for the same file", floor_seconds, None),
        ("refuse a 16-byte file declaring 784 GB", median_seconds(refuse_huge_header, 101), None),
    ]
    first, rerun, interaction = explore_page_timings()
    rows += [
        ("Explore page first run (AppTest, cold caches)", first, None),
        ("Explore page rerun (AppTest)", rerun, 0.3),
        ("Explore page rerun after a filter change", interaction, 0.3),
    ]
    width = max(len(name) for name, _, _ in rows)
    print(f"{'measurement':<{width}}  {'median':>10}  target")
    for name, seconds, target in rows:
        figure = f"{seconds * 1000:8.2f} ms" if seconds < 1 else f"{seconds:8.2f} s "
        goal = f"< {target} s ({'met' if seconds < target else 'MISSED'})" if target else ""
        print(f"{name:<{width}}  {figure:>10}  {goal}")
    print(f"\nreading train-images costs {read_seconds / floor_seconds:.2f}x the zlib floor")


if __name__ == "__main__":
    main()
