// Timelines on one shared step axis (uPlot): zoom by dragging, reset by double-click or the
// group's reset, a synced cursor with exact values on hover, cause events as bars in a lane of
// their own above the charts, the focused event as a band and NaN/Inf steps as markers on each
// chart. Bars, bands and markers are DOM elements over the plot, so they stay inspectable.

import uPlot from "uplot";
import type { CauseEvent } from "./api";
import { el, formatNumber, formatSpan, formatTick } from "./dom";
import { type ColorScale, scalePosition } from "./heatscale";
import { Flag, lowerBound, type Region } from "./series";
import { hexRgb, type Palette } from "./theme";

/** One drawn line: a layer's values on the chart's steps. */
export interface Line {
  layer: string;
  label: string;
  values: Float64Array;
  flags: Uint8Array;
  color: string;
  dash?: number[];
}

export interface LineChartSpec {
  steps: number[];
  /** The lines uPlot draws. */
  lines: Line[];
  /** Every layer's line, for the focus highlight and hover (a superset of `lines`, or equal). */
  all: Line[];
  log: boolean;
  /** Fixed y range, e.g. [0, 1] for fractions; otherwise from the data. */
  range?: [number, number];
  regions: Region[];
}

const FLAG_TEXT: Record<number, string> = { [Flag.NaN]: "NaN", [Flag.Inf]: "Inf", [Flag.Missing]: "no gradient" };

/** What a chart adds to the shared step axis. */
interface Member {
  plot: uPlot;
  /** Redraws the highlight of the focused layer. */
  refocus(): void;
}

/** The charts of one run: one x range, one focused layer, one set of events. */
export class StepGroup {
  private readonly members: Member[] = [];
  readonly syncKey: string;
  focusLayer: string | null = null;
  /** Rows the focused event names besides its layer (an input's features), highlighted with it. */
  private focusRows = new Set<string>();
  focusEvent: string | null = null;
  /** The x range shown (set by zooms); null before the first chart is drawn. */
  range: [number, number] | null = null;
  /** Record each zoom's time to screen as a "gradcause:zoom" performance measure. */
  measuring = false;
  /** Row of each event's bar in the events lane, so overlapping events stay apart. */
  readonly lanes: Map<string, number>;
  /** The x range of the unzoomed view: the run's steps with a margin (`padRange`). */
  readonly fullRange: [number, number];
  /** Called with every new x range (zooms, resets). */
  readonly onRange: ((range: [number, number]) => void)[] = [];

  constructor(
    readonly events: CauseEvent[],
    steps: [number, number],
    readonly palette: Palette,
    readonly onLayerClick: (layer: string) => void,
  ) {
    this.syncKey = `gradcause-${Math.random().toString(36).slice(2)}`;
    this.lanes = assignLanes(events);
    this.fullRange = padRange(steps);
  }

  /** Adds a chart; one drawn after a zoom (a chart loaded on demand) joins the zoomed range. */
  add(member: Member): void {
    this.members.push(member);
    if (this.range) member.plot.setScale("x", { min: this.range[0], max: this.range[1] });
  }

  /** Called from a chart's setScale hook: applies its x range to every other chart. */
  rangeChanged(source: uPlot): void {
    const { min, max } = source.scales.x;
    // The other charts' own setScale hooks call back here with the same range: stop there.
    if (min === undefined || max === undefined || (this.range?.[0] === min && this.range[1] === max)) return;
    const started = performance.now();
    this.range = [min, max];
    for (const { plot } of this.members) if (plot !== source) plot.setScale("x", { min, max });
    for (const listener of this.onRange) listener(this.range);
    // Charts redraw in a microtask: the next frame is when the zoom is on screen.
    if (this.measuring)
      requestAnimationFrame(() => performance.measure("gradcause:zoom", { start: started, end: performance.now() }));
  }

  zoom(min: number, max: number): void {
    this.members[0]?.plot.setScale("x", { min, max });
  }

  reset(): void {
    this.zoom(...this.fullRange);
  }

  focus(layer: string | null, event: string | null, rows: string[] = []): void {
    this.focusLayer = layer;
    this.focusRows = new Set(rows);
    this.focusEvent = event;
    for (const member of this.members) member.refocus();
  }

