// One run's panel: its cause cards beside its events lane and timelines on one shared step axis.

import {
  fetchEvents,
  fetchTimeline,
  TIMELINE_KINDS,
  TIMELINE_STATS,
  type CauseEvent,
  type Damage,
  type EventsResponse,
  type OverviewRun,
  type Timeline,
  type TimelineKind,
} from "./api";
import { cardList, type CardList } from "./cards";
import { eventLane, heatmap, lineChart, StepGroup, type Line, type LineChartSpec } from "./charts";
import { el, formatSpan } from "./dom";
import { citedKinds, EVIDENCE_KINDS, EVIDENCE_STATS, namedRows, type EvidenceKind } from "./evidence";
import { HEAT_STAT_NAMES, HEAT_STATS, heatLegend, type HeatStat } from "./heatscale";
import { runColor } from "./overview";
import { copyReportButton } from "./report";
import {
  aroundStep,
  envelope,
  gradientNorms,
  inputMagnitudes,
  layerStat,
  lossValues,
  mergeSteps,
  nonFiniteRegions,
  hasSignal,
  logDecades,
  openingRange,
  updateRatios,
  type LayerMatrix,
  type Region,
} from "./series";
import { depthColor, palette, viridis, type Palette } from "./theme";

export interface RunData {
  run: string;
  events: EventsResponse;
  timelines: Partial<Record<TimelineKind, Timeline>>;
  /** The evidence kinds' timelines, fetched when first shown (null: not logged). */
  evidence: Partial<Record<EvidenceKind, Promise<Timeline | null>>>;
  /** The server-side decimation budget the timelines were fetched with. */
  maxPoints: number;
  /** Its event files TensorBoard reads only in part (from the overview). */
  damaged: Damage[];
  /** Its colour index in TensorBoard's run selector. */
  color: number | null;
  /** A preview (`fetchPreview`): a sample of the logged steps and no causes yet. */
  preview?: boolean;
}

/** A run's events and timelines as fetched, before the overview's line joins them. */
export interface RunFetch {
  run: string;
  maxPoints: number;
  data: Promise<[EventsResponse, ...(Timeline | null)[]]>;
}

/** Starts fetching a run's events and timelines (decimated server-side to about `maxPoints` steps). */
export function fetchRun(run: string, maxPoints: number): RunFetch {
  const data = Promise.all([
    fetchEvents(run),
    ...TIMELINE_KINDS.map((kind) => fetchTimeline(run, kind, TIMELINE_STATS[kind], maxPoints)),
  ]);
  data.catch(() => undefined); // its failure is reported where it is awaited, maybe later
  return { run, maxPoints, data };
}

/** A run's data for its panel: `early`'s if it fetched this run at `maxPoints`, else fetched now. */
export async function loadRun(line: OverviewRun, maxPoints: number, early?: RunFetch): Promise<RunData> {
  const fetched = early?.run === line.run && early.maxPoints === maxPoints ? early : fetchRun(line.run, maxPoints);
  const [events, ...timelines] = await fetched.data;
  return {
    run: line.run,
    events,
    timelines: byKind(timelines),
    evidence: {},
    maxPoints,
    damaged: line.damaged,
    color: line.color,
  };
}

/**
 * Logged steps per kind in a preview: reading 500 of the 10,000-step, 200-layer benchmark run's
 * charted kinds takes ~0.1 s, every step ~2.5 s before the causes can even be looked for.
 */
export const PREVIEW_SAMPLES = 500;

/**
 * A run's preview, drawn while the server reads and diagnoses all of it: its charted kinds from a
 * sample of `PREVIEW_SAMPLES` logged steps each, without causes. A sample may miss every NaN/Inf
 * step, so the panel says it is a preview and the full data replaces it.
 */
export async function fetchPreview(run: string, maxPoints: number): Promise<RunData> {
  const timelines = await Promise.all(
    TIMELINE_KINDS.map((kind) => fetchTimeline(run, kind, TIMELINE_STATS[kind], maxPoints, PREVIEW_SAMPLES)),
  );
  const events = { events: [], checked: [], skipped: {} };
  return {
    run,
    events,
    timelines: byKind(timelines),
    evidence: {},
    maxPoints,
    damaged: [],
    color: null,
    preview: true,
  };
}

