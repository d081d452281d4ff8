// Unit tests of the pure helpers of dom.ts, theme.ts and charts.ts (run by `npm test`, see test.mjs).
// @ts-ignore -- node's types are not installed; the bundled test runs under node
import { test } from "node:test";
// @ts-ignore
import assert from "node:assert/strict";
import type { CauseEvent } from "./api";
import { padRange, StepGroup } from "./charts";
import { formatNumber, formatSpan, formatTick } from "./dom";
import { depthColor, hexRgb, type Palette, viridis } from "./theme";

test("formatNumber spells out missing and non-finite values", () => {
  assert.equal(formatNumber(null), "—");
  assert.equal(formatNumber(undefined), "—");
  assert.equal(formatNumber(NaN), "NaN");
  assert.equal(formatNumber(Infinity), "Inf");
  assert.equal(formatNumber(-Infinity), "-Inf");
  assert.equal(formatNumber(0), "0");
  assert.equal(formatNumber(-0), "0");
});

test("formatNumber writes a figure as the CLI and the card titles do (wording.num): 3 significant digits", () => {
  // Pairs checked against tb_gradcause.analysis.signals.wording.num.
  const cases: [number, string][] = [
    [0.5, "0.5"],
    [3.14159, "3.14"],
    [-2.5, "-2.5"],
    [1234.5678, "1230"],
    [42, "42"],
    [10, "10"],
    [976.205, "976"],
    [0.001, "0.001"],
    [0.0012345, "0.00123"],
    [0.0121, "0.0121"],
    [99999, "1e5"],
    [123456, "1.23e5"],
    [1e5, "1e5"],
    [-3.2e12, "-3.2e12"],
    [1.2e-5, "1.2e-5"],
    [0.00098765, "9.88e-4"],
    [5.78603e-5, "5.79e-5"],
    [6.98e29, "6.98e29"],
    [1e-30, "1e-30"],
  ];
  for (const [value, text] of cases) assert.equal(formatNumber(value), text, String(value));
});

test("formatTick labels axes compactly: no digit grouping, exponents without '+'", () => {
  assert.equal(formatTick(0), "0");
  assert.equal(formatTick(1e6), "1e6");
  assert.equal(formatTick(2.5e33), "2.5e33");
  assert.equal(formatTick(-5e32), "-5e32");
  assert.equal(formatTick(1e-5), "1e-5");
  assert.equal(formatTick(0.01), "0.01");
  assert.equal(formatTick(250), "250");
  assert.equal(formatTick(9999), "9999");
  assert.equal(formatTick(1.25e4), "1.25e4");
  for (let k = -40; k <= 40; k++) assert.ok(formatTick(10 ** k).length <= 5, `10^${k}: ${formatTick(10 ** k)}`);
});

test("formatSpan names one step or a range of steps", () => {
  assert.equal(formatSpan(7, 7), "step 7");
  assert.equal(formatSpan(3, 90), "steps 3–90");
});

test("depthColor runs from blue (first layer) to orange (last), lighter in dark mode", () => {
  assert.equal(depthColor(0, 5, false), "hsl(215, 70%, 45%)");
  assert.equal(depthColor(4, 5, false), "hsl(25, 70%, 45%)");
  assert.equal(depthColor(2, 5, false), "hsl(120, 70%, 45%)");
  assert.equal(depthColor(0, 5, true), "hsl(215, 75%, 62%)");
  assert.equal(depthColor(0, 1, false), "hsl(215, 70%, 45%)");
});

test("viridis maps [0, 1] from dark purple to yellow, clamped outside", () => {
  assert.deepEqual(viridis(0), [68, 1, 84]);
  assert.deepEqual(viridis(1), [253, 231, 37]);
  assert.deepEqual(viridis(0.5), [33, 144, 141]);
  assert.deepEqual(viridis(-3), viridis(0));
  assert.deepEqual(viridis(7), viridis(1));
  // Halfway between the first two stops.
  assert.deepEqual(viridis(1 / 16), [69.5, 22.5, 103]);
  // Brightness grows with t (the heatmap's dark = small norm, bright = large).
  const brightness = (t: number) => viridis(t).reduce((a, b) => a + b, 0);
  for (let t = 0; t < 1; t += 0.05) assert.ok(brightness(t + 0.05) > brightness(t), `at ${t}`);
});

test("hexRgb reads #rrggbb", () => {
  assert.deepEqual(hexRgb("#ff8000"), [255, 128, 0]);
  assert.deepEqual(hexRgb("#000000"), [0, 0, 0]);
  assert.deepEqual(hexRgb("#0a0B0c"), [10, 11, 12]);
});

function event(id: string, first_step: number, last_step: number): CauseEvent {
  return {
    id,
    kind: "k",
    severity: "warning",
    layer: null,
    first_step,
    last_step,
    title: "",
    evidence: [],
    advice: "",
    caused_by: [],
  };
}

test("event strips: overlapping events get separate lanes, later events reuse freed lanes", () => {
  const palette: Palette = { dark: false, text: "", muted: "", grid: "", nonFinite: "#ff0000", missing: "#888888" };
  const events = [event("c", 20, 40), event("a", 0, 10), event("b", 5, 30), event("d", 10, 12), event("e", 35, 50)];
  const group = new StepGroup(events, [0, 50], palette, () => {});
  // a: lane 0 until 10; b overlaps it: lane 1 until 30; d starts at a's last step: still taken,
  // lane 2; c starts after a and d ended: the first free lane, 0; e overlaps c but not b: lane 1.
  assert.deepEqual(Object.fromEntries(group.lanes), { a: 0, b: 1, d: 2, c: 0, e: 1 });
  assert.deepEqual(group.fullRange, [-0.5, 50.5]); // a margin of 1 % of the span, at least half a step
  assert.equal(group.range, null);
});

test("the unzoomed step range has a margin: a marker on the first or last step is drawn whole", () => {
  assert.deepEqual(padRange([0, 1]), [-0.5, 1.5]); // a run that died at step 1
  assert.deepEqual(padRange([0, 10_000]), [-100, 10_100]);
  assert.deepEqual(padRange([7, 7]), [6.5, 7.5]);
});
