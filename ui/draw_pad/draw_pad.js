// The Draw page's drawing component (Streamlit custom components v2, no iframe).
//
// "draw" mode: a 280x280 canvas (white ink on black) for mouse, pen and touch, with brush
// width, undo and clear. While the pen moves, the model runs here (MnistNet, from
// mnist_net.js above) once per display frame and the digit and bars follow it; when a stroke
// ends the drawing goes to the server as a PNG (state "drawing") for the verdict, the
// explanation and the neighbours. "box" mode: a picture on which a drag draws a crop box
// (state "box", in the shown picture's pixels).
const pads = new WeakMap();
const models = new Map();
const PANEL_BARS = 10;

function loadModel(url) {
  if (!models.has(url)) {
    const loading = fetch(url, { credentials: "same-origin", cache: "force-cache" })
      .then((response) => {
        if (!response.ok) throw new Error(`the model file answered ${response.status}`);
        return response.arrayBuffer();
      })
      .then((buffer) => MnistNet.parseModel(buffer));
    loading.catch(() => models.delete(url));
    models.set(url, loading);
  }
  return models.get(url);
}

function element(tag, className, parent, attributes = {}) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  if (parent) parent.appendChild(node);
  return node;
}

const paintStroke = MnistNet.paintStroke;

function buildDrawPad(root, data) {
  const pad = { mode: "draw", strokes: [], current: null, serial: 0, model: null, pending: false };
  pad.stats = [];
  root.__drawPad = pad;
  const tools = element("div", "mnist-pad-tools", root);
  const brushLabel = element("label", "mnist-pad-brush", tools);
  brushLabel.append("Brush ");
  const brush = element("input", "", brushLabel, {
    type: "range", min: "6", max: "40", step: "1", "aria-label": "Brush width",
  });
  brush.value = String(data.brush || 18);
  const undo = element("button", "mnist-pad-button", tools, { type: "button", "aria-label": "Undo the last stroke" });
  undo.textContent = "↶ Undo";
  const clear = element("button", "mnist-pad-button", tools, { type: "button", "aria-label": "Clear the canvas" });
  clear.textContent = "Clear";
  // The network's answer sits between the buttons and the canvas, so it stays in view on a
  // phone while a finger draws.
  const live = element("div", "mnist-pad-live", root, { "aria-live": "off", "data-testid": "draw-pad-live", title: "The network's own answer (its softmax), as you draw" });
  const answer = element("div", "mnist-pad-answer", live);
  const digit = element("span", "mnist-pad-digit", answer, { "data-testid": "draw-pad-digit" });
  element("span", "mnist-pad-answer-label", answer).textContent = "live";
  const bars = element("div", "mnist-pad-bars", live);
  const barFills = [];
  for (let i = 0; i < PANEL_BARS; i++) {
    const row = element("div", "mnist-pad-bar", bars);
    const track = element("span", "mnist-pad-bar-track", row);
    const fill = element("span", "mnist-pad-bar-fill", track);
    const name = element("span", "mnist-pad-bar-name", row);
    name.textContent = String(i);
    barFills.push({ row, name, fill });
  }
  const canvas = element("canvas", "mnist-pad-canvas", root, {
    width: String(data.size), height: String(data.size), "aria-label": "Drawing canvas",
    role: "img", tabindex: "-1", "data-testid": "draw-pad-canvas",
  });
  const context = canvas.getContext("2d", { willReadFrequently: true });
  const status = element("div", "mnist-pad-status", root, { "data-testid": "draw-pad-status" });
  Object.assign(pad, { canvas, context, brush, undo, clear, digit, barFills, status, live });

  function repaint() {
    context.fillStyle = "#000000";
    context.fillRect(0, 0, canvas.width, canvas.height);
    for (const stroke of pad.strokes) paintStroke(context, stroke);
    if (pad.current) paintStroke(context, pad.current);
    undo.disabled = pad.strokes.length === 0;
    clear.disabled = pad.strokes.length === 0;
  }

  function showProbabilities(probabilities) {
    let top = 0;
    for (let i = 1; i < probabilities.length; i++) if (probabilities[i] > probabilities[top]) top = i;
    digit.textContent = pad.classes[top] ?? String(top);
    barFills.forEach((bar, i) => {
      const value = i < probabilities.length ? probabilities[i] : 0;
      bar.row.hidden = i >= probabilities.length;
      bar.name.textContent = pad.classes[i] ?? String(i);
      bar.fill.style.height = `${(100 * value).toFixed(1)}%`;
      bar.row.classList.toggle("mnist-pad-top", i === top);
      bar.row.title = `${bar.name.textContent}: ${(100 * value).toFixed(1)}%`;
    });
    live.dataset.probabilities = JSON.stringify(Array.from(probabilities, (p) => Number(p.toFixed(6))));
  }

  function clearLive() {
    digit.textContent = "";
    for (const bar of barFills) {
      bar.fill.style.height = "0%";
      bar.row.classList.remove("mnist-pad-top");
    }
    delete live.dataset.probabilities;
  }

  // How far the pen went across the canvas: the longer side of the box around its points.
  function penSpan() {
    let left = Infinity, right = -Infinity, top = Infinity, bottom = -Infinity;
    const strokes = pad.current ? [...pad.strokes, pad.current] : pad.strokes;
    for (const stroke of strokes) {
      for (const [x, y] of stroke.points) {
        left = Math.min(left, x); right = Math.max(right, x);
        top = Math.min(top, y); bottom = Math.max(bottom, y);
      }
    }
    return right < left ? 0 : Math.max(right - left, bottom - top);
  }

  // One prediction per display frame at most, however fast the pointer reports.
  function predictSoon() {
    if (pad.pending || !pad.model) return;
    pad.pending = true;
    requestAnimationFrame(() => {
      pad.pending = false;
      if (!pad.model) return;
      // A tap is no digit (core/data/drawings.py `is_a_dot`): no live answer for it.
      if (penSpan() < pad.minPenSpan) {
        clearLive();
        return;
      }
      const started = performance.now();
      const pixels = context.getImageData(0, 0, canvas.width, canvas.height).data;
      const prepared = MnistNet.preprocess(pixels, canvas.width, canvas.height);
      if (!prepared.input) {
        clearLive();
        return;
      }
      showProbabilities(MnistNet.predict(pad.model, prepared.input));
      // Only frames with ink, which ran the network, count as predictions.
      pad.stats.push(performance.now() - started);
      if (pad.stats.length > 2000) pad.stats.shift();
      live.dataset.predictions = String(Number(live.dataset.predictions || 0) + 1);
    });
  }
  pad.predictSoon = predictSoon;

  function send() {
    pad.serial += 1;
    if (pad.strokes.length === 0) {
      pad.setStateValue("drawing", null);
      return;
    }
    const tenth = (value) => Math.round(value * 10) / 10;
    pad.setStateValue("drawing", {
      png: canvas.toDataURL("image/png"),
      serial: pad.serial,
      strokes: pad.strokes.map((stroke) => ({
        width: stroke.width, points: stroke.points.map(([x, y]) => [tenth(x), tenth(y)]),
      })),
    });
  }

  function point(event) {
    const box = canvas.getBoundingClientRect();
    return [
      ((event.clientX - box.left) * canvas.width) / box.width,
      ((event.clientY - box.top) * canvas.height) / box.height,
    ];
  }

  canvas.addEventListener("pointerdown", (event) => {
    if (event.button !== 0 && event.pointerType === "mouse") return;
    event.preventDefault();
    canvas.setPointerCapture(event.pointerId);
    pad.pointer = event.pointerId;
    pad.current = { width: Number(brush.value), points: [point(event)] };
    repaint();
    predictSoon();
  });
  canvas.addEventListener("pointermove", (event) => {
    if (!pad.current || event.pointerId !== pad.pointer) return;
    event.preventDefault();
    const coalesced = event.getCoalescedEvents ? event.getCoalescedEvents() : [];
    const events = coalesced.length ? coalesced : [event];
    for (const each of events) pad.current.points.push(point(each));
    // Paint only the new segments (from the last point already painted).
    paintStroke(context, { width: pad.current.width, points: pad.current.points.slice(-1 - events.length) });
    predictSoon();
  });
  const finish = (event) => {
    if (!pad.current || event.pointerId !== pad.pointer) return;
    pad.strokes.push(pad.current);
    pad.current = null;
    repaint();
    predictSoon();
    send();
  };
  canvas.addEventListener("pointerup", finish);
  canvas.addEventListener("pointercancel", finish);
  // A finger on the canvas draws; it never scrolls or zooms the page.
  canvas.addEventListener("touchstart", (event) => event.preventDefault(), { passive: false });
  canvas.addEventListener("touchmove", (event) => event.preventDefault(), { passive: false });
  undo.addEventListener("click", () => {
    pad.strokes.pop();
    repaint();
    if (pad.strokes.length) predictSoon();
    else clearLive();
    send();
  });
  clear.addEventListener("click", () => {
    const focused = document.activeElement === clear;
    pad.strokes = [];
    repaint();
    clearLive();
    send();
    // Clear is disabled on an empty canvas: keep the keyboard's place on the canvas.
    if (focused) canvas.focus();
  });
  // Back on the page (or after a reload of the page's script), the last drawing returns.
  for (const stroke of data.restore || []) pad.strokes.push(stroke);
  repaint();
  return pad;
}

