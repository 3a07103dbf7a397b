/* Small charts drawn as inline SVG (no library, no CDN): a stacked bar chart of counts per
 * minute and a line chart of values per minute with gaps. Each takes the minutes of the
 * window (ISO strings, oldest first) and its series ({ name, cls, values }: one value per
 * minute; null is "no data"); colours come from ui.css through `cls`. Every text goes in as
 * a text node (never markup); each bar and point carries a <title> the browser shows on
 * hover. The drawing is sized by its viewBox and scales with the page. */

const NS = "http://www.w3.org/2000/svg";
const W = 600;
const H = 150;
const PAD = { left: 44, right: 8, top: 10, bottom: 22 };

function svg(tag, attrs, ...children) {
  const node = document.createElementNS(NS, tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value !== null && value !== undefined) node.setAttribute(key, String(value));
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** A round upper bound for the y axis (1, 2 or 5 times a power of ten) at or above `max`. */
export function niceMax(max) {
  if (!(max > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(max));
  for (const step of [1, 2, 5, 10]) if (step * power >= max) return step * power;
  return 10 * power;
}

/** A short number: 1234 → "1.2k", 0.5 → "0.5". */
export function short(value) {
  if (value >= 1e6) return (value / 1e6).toFixed(1).replace(/\.0$/, "") + "M";
  if (value >= 1e3) return (value / 1e3).toFixed(1).replace(/\.0$/, "") + "k";
  return String(Math.round(value * 10) / 10);
}

function frame(id, title, minutes, top, unit) {
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const root = svg("svg", { class: "chart", id, viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": title });
  root.append(svg("title", {}, title));
  for (const frac of [0, 0.5, 1]) {
    const y = PAD.top + plotH * (1 - frac);
    root.append(svg("line", { class: "grid-line", x1: PAD.left, x2: W - PAD.right, y1: y, y2: y }),
      svg("text", { class: "axis", x: PAD.left - 4, y: y + 4, "text-anchor": "end" }, short(top * frac) + (frac === 1 ? unit : "")));
  }
  const n = minutes.length;
  const labels = [[0, "-" + n + " min"], [Math.floor(n / 2), "-" + (n - Math.floor(n / 2)) + " min"], [n - 1, "now"]];
  for (const [i, text] of labels) {
    const anchor = i === 0 ? "start" : i === n - 1 ? "end" : "middle";
    root.append(svg("text", { class: "axis", x: PAD.left + (plotW * (i + 0.5)) / n, y: H - 6, "text-anchor": anchor }, text));
  }
  return { root, plotW, plotH, n };
}

function legend(series) {
  const items = series.map((s) => {
    const item = document.createElement("span");
    item.className = "legend-item";
    const swatch = document.createElement("span");
    swatch.className = "swatch " + s.cls;
    item.append(swatch, document.createTextNode(s.name));
    return item;
  });
  const box = document.createElement("div");
  box.className = "legend";
  box.append(...items);
  return box;
}

function figure(title, chart, series) {
  const fig = document.createElement("figure");
  fig.className = "chart-box";
  const caption = document.createElement("figcaption");
  caption.textContent = title;
  fig.append(caption, chart, legend(series));
  return fig;
}

/** Stacked bars of counts per minute. */
export function barChart(id, title, minutes, series) {
  const totals = minutes.map((_, i) => series.reduce((sum, s) => sum + (s.values[i] || 0), 0));
  const top = niceMax(Math.max(0, ...totals));
  const { root, plotW, plotH, n } = frame(id, title, minutes, top, "");
  const slot = plotW / n;
  minutes.forEach((minute, i) => {
    let base = 0;
    for (const s of series) {
      const value = s.values[i] || 0;
      if (!value) continue;
      const h = (plotH * value) / top;
      const y = PAD.top + plotH - ((plotH * base) / top) - h;
      root.append(svg("rect", { class: "bar " + s.cls, x: PAD.left + i * slot + slot * 0.1, y, width: Math.max(1, slot * 0.8), height: h },
        svg("title", {}, `${minute.slice(11, 16)} UTC: ${value} ${s.name}`)));
      base += value;
    }
  });
  return figure(title, root, series);
}

/** Lines of values per minute (a null breaks the line). */
export function lineChart(id, title, minutes, series, unit) {
  const values = series.flatMap((s) => s.values.filter((v) => v !== null && v !== undefined));
  const top = niceMax(Math.max(0, ...values));
  const { root, plotW, plotH, n } = frame(id, title, minutes, top, unit);
  const slot = plotW / n;
  const x = (i) => PAD.left + slot * (i + 0.5);
  const y = (v) => PAD.top + plotH - (plotH * v) / top;
  for (const s of series) {
    let path = "";
    let drawing = false;
    s.values.forEach((v, i) => {
      if (v === null || v === undefined) { drawing = false; return; }
      path += (drawing ? " L " : " M ") + x(i).toFixed(1) + " " + y(v).toFixed(1);
      drawing = true;
      root.append(svg("circle", { class: "point " + s.cls, cx: x(i), cy: y(v), r: 2.5 },
        svg("title", {}, `${minutes[i].slice(11, 16)} UTC: ${s.name} ${short(v)}${unit}`)));
    });
    if (path) root.insertBefore(svg("path", { class: "line " + s.cls, d: path.trim() }), root.querySelector("circle"));
  }
  return figure(title, root, series);
}