/** The timelines fetched in `TIMELINE_KINDS` order, by kind (a kind not logged left out). */
function byKind(timelines: (Timeline | null)[]): Partial<Record<TimelineKind, Timeline>> {
  const result: Partial<Record<TimelineKind, Timeline>> = {};
  TIMELINE_KINDS.forEach((kind, k) => {
    const timeline = timelines[k];
    if (timeline) result[kind] = timeline;
  });
  return result;
}

/** A damaged event file's banner: which file, where it breaks, which steps may be missing. */
function damageBanner(damaged: Damage[]): HTMLElement | null {
  if (!damaged.length) return null;
  return el("div", { class: "gc-damage", attrs: { role: "alert" } }, [
    el("strong", { text: `Damaged event file${damaged.length > 1 ? "s" : ""}: ` }),
    "TensorBoard stopped reading at the break, so this run may look shorter than it was.",
    el(
      "ul",
      {},
      damaged.map((d) => el("li", { text: d.text, attrs: { "data-path": d.path } })),
    ),
  ]);
}

/** Step range covered by any of the run's timelines and events. */
function stepRange(data: RunData): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (const timeline of Object.values(data.timelines))
    if (timeline.steps.length) {
      lo = Math.min(lo, timeline.steps[0]);
      hi = Math.max(hi, timeline.steps[timeline.steps.length - 1]);
    }
  for (const e of data.events.events) [lo, hi] = [Math.min(lo, e.first_step), Math.max(hi, e.last_step)];
  if (lo > hi) return [0, 1];
  return lo === hi ? [lo - 1, hi + 1] : [lo, hi];
}

function linesOf(matrix: LayerMatrix, layers: number[], colors: Palette, suffix = "", dash?: number[]): Line[] {
  return layers.map((l) => ({
    layer: matrix.layers[l],
    label: `${matrix.layers[l]}${suffix}`,
    values: matrix.values[l],
    flags: matrix.flags[l],
    color: depthColor(l, matrix.layers.length, colors.dark),
    dash,
  }));
}

const allLayers = (m: LayerMatrix) => m.layers.map((_l, i) => i);

/** Up to this many layers, a chart draws a line per layer; deeper models get a summary. */
const MAX_LAYER_LINES = 24;

/**
 * A chart's lines for one per-layer stat: every layer of a shallow model; for a deep one the
 * max/median/min over layers plus the layers that have causes (the heatmap shows the rest).
 */
function layerLines(
  matrix: LayerMatrix,
  colors: Palette,
  causeLayers: Set<string>,
  suffix = "",
  dash?: number[],
): { lines: Line[]; all: Line[] } {
  const all = linesOf(matrix, allLayers(matrix), colors, suffix, dash);
  if (matrix.layers.length <= MAX_LAYER_LINES) return { lines: all, all };
  const summary = envelope(matrix);
  const summaryLines = linesOf(summary, allLayers(summary), colors, suffix, dash).map((line) => ({
    ...line,
    color: colors.muted,
  }));
  return { lines: [...summaryLines, ...all.filter((line) => causeLayers.has(line.layer))], all };
}

/** Choices shared by every run's panel (kept in the URL by the app). */
export interface TabSettings {
  heatmap: HeatStat;
  chooseHeatmap(stat: HeatStat): void;
}

/** A chart's spec for a matrix's lines, with its NaN/Inf regions. */
function lineSpec(
  matrix: LayerMatrix,
  log: boolean,
  lines: { lines: Line[]; all: Line[] },
  range?: [number, number],
): LineChartSpec {
  return { ...lines, steps: matrix.steps, log, range, regions: nonFiniteRegions(matrix.steps, matrix.flags) };
}

/** What the lines of a per-layer chart are: max/median/min over a deep model's layers, or the colour key. */
function deep(matrix: LayerMatrix): string {
  return matrix.layers.length > MAX_LAYER_LINES
    ? ` — ${matrix.layers.length} layers: max, median and min over layers, and the layers with causes`
    : matrix.layers.length > 1
      ? " — first layer blue … last layer orange; hover for names"
      : "";
}

/** Titles of the evidence kinds' charts. */
const EVIDENCE_TITLES: Record<EvidenceKind, string> = {
  inputs: "Inputs per feature: largest |x| in the batch (log scale)",
  backward: "Backward signal per layer: ‖d loss / d layer output‖ (log scale)",
  backward_time:
    "Backward signal by time position, recurrent layers: ‖d loss / d input at t‖ (log scale; first time step blue … last orange)",
};

/** `t_k` of `backward_time` is the k-th of 8 positions counted back from the last time step. */
const TIME_POSITIONS = EVIDENCE_STATS.backward_time.length;