function buildBoxPad(root, data) {
  const pad = { mode: "box", box: null };
  root.__drawPad = pad;
  // Sized from the start: the picture loads a moment later, and a drag must never find a
  // frame of zero size (a loaded machine lays the picture out late).
  const frame = element("div", "mnist-pad-box-frame", root);
  frame.style.width = `${data.width}px`;
  frame.style.aspectRatio = `${data.width} / ${data.height}`;
  const picture = element("img", "mnist-pad-picture", frame, { alt: "The uploaded picture", draggable: "false" });
  const canvas = element("canvas", "mnist-pad-canvas mnist-pad-box", frame, {
    width: String(data.width), height: String(data.height), "aria-label": "Drag a box around the digit",
    "data-testid": "draw-pad-crop",
  });
  const context = canvas.getContext("2d");
  Object.assign(pad, { picture, canvas, context });
  let start = null;
  function paint(box) {
    context.clearRect(0, 0, canvas.width, canvas.height);
    if (!box) return;
    context.fillStyle = "rgba(255, 165, 0, 0.15)";
    context.strokeStyle = "#ff8c00";
    context.lineWidth = 2;
    context.fillRect(box.left, box.top, box.width, box.height);
    context.strokeRect(box.left, box.top, box.width, box.height);
  }
  pad.paint = paint;
  function point(event) {
    const rect = canvas.getBoundingClientRect();
    return [
      Math.min(Math.max(((event.clientX - rect.left) * canvas.width) / rect.width, 0), canvas.width),
      Math.min(Math.max(((event.clientY - rect.top) * canvas.height) / rect.height, 0), canvas.height),
    ];
  }
  function boxTo(end) {
    return {
      left: Math.min(start[0], end[0]), top: Math.min(start[1], end[1]),
      width: Math.abs(end[0] - start[0]), height: Math.abs(end[1] - start[1]),
    };
  }
  canvas.addEventListener("pointerdown", (event) => {
    event.preventDefault();
    canvas.setPointerCapture(event.pointerId);
    start = point(event);
  });
  canvas.addEventListener("pointermove", (event) => {
    if (start) paint(boxTo(point(event)));
  });
  const finish = (event) => {
    if (!start) return;
    pad.box = boxTo(point(event));
    start = null;
    paint(pad.box);
    pad.setStateValue("box", { ...pad.box, picture_id: pad.pictureId });
  };
  canvas.addEventListener("pointerup", finish);
  canvas.addEventListener("pointercancel", finish);
  canvas.addEventListener("touchstart", (event) => event.preventDefault(), { passive: false });
  canvas.addEventListener("touchmove", (event) => event.preventDefault(), { passive: false });
  return pad;
}

