// DOM helpers. Names (runs, layers) come from users' code: they only ever go in as text, never as HTML.

type Child = Node | string | null | undefined | false;

/** `<tag class=...>` with `text` as textContent and the given children (strings become text nodes). */
export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  options: { class?: string; text?: string; title?: string; attrs?: Record<string, string> } = {},
  children: Child[] = [],
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (options.class) node.className = options.class;
  if (options.text !== undefined) node.textContent = options.text;
  if (options.title !== undefined) node.title = options.title;
  for (const [name, value] of Object.entries(options.attrs ?? {})) node.setAttribute(name, value);
  for (const child of children) if (child) node.append(child);
  return node;
}

/**
 * Numbers for people, written as the CLI and the cards' titles write them (`wording.num` in
 * tb_gradcause/analysis/signals/wording.py), so one quantity reads the same everywhere: 3
 * significant digits, positional from 0.001 to 1e5 ("983", "0.0121"), else scientific ("6.98e29",
 * "9.02e-44"); NaN, Inf and -Inf by name.
 */
export function formatNumber(value: number | null | undefined): string {
  if (value === null || value === undefined) return "—";
  if (Number.isNaN(value)) return "NaN";
  if (!Number.isFinite(value)) return value > 0 ? "Inf" : "-Inf";
  const rounded = Number(value.toPrecision(3));
  const abs = Math.abs(rounded);
  if (rounded === 0) return "0";
  if (abs >= 1e-3 && abs < 1e5) {
    const text = rounded.toFixed(Math.max(0, 2 - Math.floor(Math.log10(abs))));
    return text.includes(".") ? text.replace(/\.?0+$/, "") : text;
  }
  const [mantissa, exponent] = rounded.toExponential(2).split("e");
  return `${mantissa.replace(/\.?0+$/, "")}e${Number(exponent)}`;
}

export function formatSpan(first: number, last: number): string {
  return first === last ? `step ${first}` : `steps ${first}–${last}`;
}

/**
 * Axis tick labels: short enough for the axis (no digit grouping, no "e+"), e.g. 1e6, 2.5e33,
 * 0.01, 250. Ticks are round numbers, so 3 significant digits tell them apart.
 */
export function formatTick(value: number): string {
  if (value === 0 || !Number.isFinite(value)) return formatNumber(value);
  const abs = Math.abs(value);
  if (abs >= 1e4 || abs < 1e-3)
    return value
      .toExponential(2)
      .replace(/\.?0+e/, "e")
      .replace("e+", "e");
  return String(Number(value.toPrecision(4)));
}