export interface ViewState {
  layer: string | null;
  eventId: string | null;
  range: [number, number] | null;
  /** The loss chart's scale as the user toggled it; null: log when the loss spans > 3 decades. */
  lossLog: boolean | null;
  /** Evidence charts the user opened or closed (the others are open when a cause cites them). */
  evidenceOpen: Partial<Record<EvidenceKind, boolean>>;
}

/** Decades of loss values above which the loss chart opens on a log scale. */
const LOSS_LOG_DECADES = 3;

/** Logged steps shown either side of the first NaN when its card is clicked. */
const NAN_NEIGHBOURS = 5;

/** "log scale" and what it does with zeros (none on a log axis): the chart titles' suffix. */
function logNote(matrix: LayerMatrix): string {
  return matrix.values.some((values) => values.includes(0)) ? "log scale; 0 drawn on the bottom edge" : "log scale";
}

/** Severity colours and the NaN/Inf marker, as the lane, cards and charts use them. */
function legend(): HTMLElement {
  const item = (cls: string, text: string) =>
    el("span", { class: "gc-legend-item" }, [el("span", { class: `gc-swatch ${cls}` }), text]);
  return el("span", { class: "gc-legend" }, [
    item("gc-error", "error"),
    item("gc-warning", "warning"),
    item("gc-info", "info"),
    item("gc-nonfinite", "NaN/Inf steps"),
  ]);
}

export class RunView {
  readonly node: HTMLElement;
  private group: StepGroup | null = null;
  private cards: CardList | null = null;
  private resizer: ResizeObserver | null = null;
  private focusLabel: HTMLElement | null = null;
  /** Focus and zoom, kept across re-renders (theme changes) and reloads (`snapshot`). */
  private view: ViewState;
  /** Every logged step of the run, sorted (zooms count logged steps, whatever the cadence). */
  private readonly steps: number[];
  /** The input features' row names, once their chart is drawn (for a card's named features). */
  private inputRows: string[] = [];

  constructor(
    readonly data: RunData,
    view: ViewState | undefined,
    private readonly settings: TabSettings,
  ) {
    this.node = el("div", { class: "gc-run", attrs: { "data-run": data.run } });
    this.view = view ?? { layer: null, eventId: null, range: null, lossLog: null, evidenceOpen: {} };
    this.steps = mergeSteps(Object.values(data.timelines).map((timeline) => timeline.steps));
  }

  /** The focus and zoom to carry over to this run's next view; an unzoomed view follows new steps. */
  snapshot(): ViewState {
    if (!this.group) return { ...this.view }; // not drawn yet: the state it was given, zoom included
    const { range, fullRange: full } = this.group;
    const zoomed = range !== null && (range[0] !== full[0] || range[1] !== full[1]);
    return { ...this.view, range: zoomed ? range : null };
  }

