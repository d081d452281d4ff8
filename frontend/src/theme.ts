// Follows TensorBoard's dark mode: the host page toggles `dark-mode` on its <body> (same origin).

/** Colours for canvas drawing, read from the stylesheet's custom properties (styles.css). */
export interface Palette {
  dark: boolean;
  text: string;
  muted: string;
  grid: string;
  /** "#rrggbb" (the heatmap needs its bytes) */
  nonFinite: string;
  /** "#rrggbb" */
  missing: string;
}

function hostBody(): HTMLElement | null {
  try {
    return window.parent !== window ? window.parent.document.body : null;
  } catch {
    return null; // not same-origin: keep the light theme
  }
}

export function isDark(): boolean {
  return hostBody()?.classList.contains("dark-mode") ?? false;
}

/** The current theme's colours; call after the root's `gc-dark` class is up to date. */
export function palette(): Palette {
  const css = getComputedStyle(document.documentElement);
  const value = (name: string) => css.getPropertyValue(name).trim();
  return {
    dark: document.documentElement.classList.contains("gc-dark"),
    text: value("--gc-text"),
    muted: value("--gc-muted"),
    grid: value("--gc-grid"),
    nonFinite: value("--gc-nonfinite"),
    missing: value("--gc-missing"),
  };
}

/** Calls `onChange` whenever the host switches between light and dark. */
export function watchTheme(onChange: (dark: boolean) => void): void {
  const body = hostBody();
  if (!body) return;
  let dark = isDark();
  new MutationObserver(() => {
    if (isDark() !== dark) onChange((dark = isDark()));
  }).observe(body, { attributes: true, attributeFilter: ["class"] });
}

/** Colour of layer `index` of `count` by depth: early layers blue, late layers orange. */
export function depthColor(index: number, count: number, dark: boolean): string {
  const t = count > 1 ? index / (count - 1) : 0;
  return `hsl(${Math.round(215 - 190 * t)}, ${dark ? 75 : 70}%, ${dark ? 62 : 45}%)`;
}

// Viridis at 9 stops: dark = small gradient norm, bright = large.
const VIRIDIS: [number, number, number][] = [
  [68, 1, 84],
  [71, 44, 122],
  [59, 81, 139],
  [44, 113, 142],
  [33, 144, 141],
  [39, 173, 129],
  [92, 200, 99],
  [170, 220, 50],
  [253, 231, 37],
];

/** RGB of t in [0, 1] on viridis. */
export function viridis(t: number): [number, number, number] {
  const x = Math.min(1, Math.max(0, t)) * (VIRIDIS.length - 1);
  const i = Math.min(VIRIDIS.length - 2, Math.floor(x));
  const f = x - i;
  const [a, b] = [VIRIDIS[i], VIRIDIS[i + 1]];
  return [a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f, a[2] + (b[2] - a[2]) * f];
}

/** "#rrggbb" to [r, g, b]. */
export function hexRgb(hex: string): [number, number, number] {
  const n = parseInt(hex.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}
