// One run's panel: its cause cards beside its timelines on one shared step axis.

import { fetchEvents, fetchTimeline, TIMELINE_KINDS, type CauseEvent, type EventsResponse, type Timeline, type TimelineKind } from "./api";
import { cardList, type CardList } from "./cards";
import { heatmap, lineChart, StepGroup, type Line } from "./charts";
import { el } from "./dom";
import {
  activationStat,
  gradientNorms,
  lossValues,
  nonFiniteRegions,
  nonZeroLayers,
  positiveRange,
  updateRatios,
  type LayerMatrix,
} from "./series";
import { depthColor, palette, viridis, type Palette } from "./theme";

export interface RunData {
  run: string;
  events: EventsResponse;
  timelines: Partial<Record<TimelineKind, Timeline>>;
}

/** Fetches a run's events and timelines, decimated server-side to about `maxPoints` steps. */
export async function loadRun(run: string, maxPoints: number): Promise<RunData> {
  const [events, ...timelines] = await Promise.all([
    fetchEvents(run),
    ...TIMELINE_KINDS.map((kind) => fetchTimeline(run, kind, maxPoints)),
  ]);
  const data: RunData = { run, events, timelines: {} };
  TIMELINE_KINDS.forEach((kind, k) => {
    const timeline = timelines[k];
    if (timeline) data.timelines[kind] = timeline;
  });
  return data;
}

/**
 * A cheap fingerprint of a run's data: its events and the newest logged loss and gradient steps.
 * The tab reloads a run's timelines only when this changes.
 */
