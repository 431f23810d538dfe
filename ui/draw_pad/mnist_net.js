// The Draw page's network in the browser: the same preprocessing as
// core/data/preprocess.py's preprocess_digit, and a forward pass for the layers that
// core/nn/browser_model.py exports. Plain script (no imports or exports): the drawing
// component's module starts with it, and a test page can load it as it is.
const MnistNet = (() => {
  const FRAME = 28;
  const BOX = 20;
  const NOISE_FRACTION = 0.15;
  const MIN_INK_CONTRAST = 40.0;
  const MIN_INK_PIXELS = 6;
  const f32 = Math.fround;

  // Python's round(): halves go to the even neighbour.
  function roundHalfEven(value) {
    const floor = Math.floor(value);
    const rest = value - floor;
    if (rest > 0.5) return floor + 1;
    if (rest < 0.5) return floor;
    return floor % 2 === 0 ? floor : floor + 1;
  }

  function median(values) {
    const sorted = Float64Array.from(values).sort();
    const middle = sorted.length >> 1;
    return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
  }

  // Grayscale 0-255 of RGBA pixels, transparent pixels composited over the shade that
  // contrasts with the ink (preprocess.to_grayscale).
  function grayscale(rgba, count) {
    const gray = new Float32Array(count);
    let weightSum = 0;
    let weighted = 0;
    for (let i = 0; i < count; i++) {
      const value = rgba[4 * i] * f32(0.299) + rgba[4 * i + 1] * f32(0.587)
        + rgba[4 * i + 2] * f32(0.114);
      gray[i] = value;
      const weight = f32(rgba[4 * i + 3] * f32(1 / 255));
      weightSum += weight;
      weighted += gray[i] * weight;
    }
    if (weightSum >= count) return gray;
    if (weightSum === 0) return new Float32Array(count);
    const light = weighted / weightSum >= 127.5;
    for (let i = 0; i < count; i++) {
      const weight = f32(rgba[4 * i + 3] * f32(1 / 255));
      gray[i] = light ? gray[i] * weight : 255 - (255 - gray[i]) * weight;
    }
    return gray;
  }

  // Pillow's resampling of a float image (src/libImaging/Resample.c, Lanczos, support 3):
  // for each output pixel, normalised weights over the input pixels in reach.
  function lanczos(x) {
    if (!(-3 <= x && x < 3)) return 0;
    const sinc = (t) => (t === 0 ? 1 : Math.sin(t * Math.PI) / (t * Math.PI));
    return sinc(x) * sinc(x / 3);
  }

  function coefficients(inSize, outSize) {
    const scale = inSize / outSize;
    const filterScale = Math.max(scale, 1);
    const support = 3 * filterScale;
    const rows = [];
    for (let xx = 0; xx < outSize; xx++) {
      const center = (xx + 0.5) * scale;
      const xmin = Math.max(0, Math.trunc(center - support + 0.5));
      const xmax = Math.min(inSize, Math.trunc(center + support + 0.5)) - xmin;
      const weights = new Float64Array(Math.max(xmax, 0));
      let total = 0;
      for (let x = 0; x < xmax; x++) {
        weights[x] = lanczos((x + xmin - center + 0.5) / filterScale);
        total += weights[x];
      }
      if (total !== 0) for (let x = 0; x < xmax; x++) weights[x] /= total;
      rows.push({ start: xmin, weights });
    }
    return rows;
  }

  function resize(image, width, height, newWidth, newHeight) {
    let current = image;
    let currentWidth = width;
    if (newWidth !== width) {
      const rows = coefficients(width, newWidth);
      const out = new Float32Array(newWidth * height);
      for (let y = 0; y < height; y++) {
        for (let xx = 0; xx < newWidth; xx++) {
          const { start, weights } = rows[xx];
          let sum = 0;
          for (let x = 0; x < weights.length; x++) sum += current[y * width + start + x] * weights[x];
          out[y * newWidth + xx] = sum;
        }
      }
      current = out;
      currentWidth = newWidth;
    }
    if (newHeight !== height) {
      const rows = coefficients(height, newHeight);
      const out = new Float32Array(currentWidth * newHeight);
      for (let yy = 0; yy < newHeight; yy++) {
        const { start, weights } = rows[yy];
        for (let x = 0; x < currentWidth; x++) {
          let sum = 0;
          for (let y = 0; y < weights.length; y++) sum += current[(start + y) * currentWidth + x] * weights[y];
          out[yy * currentWidth + x] = sum;
        }
      }
      current = out;
    }
    return current;
  }

  // A drawing's RGBA pixels as the model's 28x28 input (0-255, light ink on black), or
  // {blank: reason} when there is (almost) nothing drawn.
  function preprocess(rgba, width, height) {
    const count = width * height;
    const gray = grayscale(rgba, count);
    const border = [];
    for (let x = 0; x < width; x++) border.push(gray[x], gray[(height - 1) * width + x]);
    for (let y = 0; y < height; y++) border.push(gray[y * width], gray[y * width + width - 1]);
    let background = median(border);
    const invert = background > 127.5;
    if (invert) background = 255 - background;
    const ink = new Float32Array(count);
    let strongest = 0;
    for (let i = 0; i < count; i++) {
      const value = Math.max((invert ? f32(255 - gray[i]) : gray[i]) - background, 0);
      ink[i] = value;
      if (ink[i] > strongest) strongest = ink[i];
    }
    if (strongest < MIN_INK_CONTRAST) return { blank: "blank" };
    const floor = NOISE_FRACTION * strongest;
    let inked = 0;
    let top = height, left = width, bottom = -1, right = -1;
    const gain = 255 / strongest;
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const i = y * width + x;
        if (ink[i] < floor) { ink[i] = 0; continue; }
        if (ink[i] > 0) {
          inked++;
          if (y < top) top = y;
          if (y > bottom) bottom = y;
          if (x < left) left = x;
          if (x > right) right = x;
        }
        ink[i] = ink[i] * gain;
      }
    }
    if (inked < MIN_INK_PIXELS) return { blank: "almost nothing" };
    const cropHeight = bottom + 1 - top;
    const cropWidth = right + 1 - left;
    const crop = new Float32Array(cropHeight * cropWidth);
    for (let y = 0; y < cropHeight; y++) {
      for (let x = 0; x < cropWidth; x++) crop[y * cropWidth + x] = ink[(top + y) * width + left + x];
    }
    const scale = BOX / Math.max(cropHeight, cropWidth);
    const newHeight = Math.max(1, roundHalfEven(cropHeight * scale));
    const newWidth = Math.max(1, roundHalfEven(cropWidth * scale));
    const small = resize(crop, cropWidth, cropHeight, newWidth, newHeight);
    let smallest = 0;
    for (let i = 0; i < small.length; i++) {
      if (small[i] < 0) small[i] = 0;
      if (small[i] > smallest) smallest = small[i];
    }
    if (smallest <= 0) return { blank: "almost nothing" };
    const boost = 255 / smallest;
    const frame = new Float32Array(FRAME * FRAME);
    const row = (FRAME - newHeight) >> 1;
    const column = (FRAME - newWidth) >> 1;
    let mass = 0, rowMoment = 0, columnMoment = 0;
    for (let y = 0; y < newHeight; y++) {
      for (let x = 0; x < newWidth; x++) {
        const value = Math.min(255, Math.max(0, f32(small[y * newWidth + x] * boost)));
        frame[(row + y) * FRAME + column + x] = value;
        mass += value;
        rowMoment += value * (row + y);
        columnMoment += value * (column + x);
      }
    }
    const clip = (value, low, high) => Math.min(Math.max(value, low), high);
    const shiftRow = clip(roundHalfEven(14 - rowMoment / mass), -row, FRAME - newHeight - row);
    const shiftColumn = clip(
      roundHalfEven(14 - columnMoment / mass), -column, FRAME - newWidth - column,
    );
    const input = new Float32Array(FRAME * FRAME);
    for (let y = 0; y < FRAME; y++) {
      const from = y - shiftRow;
      if (from < 0 || from >= FRAME) continue;
      for (let x = 0; x < FRAME; x++) {
        const source = x - shiftColumn;
        if (source >= 0 && source < FRAME) input[y * FRAME + x] = frame[from * FRAME + source];
      }
    }
    return { input };
  }

  const ACTIVATIONS = {
    linear: null,
    relu: (v) => (v > 0 ? v : 0),
    sigmoid: (v) => 1 / (1 + Math.exp(-v)),
    tanh: Math.tanh,
    elu: (v) => (v > 0 ? v : Math.expm1(v)),
    selu: (v) => 1.0507009873554805 * (v > 0 ? v : 1.6732632423543772 * Math.expm1(v)),
  };

  function activate(values, name) {
    if (name === "softmax") {
      let top = -Infinity;
      for (const v of values) top = Math.max(top, v);
      let total = 0;
      for (let i = 0; i < values.length; i++) {
        values[i] = Math.exp(values[i] - top);
        total += values[i];
      }
      for (let i = 0; i < values.length; i++) values[i] /= total;
      return values;
    }
    const fn = ACTIVATIONS[name];
    if (fn === undefined) throw new Error(`unknown activation ${name}`);
    if (fn !== null) for (let i = 0; i < values.length; i++) values[i] = fn(values[i]);
    return values;
  }

  // A model file (core/nn/browser_model.py) as layers with their weights.
  function parseModel(buffer) {
    const bytes = new Uint8Array(buffer);
    const magic = String.fromCharCode(...bytes.subarray(0, 4));
    if (magic !== "MNW1") throw new Error("not a model file");
    const headerLength = new DataView(buffer).getUint32(4, true);
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength)));
    const data = new Float32Array(buffer.slice(8 + headerLength));
    const slice = (ref) => (ref ? data.subarray(ref.offset, ref.offset + ref.size) : null);
    const layers = header.layers.map((layer) => ({
      ...layer,
      kernel: slice(layer.kernel),
      bias: slice(layer.bias),
      scale: layer.kind === "affine" ? slice(layer.scale) : layer.scale,
      shift: slice(layer.shift),
    }));
    return { classes: header.classes, layers, parameters: data.length, bfloat16: Boolean(header.bfloat16) };
  }

  function dense(x, layer) {
    const { units, inputs, kernel, bias } = layer;
    const out = new Float64Array(units);
    if (bias) for (let j = 0; j < units; j++) out[j] = bias[j];
    for (let i = 0; i < inputs; i++) {
      const value = x[i];
      if (value === 0) continue;
      const base = i * units;
      for (let j = 0; j < units; j++) out[j] += value * kernel[base + j];
    }
    return activate(out, layer.activation);
  }

  function padding(layer, axis) {
    if (layer.padding !== "same") return 0;
    const total = Math.max(
      (layer.output[axis] - 1) * layer.strides[axis] + layer.window[axis]
        - layer.input[axis],
      0,
    );
    return Math.floor(total / 2);
  }

  function conv2d(input, layer) {
    const [height, width, channels] = layer.input;
    const [outHeight, outWidth, filters] = layer.output;
    const [kernelHeight, kernelWidth] = layer.window;
    const [strideY, strideX] = layer.strides;
    const top = padding(layer, 0);
    const left = padding(layer, 1);
    const { kernel, bias } = layer;
    const out = new Float64Array(outHeight * outWidth * filters);
    for (let y = 0; y < outHeight; y++) {
      for (let x = 0; x < outWidth; x++) {
        const at = (y * outWidth + x) * filters;
        if (bias) for (let f = 0; f < filters; f++) out[at + f] = bias[f];
        for (let ky = 0; ky < kernelHeight; ky++) {
          const iy = y * strideY + ky - top;
          if (iy < 0 || iy >= height) continue;
          for (let kx = 0; kx < kernelWidth; kx++) {
            const ix = x * strideX + kx - left;
            if (ix < 0 || ix >= width) continue;
            const inputAt = (iy * width + ix) * channels;
            const kernelAt = (ky * kernelWidth + kx) * channels * filters;
            for (let c = 0; c < channels; c++) {
              const value = input[inputAt + c];
              if (value === 0) continue;
              const base = kernelAt + c * filters;
              for (let f = 0; f < filters; f++) out[at + f] += value * kernel[base + f];
            }
          }
        }
      }
    }
    return activate(out, layer.activation);
  }

  function pool(input, layer, average) {
    const [height, width, channels] = layer.input;
    const [outHeight, outWidth] = layer.output;
    const [poolY, poolX] = layer.window;
    const [strideY, strideX] = layer.strides;
    const top = padding(layer, 0);
    const left = padding(layer, 1);
    const out = new Float64Array(outHeight * outWidth * channels);
    for (let y = 0; y < outHeight; y++) {
      for (let x = 0; x < outWidth; x++) {
        for (let c = 0; c < channels; c++) {
          let best = -Infinity, total = 0, count = 0;
          for (let py = 0; py < poolY; py++) {
            const iy = y * strideY + py - top;
            if (iy < 0 || iy >= height) continue;
            for (let px = 0; px < poolX; px++) {
              const ix = x * strideX + px - left;
              if (ix < 0 || ix >= width) continue;
              const v = input[(iy * width + ix) * channels + c];
              best = Math.max(best, v);
              total += v;
              count++;
            }
          }
          out[(y * outWidth + x) * channels + c] = average ? total / count : best;
        }
      }
    }
    return out;
  }

  // Class probabilities (Float64Array) for one 28x28 input of 0-255 pixels.
  function predict(model, input) {
    let x = Float64Array.from(input);
    for (const layer of model.layers) {
      switch (layer.kind) {
        case "scale":
          for (let i = 0; i < x.length; i++) x[i] = f32(f32(x[i] * f32(layer.scale)) + f32(layer.offset));
          break;
        case "reshape":
          break;
        case "dense":
          x = dense(x, layer);
          break;
        case "conv2d":
          x = conv2d(x, layer);
          break;
        case "affine": {
          const channels = layer.channels;
          for (let i = 0; i < x.length; i++) x[i] = x[i] * layer.scale[i % channels] + layer.shift[i % channels];
          break;
        }
        case "activation":
          x = activate(x, layer.activation);
          break;
        case "maxpool":
        case "avgpool":
          x = pool(x, layer, layer.kind === "avgpool");
          break;
        case "globalavgpool": {
          const [height, width, channels] = layer.input;
          const out = new Float64Array(channels);
          for (let i = 0; i < x.length; i++) out[i % channels] += x[i];
          for (let c = 0; c < channels; c++) out[c] /= height * width;
          x = out;
          break;
        }
        default:
          throw new Error(`unknown layer ${layer.kind}`);
      }
    }
    return x;
  }

  // One stroke of white ink with round ends and joins, as the canvas draws it.
  function paintStroke(context, stroke) {
    context.strokeStyle = "#ffffff";
    context.fillStyle = "#ffffff";
    context.lineCap = "round";
    context.lineJoin = "round";
    context.lineWidth = stroke.width;
    const [first, ...rest] = stroke.points;
    context.beginPath();
    if (rest.length === 0) {
      context.arc(first[0], first[1], stroke.width / 2, 0, 2 * Math.PI);
      context.fill();
      return;
    }
    context.moveTo(first[0], first[1]);
    for (const [x, y] of rest) context.lineTo(x, y);
    context.stroke();
  }

  return { paintStroke, parseModel, predict, preprocess, roundHalfEven };
})();
