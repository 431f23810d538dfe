"""Hostile `.keras` files from the security review (issue 12), built on the spot.

Shared by `tests/unit/core/nn/test_upload_attacks.py` and `bench/bench_attacks.py`. Each builder
returns the bytes a visitor would upload; `run_import_in_subprocess` imports one in a
separate Python process under an address-space cap and a file-size cap, so an attack that
works costs that process, not the machine running the tests.
"""

from __future__ import annotations

import gzip
import json
import os
import struct
import subprocess
import sys
import time
import zipfile
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
ADDRESS_SPACE_BYTES = 3 * 2**30
FILE_SIZE_BYTES = 64 * 2**20
PADDING_BYTES = int(3.9 * 2**20)
EXTRA_MEMBERS = 3
EXTRA_MEMBER_BYTES = 200 * 2**20


def keras_bytes(model) -> bytes:
    """Save a Keras model as a `.keras` file in memory and return its bytes."""
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "model.keras"
        model.save(path)
        return path.read_bytes()


def small_model_bytes() -> bytes:
    """A normal, small model of the app's shape: Flatten -> Dense(10, softmax)."""
    import keras

    model = keras.Sequential(
        [
            keras.Input((28, 28)),
            keras.layers.Flatten(),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    return keras_bytes(model)


def _members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def padded_config(base: bytes, padding: int = PADDING_BYTES) -> bytes:
    """Finding 1: a valid model whose config.json ends in `padding` spaces (still valid JSON)."""
    members = _members(base)
    members["config.json"] += b" " * padding
    buffer = BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def many_members(
    base: bytes, count: int = EXTRA_MEMBERS, member_bytes: int = EXTRA_MEMBER_BYTES
) -> bytes:
    """Finding 2: a valid model plus `count` deflated members of zeros, each under Keras's
    256 MiB extraction floor, which Keras extracts to the temp folder."""
    buffer = BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for name, content in _members(base).items():
            archive.writestr(name, content)
        zeros = bytes(member_bytes)
        for index in range(count):
            archive.writestr(
                f"assets/filler_{index}.bin", zeros, compress_type=zipfile.ZIP_DEFLATED
            )
    return buffer.getvalue()


def upsampling_model() -> bytes:
    """Finding 3: a tiny model that blows each image up 36 times before a convolution."""
    import keras
    from keras import layers

    model = keras.Sequential(
        [
            keras.Input((28, 28)),
            layers.Reshape((28, 28, 1)),
            layers.UpSampling2D(6),
            layers.Conv2D(64, 3, padding="same", activation="relu"),
            layers.GlobalAveragePooling2D(),
            layers.Dense(10, activation="softmax"),
        ]
    )
    return keras_bytes(model)


ATTACKS = {
    "padded config.json": lambda base: padded_config(base),
    "many members": lambda base: many_members(base),
    "UpSampling2D model": lambda base: upsampling_model(),
    "normal model": lambda base: base,
}

_CHILD = """
import json, resource, sys, time
address_space, file_size, path = sys.argv[1:4]
resource.setrlimit(resource.RLIMIT_AS, (int(address_space),) * 2)
resource.setrlimit(resource.RLIMIT_FSIZE, (int(file_size),) * 2)
import numpy as np
import keras
from core.nn.evaluation import evaluate
data = open(path, "rb").read()
from core.nn import model_files as imports
def peak_kib():
    # This process's own high-water mark. (ru_maxrss would carry the parent's: Linux keeps
    # the forked copy's high-water mark across exec, so a big test process inflates it.)
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


before = peak_kib()
started = time.perf_counter()
outcome = {"error": None, "message": None, "evaluated": False}
try:
    model = imports.model_from_keras_file(data, "upload.keras")
except MemoryError as error:
    outcome["error"], outcome["message"] = "MemoryError", str(error)[:200]
except ValueError as error:
    outcome["error"], outcome["message"] = type(error).__name__, str(error)[:300]
else:
    batch = getattr(imports, "evaluation_batch_size", lambda model: 512)(model)
    images = np.zeros((2_000, 28, 28), np.uint8)
    labels = np.zeros(2_000, np.int64)
    evaluate(model, images, labels, batch_size=batch)
    outcome["evaluated"] = True
outcome["seconds"] = time.perf_counter() - started
outcome["rss_before_mib"] = before / 1024
outcome["peak_rss_mib"] = peak_kib() / 1024
print("RESULT " + json.dumps(outcome))
"""


@dataclass(frozen=True)
class ImportOutcome:
    """What importing one file did in a capped subprocess.

    Attributes:
        returncode: The process's exit status (negative: killed by that signal).
        error: The refusal's class name, or None when the model loaded.
        message: The refusal's message.
        evaluated: Whether the model loaded and was evaluated on 2,000 images.
        seconds: Seconds from the file's bytes to the refusal (or to the evaluation's end).
        peak_rss_mib: The process's peak resident memory (MiB), Python and Keras included
            (also for a process that died).
        rss_before_mib: Its peak resident memory before the import (Keras loaded).
        temp_bytes: Bytes left in the process's temp folder afterwards.
        temp_peak_bytes: The largest the temp folder was seen while the process ran.
    """

    returncode: int
    error: str | None
    message: str | None
    evaluated: bool
    seconds: float | None
    peak_rss_mib: float | None
    rss_before_mib: float | None
    temp_bytes: int
    temp_peak_bytes: int


def _folder_bytes(folder: Path) -> int:
    total = 0
    for path in folder.rglob("*"):
        try:
            total += path.stat().st_size if path.is_file() else 0
        except OSError:
            continue
    return total


def run_import_in_subprocess(
    data: bytes,
    folder: Path,
    demo: bool = True,
    timeout: float = 300,
    project_root: Path = PROJECT_ROOT,
    file_size_bytes: int = FILE_SIZE_BYTES,
) -> ImportOutcome:
    """Import `data` as an uploaded model in a child process under memory and file caps.

    Args:
        data: The `.keras` file.
        folder: A scratch folder; the child's temp folder is made inside it.
        demo: Use the demo profile's caps (else the local ones).
        timeout: Seconds before the child is killed.
        project_root: The copy of the app to import with (the benchmark passes an older one).
        file_size_bytes: The largest file the child may write.

    Returns:
        The `ImportOutcome`.
    """
    path = folder / "upload.keras"
    path.write_bytes(data)
    temp = folder / "tmp"
    temp.mkdir(exist_ok=True)
    environment = {**os.environ, "TMPDIR": str(temp), "PYTHONPATH": str(project_root)}
    environment["MNIST_STUDIO_DEMO_MODE"] = "1" if demo else "0"
    arguments = [str(ADDRESS_SPACE_BYTES), str(file_size_bytes), str(path)]
    process = subprocess.Popen(
        [sys.executable, "-c", _CHILD, *arguments],
        cwd=project_root,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    peak = 0
    deadline = time.monotonic() + timeout
    # wait4 gives the child's peak RSS even when it dies before reporting it.
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() > deadline:
            process.kill()
            _, status, usage = os.wait4(process.pid, 0)
            break
        peak = max(peak, _folder_bytes(temp))
        time.sleep(0.05)
    process.returncode = os.waitstatus_to_exitcode(status)
    output = process.stdout.read()
    process.stdout.close()
    result = next(
        (json.loads(line[7:]) for line in output.splitlines() if line.startswith("RESULT ")), {}
    )
    left = _folder_bytes(temp)
    return ImportOutcome(
        returncode=process.returncode,
        error=result.get("error"),
        message=result.get("message"),
        evaluated=bool(result.get("evaluated")),
        seconds=result.get("seconds"),
        peak_rss_mib=result.get("peak_rss_mib") or usage.ru_maxrss / 1024,
        rss_before_mib=result.get("rss_before_mib"),
        temp_bytes=left,
        temp_peak_bytes=max(peak, left),
    )


def zeros_idx_gzip(count: int) -> bytes:
    """A gzipped IDX images file of ``count`` blank images, written without holding them."""
    buffer = BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb") as archive:
        archive.write(struct.pack(">BBBBIII", 0, 0, 8, 3, count, 28, 28))
        chunk = bytes(28 * 28 * 1000)
        for _ in range(count // 1000):
            archive.write(chunk)
    return buffer.getvalue()