  /** Whether a chart's row or line of `name` is highlighted: the focused layer or a row its event names. */
  isFocused(name: string): boolean {
    return name === this.focusLayer || this.focusRows.has(name);
  }

  resize(width: number): void {
    for (const { plot } of this.members) plot.setSize({ width, height: plot.height });
  }

  destroy(): void {
    for (const { plot } of this.members) plot.destroy();
    this.members.length = 0;
  }
}

/**
 * The steps `[first, last]` with a margin of 1 % of the span, at least half a step, on each side: a
 * cause or NaN/Inf marker on the first or last step (a run that dies at step 1) is drawn whole
 * instead of cut in half by the plot's edge.
 */
export function padRange([first, last]: [number, number]): [number, number] {
  const margin = Math.max(0.5, (last - first) * 0.01);
  return [first - margin, last + margin];
}

/** Tick spacings of the step axis: whole steps only (1, 2, 5, 10, 20, 50, ...). */
const STEP_INCREMENTS = Array.from({ length: 30 }, (_v, i) => [1, 2, 5][i % 3] * 10 ** Math.floor(i / 3));

/** Width of every chart's y axis, so that all charts' step axes line up. */
const Y_AXIS_SIZE = 130;

/** y tick labels, also kept on the chart's root as `data-y-ticks` (canvas text cannot be inspected). */
function tickLabels(u: uPlot, values: number[]): string[] {
  const labels = values.map(formatTick);
  u.root.dataset.yTicks = labels.join(" ");
  return labels;
}

/**
 * How a chart's values sit on uPlot's y scale, which is always linear here: uPlot ticks no axis
 * holding values beyond ~1e17 (a linear one, or a log one spanning them), and a loss can blow up
 * to 1e33. A log chart plots log10 of its values; a linear one divides them by a power of ten
 * when they are too large or too small for uPlot's ticks. Non-finite values are gaps (the markers
 * show them).
 */
interface YMap {
  toPlot(v: number): number | null;
  range?: uPlot.Scale["range"];
  axis: Partial<uPlot.Axis>;
}

/**
 * log10 of the values, from a spare decade below the smallest positive one to the decade above the
 * largest. Zeros are drawn on that lowest decade, which then gets no tick: a log axis has no 0.
 * Ticks are decades, every n-th one so that labels stay ~16 px apart.
 */
function logMap(lines: Line[]): YMap {
  let lo = Infinity;
  let hi = -Infinity;
  for (const line of lines)
    for (const v of line.values) if (v > 0 && v < Infinity) [lo, hi] = [Math.min(lo, v), Math.max(hi, v)];
  const [bottom, top] = lo > hi ? [-3, 0] : [Math.floor(Math.log10(lo)) - 1, Math.ceil(Math.log10(hi) - 1e-9)];
  const hasZeros = lines.some((line) => line.values.includes(0));
  return {
    toPlot: (v) => (!Number.isFinite(v) ? null : v <= 0 ? bottom : Math.log10(v)),
    range: [bottom, Math.max(top, bottom + 1)],
    axis: {
      splits: (u, _axis, min, max) => {
        const [first, last] = [Math.ceil(min - 1e-9), Math.floor(max + 1e-9)];
        const every = Math.max(1, Math.ceil(((last - first + 1) * 16) / Math.max(1, u.bbox.height / uPlot.pxRatio)));
        const splits: number[] = [];
        for (let k = first; k <= last; k++)
          if ((k - first) % every === 0 && !(hasZeros && k === bottom)) splits.push(k);
        return splits;
      },
      values: (u, splits) =>
        tickLabels(
          u,
          splits.map((k) => 10 ** k),
        ),
    },
  };
}

