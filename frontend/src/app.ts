// The tab: a run picker (several runs side by side), one panel per picked run, an empty state that
// tells how to log, reloads when new data arrives, and a redraw when TensorBoard's theme changes.

import { fetchRuns } from "./api";
import { el } from "./dom";
import { onHostReload } from "./host";
import { loadRun, probeRun, RunView } from "./runview";
import { isDark, watchTheme } from "./theme";

// TensorBoard tells the tab when it reloads (host.ts); polling covers a host that does not.
const POLL_MS = 30_000;
const STORAGE_KEY = "gradcause.runs";

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
  private runs: string[] = [];
  private selected: string[] = [];
  private readonly views = new Map<string, { view: RunView; signature: string }>();
  private readonly picker = el("div", { class: "gc-picker", attrs: { role: "group", "aria-label": "runs" } });
  private readonly panels = el("div", { class: "gc-runs" });
  private readonly status = el("div", { class: "gc-status", attrs: { role: "status" } });
  private loading = false;
  private reloadAgain = false;

  constructor(readonly root: HTMLElement) {
    root.replaceChildren(
      el("div", { class: "gc-toolbar" }, [el("span", { class: "gc-app-title", text: "Gradient Causes" }), this.picker]),
      this.status,
      this.panels,
    );
    this.selected = this.savedSelection();
    this.applyTheme();
    watchTheme(() => {
      this.applyTheme();
      for (const { view } of this.views.values()) view.render();
    });
    onHostReload(() => void this.refresh());
    window.setInterval(() => void this.refresh(), POLL_MS);
    document.addEventListener("visibilitychange", () => document.visibilityState === "visible" && void this.refresh());
  }

  private applyTheme(): void {
    document.documentElement.classList.toggle("gc-dark", isDark());
  }

  private savedSelection(): string[] {
    try {
      return JSON.parse(window.localStorage.getItem(STORAGE_KEY) ?? "[]") as string[];
    } catch {
      return [];
    }
  }

  /** Fetches the run list and every picked run; re-renders only the runs whose data changed. */
  async refresh(): Promise<void> {
    if (this.loading) {
      this.reloadAgain = true; // new data arrived during this load: load once more after it
      return;
    }
    this.loading = true;
    this.root.dataset.state = "loading";
    try {
      this.runs = await fetchRuns();
      this.selected = this.selected.filter((r) => this.runs.includes(r));
      if (!this.selected.length && this.runs.length) this.selected = [this.runs[0]];
      this.renderPicker();
      this.status.textContent = "";
      if (!this.runs.length) {
        this.clearViews();
        this.panels.replaceChildren(emptyState());
        return;
      }
      await this.loadSelected();
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

  private renderPicker(): void {
    this.picker.replaceChildren(
      ...this.runs.map((run) => {
        const box = el("input", { attrs: { type: "checkbox", value: run } });
        box.checked = this.selected.includes(run);
        box.addEventListener("change", () => {
          this.selected = box.checked ? [...this.selected, run] : this.selected.filter((r) => r !== run);
          window.localStorage.setItem(STORAGE_KEY, JSON.stringify(this.selected));
          void this.refresh();
        });
        return el("label", { class: "gc-run-option" }, [box, el("span", { text: run })]);
      }),
    );
  }

  private clearViews(): void {
    for (const { view } of this.views.values()) view.destroy();
    this.views.clear();
  }

  private async loadSelected(): Promise<void> {
    for (const [run, { view }] of this.views)
      if (!this.selected.includes(run)) {
        view.destroy();
        this.views.delete(run);
      }
    const started = performance.now();
    const probes = await Promise.all(this.selected.map(probeRun));
    const stale = this.selected.filter((run, i) => this.views.get(run)?.signature !== probes[i].signature);
    const loaded = await Promise.all(
      stale.map((run) => loadRun(run, probes[this.selected.indexOf(run)].events, maxPoints())),
    );
    const dataLoaded = performance.now();
    performance.measure("gradcause:load", { start: started, end: dataLoaded });
    const changed = loaded.map((data) => {
      const previous = this.views.get(data.run)?.view;
      const view = new RunView(data, previous?.snapshot());
      previous?.destroy();
      this.views.set(data.run, { view, signature: probes[this.selected.indexOf(data.run)].signature });
      return view;
    });
    this.panels.classList.toggle("gc-side-by-side", this.selected.length > 1);
    this.panels.replaceChildren(...this.selected.map((run) => this.views.get(run)!.view.node));
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
