// The tab: the run overview (overview.ts) with the selection kept in the URL (urlstate.ts), one panel
// per ticked run side by side, an empty state that tells how to log, reloads when new data arrives,
// and a redraw when TensorBoard's theme changes.

import { fetchOverview, fetchRuns, type Overview } from "./api";
import { el } from "./dom";
import { onHostReload } from "./host";
import { defaultSelection, panelOrder, RunTable, runFilter, type RunTableState } from "./overview";
import type { HeatStat } from "./heatscale";
import { fetchPreview, fetchRun, loadRun, RunView, type RunData, type RunFetch, type TabSettings } from "./runview";
import { isDark, watchTheme } from "./theme";
import { loadView, saveView } from "./urlstate";

// TensorBoard tells the tab when it reloads (host.ts); polling covers a host that does not.
const POLL_MS = 30_000;
/** Panels this far below (or above) the screen load before they are scrolled into it. */
const LAZY_MARGIN_PX = 600;
/** Runs fetched before the first overview arrives (the first panels in their order). */
const EARLY_RUNS = 2;

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
  /** Choices every panel follows: the heatmap's statistic. */
  private readonly settings: TabSettings;
  private readonly views = new Map<string, { view: RunView; signature: string }>();
  private readonly table = new RunTable((state) => this.choose(state));
  private readonly panels = el("div", { class: "gc-runs" });
  private readonly status = el("div", { class: "gc-status", attrs: { role: "status" } });
  /** Placeholders of runs not loaded yet: one coming near the screen loads the runs then near it. */
  private readonly lazy = new IntersectionObserver(
    (entries) => entries.some((entry) => entry.isIntersecting) && void this.refresh(),
    { rootMargin: `${LAZY_MARGIN_PX}px` },
  );
  private loading = false;
  private reloadAgain = false;
  private overviewPainted = false;
  /** Runs fetched while the first overview was being computed (`fetchEarly`), until their panels use them. */
  private readonly early = new Map<string, RunFetch>();

  constructor(readonly root: HTMLElement) {
    root.replaceChildren(
      el("div", { class: "gc-toolbar" }, [el("span", { class: "gc-app-title", text: "Gradient Causes" })]),
      this.table.node,
      this.status,
      this.panels,
    );
    const view = loadView();
    ({ runs: this.selected, filter: this.filter } = view);
    this.settings = { heatmap: view.heatmap, chooseHeatmap: (stat) => this.chooseHeatmap(stat) };
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
    this.saveView();
    void this.refresh();
  }

  /** Every panel's heatmap shows `stat`; kept in the URL with the selection. */
  private chooseHeatmap(stat: HeatStat): void {
    this.settings.heatmap = stat;
    this.saveView();
    for (const { view } of this.views.values()) view.render();
  }

  private saveView(): void {
    saveView({ runs: this.selected, filter: this.filter, heatmap: this.settings.heatmap });
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
      const overview = fetchOverview();
      if (!this.overviewPainted) this.fetchEarly();
      this.overview = await overview;
      const fetched = performance.now();
      if (this.selected === null) this.selected = defaultSelection(this.overview.runs);
      this.renderTable();
      this.status.textContent = "";
      if (!this.overviewPainted) {
        this.overviewPainted = true;
        await afterPaint();
        // From the tab's page load (its time origin) to the overview on screen; and its request alone.
        performance.measure("gradcause:overview", { start: 0, end: performance.now() });
        performance.measure("gradcause:overview-route", { start: started, end: fetched });
      }
      if (this.overview.pending)
        this.reloadAgain = true; // the server has more runs to check: ask again
      else if (!performance.getEntriesByName("gradcause:overview-complete").length)
        performance.measure("gradcause:overview-complete", { start: 0, end: performance.now() });
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

  /**
   * On the first load, the runs to show are often known before the overview that diagnoses every
   * run: those the URL ticks, or a logdir's only run. Their previews (`fetchPreview`) are asked for
   * and drawn at once, while the server reads and diagnoses the runs (seconds for a big run); their
   * events and timelines right after, so that the server draws them up while it diagnoses (one read
   * of each run serves both) rather than after. The previews go first: the full requests wait on
   * the server for the read, and a browser opens only 6 connections to it. Data written in the
   * meantime shows at the next reload, like any other.
   */
  private fetchEarly(): void {
    const points = maxPoints();
    const { matches } = runFilter(this.filter);
    fetchRuns()
      .then((runs) => {
        if (this.overview) return; // too late: the panels fetch for themselves
        const chosen = this.selected ?? (runs.length === 1 ? runs : []);
        const early = panelOrder(chosen.filter((run) => runs.includes(run) && matches(run))).slice(0, EARLY_RUNS);
        void this.showPreviews(early.map((run) => fetchPreview(run, points)));
        for (const run of early) if (!this.views.has(run)) this.early.set(run, fetchRun(run, points));
      })
      .catch(() => undefined); // the overview reports what is wrong
  }

  /**
   * Draws the runs' previews, unless the overview came first (then the full data is near). Each
   * stays until its run's full view replaces it (`loadShown`: a view whose signature is not the
   * run's), which keeps a zoom the user chose on the preview.
   */
  private async showPreviews(previews: Promise<RunData>[]): Promise<void> {
    let data: RunData[];
    try {
      data = await Promise.all(previews);
    } catch {
      return; // no preview: the full view comes as without one
    }
    if (this.overview || !data.length) return;
    const views = data.map((run) => new RunView(run, undefined, this.settings));
    for (const view of views) this.views.set(view.data.run, { view, signature: "" });
    this.panels.classList.toggle("gc-side-by-side", views.length > 1);
    this.panels.replaceChildren(...views.map((view) => view.node));
    for (const view of views) view.render();
    await afterPaint();
    performance.measure("gradcause:preview", { start: 0, end: performance.now() });
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

  /**
   * Loads and draws the shown runs whose data changed and that are on or near the screen; the others
   * wait as placeholders until scrolled near (`lazy`), so ticking 100 runs costs what the screen shows.
   */
  private async loadShown(): Promise<void> {
    const shown = this.shown();
    const early = new Map(this.early); // kept for this load only: later loads fetch fresh data
    this.early.clear();
    for (const [run, { view }] of this.views)
      if (!shown.some((line) => line.run === run)) {
        view.destroy();
        this.views.delete(run);
      }
    this.lazy.disconnect();
    const placeholders = new Map<string, HTMLElement>();
    const nodeOf = (run: string) => this.views.get(run)?.view.node ?? placeholders.get(run)!;
    for (const { run } of shown) if (!this.views.has(run)) placeholders.set(run, placeholder(run));
    this.panels.classList.toggle("gc-side-by-side", shown.length > 1);
    this.panels.replaceChildren(
      ...(shown.length
        ? shown.map((line) => nodeOf(line.run))
        : [
            this.selected === null
              ? el("p", { class: "gc-muted", text: "Checking the runs for the worst problem to show first…" })
              : el("p", { class: "gc-no-selection gc-muted", text: "No run selected: tick one or more runs above." }),
          ]),
    );
    const near = (node: HTMLElement) => {
      const box = node.getBoundingClientRect();
      return box.top < window.innerHeight + LAZY_MARGIN_PX && box.bottom > -LAZY_MARGIN_PX;
    };
    const stale = shown.filter((line) => this.views.get(line.run)?.signature !== line.signature);
    const due = stale.filter((line) => near(nodeOf(line.run)));
    for (const line of stale) if (!due.includes(line)) this.lazy.observe(nodeOf(line.run));
    if (!due.length) return;
    const started = performance.now();
    const loaded = await Promise.all(due.map((line) => loadRun(line, maxPoints(), early.get(line.run))));
    const dataLoaded = performance.now();
    performance.measure("gradcause:load", { start: started, end: dataLoaded });
    const changed = loaded.map((data, i) => {
      const previous = this.views.get(data.run)?.view;
      const view = new RunView(data, previous?.snapshot(), this.settings);
      (previous?.node ?? placeholders.get(data.run))?.replaceWith(view.node);
      previous?.destroy();
      this.views.set(data.run, { view, signature: due[i].signature });
      return view;
    });
    for (const view of changed) view.render();
    await afterPaint();
    performance.measure("gradcause:render", { start: dataLoaded, end: performance.now() });
  }
}

/** A ticked run's panel until it is scrolled near the screen. */
function placeholder(run: string): HTMLElement {
  return el("div", { class: "gc-run gc-pending", attrs: { "data-run": run } }, [
    el("header", { class: "gc-run-head" }, [el("h2", { text: run })]),
    el("p", { class: "gc-muted", text: "Loads when scrolled into view." }),
  ]);
}

/** Resolves once the browser has painted the current DOM and canvases. */
function afterPaint(): Promise<void> {
  return new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));
}
