// The run overview above the panels: a line per run (worst severity, cause count, first problem,
// damaged files) from the one `overview` route, problem runs first, a regex filter, select all /
// none, and TensorBoard's run colours. Ticked runs get panels, in name order whatever the ticking order.

import type { Damage, Overview, OverviewRun, Severity } from "./api";
import { el } from "./dom";

const SEVERITY_RANK: Record<Severity, number> = { info: 1, warning: 2, error: 3 };

/** TensorBoard's default run palette (its settings' "colorPalette"): [light, dark] per colour. */
const TB_PALETTE: [string, string][] = [
  ["#425066", "#8e98a3"],
  ["#12b5cb", "#12b5cb"],
  ["#e52592", "#e52592"],
  ["#f9ab00", "#f9ab00"],
  ["#9334e6", "#9334e6"],
  ["#7cb342", "#7cb342"],
  ["#e8710a", "#e8710a"],
];
const TB_INACTIVE: [string, string] = ["#e0e0e0", "#3b3b3b"];

/**
 * A run's colour as TensorBoard's run selector draws it by default: colour `index` of its palette,
 * where `index` is the run's place in TensorBoard's run list (the overview sends it); grey if unlisted.
 */
export function runColor(index: number | null, dark: boolean): string {
  const [light, darkHex] = index === null ? TB_INACTIVE : TB_PALETTE[index % TB_PALETTE.length];
  return dark ? darkHex : light;
}

/** 3 error, 2 warning, 1 info, 0 none. */
export function severityRank(line: OverviewRun): number {
  return line.worst ? SEVERITY_RANK[line.worst.severity] : 0;
}

const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** Problem runs first: by worst severity, then runs with damaged or unreadable files, then by name. */
export function problemsFirst(runs: OverviewRun[]): OverviewRun[] {
  const damaged = (line: OverviewRun) => (line.damaged.length || line.unreadable ? 1 : 0);
  return [...runs].sort((a, b) => severityRank(b) - severityRank(a) || damaged(b) - damaged(a) || byName(a.run, b.run));
}

/** Panels in a stable order: by run name, whatever order runs were ticked in or their severity. */
export function panelOrder(runs: string[]): string[] {
  return [...runs].sort(byName);
}

/** A run filter as TensorBoard's: a case-insensitive regular expression; an invalid one filters nothing. */
export function runFilter(pattern: string): { matches: (run: string) => boolean; error: string | null } {
  if (!pattern) return { matches: () => true, error: null };
  try {
    const regex = new RegExp(pattern, "i");
    return { matches: (run) => regex.test(run), error: null };
  } catch (err) {
    return { matches: () => true, error: err instanceof Error ? err.message : String(err) };
  }
}

/**
 * The default selection before the user picks: the first run of the overview (the worst problem),
 * null while some runs are not checked yet (the worst may be among them).
 */