/** The values themselves, divided by 10^shift when their largest magnitude is >= 1e15 or < 1e-12. */
function linearMap(lines: Line[], range?: [number, number]): YMap {
  let peak = 0;
  for (const line of lines) for (const v of line.values) if (Number.isFinite(v)) peak = Math.max(peak, Math.abs(v));
  const shift = peak >= 1e15 || (peak > 0 && peak < 1e-12) ? Math.floor(Math.log10(peak)) : 0;
  const scale = 10 ** shift;
  return {
    toPlot: (v) => (Number.isFinite(v) ? v / scale : null),
    range,
    axis: {
      values: (u, splits) =>
        tickLabels(
          u,
          splits.map((y) => y * scale),
        ),
    },
  };
}

/** Greedy interval colouring: each event gets the first lane free at its first step. */
function assignLanes(events: CauseEvent[]): Map<string, number> {
  const laneEnds: number[] = [];
  const lanes = new Map<string, number>();
  for (const event of [...events].sort((a, b) => a.first_step - b.first_step)) {
    let lane = laneEnds.findIndex((end) => end < event.first_step);
    if (lane < 0) lane = laneEnds.length;
    laneEnds[lane] = event.last_step;
    lanes.set(event.id, lane);
  }
  return lanes;
}

function axes(palette: Palette, y: Partial<uPlot.Axis> = {}): uPlot.Axis[] {
  const style = { stroke: palette.muted, grid: { stroke: palette.grid, width: 1 }, ticks: { stroke: palette.grid } };
  return [
    { ...style, incrs: STEP_INCREMENTS, values: (_u, splits) => splits.map((s) => String(s)) },
    { ...style, size: Y_AXIS_SIZE, ...y },
  ];
}

/** Shows [from, to] (at least `minWidth` px wide) within the plot, or hides it when out of view. */
function place(u: uPlot, node: HTMLElement, from: number, to: number, minWidth: number): void {
  const width = u.bbox.width / uPlot.pxRatio;
  const [a, b] = [u.valToPos(from, "x"), u.valToPos(to, "x")];
  const visible = b >= 0 && a <= width;
  node.style.display = visible ? "" : "none";
  if (!visible) return;
  let [left, right] = [Math.max(0, a), Math.min(width, b)];
  if (right - left < minWidth) {
    left = Math.max(0, Math.min(width - minWidth, (left + right - minWidth) / 2));
    right = left + minWidth;
  }
  node.style.left = `${left}px`;
  node.style.width = `${right - left}px`;
}

/**
 * Positions the focused event's band and the NaN/Inf markers over the plot for the current x range
 * (every event is a bar in the events lane; here only the focused one, so the lines stay visible).
 * `shadeRegions` false: markers are only an edge and a label (the heatmap colours its own cells).
 */
function overlay(group: StepGroup, regions: Region[], shadeRegions = true): uPlot.Plugin {
  let band: HTMLElement;
  let markers: { node: HTMLElement; region: Region }[] = [];
  return {
    hooks: {
      init: (u) => {
        band = el("div", { class: "gc-band" });
        u.under.append(band);
        markers = regions.map((region) => {
          const text = FLAG_TEXT[region.flag];
          const node = el(
            "div",
            { class: shadeRegions ? "gc-marker" : "gc-marker gc-edge", attrs: { "data-flag": text } },
            [el("span", { class: "gc-marker-label", text })],
          );
          u.over.append(node);
          return { node, region };
        });
      },
      draw: (u) => {
        const focused = group.events.find((event) => event.id === group.focusEvent);
        if (focused) {
          band.className = `gc-band gc-${focused.severity}`;
          band.dataset.eventId = focused.id;
          place(u, band, focused.first_step, focused.last_step, 3);
        } else band.style.display = "none";
        const width = u.bbox.width / uPlot.pxRatio;
        for (const { node, region } of markers) {
          place(u, node, region.from, region.to, 2);
          node.classList.toggle("gc-flip", u.valToPos(region.from, "x") > width - 40); // keep the label inside
        }
      },
    },
  };
}

