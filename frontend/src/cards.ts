// Cause cards in step order, with the cause chain (`caused_by`) drawn as arrows between cards.

import type { CauseEvent, Evidence } from "./api";
import { el, formatNumber, formatSpan } from "./dom";

const SVG = "http://www.w3.org/2000/svg";

/** Comparison operators as people write them. */
const OPS: Record<string, string> = { ">=": "≥", "<=": "≤", "==": "=", "!=": "≠" };

/**
 * Evidence in plain words: each item's label says what was measured, with this event's note (its
 * metric identifier, e.g. `loss_nonfinite_step`, is only the row's tooltip), then its value, the rule
 * it met and the step.
 */
function evidenceTable(evidence: Evidence[]): HTMLElement | null {
  if (!evidence.length) return null;
  const header = el(
    "tr",
    {},
    ["evidence", "value", "rule", "step"].map((text) => el("th", { text })),
  );
  const rows = evidence.map((ev) =>
    el("tr", { attrs: { "data-metric": ev.metric } }, [
      el("td", { text: ev.note ? `${ev.label} (${ev.note})` : ev.label, title: ev.metric }),
      el("td", { class: "gc-num", text: formatNumber(ev.value) }),
      el("td", { class: "gc-num", text: `${OPS[ev.op] ?? ev.op} ${formatNumber(ev.threshold)}` }),
      el("td", { class: "gc-num", text: ev.step === null ? "" : String(ev.step) }),
    ]),
  );
  return el("table", { class: "gc-evidence" }, [el("thead", {}, [header]), el("tbody", {}, rows)]);
}

function chainLinks(
  label: string,
  ids: string[],
  byId: Map<string, CauseEvent>,
  select: (e: CauseEvent) => void,
): HTMLElement | null {
  const linked = ids.map((id) => byId.get(id)).filter((e): e is CauseEvent => e !== undefined);
  if (!linked.length) return null;
  return el("div", { class: "gc-chain" }, [
    el("span", { class: "gc-chain-label", text: label }),
    ...linked.map((cause) => {
      const link = el("button", {
        class: `gc-chain-link gc-${cause.severity}`,
        text: `${cause.kind} · ${cause.layer ?? "run"} · ${formatSpan(cause.first_step, cause.last_step)}`,
        attrs: { type: "button", "data-target": cause.id },
      });
      link.addEventListener("click", (e) => {
        e.stopPropagation();
        select(cause);
      });
      return link;
    }),
  ]);
}

function card(
  event: CauseEvent,
  byId: Map<string, CauseEvent>,
  effects: string[],
  select: (e: CauseEvent) => void,
): HTMLElement {
  const node = el(
    "article",
    { class: `gc-card gc-${event.severity}`, attrs: { tabindex: "0", role: "button", "data-event-id": event.id } },
    [
      el("header", { class: "gc-card-head" }, [
        el("span", { class: "gc-severity", text: event.severity }),
        el("span", { class: "gc-kind", text: event.kind }),
        el("span", { class: "gc-layer", text: event.layer ?? "whole run" }),
        el("span", { class: "gc-span", text: formatSpan(event.first_step, event.last_step) }),
      ]),
      el("div", { class: "gc-title", text: event.title }),
      evidenceTable(event.evidence),
      el("div", { class: "gc-advice", text: event.advice }),
      chainLinks("caused by", event.caused_by, byId, select),
      chainLinks("leads to", effects, byId, select),
    ],
  );
  node.addEventListener("click", () => select(event));
  node.addEventListener("keydown", (e) => {
    if (e.key === "Enter" || e.key === " ") {
      e.preventDefault();
      select(event);
    }
  });
  return node;
}

/** Arrows from each cause card to the cards it explains, in the list's left gutter. */
function drawChains(list: HTMLElement, svg: SVGSVGElement, events: CauseEvent[]): void {
  const cards = new Map<string, HTMLElement>();
  list.querySelectorAll<HTMLElement>(".gc-card").forEach((c) => cards.set(c.dataset.eventId!, c));
  svg.setAttribute("height", String(list.scrollHeight));
  const paths: SVGElement[] = [];
  let n = 0;
  for (const effect of events)
    for (const causeId of effect.caused_by) {
      const from = cards.get(causeId);
      const to = cards.get(effect.id);
      if (!from || !to) continue;
      const y1 = from.offsetTop + 18;
      const y2 = to.offsetTop + 18;
      const bend = 3 + (n++ % 3) * 4;
      const path = document.createElementNS(SVG, "path");
      path.setAttribute("d", `M 22 ${y1} C ${bend} ${y1}, ${bend} ${y2}, 20 ${y2}`);
      path.setAttribute("class", "gc-chain-arrow");
      path.setAttribute("marker-end", "url(#gc-arrow)");
      path.dataset.from = causeId;
      path.dataset.to = effect.id;
      paths.push(path);
    }
  const defs = document.createElementNS(SVG, "defs");
  const marker = document.createElementNS(SVG, "marker");
  Object.entries({
    id: "gc-arrow",
    viewBox: "0 0 6 6",
    refX: "5",
    refY: "3",
    markerWidth: "6",
    markerHeight: "6",
    orient: "auto",
  }).forEach(([k, v]) => marker.setAttribute(k, v));
  const tip = document.createElementNS(SVG, "path");
  tip.setAttribute("d", "M 0 0 L 6 3 L 0 6 z");
  tip.setAttribute("class", "gc-chain-tip");
  marker.append(tip);
  defs.append(marker);
  svg.replaceChildren(defs, ...paths);
}

export interface CardList {
  node: HTMLElement;
  /** Marks the card of `id` selected (null: none) and scrolls it into view. */
  select(id: string | null): void;
}

/** The run's cause cards in step order; `onSelect` gets the clicked card's event. */
export function cardList(events: CauseEvent[], onSelect: (event: CauseEvent) => void): CardList {
  const ordered = [...events].sort((a, b) => a.first_step - b.first_step);
  const byId = new Map(ordered.map((e) => [e.id, e]));
  const effects = new Map<string, string[]>();
  for (const e of ordered) for (const id of e.caused_by) effects.set(id, [...(effects.get(id) ?? []), e.id]);
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("class", "gc-chains");
  svg.setAttribute("width", "24");
  const list = el("div", { class: "gc-cards" }, [
    svg,
    ...ordered.map((e) => card(e, byId, effects.get(e.id) ?? [], onSelect)),
  ]);
  new ResizeObserver(() => drawChains(list, svg, ordered)).observe(list);
  return {
    node: list,
    select(id) {
      list.querySelectorAll<HTMLElement>(".gc-card").forEach((c) => {
        const selected = c.dataset.eventId === id;
        c.classList.toggle("gc-selected", selected);
        if (selected) c.scrollIntoView({ block: "nearest", behavior: "smooth" });
      });
    },
  };
}