export function defaultSelection(runs: OverviewRun[]): string[] | null {
  if (runs.some((line) => line.pending)) return null;
  const first = problemsFirst(runs)[0];
  return first ? [first.run] : [];
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

/** "2 errors, 1 warning" */
function countsText(line: OverviewRun): string {
  return (["error", "warning", "info"] as Severity[])
    .filter((s) => line.counts[s])
    .map((s) => plural(line.counts[s], s))
    .join(", ");
}

function damageNote(damaged: Damage[]): HTMLElement | null {
  if (!damaged.length) return null;
  return el("span", {
    class: "gc-damage-flag",
    text: `damaged file${damaged.length > 1 ? "s" : ""}`,
    title: damaged.map((d) => d.text).join("\n"),
  });
}

export interface RunTableState {
  selected: string[];
  filter: string;
}

/** The overview table; `onChange` gets the new selection and filter after each user action. */
export class RunTable {
  readonly node: HTMLElement;
  private readonly filterInput = el("input", {
    class: "gc-filter",
    attrs: { type: "search", placeholder: "Filter runs (regex)", "aria-label": "filter runs by regular expression" },
  });
  private readonly count = el("span", { class: "gc-muted gc-run-count" });
  private readonly body = el("tbody");
  private readonly notes = el("div", { class: "gc-overview-notes" });
  private overview: Overview = { runs: [], skipped: [], damage_checked: true, pending: 0 };
  private state: RunTableState = { selected: [], filter: "" };
  private dark = false;

  constructor(private readonly onChange: (state: RunTableState) => void) {
    const button = (text: string, pick: (shown: string[]) => string[]) => {
      const node = el("button", { class: "gc-button", text, attrs: { type: "button" } });
      node.addEventListener("click", () => this.change({ ...this.state, selected: pick(this.shown()) }));
      return node;
    };
    let typing = 0;
    this.filterInput.addEventListener("input", () => {
      window.clearTimeout(typing);
      typing = window.setTimeout(() => this.change({ ...this.state, filter: this.filterInput.value }), 200);
    });
    const head = el("tr", {}, [
      el("th", { text: "run" }),
      el("th", { text: "worst" }),
      el("th", { text: "causes" }),
      el("th", { text: "worst cause, first step" }),
    ]);
    this.node = el("section", { class: "gc-overview", attrs: { "aria-label": "runs" } }, [
      el("div", { class: "gc-overview-tools" }, [
        this.filterInput,
        // Select all / none act on the runs the filter shows, as in TensorBoard's run selector.
        button("Select all", (shown) => [...new Set([...this.state.selected, ...shown])]),
        button("Select none", (shown) => this.state.selected.filter((r) => !shown.includes(r))),
        this.count,
      ]),
      el("div", { class: "gc-picker" }, [el("table", { class: "gc-run-table" }, [el("thead", {}, [head]), this.body])]),
      this.notes,
    ]);
  }

  /** The runs the filter lets through, in the table's order. */
  shown(): string[] {
    const { matches } = runFilter(this.state.filter);
    return problemsFirst(this.overview.runs)
      .map((line) => line.run)
      .filter(matches);
  }

  update(overview: Overview, state: RunTableState, dark: boolean): void {
    this.overview = overview;
    this.state = state;
    this.dark = dark;
    this.render();
  }

  private change(state: RunTableState): void {
    this.state = state;
    this.render();
    this.onChange(state);
  }

  private render(): void {
    const { matches, error } = runFilter(this.state.filter);
    if (document.activeElement !== this.filterInput) this.filterInput.value = this.state.filter;
    this.filterInput.classList.toggle("gc-invalid", error !== null);
    this.filterInput.title = error ? `not a regular expression: ${error}` : "";
    const lines = problemsFirst(this.overview.runs).filter((line) => matches(line.run));
    this.body.replaceChildren(...lines.map((line) => this.row(line)));
    const selected = this.state.selected.filter((run) => this.overview.runs.some((line) => line.run === run));
    const { pending } = this.overview;
    this.count.textContent =
      `${lines.length} of ${plural(this.overview.runs.length, "run")} shown, ${selected.length} selected` +
      (pending ? `; checking ${pending} more…` : "") +
      (error ? " (invalid filter: showing all)" : "");
    const skipped = this.overview.skipped;
    const missing = this.state.selected.filter((run) => !this.overview.runs.some((line) => line.run === run));
    this.notes.replaceChildren(
      ...[
        skipped.length
          ? el("p", {
              class: "gc-muted gc-skipped",
              text: `Not listed, no gradcause data: ${skipped.map((s) => s.run).join(", ")}`,
            })
          : null,
        ...skipped.flatMap((s) => s.damaged).map((d) => el("p", { class: "gc-damage", text: `Damaged: ${d.text}` })),
        missing.length
          ? el("p", { class: "gc-muted gc-missing-runs", text: `Selected but not found (yet): ${missing.join(", ")}` })
          : null,
        this.overview.damage_checked
          ? null
          : el("p", {
              class: "gc-muted",
              text: "Event files are not checked for damage: TensorBoard's --logdir is not a local directory.",
            }),
      ].filter((node): node is HTMLParagraphElement => node !== null),
    );
  }

  private row(line: OverviewRun): HTMLElement {
    const box = el("input", { attrs: { type: "checkbox", value: line.run } });
    box.checked = this.state.selected.includes(line.run);
    box.addEventListener("change", () => {
      const others = this.state.selected.filter((run) => run !== line.run);
      this.change({ ...this.state, selected: box.checked ? [...others, line.run] : others });
    });
    const swatch = el("span", { class: "gc-run-swatch" });
    swatch.style.background = runColor(line.color, this.dark);
    const worst = line.worst;
    const severity = worst?.severity ?? (line.unreadable ? "unreadable" : line.pending ? "checking" : "none");
    return el("tr", { class: `gc-run-line gc-${severity}`, attrs: { "data-run": line.run }, title: line.summary }, [
      el("td", {}, [
        el("label", { class: "gc-run-option" }, [box, swatch, el("span", { class: "gc-run-name", text: line.run })]),
      ]),
      el("td", {}, [el("span", { class: "gc-severity", text: severity })]),
      el("td", { class: "gc-num", text: String(line.events), title: countsText(line) }),
      el("td", { class: "gc-first" }, [
        worst ? `${worst.kind} · ${worst.layer ?? "whole run"} · step ${worst.first_step}` : (line.unreadable ?? ""),
        " ",
        damageNote(line.damaged),
      ]),
    ]);
  }
}