export async function probeRun(run: string): Promise<string> {
  const [events, loss, gradients] = await Promise.all([
    fetchEvents(run),
    fetchTimeline(run, "loss", 2),
    fetchTimeline(run, "gradients", 2),
  ]);
  const last = (t: Timeline | null) => (t && t.steps.length ? t.steps[t.steps.length - 1] : null);
  return JSON.stringify([events, last(loss), last(gradients)]);
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

/** A titled box for one chart, or a line saying why it is not there. */
function section(title: string, note?: string): { node: HTMLElement; plot: HTMLElement } {
  const plot = el("div", { class: "gc-plot" });
  return { node: el("section", { class: "gc-chart" }, [el("h3", { text: title }), note ? el("p", { class: "gc-muted", text: note }) : plot]), plot };
}

export interface ViewState {
  layer: string | null;
  eventId: string | null;
  range: [number, number] | null;
}

export class RunView {
  readonly node: HTMLElement;
  private group: StepGroup | null = null;
  private cards: CardList | null = null;
  private resizer: ResizeObserver | null = null;
  private focusLabel: HTMLElement | null = null;
  /** Focus and zoom, kept across re-renders (theme changes) and reloads (`snapshot`). */
  private view: ViewState;

  constructor(readonly data: RunData, view: ViewState = { layer: null, eventId: null, range: null }) {
    this.node = el("div", { class: "gc-run", attrs: { "data-run": data.run } });
    this.view = view;
  }

  /** The focus and zoom to carry over to this run's next view; an unzoomed view follows new steps. */
  snapshot(): ViewState {
    const range = this.group?.range ?? null;
    const full = this.group?.fullRange;
    const zoomed = range !== null && full !== undefined && (range[0] !== full[0] || range[1] !== full[1]);
    return { layer: this.view.layer, eventId: this.view.eventId, range: zoomed ? range : null };
  }

  /** Builds the panel; call once `node` is in the document (charts take their width from it). */
  render(): void {
    this.destroyCharts();
    const colors = palette();
    const { events, checked, skipped } = this.data.events;
    const range = stepRange(this.data);
    const focusLabel = el("span", { class: "gc-focus" });
    const reset = el("button", { class: "gc-button", text: "Reset zoom", attrs: { type: "button" } });
    const charts = el("div", { class: "gc-charts" });
    this.cards = cardList(events, (event) => this.select(event));
    const skippedNotes = Object.entries(skipped).map(([kind, why]) => el("li", { text: `${kind}: ${why}` }));
    this.node.replaceChildren(
      el("header", { class: "gc-run-head" }, [el("h2", { text: this.data.run }), focusLabel, reset]),
      el("div", { class: "gc-run-body" }, [
        el("div", { class: "gc-side" }, [
          events.length
            ? this.cards.node
            : el("p", { class: "gc-healthy", text: `No causes found in ${checked.length} checks.` }),
          el("details", { class: "gc-checks" }, [
            el("summary", { text: `Checked ${checked.length}, not checked ${skippedNotes.length}` }),
            el("p", { class: "gc-muted", text: `Checked: ${checked.join(", ") || "none"}` }),
            skippedNotes.length ? el("ul", {}, skippedNotes) : null,
          ]),
        ]),
        charts,
      ]),
    );
    this.group = new StepGroup(events, range, colors, (layer) => this.focus(layer, null));
    const group = this.group;
    reset.addEventListener("click", () => {
      this.focus(null, null);
      group.reset();
    });
    this.focusLabel = focusLabel;
    const width = Math.max(320, charts.clientWidth - 8);
    this.addCharts(charts, group, colors, width);
    this.resizer = new ResizeObserver(() => group.resize(Math.max(320, charts.clientWidth - 8)));
    this.resizer.observe(charts);
    const { layer, eventId, range: shown } = this.view;
    this.focus(layer, eventId);
    if (shown) group.zoom(...shown);
    group.measuring = true;
  }

  private addCharts(charts: HTMLElement, group: StepGroup, colors: Palette, width: number): void {
    const { gradients, activations, weights, loss } = this.data.timelines;
    const notLogged = (kind: string) => `${kind} were not logged for this run`;

    const norms = gradients ? gradientNorms(gradients) : null;
    const normSection = section("Gradient norm per layer (log scale)", norms ? undefined : notLogged("gradients"));
    const heatSection = section("Gradient norm, layers × steps (colour: log₁₀ norm; magenta: NaN/Inf; grey: no gradient)", norms ? undefined : notLogged("gradients"));
    const dead = activations ? activationStat(activations, "dead_frac") : null;
    const saturated = activations ? activationStat(activations, "saturated_frac") : null;
    const actSection = section("Activation health: dead (solid) and saturated (dashed) fraction", dead && saturated ? undefined : notLogged("activations"));
    const ratios = weights ? updateRatios(weights) : null;
    const ratioSection = section("Update ratio ‖Δw‖ / ‖w‖ per layer (log scale)", ratios ? undefined : notLogged("weight updates"));
    const lossMatrix = loss ? lossValues(loss) : null;
    const lossSection = section("Loss", lossMatrix ? undefined : notLogged("loss values"));
    charts.replaceChildren(lossSection.node, normSection.node, heatSection.node, actSection.node, ratioSection.node);

    if (lossMatrix) {
      const lines = linesOf(lossMatrix, [0], colors);
      lines[0].color = colors.text;
      lineChart(lossSection.plot, group, { title: "loss", steps: lossMatrix.steps, lines, log: false, regions: nonFiniteRegions(lossMatrix.steps, lossMatrix.flags) }, width);
    }
    if (norms) {
      const regions = nonFiniteRegions(norms.steps, norms.flags);
      lineChart(normSection.plot, group, { title: "gradient norm", steps: norms.steps, lines: linesOf(norms, allLayers(norms), colors), log: true, regions }, width);
      const positive = positiveRange([norms]) ?? [1, 10];
      heatmap(heatSection.plot, group, { ...norms, logRange: [Math.log10(positive[0]), Math.log10(positive[1])], regions, color: viridis }, width);
    }
    if (dead && saturated) {
      const lines = [...linesOf(dead, nonZeroLayers(dead), colors, " dead"), ...linesOf(saturated, nonZeroLayers(saturated), colors, " saturated", [5, 4])];
      const regions = nonFiniteRegions(dead.steps, dead.flags);
      lineChart(actSection.plot, group, { title: "activation health", steps: dead.steps, lines, log: false, range: [0, 1], regions }, width);
    }
    if (ratios) {
      const regions = nonFiniteRegions(ratios.steps, ratios.flags);
      lineChart(ratioSection.plot, group, { title: "update ratio", steps: ratios.steps, lines: linesOf(ratios, allLayers(ratios), colors), log: true, regions }, width);
    }
  }

  /** Focuses a card's layer and zooms every chart to its steps. */
  select(event: CauseEvent): void {
    this.focus(event.layer, event.id);
    const span = event.last_step - event.first_step;
    const pad = Math.max(5, Math.round(span * 0.5));
    const [lo, hi] = this.group!.fullRange;
    this.group!.zoom(Math.max(lo, event.first_step - pad), Math.min(hi, event.last_step + pad));
  }

  focus(layer: string | null, eventId: string | null): void {
    this.view.layer = layer;
    this.view.eventId = eventId;
    this.cards?.select(eventId);
    this.group?.focus(layer, eventId);
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