  /** Builds the panel; call once `node` is in the document (charts take their width from it). */
  render(): void {
    this.destroyCharts();
    const colors = palette();
    const { events, checked, skipped } = this.data.events;
    const range = stepRange(this.data);
    const focusLabel = el("span", { class: "gc-focus" });
    const opening = el("span", { class: "gc-opening gc-muted" });
    const reset = el("button", { class: "gc-button", text: "Show all steps", attrs: { type: "button" } });
    const charts = el("div", { class: "gc-charts" });
    this.cards = cardList(events, (event) => this.select(event));
    const skippedNotes = Object.entries(skipped).map(([kind, why]) => el("li", { text: `${kind}: ${why}` }));
    const banner = damageBanner(this.data.damaged);
    const swatch = el("span", { class: "gc-run-swatch" });
    swatch.style.background = runColor(this.data.color, colors.dark);
    const { preview } = this.data;
    this.node.classList.toggle("gc-previewing", !!preview);
    this.node.replaceChildren(
      el("header", { class: "gc-run-head" }, [
        swatch,
        el("h2", { text: this.data.run }),
        focusLabel,
        opening,
        reset,
        preview
          ? el("span", {
              class: "gc-preview-note",
              attrs: { role: "status" },
              text: `Preview: up to ${PREVIEW_SAMPLES} sampled steps per chart, NaN/Inf steps between them not shown — loading every step and the causes…`,
            })
          : copyReportButton(this.data.run),
      ]),
      ...(banner ? [banner] : []),
      el("div", { class: "gc-run-body" }, [
        el(
          "div",
          { class: "gc-side" },
          preview
            ? [el("p", { class: "gc-muted gc-finding", text: "Finding causes…" })]
            : [
                events.length
                  ? this.cards.node
                  : el("p", { class: "gc-healthy", text: `No causes found in ${checked.length} checks.` }),
                el("details", { class: "gc-checks" }, [
                  el("summary", { text: `Checked ${checked.length}, not checked ${skippedNotes.length}` }),
                  el("p", { class: "gc-muted", text: `Checked: ${checked.join(", ") || "none"}` }),
                  skippedNotes.length ? el("ul", {}, skippedNotes) : null,
                ]),
              ],
        ),
        charts,
      ]),
    );
    this.group = new StepGroup(events, range, colors, (layer) => this.focus(layer, null));
    const group = this.group;
    reset.addEventListener("click", () => {
      this.focus(null, null);
      opening.textContent = "";
      group.reset();
    });
    this.focusLabel = focusLabel;
    const width = Math.max(320, charts.clientWidth - 8);
    const firstBad = this.addCharts(charts, group, colors, width);
    this.resizer = new ResizeObserver(() => group.resize(Math.max(320, charts.clientWidth - 8)));
    this.resizer.observe(charts);
    const { layer, eventId, range: shown } = this.view;
    this.focus(layer, eventId);
    // A preview opens on every step: its first NaN/Inf is a sample's, maybe not the run's.
    const opened = preview ? range : openingRange(this.steps, range, firstBad);
    if (shown) group.zoom(...shown);
    else if (opened[1] < range[1]) {
      group.zoom(...opened);
      opening.textContent = `showing ${formatSpan(...opened)} of ${range[0]}–${range[1]}: first NaN/Inf at step ${firstBad}`;
      // The note describes the opening view only: any other zoom (a card, a drag) clears it.
      group.onRange.push(([lo, hi]) => {
        if (lo !== opened[0] || hi !== opened[1]) opening.textContent = "";
      });
    }
    group.measuring = true;
  }

