// The heatmap's statistics and their fixed colour scales: one colour means one value in every run and
// at every zoom, so a heatmap can be read on its own and two runs compared by eye. A scale relative to
// the run's own values (its median ± a few decades) drew 40.7 and 59.8 as darkest and brightest.

import { el, formatTick } from "./dom";
import { viridis } from "./theme";

export type HeatStat = "gradient_norm" | "update_ratio" | "dead_frac" | "saturated_frac";

/** A colour scale over [min, max] (values beyond are drawn at its ends); log: by decades. */
export interface ColorScale {
  log: boolean;
  min: number;
  max: number;
}

export interface HeatStatInfo {
  /** The choice's words, and the chart title's. */
  label: string;
  /** The logged statistics it comes from, in words ("gradients were not logged"). */
  source: string;
  /** What a grey (missing) cell means; null where no cell can be missing (only gradients can). */
  missing: string | null;
  scale: ColorScale;
}

export const HEAT_STATS: Record<HeatStat, HeatStatInfo> = {
  gradient_norm: {
    label: "Gradient norm",
    source: "gradients",
    missing: "no gradient",
    // A layer's gradient L2 norm: healthy layers sit around 1e-4..1e1; the detectors' vanishing rules
    // (1/1000 of a later layer or of the early level) reach 1e-7 and below, exploding ones 1e3 and
    // beyond. Twelve decades keep both ends in view, a decade about one colour step.
    scale: { log: true, min: 1e-8, max: 1e4 },
  },
  update_ratio: {
    label: "Update ratio ‖Δw‖ / ‖w‖",
    source: "weight updates",
    missing: null,
    // Healthy training updates ~1e-3 of the weights per step (the usual rule of thumb), mid-scale here;
    // 1e-1 and above is a learning rate that rewrites the weights, 1e-7 and below a frozen layer.
    scale: { log: true, min: 1e-7, max: 1e1 },
  },
  dead_frac: {
    label: "Dead fraction (ReLU units)",
    source: "activations",
    missing: null,
    // Fractions are linear on [0, 1]: the detectors' rules are 50 % and 90 %, not decades.
    scale: { log: false, min: 0, max: 1 },
  },
  saturated_frac: {
    label: "Saturated fraction",
    source: "activations",
    missing: null,
    scale: { log: false, min: 0, max: 1 },
  },
};

export const HEAT_STAT_NAMES = Object.keys(HEAT_STATS) as HeatStat[];

export function isHeatStat(name: string): name is HeatStat {
  return (HEAT_STAT_NAMES as string[]).includes(name);
}

/** Where `value` sits on `scale`, in [0, 1]: clamped at the ends; zero and negatives at the bottom of a log scale. */
export function scalePosition(scale: ColorScale, value: number): number {
  const [lo, hi, v] = scale.log
    ? [Math.log10(scale.min), Math.log10(scale.max), value > 0 ? Math.log10(value) : -Infinity]
    : [scale.min, scale.max, value];
  return Math.min(1, Math.max(0, (v - lo) / (hi - lo)));
}

/**
 * The legend's tick values and labels: every decade of a log scale (every other one beyond 8
 * decades), quarters of a linear one; the ends say that values beyond them share their colour.
 */
export function legendTicks(scale: ColorScale): { position: number; label: string }[] {
  const values: number[] = [];
  if (scale.log) {
    const [lo, hi] = [Math.round(Math.log10(scale.min)), Math.round(Math.log10(scale.max))];
    const every = hi - lo > 8 ? 2 : 1;
    for (let k = lo; k <= hi; k += every) values.push(10 ** k);
  } else for (let i = 0; i <= 4; i++) values.push(scale.min + ((scale.max - scale.min) * i) / 4);
  return values.map((value, i) => {
    const label = formatTick(value);
    const end = !scale.log ? "" : i === 0 ? "≤ " : i === values.length - 1 ? "≥ " : "";
    return { position: scalePosition(scale, value), label: end + label };
  });
}

/** Stops of the legend's colour bar (viridis, as the cells are coloured). */
const LEGEND_STOPS = 9;

/**
 * The heatmap's legend: the colour bar with its ticks, then the NaN/Inf and missing swatches.
 * `data-scale` keeps the scale for tools ("log 1e-8 1e4").
 */
export function heatLegend(info: HeatStatInfo): HTMLElement {
  const { scale } = info;
  const stops = Array.from({ length: LEGEND_STOPS }, (_v, i) => {
    const t = i / (LEGEND_STOPS - 1);
    return `rgb(${viridis(t).map(Math.round).join(", ")}) ${Math.round(t * 100)}%`;
  });
  const bar = el("div", { class: "gc-heat-bar" });
  bar.style.background = `linear-gradient(to right, ${stops.join(", ")})`;
  const ticks = legendTicks(scale).map(({ position, label }) => {
    const tick = el("span", { class: "gc-heat-tick", text: label });
    tick.style.left = `${position * 100}%`;
    return tick;
  });
  const swatch = (cls: string, text: string) =>
    el("span", { class: "gc-legend-item" }, [el("span", { class: `gc-swatch ${cls}` }), text]);
  return el(
    "div",
    {
      class: "gc-heat-legend",
      attrs: { "data-scale": `${scale.log ? "log" : "linear"} ${formatTick(scale.min)} ${formatTick(scale.max)}` },
    },
    [
      el("span", { class: "gc-heat-scale", text: scale.log ? "log scale" : "linear" }),
      el("div", { class: "gc-heat-bar-wrap" }, [bar, el("div", { class: "gc-heat-ticks" }, ticks)]),
      swatch("gc-nonfinite", "NaN/Inf"),
      info.missing && swatch("gc-missing", info.missing),
    ],
  );
}
