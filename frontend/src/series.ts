// Pure transforms from the routes' per-row timelines to the per-layer series the charts draw.

import type { Timeline } from "./api";

/** Why a point is not a plain finite number: drawn as a marker, never as a silent gap. */
export enum Flag {
  None = 0,
  NaN = 1,
  Inf = 2,
  Missing = 3,
}

/** Per-layer values on a run kind's steps; `values[layer][i]` is at `steps[i]`. */
export interface LayerMatrix {
  steps: number[];
  layers: string[];
  values: Float64Array[];
  flags: Uint8Array[];
}

/** Rows grouped by their layer, in forward order of each layer's first row. */
function groupRows(timeline: Timeline): Map<string, number[]> {
  const groups = new Map<string, number[]>();
  timeline.rows.forEach((row, r) => {
    const layer = row.layer || row.name;
    const rows = groups.get(layer);
    if (rows) rows.push(r);
    else groups.set(layer, [r]);
  });
  return groups;
}

function stat(timeline: Timeline, name: string): Float64Array[] | undefined {
  return timeline.values[name];
}

/**
 * The counts decide first: the server sends a stat over finite elements as NaN for a row holding
 * NaN or Inf (plugin/timeline.py), so a NaN value with only an Inf count is an Inf step.
 */
function flagOf(value: number, nan: number, inf: number): Flag {
  if (nan > 0) return Flag.NaN;
  if (inf > 0) return Flag.Inf;
  if (Number.isNaN(value)) return Flag.NaN;
  if (!Number.isFinite(value)) return Flag.Inf;
  return Flag.None;
}

/**
 * Combines each layer's rows into one value per step with `combine(rows, out)` (which fills `out`),
 * flagged NaN/Inf when a row's value or its `nan`/`inf` counts say so, and Missing when every row has
 * `missing` = 1. Whole rows at a time: a callback per point cost ~4x as much on 400 rows x 2,000 steps.
 */
function byLayer(timeline: Timeline, combine: (rows: number[], out: Float64Array) => void): LayerMatrix {
  const nan = stat(timeline, "nan");
  const inf = stat(timeline, "inf");
  const missing = stat(timeline, "missing");
  const n = timeline.steps.length;
  const matrix: LayerMatrix = { steps: timeline.steps, layers: [], values: [], flags: [] };
  const nans = new Float64Array(n);
  const infs = new Float64Array(n);
  const missed = new Uint8Array(n);
  for (const [layer, rows] of groupRows(timeline)) {
    const values = new Float64Array(n);
    const flags = new Uint8Array(n);
    combine(rows, values);
    nans.fill(0);
    infs.fill(0);
    missed.fill(missing ? 1 : 0);
    for (const r of rows) {
      if (nan) addInto(nans, nan[r]);
      if (inf) addInto(infs, inf[r]);
      if (missing) for (let i = 0, row = missing[r]; i < n; i++) missed[i] &= row[i] >= 1 ? 1 : 0;
    }
    for (let i = 0; i < n; i++) flags[i] = missed[i] ? Flag.Missing : flagOf(values[i], nans[i], infs[i]);
    matrix.layers.push(layer);
    matrix.values.push(values);
    matrix.flags.push(flags);
  }
  return matrix;
}

function addInto(sum: Float64Array, row: Float64Array): void {
  for (let i = 0; i < sum.length; i++) sum[i] += row[i];
}

/** `out[i]` = sqrt(sum of squares) of a stat over rows at step i: the norm of the concatenated tensors. */
function rootSumSquares(values: Float64Array[], rows: number[], out: Float64Array): void {
  out.fill(0);
  for (const r of rows) for (let i = 0, row = values[r]; i < out.length; i++) out[i] += row[i] * row[i];
  for (let i = 0; i < out.length; i++) out[i] = Math.sqrt(out[i]);
}

/** Per-layer gradient L2 norm (all of the layer's variables together). */
export function gradientNorms(timeline: Timeline): LayerMatrix | null {
  const l2 = stat(timeline, "l2");
  return l2 ? byLayer(timeline, (rows, out) => rootSumSquares(l2, rows, out)) : null;
}

/** Per-layer update ratio ‖Δw‖ / ‖w‖ over all of the layer's variables. */
export function updateRatios(timeline: Timeline): LayerMatrix | null {
  const update = stat(timeline, "update_norm");
  const norm = stat(timeline, "norm");
  if (!update || !norm) return null;
  return byLayer(timeline, (rows, out) => {
    const norms = new Float64Array(out.length);
    rootSumSquares(update, rows, out);
    rootSumSquares(norm, rows, norms);
    for (let i = 0; i < out.length; i++) out[i] /= norms[i];
  });
}

/** One stat per layer, of a kind whose rows are layers already (activations, backward, backward_time). */
export function layerStat(timeline: Timeline, name: string): LayerMatrix | null {
  const values = stat(timeline, name);
  return values ? byLayer(timeline, (rows, out) => out.set(values[rows[0]])) : null;
}

/** Per input feature, its largest |value| in the batch (what `input_scale` compares across features). */
export function inputMagnitudes(timeline: Timeline): LayerMatrix | null {
  const [lo, hi] = [stat(timeline, "min"), stat(timeline, "max")];
  if (!lo || !hi) return null;
  return byLayer(timeline, (rows, out) => {
    const [low, high] = [lo[rows[0]], hi[rows[0]]];
    for (let i = 0; i < out.length; i++) out[i] = Math.max(Math.abs(low[i]), Math.abs(high[i]));
  });
}