/** A hover box with the step, the exact value under the cursor and the events at that step. */
function tooltip(group: StepGroup, describe: (u: uPlot, idx: number, top: number) => string[]): uPlot.Plugin {
  let box: HTMLElement;
  let hovered = false; // synced charts move their cursors too, but only the hovered one explains
  return {
    hooks: {
      init: (u) => {
        box = el("div", { class: "gc-tooltip" });
        u.over.append(box);
        u.over.addEventListener("mouseenter", () => (hovered = true));
        u.over.addEventListener("mouseleave", () => (hovered = false));
      },
      setCursor: (u) => {
        const { idx, left, top } = u.cursor;
        if (!hovered || idx === null || idx === undefined || left === undefined || left < 0 || top === undefined) {
          box.style.display = "none";
          return;
        }
        const step = u.data[0][idx];
        const lines = [`step ${step}`, ...describe(u, idx, top)];
        for (const event of group.events)
          if (event.first_step <= step && step <= event.last_step)
            lines.push(
              `${event.severity}: ${event.kind} ${event.layer ?? "(run)"} ${formatSpan(event.first_step, event.last_step)}`,
            );
        box.replaceChildren(...lines.map((text) => el("div", { text })));
        box.style.display = "block";
        const width = u.over.clientWidth;
        box.style.left = `${left + 12 + 220 > width ? Math.max(0, left - 232) : left + 12}px`;
        box.style.top = `${Math.max(0, top - 10)}px`;
      },
    },
  };
}

/** The highlighted layers or features, kept on the chart's root as `data-focused` (canvas lines cannot be inspected). */
function markFocused(u: uPlot, names: string[]): void {
  u.root.dataset.focused = JSON.stringify([...new Set(names)]);
}

/** A flagged step has no value to show: a stat over the finite elements is not the tensor's. */
function describeValue(line: Line, i: number): string {
  const flag = line.flags[i];
  return `${line.label}: ${flag === Flag.None ? formatNumber(line.values[i]) : FLAG_TEXT[flag]}`;
}

/** A line's y data for uPlot. */
function plotValues(line: Line, y: YMap): (number | null)[] {
  return Array.from(line.values, (v) => y.toPlot(v));
}

/**
 * The shared step axis. uPlot auto-ranges x (at start, on double-click) to the chart's own steps;
 * that becomes the run's full range, so that kinds logged at different steps line up. Zooms pass.
 */
function xScale(group: StepGroup): uPlot.Scale {
  return {
    time: false,
    range: (u, min, max) => {
      const steps = u.data[0];
      return min === steps[0] && max === steps[steps.length - 1] ? group.fullRange : [min, max];
    },
  };
}

type BaseOptions = Pick<uPlot.Options, "width" | "height" | "legend" | "cursor"> & { hooks: uPlot.Hooks.Arrays };

function baseOptions(group: StepGroup, width: number, height: number): BaseOptions {
  return {
    width,
    height,
    legend: { show: false },
    cursor: {
      sync: { key: group.syncKey, setSeries: false },
      drag: { x: true, y: false, setScale: true },
      points: { show: false },
      focus: { prox: -1 },
    },
    hooks: { setScale: [(u, key) => key === "x" && group.rangeChanged(u)] },
  };
}

/** Strokes `ys` (plot values on `steps`) over the visible x range, clipped to the plot. */
function strokeLine(u: uPlot, steps: number[], ys: (number | null)[], color: string, dash: number[] = []): void {
  const ctx = u.ctx;
  const i0 = Math.max(0, lowerBound(steps, u.scales.x.min!) - 1);
  const i1 = Math.min(ys.length, lowerBound(steps, u.scales.x.max!) + 1);
  ctx.save();
  ctx.beginPath();
  ctx.rect(u.bbox.left, u.bbox.top, u.bbox.width, u.bbox.height);
  ctx.clip();
  ctx.strokeStyle = color;
  ctx.lineWidth = 3 * uPlot.pxRatio;
  ctx.setLineDash(dash.map((d) => d * uPlot.pxRatio));
  ctx.beginPath();
  let pen = false;
  for (let i = i0; i < i1; i++) {
    const y = ys[i];
    if (y === null) {
      pen = false;
      continue;
    }
    const px = u.valToPos(steps[i], "x", true);
    const py = u.valToPos(y, "y", true);
    if (pen) ctx.lineTo(px, py);
    else ctx.moveTo(px, py);
    pen = true;
  }
  ctx.stroke();
  ctx.restore();
}

