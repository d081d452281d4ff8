// The plugin's HTTP routes (docs/design.md, "Plugin routes"). TensorBoard serves the tab's page with
// <base href="plugin/gradcause/">, so relative URLs resolve to /data/plugin/gradcause/<route>.

export type Severity = "info" | "warning" | "error";

export interface Evidence {
  /** A stable identifier for tools. */
  metric: string;
  /** What the value is, in plain words (one wording per metric). */
  label: string;
  value: number;
  threshold: number;
  op: string;
  step: number | null;
  note: string;
}

export interface CauseEvent {
  id: string;
  kind: string;
  severity: Severity;
  layer: string | null;
  first_step: number;
  last_step: number;
  title: string;
  evidence: Evidence[];
  advice: string;
  caused_by: string[];
}

export interface EventsResponse {
  events: CauseEvent[];
  checked: string[];
  skipped: Record<string, string>;
}

/** An event file TensorBoard reads only up to `offset` of its `size` bytes (analysis/integrity.py). */
export interface Damage {
  run: string;
  path: string;
  offset: number;
  size: number;
  problem: string;
  last_step: number | null;
  /** The CLI's sentence: the file, where it breaks, which steps may be missing. */
  text: string;
}

/** A run's line in the `overview` route (plugin/overview.py). */
export interface OverviewRun {
  run: string;
  events: number;
  counts: Record<Severity, number>;
  /** The most severe cause, the earliest of those. */
  worst: { id: string; severity: Severity; kind: string; layer: string | null; first_step: number } | null;
  /** The CLI's summary line. */
  summary: string;
  damaged: Damage[];
  /** Why the run could not be read (a newer format), if so. */
  unreadable?: string;
  /** Not diagnosed yet: the overview's time budget ran out first (ask again). */
  pending?: boolean;
  /** Index of the run's colour in TensorBoard's run selector; null if TensorBoard does not list it. */
  color: number | null;
  /** Changes whenever the run's data or damage does. */
  signature: string;
}

export interface Overview {
  runs: OverviewRun[];
  /** TensorBoard's runs without gradcause data (and damaged files of runs nothing could be read from). */
  skipped: { run: string; damaged: Damage[] }[];
  /** Whether event files were checked for damage (only under a local --logdir). */
  damage_checked: boolean;
  /** Runs not diagnosed yet. */
  pending: number;
}

export interface Row {
  name: string;
  layer: string;
  layer_class: string;
  activation: string;
  recurrent: boolean;
  depth: number;
}

/** One kind of one run; `values[stat][row][i]` is the value at `steps[i]` (NaN/Inf decoded). */
export interface Timeline {
  run: string;
  kind: string;
  steps: number[];
  rows: Row[];
  stats: string[];
  values: Record<string, Float64Array[]>;
}

/** The header of a timeline in the route's binary form: the JSON form's fields but the columns, and the
 * rows left out of each stat's columns because all their values are zero. */
type TimelineHeader = Omit<Timeline, "steps" | "values"> & { n_steps: number; zero_rows: number[][] };

/** The kinds the tab draws for every run, with the stat columns it reads from each. */
export const TIMELINE_STATS = {
  gradients: ["l2", "nan", "inf", "missing"],
  activations: ["dead_frac", "saturated_frac", "nan", "inf"],
  weights: ["norm", "update_norm", "nan", "inf"],
  loss: ["value"],
} as const;
export type TimelineKind = keyof typeof TIMELINE_STATS;
export const TIMELINE_KINDS = Object.keys(TIMELINE_STATS) as TimelineKind[];

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const NON_FINITE: Record<string, number> = { NaN: NaN, Infinity: Infinity, "-Infinity": -Infinity };

/** The server sends NaN/Inf as the strings "NaN"/"Infinity"/"-Infinity": make them numbers again. */
function decodeNumber(value: unknown): number {
  return typeof value === "string" && value in NON_FINITE ? NON_FINITE[value] : (value as number);
}