export default function (component) {
  const { data, parentElement, setStateValue } = component;
  let root = parentElement.querySelector(".mnist-pad");
  let pad = root && pads.get(root);
  if (!pad || pad.mode !== data.mode) {
    if (root) root.remove();
    root = element("div", "mnist-pad", parentElement);
    pad = data.mode === "box" ? buildBoxPad(root, data) : buildDrawPad(root, data);
    pads.set(root, pad);
  }
  pad.setStateValue = setStateValue;
  if (pad.mode === "box") {
    if (pad.picture.getAttribute("src") !== data.picture) pad.picture.src = data.picture;
    if (pad.pictureId !== data.picture_id) {
      pad.pictureId = data.picture_id;
      pad.box = null;
      pad.paint(null);
    }
    const frame = pad.canvas.parentElement;
    frame.style.width = `${data.width}px`;
    frame.style.aspectRatio = `${data.width} / ${data.height}`;
    if (pad.canvas.width !== data.width || pad.canvas.height !== data.height) {
      pad.canvas.width = data.width;
      pad.canvas.height = data.height;
      pad.paint(null);
    }
    return;
  }
  pad.classes = data.classes || [];
  pad.minPenSpan = Number(data.minPenSpan) || 0;
  if (data.model && data.model.url !== pad.modelUrl) {
    pad.modelUrl = data.model.url;
    pad.model = null;
    pad.status.textContent = "Loading the model into this page…";
    pad.status.dataset.path = "loading";
    loadModel(data.model.url).then(
      (model) => {
        if (pad.modelUrl !== data.model.url) return;
        pad.model = model;
        pad.status.textContent = `The prediction follows your pen: the model (${model.parameters.toLocaleString("en")} weights) runs in this page. The verdict above the canvas comes from the server when a stroke ends.${model.bfloat16 ? " This model computes in bfloat16 on the server, so the two can differ by a few tenths of a percent." : ""}`;
        pad.status.dataset.path = "browser";
        if (pad.strokes.length) pad.predictSoon();
      },
      (error) => {
        if (pad.modelUrl !== data.model.url) return;
        pad.status.textContent = `Predicting on the server after each stroke (the model could not be loaded into this page: ${error.message}).`;
        pad.status.dataset.path = "server";
      },
    );
  } else if (!data.model) {
    pad.modelUrl = null;
    pad.model = null;
    pad.status.textContent = `Predicting on the server after each stroke: ${data.fallback || "this model runs on the server only"}.`;
    pad.status.dataset.path = "server";
    pad.live.hidden = true;
  }
  if (data.model) pad.live.hidden = false;
}