/**
 * uPlot draws `spec.lines`; the focused layer (any of `spec.all`) is drawn on top, thicker, while
 * the other lines fade. Hover names the nearest drawn line and the focused layer's value.
 */
export function lineChart(parent: HTMLElement, group: StepGroup, spec: LineChartSpec, width: number): uPlot {
  const y = spec.log ? logMap(spec.lines) : linearMap(spec.lines, spec.range);
  const data = [spec.steps, ...spec.lines.map((line) => plotValues(line, y))] as uPlot.AlignedData;
  const focused = () => spec.all.filter((line) => group.isFocused(line.layer));
  let highlighted: { line: Line; ys: (number | null)[] }[] = [];
  const opts: uPlot.Options & BaseOptions = {
    ...baseOptions(group, width, 170),
    scales: { x: xScale(group), y: { range: y.range } },
    axes: axes(group.palette, y.axis),
    series: [
      { label: "step" },
      ...spec.lines.map((line) => ({
        label: line.label,
        stroke: line.color,
        width: 1.25,
        dash: line.dash,
        spanGaps: false,
      })),
    ],
    plugins: [
      overlay(group, spec.regions),
      tooltip(group, (u, idx, top) => {
        let best = -1;
        let bestDist = Infinity;
        spec.lines.forEach((_line, l) => {
          const v = data[l + 1][idx];
          if (v === null || v === undefined) return;
          const dist = Math.abs(u.valToPos(v, "y") - top);
          if (dist < bestDist) [best, bestDist] = [l, dist];
        });
        const shown = best >= 0 ? [spec.lines[best]] : spec.lines.filter((line) => line.flags[idx] !== Flag.None);
        for (const line of focused()) if (!shown.includes(line)) shown.push(line);
        return shown.map((line) => describeValue(line, idx));
      }),
    ],
  };
  opts.hooks.draw = [
    (u) => highlighted.forEach(({ line, ys }) => strokeLine(u, spec.steps, ys, line.color, line.dash)),
  ];
  const plot = new uPlot(opts, data, parent);
  const refocus = () => {
    highlighted = focused().map((line) => ({ line, ys: plotValues(line, y) }));
    markFocused(
      plot,
      highlighted.map(({ line }) => line.layer),
    );
    plot.series.forEach((s, i) => {
      if (i > 0) s.alpha = !highlighted.length || group.isFocused(spec.lines[i - 1].layer) ? 1 : 0.25;
    });
    plot.redraw(false);
  };
  group.add({ plot, refocus });
  refocus();
  return plot;
}

export interface HeatmapSpec {
  steps: number[];
  layers: string[];
  values: Float64Array[];
  flags: Uint8Array[];
  /** The statistic's fixed colour scale (heatscale.ts). */
  scale: ColorScale;
  regions: Region[];
  color: (t: number) => Rgb;
}

/** Pixel colour of a layer over data indices [i0, i1): the largest value, or NaN/Inf/missing when present. */
type Rgb = [number, number, number];

function cellColor(spec: HeatmapSpec, l: number, i0: number, i1: number, nonFinite: Rgb, missing: Rgb): Rgb {
  const values = spec.values[l];
  const flags = spec.flags[l];
  let best = -Infinity;
  let allMissing = true;
  for (let i = i0; i < i1; i++) {
    const flag = flags[i];
    if (flag === Flag.NaN || flag === Flag.Inf) return nonFinite;
    if (flag === Flag.Missing) continue;
    allMissing = false;
    if (values[i] > best) best = values[i];
  }
  if (allMissing) return missing;
  return spec.color(scalePosition(spec.scale, best));
}

/** Row height of the heatmap, px: enough for each layer's label; a few layers get taller rows. */
const HEAT_ROW_MIN = 14;
const HEAT_ROW_MAX = 28;
/** A few layers' rows fill about this many px. */
const HEAT_ROWS_PX = 140;
/** Height of the step axis below the rows and the plot's padding, px. */
const HEAT_AXIS_PX = 70;
/** Rows shown at once: more layers scroll (the canvas stays this small, so zooms stay fast). */
const HEAT_VISIBLE_ROWS = 30;

/** Row labels: names longer than this keep their end (the hover gives the whole name). */
const HEAT_LABEL_CHARS = 20;