/**
 * The `timeline` route's binary form (plugin/timeline.py, `timeline_binary`): uint32 LE header length,
 * the JSON header (padded to 8 bytes with the length), float64 LE steps, float32 LE values [stat][row][step]
 * with NaN/Inf as IEEE values, but for the rows `zero_rows[stat]` names (all zeros, not sent). Each row
 * becomes packed doubles, as the charts read them.
 */
export function decodeTimeline(body: ArrayBuffer): Timeline {
  const view = new DataView(body);
  const headerLength = view.getUint32(0, true);
  const header = JSON.parse(new TextDecoder().decode(new Uint8Array(body, 4, headerLength))) as TimelineHeader;
  const { n_steps: n, zero_rows: zeroRows, ...fields } = header;
  const stepsAt = 4 + headerLength;
  const steps = Array.from(new Float64Array(body, stepsAt, n));
  const floats = new Float32Array(body, stepsAt + 8 * n);
  const values: Record<string, Float64Array[]> = {};
  let at = 0;
  header.stats.forEach((stat, k) => {
    const zero = new Set(zeroRows[k]);
    values[stat] = header.rows.map((_, r) => {
      if (zero.has(r)) return new Float64Array(n);
      at += n;
      return new Float64Array(floats.subarray(at - n, at));
    });
  });
  return { ...fields, steps, values };
}

async function get(route: string, params: Record<string, string | number>, accept: string): Promise<Response> {
  const query = new URLSearchParams(Object.entries(params).map(([k, v]) => [k, String(v)]));
  const url = query.toString() ? `${route}?${query}` : route;
  const response = await fetch(url, { headers: { Accept: accept } });
  if (!response.ok) {
    const text = await response.text();
    throw new HttpError(response.status, `${url}: HTTP ${response.status} ${text.slice(0, 200)}`);
  }
  return response;
}

async function getText(route: string, params: Record<string, string | number>, accept: string): Promise<string> {
  return (await get(route, params, accept)).text();
}

async function getJson<T>(route: string, params: Record<string, string | number> = {}): Promise<T> {
  return JSON.parse(await getText(route, params, "application/json")) as T;
}

export async function fetchOverview(): Promise<Overview> {
  return getJson<Overview>("overview");
}

/** The runs with gradcause data (a listing: no run is read or diagnosed for it). */
export async function fetchRuns(): Promise<string[]> {
  return (await getJson<{ runs: string[] }>("runs")).runs;
}

/** The run's report as `tb-gradcause report LOGDIR --run RUN --format markdown` prints it. */
export async function fetchReport(run: string): Promise<string> {
  return getText("report", { run }, "text/markdown");
}

export async function fetchEvents(run: string): Promise<EventsResponse> {
  const result = await getJson<EventsResponse>("events", { run });
  for (const event of result.events)
    for (const ev of event.evidence) {
      ev.value = decodeNumber(ev.value);
      ev.threshold = decodeNumber(ev.threshold);
    }
  return result;
}

/**
 * A kind's timeline with the `stats` the tab reads, or null when the run did not log that kind (404).
 * A run whose metadata lacks one of those stats (400) gets all of its columns instead. With `samples`,
 * a preview: at most that many of the logged steps, read without the rest of the run.
 */
export async function fetchTimeline(
  run: string,
  kind: string,
  stats: readonly string[],
  maxPoints: number,
  samples?: number,
): Promise<Timeline | null> {
  const params = { run, kind, max_points: maxPoints, format: "binary", ...(samples ? { samples } : {}) };
  const binary = (query: Record<string, string | number>) =>
    get("timeline", query, "application/octet-stream").then((response) => response.arrayBuffer());
  try {
    const body = await binary({ ...params, stats: stats.join(",") }).catch((err: unknown) => {
      if (err instanceof HttpError && err.status === 400) return binary(params);
      throw err;
    });
    return decodeTimeline(body);
  } catch (err) {
    if (err instanceof HttpError && err.status === 404) return null;
    throw err;
  }
}