  /**
   * The events lane and the charts; returns the first non-finite step any of them marks (or a
   * `nan_inf` event names), null when there is none.
   */
  private addCharts(charts: HTMLElement, group: StepGroup, colors: Palette, width: number): number | null {
    const { gradients, activations, weights, loss } = this.data.timelines;
    const causeLayers = new Set(this.data.events.events.map((e) => e.layer ?? ""));
    /** A titled chart drawn by `draw`, or a note that its kind was not logged. */
    const chart = (
      title: string | HTMLElement,
      what: string,
      draw: ((plot: HTMLElement) => void) | null | undefined,
    ) => {
      const plot = el("div", { class: "gc-plot" });
      const body = draw ? plot : el("p", { class: "gc-muted", text: `${what} were not logged for this run` });
      const heading = typeof title === "string" ? el("h3", { text: title }) : title;
      charts.append(el("section", { class: "gc-chart" }, [heading, body]));
      draw?.(plot);
    };
    const regions: Region[] = [];
    /** A chart's spec; its NaN/Inf regions are remembered for the opening zoom. */
    const spec = (...args: Parameters<typeof lineSpec>): LineChartSpec => {
      const made = lineSpec(...args);
      regions.push(...made.regions);
      return made;
    };

    charts.replaceChildren();
    const { events } = this.data.events;
    if (events.length) {
      const lane = el("div", { class: "gc-plot gc-lane" });
      charts.append(
        el("section", { class: "gc-chart gc-events" }, [
          el("h3", {}, ["Causes (click a bar or a card to zoom to its steps) ", legend()]),
          lane,
        ]),
      );
      eventLane(lane, group, this.steps, width, (event) => this.select(event));
    }
    const lossValue = loss && lossValues(loss);
    const decades = lossValue && logDecades(lossValue.values[0]);
    const lossLog = decades !== null && decades !== undefined && (this.view.lossLog ?? decades > LOSS_LOG_DECADES);
    const lossTitle = el("h3", { text: lossLog ? `Loss (${logNote(lossValue!)}) ` : "Loss " });
    if (decades !== null && decades !== undefined) {
      const toggle = el("input", { attrs: { type: "checkbox", class: "gc-log-toggle" } });
      toggle.checked = lossLog;
      toggle.addEventListener("change", () => {
        this.view.lossLog = toggle.checked;
        this.render();
      });
      lossTitle.append(el("label", { class: "gc-toggle" }, [toggle, "log scale"]));
    }
    chart(
      lossTitle,
      "loss values",
      lossValue &&
        ((plot) => {
          const line = { ...linesOf(lossValue, [0], colors)[0], color: colors.text };
          lineChart(plot, group, spec(lossValue, lossLog, { lines: [line], all: [line] }), width);
        }),
    );
    const norms = gradients && gradientNorms(gradients);
    const ratios = weights && updateRatios(weights);
    const dead = activations && layerStat(activations, "dead_frac");
    const saturated = activations && layerStat(activations, "saturated_frac");
    chart(
      `Gradient norm per layer (${norms ? logNote(norms) : "log scale"})${norms ? deep(norms) : ""}`,
      "gradients",
      norms &&
        ((plot) => {
          lineChart(plot, group, spec(norms, true, layerLines(norms, colors, causeLayers)), width);
        }),
    );
    const heat: HeatStat = this.settings.heatmap;
    const heatMatrix = { gradient_norm: norms, update_ratio: ratios, dead_frac: dead, saturated_frac: saturated }[heat];
    chart(
      this.heatTitle(heat),
      HEAT_STATS[heat].source,
      heatMatrix &&
        ((plot) => {
          const info = HEAT_STATS[heat];
          plot.classList.add("gc-heat-scroll");
          plot.before(heatLegend(info));
          const found = nonFiniteRegions(heatMatrix.steps, heatMatrix.flags);
          regions.push(...found);
          heatmap(plot, group, { ...heatMatrix, scale: info.scale, regions: found, color: viridis }, width);
        }),
    );
    const healthTitle = `Activation health: dead (solid) and saturated (dashed) fraction${dead ? deep(dead) : ""}`;
    chart(
      healthTitle,
      "activations",
      dead &&
        saturated &&
        ((plot) => {
          const d = layerLines(dead, colors, causeLayers, " dead");
          const s = layerLines(saturated, colors, causeLayers, " saturated", [5, 4]);
          const lines = [...d.lines, ...s.lines].filter((line) => hasSignal(line.values, line.flags));
          lineChart(plot, group, spec(dead, false, { lines, all: [...d.all, ...s.all] }, [0, 1]), width);
        }),
    );
    chart(
      `Update ratio ‖Δw‖ / ‖w‖ per layer (${ratios ? logNote(ratios) : "log scale"})${ratios ? deep(ratios) : ""}`,
      "weight updates",
      ratios &&
        ((plot) => {
          lineChart(plot, group, spec(ratios, true, layerLines(ratios, colors, causeLayers)), width);
        }),
    );
    const cited = citedKinds(events);
    const evidenceKinds = this.data.preview ? [] : EVIDENCE_KINDS; // fetched in full: they wait for the full view
    for (const kind of evidenceKinds) charts.append(this.evidenceChart(kind, cited.has(kind), group, colors));
    const firsts = [
      ...regions.map((region) => region.from),
      ...events.filter((event) => event.kind === "nan_inf").map((event) => event.first_step),
    ];
    return firsts.length ? Math.min(...firsts) : null;
  }

  /** The heatmap's title with its choice of statistic (the same for every run's panel). */
  private heatTitle(heat: HeatStat): HTMLElement {
    const choice = el(
      "select",
      { class: "gc-heat-choice", attrs: { "aria-label": "heatmap statistic" } },
      HEAT_STAT_NAMES.map((name) => el("option", { text: HEAT_STATS[name].label, attrs: { value: name } })),
    );
    choice.value = heat;
    choice.addEventListener("change", () => this.settings.chooseHeatmap(choice.value as HeatStat));
    return el("h3", { text: "Heatmap, layers × steps, colour: " }, [choice]);
  }

  /**
   * A collapsible chart of an evidence kind: open (and fetched) at once when a cause cites it,
   * else fetched when the user opens it, so runs that do not need it cost nothing. The user's
   * opening or closing it is kept across re-renders and reloads.
   */
  private evidenceChart(kind: EvidenceKind, cited: boolean, group: StepGroup, colors: Palette): HTMLElement {
    const plot = el("div", { class: "gc-plot" });
    const section = el("details", { class: "gc-chart gc-lazy", attrs: { "data-kind": kind } }, [
      el("summary", {}, [el("h3", { text: EVIDENCE_TITLES[kind] })]),
      plot,
    ]);
    const opened = () => this.view.evidenceOpen[kind] ?? cited;
    let started = false;
    const start = () => {
      if (!started) void this.drawEvidence(kind, plot, group, colors);
      started = true;
    };
    section.open = opened();
    section.addEventListener("toggle", () => {
      if (section.open !== opened()) this.view.evidenceOpen[kind] = section.open; // the user's choice, kept
      if (section.open) start();
    });
    if (section.open) start();
    return section;
  }

