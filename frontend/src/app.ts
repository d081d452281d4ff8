// The tab: the run overview (overview.ts) with the selection kept in the URL (urlstate.ts), one panel
// per ticked run side by side, an empty state that tells how to log, reloads when new data arrives,
// and a redraw when TensorBoard's theme changes.

import { fetchOverview, type Overview } from "./api";
import { el } from "./dom";
import { onHostReload } from "./host";
import { defaultSelection, panelOrder, RunTable, runFilter, type RunTableState } from "./overview";
import { loadRun, RunView } from "./runview";
import { isDark, watchTheme } from "./theme";
import { loadView, saveView } from "./urlstate";

// TensorBoard tells the tab when it reloads (host.ts); polling covers a host that does not.
const POLL_MS = 30_000;

/** Server-side decimation budget: about two points per pixel of the widest chart. */
function maxPoints(): number {
  return Math.min(2000, Math.max(400, Math.round(window.innerWidth * 1.5)));
}

function emptyState(): HTMLElement {
  return el("div", { class: "gc-empty" }, [
    el("h2", { text: "No gradcause data yet" }),
    el("p", { text: "Add the callback to model.fit and point TensorBoard at the same log directory:" }),
    el("pre", {
      text: [
        "import tb_gradcause",
        'model.fit(x, y, callbacks=[tb_gradcause.GradCauseCallback("logs/run1")])',
        "",
        "tensorboard --logdir logs",
      ].join("\n"),
    }),
    el("p", { class: "gc-muted", text: "Or see it on examples: tb-gradcause demo. This tab refreshes by itself." }),
  ]);
}

export class App {
  private overview: Overview | null = null;
  /** The ticked runs; null until the URL, storage or the user says (then: the worst problem run). */
  private selected: string[] | null;
  private filter: string;
  private readonly views = new Map<string, { view: RunView; signature: string }>();
  private readonly table = new RunTable((state) => this.choose(state));
  private readonly panels = el("div", { class: "gc-runs" });
  private readonly status = el("div", { class: "gc-status", attrs: { role: "status" } });
  private loading = false;
  private reloadAgain = false;
  private overviewPainted = false;

  constructor(readonly root: HTMLElement) {
    root.replaceChildren(
      el("div", { class: "gc-toolbar" }, [el("span", { class: "gc-app-title", text: "Gradient Causes" })]),
      this.table.node,
      this.status,
      this.panels,
    );
    ({ runs: this.selected, filter: this.filter } = loadView());
    this.applyTheme();
    watchTheme(() => {
      this.applyTheme();
      this.renderTable();
      for (const { view } of this.views.values()) view.render();
    });
    onHostReload(() => void this.refresh());
    window.setInterval(() => void this.refresh(), POLL_MS);
    document.addEventListener("visibilitychange", () => document.visibilityState === "visible" && void this.refresh());
  }

  private applyTheme(): void {
    document.documentElement.classList.toggle("gc-dark", isDark());
  }

  /** The user ticked, unticked or filtered: keep it in the URL and show it. */
  private choose(state: RunTableState): void {
    this.selected = state.selected;
    this.filter = state.filter;
    saveView({ runs: this.selected, filter: this.filter });
    void this.refresh();
  }

  private renderTable(): void {
    if (this.overview)
      this.table.update(this.overview, { selected: this.selected ?? [], filter: this.filter }, isDark());
  }

  /** Fetches the overview and every shown run whose data changed; re-renders only those. */
  async refresh(): Promise<void> {
    if (this.loading) {
      this.reloadAgain = true; // new data arrived during this load: load once more after it
      return;
    }
    this.loading = true;
    this.root.dataset.state = "loading";
    try {
      const started = performance.now();
      this.overview = await fetchOverview();
      if (this.selected === null && this.overview.runs.length) this.selected = defaultSelection(this.overview.runs);
      this.renderTable();
      this.status.textContent = "";
      if (!this.overviewPainted) {
        this.overviewPainted = true;
        await afterPaint();
        // From the tab's page load (its time origin) to the overview on screen; and its route alone.
        performance.measure("gradcause:overview", { start: 0, end: performance.now() });
        performance.measure("gradcause:overview-route", { start: started, end: performance.now() });
      }
      if (!this.overview.runs.length) {
        this.clearViews();
        this.panels.replaceChildren(emptyState());
        return;
      }
      await this.loadShown();
    } catch (err) {
      this.status.textContent = `Could not load gradcause data: ${err instanceof Error ? err.message : String(err)}`;
    } finally {
      this.loading = false;
      this.root.dataset.state = "ready";
    }
    if (this.reloadAgain) {
      this.reloadAgain = false;
      await this.refresh();
    }
  }

  private clearViews(): void {
    for (const { view } of this.views.values()) view.destroy();
    this.views.clear();
  }

  /** The ticked runs the filter lets through, in name order, with their overview lines. */
  private shown() {
    const { matches } = runFilter(this.filter);
    const lines = new Map(this.overview!.runs.map((line) => [line.run, line]));
    return panelOrder((this.selected ?? []).filter((run) => lines.has(run) && matches(run))).map((run) =>
      lines.get(run)!,
    );
  }

  private async loadShown(): Promise<void> {
    const shown = this.shown();
    for (const [run, { view }] of this.views)
      if (!shown.some((line) => line.run === run)) {
        view.destroy();
        this.views.delete(run);
      }
    const started = performance.now();
    const stale = shown.filter((line) => this.views.get(line.run)?.signature !== line.signature);
    const loaded = await Promise.all(stale.map((line) => loadRun(line, maxPoints())));
    const dataLoaded = performance.now();
    performance.measure("gradcause:load", { start: started, end: dataLoaded });
    const changed = loaded.map((data, i) => {
      const previous = this.views.get(data.run)?.view;
      const view = new RunView(data, previous?.snapshot());
      previous?.destroy();
      this.views.set(data.run, { view, signature: stale[i].signature });
      return view;
    });
    this.panels.classList.toggle("gc-side-by-side", shown.length > 1);
    this.panels.replaceChildren(
      ...(shown.length
        ? shown.map((line) => this.views.get(line.run)!.view.node)
        : [el("p", { class: "gc-no-selection gc-muted", text: "No run selected: tick one or more runs above." })]),
    );
    if (!changed.length) return;
    for (const view of changed) view.render();
    await afterPaint();
    performance.measure("gradcause:render", { start: dataLoaded, end: performance.now() });
  }
}

/** Resolves once the browser has painted the current DOM and canvases. */
function afterPaint(): Promise<void> {
  return new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));
}
