// Which logged kinds show a cause's evidence beyond the charts every run gets, and which rows of
// them a cause names: the charts of inputs and backward signals load only for runs that need them.

import type { CauseEvent } from "./api";

/** Kinds drawn only when a cause's evidence is in them, or when the user opens their chart. */
export const EVIDENCE_STATS = {
  inputs: ["min", "max", "nan", "inf"],
  backward: ["l2", "nan", "inf"],
  backward_time: ["t_0", "t_1", "t_2", "t_3", "t_4", "t_5", "t_6", "t_7"],
} as const;
export type EvidenceKind = keyof typeof EVIDENCE_STATS;
export const EVIDENCE_KINDS = Object.keys(EVIDENCE_STATS) as EvidenceKind[];

/** The kind holding each evidence metric (metrics as in signals/wording.py's EVIDENCE_LABELS). */
const METRIC_KINDS: Record<string, EvidenceKind> = {
  "inputs.nan+inf": "inputs",
  magnitude_gap: "inputs",
  magnitude_over_median: "inputs",
  input_magnitude: "inputs",
  outlier_sigma: "inputs",
  "backward.nan+inf": "backward",
  backward_signal_depth_ratio: "backward",
  backward_l2_of_input: "backward",
  "backward_time.nan+inf": "backward_time",
  backward_time_ratio: "backward_time",
};

/** The evidence kinds the run's causes cite. */
export function citedKinds(events: CauseEvent[]): Set<EvidenceKind> {
  const kinds = new Set<EvidenceKind>();
  for (const event of events)
    for (const { metric } of event.evidence) if (metric in METRIC_KINDS) kinds.add(METRIC_KINDS[metric]);
  return kinds;
}

/** "features 5–9, 12" (input_scale's wording) -> 5, 6, 7, 8, 9, 12. */
function featureIndices(text: string): Set<number> {
  const indices = new Set<number>();
  for (const match of text.matchAll(/\bfeatures? (\d+(?:–\d+)?(?:, \d+(?:–\d+)?)*)/g))
    for (const part of match[1].split(", ")) {
      const [first, last = first] = part.split("–").map(Number);
      for (let i = first; i <= last; i++) indices.add(i);
    }
  return indices;
}

/** Whether `name` occurs in `text` as a whole name (not as the start of a longer one, feature_1 in feature_12). */
function mentions(text: string, name: string): boolean {
  for (let at = text.indexOf(name); at >= 0; at = text.indexOf(name, at + 1))
    if (!/[\w/]/.test(text[at + name.length] ?? "")) return true;
  return false;
}

/**
 * The rows among `names` (an input's features, `<input>/feature_<i>`) that `event` names in its
 * title, evidence notes or advice: by their whole name (nan_inf lists them) or as "features 5–9"
 * of an input the text names, or of the only input (input_scale).
 */
export function namedRows(event: CauseEvent, names: string[]): string[] {
  const text = [event.title, ...event.evidence.map((e) => e.note), event.advice].join("\n");
  const indices = featureIndices(text);
  const inputs = new Set(names.map((name) => name.replace(/\/feature_\d+$/, "")));
  return names.filter((name) => {
    if (mentions(text, name)) return true;
    const match = /^(.*)\/feature_(\d+)$/.exec(name);
    return match !== null && indices.has(Number(match[2])) && (inputs.size === 1 || mentions(text, match[1]));
  });
}
