"""The shipped CNN's forward pass in Chromium: ONNX Runtime Web (wasm) against mnist_net.js.

A comparison for issue 25, not part of the app. Needs an unpacked onnxruntime-web
(`npm pack onnxruntime-web` in /tmp, untar) and the ONNX graph of the shipped CNN built from
the page's model file by bench/draw_onnx_graph.py (run with a throwaway venv that has `onnx`;
the app's venv does not). Serves the files on a local port, opens a page that loads both
runtimes, and for `--inputs` MNIST test digits drawn as the 280x280 canvas holds them times
`--rounds` times per input: MnistNet.preprocess + MnistNet.predict, and MnistNet.preprocess +
ort InferenceSession.run (wasm backend, 1 thread: the page is not cross-origin isolated).
Prints medians, p95, the largest difference between the two runtimes' probabilities and the
download sizes (raw and gzip -9). Usage:
    .venv/bin/python -m bench.bench_draw_onnx --ort-dist /tmp/ortw/package/dist \\
        --model /tmp/shipped.mnw --onnx /tmp/shipped.onnx [--rounds 20] [--inputs 30]
"""

# ruff: noqa: E501  (long f-strings of the printed figures)
from __future__ import annotations

import argparse
import functools
import gzip
import http.server
import shutil
import statistics
import tempfile
import threading
from pathlib import Path

import numpy as np

from bench.bench_draw_in_page import MNIST_NET, canvas_rgba, describe, load

ORT_FILES = ("ort.wasm.min.js", "ort-wasm-simd-threaded.wasm", "ort-wasm-simd-threaded.mjs")
PAGE = """<html><body><script src="ort.wasm.min.js"></script><script src="mnist_net.js"></script>
<script>window.MnistNet = MnistNet;</script></body></html>"""
RUN = """async ([count, rounds]) => {
  ort.env.wasm.numThreads = 1;
  ort.env.wasm.wasmPaths = location.origin + '/';
  const mnw = MnistNet.parseModel(await (await fetch('model.mnw')).arrayBuffer());
  const created = performance.now();
  const session = await ort.InferenceSession.create(
    new Uint8Array(await (await fetch('model.onnx')).arrayBuffer()), {executionProviders: ['wasm']});
  const sessionMs = performance.now() - created;
  const all = new Uint8Array(await (await fetch('inputs.bin')).arrayBuffer());
  const inputs = [];
  for (let i = 0; i < count; i++) inputs.push(all.slice(i * 313600, (i + 1) * 313600));
  const plain = [], onnx = [];
  let worst = 0;
  for (let round = 0; round < rounds + 2; round++) {
    for (const rgba of inputs) {
      let started = performance.now();
      let prepared = MnistNet.preprocess(rgba, 280, 280);
      const a = MnistNet.predict(mnw, prepared.input);
      const plainMs = performance.now() - started;
      started = performance.now();
      prepared = MnistNet.preprocess(rgba, 280, 280);
      const tensor = new ort.Tensor('float32', Float32Array.from(prepared.input), [1, 784]);
      const output = await session.run({input: tensor});
      const b = output.probabilities.data;
      const onnxMs = performance.now() - started;
      if (round >= 2) { plain.push(plainMs); onnx.push(onnxMs); }
      for (let i = 0; i < 10; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
    }
  }
  return {plain, onnx, worst, sessionMs};
}"""


def sizes(paths: dict[str, Path]) -> str:
    out = []
    for name, path in paths.items():
        raw = path.read_bytes()
        out.append(f"{name} {len(raw):,} B (gzip {len(gzip.compress(raw, 9)):,} B)")
    return "; ".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ort-dist", type=Path, required=True)
    parser.add_argument("--model", type=Path, required=True, help="the page's model file (MNW1)")
    parser.add_argument("--onnx", type=Path, required=True)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--inputs", type=int, default=30)
    arguments = parser.parse_args()
    from playwright.sync_api import sync_playwright

    from core.data.datasets import load_default_dataset
    from testkit.harness import CHROMIUM_ARGS, chromium_path, free_port

    test = load_default_dataset().test_images
    inputs = np.stack([canvas_rgba(np.asarray(test[(i * 97) % len(test)]))
                       for i in range(arguments.inputs)])  # fmt: skip
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        for name in ORT_FILES:
            shutil.copy(arguments.ort_dist / name, root / name)
        shutil.copy(MNIST_NET, root / "mnist_net.js")
        shutil.copy(arguments.model, root / "model.mnw")
        shutil.copy(arguments.onnx, root / "model.onnx")
        (root / "inputs.bin").write_bytes(inputs.tobytes())
        (root / "index.html").write_text(PAGE)
        print("ONNX Runtime Web:", sizes({n: root / n for n in ORT_FILES}))
        print("plain forward pass:", sizes({"mnist_net.js": root / "mnist_net.js"}))
        print("model:", sizes({"model.mnw": root / "model.mnw", "model.onnx": root / "model.onnx"}))
        port = free_port()

        class Quiet(http.server.SimpleHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

        handler = functools.partial(Quiet, directory=folder)
        server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=chromium_path(), args=CHROMIUM_ARGS, headless=True
                )
                page = browser.new_page()
                page.goto(f"http://127.0.0.1:{port}/index.html")
                before = load()
                result = page.evaluate(RUN, [arguments.inputs, arguments.rounds])
                print(f"load {before} -> {load()}")
                print(f"mnist_net.js preprocess+predict: {describe(result['plain'])}")
                print(f"onnxruntime-web wasm preprocess+run: {describe(result['onnx'])}; "
                      f"session creation {result['sessionMs']:.0f} ms; largest probability "
                      f"difference {result['worst']:.1e}")  # fmt: skip
                print(
                    f"median ratio onnx/plain "
                    f"{statistics.median(result['onnx']) / statistics.median(result['plain']):.2f}"
                )
                browser.close()
        finally:
            server.shutdown()


if __name__ == "__main__":
    main()