/** The loss value as a one-layer matrix. */
export function lossValues(timeline: Timeline): LayerMatrix | null {
  const values = stat(timeline, "value");
  return values && values.length ? byLayer(timeline, (_rows, out) => out.set(values[0])) : null;
}

/** False for an all-zero series (e.g. the dead fraction of a sigmoid layer): not worth a line. */
export function hasSignal(values: Float64Array, flags: Uint8Array): boolean {
  return values.some((v, i) => v !== 0 || flags[i] !== Flag.None);
}

/** A span of consecutive logged steps where some series is NaN or Inf. */
export interface Region {
  from: number;
  to: number;
  flag: Flag.NaN | Flag.Inf;
}

/** Spans of consecutive logged steps where any of `flags` is NaN or Inf (NaN wins over Inf). */
export function nonFiniteRegions(steps: ArrayLike<number>, flags: Uint8Array[]): Region[] {
  const regions: Region[] = [];
  let open: Region | null = null;
  for (let i = 0; i < steps.length; i++) {
    let flag = Flag.None;
    for (const f of flags) {
      if (f[i] === Flag.NaN) {
        flag = Flag.NaN;
        break;
      }
      if (f[i] === Flag.Inf) flag = Flag.Inf;
    }
    if (flag === Flag.NaN || flag === Flag.Inf) {
      if (open && open.flag === flag) open.to = steps[i];
      else regions.push((open = { from: steps[i], to: steps[i], flag }));
    } else open = null;
  }
  return regions;
}

/** Index of the first step >= `step` (binary search on sorted steps). */
export function lowerBound(steps: ArrayLike<number>, step: number): number {
  let lo = 0;
  let hi = steps.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (steps[mid] < step) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * The `k`-th smallest of the first `length` of `values` (0-based), reordering them: a quickselect, linear
 * on average, where a sort per step took twice as long on 200 layers x 2,000 steps.
 */
export function kthSmallest(values: Float64Array, k: number, length = values.length): number {
  let lo = 0;
  let hi = length - 1;
  while (lo < hi) {
    const pivot = values[(lo + hi) >> 1];
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (values[i] < pivot) i++;
      while (values[j] > pivot) j--;
      if (i <= j) {
        const swap = values[i]; // plain swaps: a destructuring swap allocated an array each time
        values[i++] = values[j];
        values[j--] = swap;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return values[k]; // between the two parts: equal to the pivot
  }
  return values[k];
}

/** Per step, the largest, median (the upper one of an even count) and smallest finite value over layers (a deep model's summary). */
export function envelope(matrix: LayerMatrix): LayerMatrix {
  const n = matrix.steps.length;
  const [max, median, min] = [new Float64Array(n), new Float64Array(n), new Float64Array(n)];
  const column = new Float64Array(matrix.layers.length);
  for (let i = 0; i < n; i++) {
    let k = 0;
    let high = -Infinity;
    let low = Infinity;
    for (let l = 0; l < matrix.values.length; l++) {
      const v = matrix.values[l][i];
      if (Number.isFinite(v) && matrix.flags[l][i] !== Flag.Missing) {
        column[k++] = v;
        if (v > high) high = v;
        if (v < low) low = v;
      }
    }
    max[i] = k ? high : NaN;
    median[i] = k ? kthSmallest(column, k >> 1, k) : NaN;
    min[i] = k ? low : NaN;
  }
  const flags = () => new Uint8Array(n);
  return {
    steps: matrix.steps,
    layers: ["max over layers", "median over layers", "min over layers"],
    values: [max, median, min],
    flags: [flags(), flags(), flags()],
  };
}

/**
 * Decades spanned by the finite positive values, or null when a finite value is negative (no log
 * scale can show it). 0 without a positive value.
 */
export function logDecades(values: ArrayLike<number>): number | null {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v < 0 && v > -Infinity) return null;
    if (v > 0 && v < Infinity) [lo, hi] = [Math.min(lo, v), Math.max(hi, v)];
  }
  return lo <= hi ? Math.log10(hi / lo) : 0;
}

/** The sorted union of several step lists. */
export function mergeSteps(lists: ArrayLike<number>[]): number[] {
  const all = new Set<number>();
  for (const list of lists) for (let i = 0; i < list.length; i++) all.add(list[i]);
  return [...all].sort((a, b) => a - b);
}

/**
 * The step range a run opens on: from its start to a little past its first non-finite step
 * (`firstBad`; three logged steps, or a tenth of the steps before it), so that a run that went on
 * training after NaN (Keras' default) does not spend most of the width on it. The whole run when
 * it has no such step or the cut would hide under a tenth of it.
 */
export function openingRange(steps: number[], full: [number, number], firstBad: number | null): [number, number] {
  if (firstBad === null || !steps.length) return full;
  const [lo, hi] = full;
  const after = steps[Math.min(steps.length - 1, lowerBound(steps, firstBad) + 3)];
  const end = Math.min(hi, Math.max(after, firstBad + Math.ceil((firstBad - lo) / 10)));
  return end - lo < 0.9 * (hi - lo) ? [lo, end] : full;
}

/** From `k` logged steps before `step` to `k` after it (a step's neighbourhood, whatever the cadence). */
export function aroundStep(steps: number[], step: number, k: number): [number, number] {
  const i = lowerBound(steps, step);
  const from = steps[Math.max(0, Math.min(steps.length - 1, i) - k)] ?? step;
  const to = steps[Math.min(steps.length - 1, i + k)] ?? step;
  return from < to ? [from, to] : [step - 1, step + 1];
}