/**
 * Layers (rows, forward order, first at the top) x steps, coloured on the statistic's fixed scale,
 * every row labelled. Beyond `HEAT_VISIBLE_ROWS` layers, `parent` scrolls through them: the plot
 * stays in place (sticky) and shows the rows scrolled to, so only those are painted; the focused
 * layer's row is scrolled into view.
 */
export function heatmap(parent: HTMLElement, group: StepGroup, spec: HeatmapSpec, width: number): uPlot {
  const count = spec.layers.length;
  const row = Math.min(HEAT_ROW_MAX, Math.max(HEAT_ROW_MIN, Math.floor(HEAT_ROWS_PX / Math.max(1, count))));
  const visible = Math.min(count, HEAT_VISIBLE_ROWS);
  const height = visible * row + HEAT_AXIS_PX;
  let first = 0; // the top row shown
  const nonFinite = hexRgb(group.palette.nonFinite);
  const missing = hexRgb(group.palette.missing);
  const image = document.createElement("canvas");
  const rowOf = (u: uPlot, top: number) => Math.floor(count - u.posToVal(top, "y"));
  const paint = (u: uPlot) => {
    const { left, top, width: w, height: h } = u.bbox;
    const columns = Math.max(1, Math.round(w));
    image.width = columns;
    image.height = visible;
    const ictx = image.getContext("2d")!;
    const pixels = ictx.createImageData(columns, visible);
    const [xmin, xmax] = [u.scales.x.min!, u.scales.x.max!];
    for (let c = 0; c < columns; c++) {
      const s0 = xmin + ((xmax - xmin) * c) / columns;
      const s1 = xmin + ((xmax - xmin) * (c + 1)) / columns;
      let i0 = lowerBound(spec.steps, s0);
      let i1 = lowerBound(spec.steps, s1);
      if (i1 === i0) {
        // No logged step in this column: hold the previous logged value until the next one (the
        // last one through the right margin, so a NaN on the last step has a cell).
        if (i0 === 0) continue;
        i0 -= 1;
        i1 = i0 + 1;
      }
      for (let r = 0; r < visible; r++) {
        const rgb = cellColor(spec, first + r, i0, i1, nonFinite, missing);
        const p = (r * columns + c) * 4;
        pixels.data[p] = rgb[0];
        pixels.data[p + 1] = rgb[1];
        pixels.data[p + 2] = rgb[2];
        pixels.data[p + 3] = 255;
      }
    }
    ictx.putImageData(pixels, 0, 0);
    u.ctx.imageSmoothingEnabled = false;
    u.ctx.drawImage(image, left, top, w, h);
  };
  const focusedRows = () => spec.layers.flatMap((name, l) => (group.isFocused(name) ? [l] : []));
  const outline = (u: uPlot) => {
    u.ctx.save();
    u.ctx.strokeStyle = group.palette.text;
    u.ctx.lineWidth = 2 * uPlot.pxRatio;
    for (const l of focusedRows()) {
      if (l < first || l >= first + visible) continue;
      const y0 = u.valToPos(count - l, "y", true);
      const y1 = u.valToPos(count - l - 1, "y", true);
      u.ctx.strokeRect(u.bbox.left, y0, u.bbox.width, Math.max(2, y1 - y0));
    }
    u.ctx.restore();
  };
  const opts: uPlot.Options & BaseOptions = {
    ...baseOptions(group, width, height),
    scales: { x: xScale(group), y: { auto: false, range: () => [count - first - visible, count - first] } },
    axes: axes(group.palette, {
      grid: { show: false },
      splits: () => Array.from({ length: visible }, (_v, r) => count - first - r - 0.5),
      values: (u, splits) => {
        const names = splits.map((y) => spec.layers[Math.floor(count - y)] ?? "");
        u.root.dataset.rowLabels = JSON.stringify(names);
        return names.map((name) => (name.length > HEAT_LABEL_CHARS ? `…${name.slice(1 - HEAT_LABEL_CHARS)}` : name));
      },
    }),
    series: [{ label: "step" }],
    plugins: [
      overlay(group, spec.regions, false),
      tooltip(group, (u, idx, top) => {
        const l = rowOf(u, top);
        if (l < 0 || l >= count) return [];
        const flag = spec.flags[l][idx];
        return [`${spec.layers[l]}: ${flag === Flag.None ? formatNumber(spec.values[l][idx]) : FLAG_TEXT[flag]}`];
      }),
    ],
  };
  opts.hooks.drawClear = [paint];
  opts.hooks.draw = [outline];
  const plot = new uPlot(opts, [spec.steps], parent);
  if (count > visible) {
    // The plot stays put while a spacer gives the scrollbar the height of every row.
    plot.root.classList.add("gc-heat-sticky");
    parent.style.height = `${height}px`;
    parent.append(el("div", { attrs: { style: `height: ${(count - visible) * row}px` } }));
    parent.addEventListener("scroll", () => {
      const top = Math.min(count - visible, Math.round(parent.scrollTop / row));
      if (top === first) return;
      first = top;
      plot.setScale("y", { min: count - first - visible, max: count - first });
    });
  }
  // A click (not the end of a zoom drag) on a row focuses that layer.
  let downX = 0;
  plot.over.addEventListener("mousedown", (e) => (downX = e.clientX));
  plot.over.addEventListener("click", (e) => {
    const l = rowOf(plot, plot.cursor.top ?? -1);
    if (Math.abs(e.clientX - downX) < 3 && l >= 0 && l < count) group.onLayerClick(spec.layers[l]);
  });
  const refocus = () => {
    plot.redraw(false);
    markFocused(
      plot,
      focusedRows().map((l) => spec.layers[l]),
    );
    const [l] = focusedRows();
    if (l !== undefined && (l < first || l >= first + visible))
      parent.scrollTop = Math.max(0, l - Math.floor(visible / 2)) * row; // its scroll event shows the row
  };
  group.add({ plot, refocus });
  return plot;
}

