// The tab's run selection and filter in TensorBoard's URL, so a reload or a shared link shows the same
// view. They are `p.gradcause.<key>` entries of the top page's hash (`#gradcause&p.gradcause.runs=...`),
// TensorBoard's own convention for a plugin's URL data (what its `experimental.GetURLPluginData` hands a
// plugin). TensorBoard's hash is "&"-separated `key=value` items, URI-encoded, the bare first item its tab.
// localStorage keeps the last view too, for when TensorBoard rewrites its hash without ours (switching
// tabs): the URL wins when it has a selection, since a shared link must show what its sender saw.

import { isHeatStat, type HeatStat } from "./heatscale";

const PREFIX = "p.gradcause.";
/** The heatmap's statistic when the URL names none (left out of the URL). */
export const DEFAULT_HEATMAP: HeatStat = "gradient_norm";
const STORAGE_KEY = "gradcause.view";

export interface ViewUrl {
  /** The ticked runs; null when the URL does not say (the tab then picks a default). */
  runs: string[] | null;
  /** The run filter (a regular expression), "" for none. */
  filter: string;
  /** The statistic the heatmaps show. */
  heatmap: HeatStat;
}

function heatmapOf(text: unknown): HeatStat {
  return typeof text === "string" && isHeatStat(text) ? text : DEFAULT_HEATMAP;
}

function decode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

function parseRuns(text: string | undefined): string[] | null {
  if (text === undefined) return null;
  try {
    const runs: unknown = JSON.parse(text);
    return Array.isArray(runs) && runs.every((r) => typeof r === "string") ? runs : null;
  } catch {
    return null;
  }
}

/** Our entries of a hash ("#..." or without "#"); other entries are ignored. */
export function parseHash(hash: string): ViewUrl {
  const ours: Record<string, string> = {};
  for (const item of hash.replace(/^#/, "").split("&")) {
    const at = item.indexOf("=");
    if (at < 0) continue;
    const key = decode(item.slice(0, at));
    if (key.startsWith(PREFIX)) ours[key.slice(PREFIX.length)] = decode(item.slice(at + 1));
  }
  return { runs: parseRuns(ours.runs), filter: ours.filter ?? "", heatmap: heatmapOf(ours.heatmap) };
}

/** `hash` with our entries replaced by `view`'s (an empty filter is left out); other items keep their place. */
export function withView(hash: string, view: ViewUrl): string {
  const items = hash
    .replace(/^#/, "")
    .split("&")
    .filter((item) => item && !decode(item.split("=")[0]).startsWith(PREFIX));
  const add = (key: string, value: string) =>
    items.push(`${encodeURIComponent(PREFIX + key)}=${encodeURIComponent(value)}`);
  if (view.runs !== null) add("runs", JSON.stringify(view.runs));
  if (view.filter) add("filter", view.filter);
  if (view.heatmap !== DEFAULT_HEATMAP) add("heatmap", view.heatmap);
  return items.join("&");
}

/** The page whose URL users see and share: TensorBoard's (same origin) around the tab's iframe, else ours. */
function topWindow(): Window {
  try {
    if (window.parent !== window && window.parent.location.href) return window.parent;
  } catch {
    // another origin: only our own URL is ours to use
  }
  return window;
}

/** The view from the URL, else the one last saved in this browser. */
export function loadView(): ViewUrl {
  const fromUrl = parseHash(topWindow().location.hash);
  if (fromUrl.runs !== null) return fromUrl;
  try {
    const saved = JSON.parse(window.localStorage.getItem(STORAGE_KEY) ?? "null") as ViewUrl | null;
    if (saved)
      return {
        runs: parseRuns(JSON.stringify(saved.runs)),
        filter: String(saved.filter ?? ""),
        heatmap: heatmapOf(saved.heatmap),
      };
  } catch {
    // unreadable storage: the default view
  }
  return fromUrl;
}

/** Puts the view in the URL (replacing the history entry: no new Back step per click) and in storage. */
export function saveView(view: ViewUrl): void {
  const top = topWindow();
  const url = new URL(top.location.href);
  url.hash = withView(url.hash, view);
  top.history.replaceState(top.history.state, "", url.toString());
  try {
    window.localStorage.setItem(STORAGE_KEY, JSON.stringify(view));
  } catch {
    // storage full or disabled: the URL still has it
  }
}