  private async drawEvidence(kind: EvidenceKind, plot: HTMLElement, group: StepGroup, colors: Palette): Promise<void> {
    plot.replaceChildren(el("p", { class: "gc-muted", text: "Loading…" }));
    const { run, evidence, maxPoints } = this.data;
    let timeline: Timeline | null;
    try {
      timeline = await (evidence[kind] ??= fetchTimeline(run, kind, EVIDENCE_STATS[kind], maxPoints));
    } catch (err) {
      delete evidence[kind];
      plot.replaceChildren(el("p", { class: "gc-muted", text: `Could not load: ${String(err)}` }));
      return;
    }
    if (group !== this.group) return; // re-rendered meanwhile: the new charts draw it
    plot.replaceChildren();
    const lines = timeline && this.evidenceLines(kind, timeline, colors);
    if (!lines) {
      plot.append(el("p", { class: "gc-muted", text: `${kind} were not logged for this run` }));
      return;
    }
    const width = Math.max(320, (plot.closest(".gc-charts") as HTMLElement).clientWidth - 8);
    lineChart(plot, group, lineSpec(lines.matrix, true, lines), width);
    if (kind === "inputs") {
      this.inputRows = lines.matrix.layers;
      this.focus(this.view.layer, this.view.eventId); // a focused card's features, now that they are known
    }
  }

  /** An evidence timeline's lines: per feature, per layer, or per layer and time position. */
  private evidenceLines(
    kind: EvidenceKind,
    timeline: Timeline,
    colors: Palette,
  ): { matrix: LayerMatrix; lines: Line[]; all: Line[] } | null {
    const events = this.data.events.events;
    if (kind === "backward_time") {
      const positions = EVIDENCE_STATS.backward_time.map((name) => layerStat(timeline, name));
      if (positions.some((m) => m === null)) return null;
      const all = positions.flatMap((m, k) =>
        m!.layers.map((layer, l) => ({
          layer,
          label: `${layer} at time position ${TIME_POSITIONS - k} of ${TIME_POSITIONS}`,
          values: m!.values[l],
          flags: m!.flags[l],
          color: depthColor(TIME_POSITIONS - 1 - k, TIME_POSITIONS, colors.dark),
        })),
      );
      const matrix = {
        steps: timeline.steps,
        layers: all.map((line) => line.label),
        values: all.map((line) => line.values),
        flags: all.map((line) => line.flags),
      };
      return { matrix, lines: all, all };
    }
    const matrix = kind === "inputs" ? inputMagnitudes(timeline) : layerStat(timeline, "l2");
    if (!matrix) return null;
    const named = new Set(
      kind === "inputs"
        ? events.flatMap((event) => namedRows(event, matrix.layers))
        : events.map((event) => event.layer ?? ""),
    );
    return { matrix, ...layerLines(matrix, colors, named) };
  }

  /**
   * Focuses a card's layer and zooms every chart to its steps; a `nan_inf` card to a few logged
   * steps around its first NaN/Inf (what follows it is all NaN).
   */
  select(event: CauseEvent): void {
    this.focus(event.layer, event.id);
    const [lo, hi] = this.group!.fullRange;
    if (event.kind === "nan_inf") {
      this.group!.zoom(...aroundStep(this.steps, event.first_step, NAN_NEIGHBOURS));
      return;
    }
    const span = event.last_step - event.first_step;
    const pad = Math.max(5, Math.round(span * 0.5));
    this.group!.zoom(Math.max(lo, event.first_step - pad), Math.min(hi, event.last_step + pad));
  }

  focus(layer: string | null, eventId: string | null): void {
    this.view.layer = layer;
    this.view.eventId = eventId;
    this.cards?.select(eventId);
    const event = this.data.events.events.find((e) => e.id === eventId);
    this.group?.focus(layer, eventId, event ? namedRows(event, this.inputRows) : []);
    if (this.focusLabel) this.focusLabel.textContent = layer ? `focused: ${layer}` : "";
  }

  private destroyCharts(): void {
    this.view = this.snapshot();
    this.resizer?.disconnect();
    this.group?.destroy();
  }

  destroy(): void {
    this.destroyCharts();
    this.node.remove();
  }
}