/** Height of one row of the events lane, px. */
const LANE_ROW = 18;

/**
 * The run's cause events as bars above the charts, one row per lane (`StepGroup.lanes`), coloured
 * by severity and named by kind and layer; a click on a bar selects its event. The lane shares the
 * charts' step axis (`steps`: the run's logged steps, for the hover), zoom and cursor.
 */
export function eventLane(
  parent: HTMLElement,
  group: StepGroup,
  steps: number[],
  width: number,
  onSelect: (event: CauseEvent) => void,
): uPlot {
  const rows = Math.max(0, ...group.lanes.values()) + 1;
  let bars: { node: HTMLElement; event: CauseEvent }[] = [];
  const opts: uPlot.Options & BaseOptions = {
    ...baseOptions(group, width, rows * LANE_ROW + 4),
    padding: [2, null, 2, null], // no x axis below: the plot is the lane's rows
    scales: { x: xScale(group), y: { auto: false, range: [0, 1] } },
    axes: [
      { show: false },
      { size: Y_AXIS_SIZE, grid: { show: false }, ticks: { show: false }, splits: () => [], values: () => [] },
    ],
    series: [{ label: "step" }],
    plugins: [
      tooltip(group, () => []),
      {
        hooks: {
          init: (u) => {
            bars = group.events.map((event) => {
              const node = el(
                "div",
                {
                  class: `gc-lane-bar gc-${event.severity}`,
                  text: `${event.kind} · ${event.layer ?? "whole run"}`,
                  attrs: { "data-event-id": event.id },
                },
                [],
              );
              node.style.top = `${(group.lanes.get(event.id) ?? 0) * LANE_ROW}px`;
              node.style.height = `${LANE_ROW - 4}px`;
              node.addEventListener("click", () => onSelect(event));
              u.over.append(node);
              return { node, event };
            });
          },
          draw: (u) => {
            for (const { node, event } of bars) {
              place(u, node, event.first_step, event.last_step, 4);
              node.classList.toggle("gc-focused", event.id === group.focusEvent);
            }
          },
        },
      },
    ],
  };
  const plot = new uPlot(opts, [steps], parent);
  group.add({ plot, refocus: () => plot.redraw(false) });
  return plot;
}
