// Unit tests of api.ts's decoding of the routes' JSON (run by `npm test`, see test.mjs), with a stub `fetch`.
// @ts-ignore -- node's types are not installed; the bundled test runs under node
import { afterEach, test } from "node:test";
// @ts-ignore
import assert from "node:assert/strict";
import {
  decodeTimeline,
  fetchEvents,
  fetchOverview,
  fetchReport,
  fetchTimeline,
  HttpError,
  TIMELINE_STATS,
} from "./api";

const realFetch = globalThis.fetch;
afterEach(() => {
  globalThis.fetch = realFetch;
});

/** Serves `reply(route, params)` as the response to each request, and records the requests. */
function serve(reply: (route: string, params: URLSearchParams) => [number, unknown]): URL[] {
  const requests: URL[] = [];
  globalThis.fetch = (async (input: string) => {
    const url = new URL(input, "http://localhost/data/plugin/gradcause/");
    requests.push(url);
    const [status, body] = reply(url.pathname.split("/").pop()!, url.searchParams);
    const sent = typeof body === "string" || body instanceof ArrayBuffer ? body : JSON.stringify(body);
    return new Response(sent, { status });
  }) as typeof fetch;
  return requests;
}

const ROWS = [
  {
    name: "dense/kernel",
    layer: "dense",
    layer_class: "Dense",
    activation: "relu",
    shape: [4, 8],
    recurrent: false,
    role: "kernel",
    depth: 1,
    facts: {},
  },
];

/** A timeline in the route's binary form (docs/design.md): header length, JSON header padded to 8 bytes, float64
 * steps, float32 values [stat][row][step] but for the rows of +0.0 only, which `zero_rows` names instead. */
function binaryTimeline(
  header: { run: string; kind: string; rows: unknown[]; stats: string[] },
  steps: number[],
  values: Record<string, number[][]>,
): ArrayBuffer {
  const isZero = (row: number[]) => row.every((v) => Object.is(v, 0));
  const zero_rows = header.stats.map((stat) => values[stat].flatMap((row, r) => (isZero(row) ? [r] : [])));
  let json = new TextEncoder().encode(JSON.stringify({ ...header, n_steps: steps.length, zero_rows }));
  const padded = new Uint8Array(json.length + ((8 - ((4 + json.length) % 8)) % 8)).fill(32); // spaces
  padded.set(json);
  json = padded;
  const floats = header.stats.flatMap((stat) => values[stat].filter((row) => !isZero(row)).flat());
  const body = new ArrayBuffer(4 + json.length + 8 * steps.length + 4 * floats.length);
  new DataView(body).setUint32(0, json.length, true);
  new Uint8Array(body, 4, json.length).set(json);
  new Float64Array(body, 4 + json.length, steps.length).set(steps);
  new Float32Array(body, 4 + json.length + 8 * steps.length, floats.length).set(floats);
  return body;
}

test("fetchTimeline asks for the tab's stats in the binary form and decodes NaN/Infinity", async () => {
  const requests = serve(() => [
    200,
    binaryTimeline(
      { run: "r", kind: "gradients", rows: ROWS, stats: ["l2", "nan", "inf", "missing"] },
      [0, 10, 20, 1e6],
      {
        l2: [[0.5, NaN, Infinity, -Infinity]],
        nan: [[0, 3, 0, 0]],
        inf: [[0, 0, 1, 1]],
        missing: [[0, 0, 0, 0]],
      },
    ),
  ]);
  const t = (await fetchTimeline("r", "gradients", TIMELINE_STATS.gradients, 500))!;
  assert.equal(requests.length, 1);
  assert.equal(requests[0].pathname, "/data/plugin/gradcause/timeline");
  assert.deepEqual(Object.fromEntries(requests[0].searchParams), {
    run: "r",
    kind: "gradients",
    max_points: "500",
    format: "binary",
    stats: TIMELINE_STATS.gradients.join(","),
  });
  assert.deepEqual(t.steps, [0, 10, 20, 1e6]);
  assert.equal(t.rows[0].layer, "dense");
  assert.deepEqual(t.stats, ["l2", "nan", "inf", "missing"]);
  assert.equal("n_steps" in t, false);
  assert.equal("zero_rows" in t, false);
  const l2 = t.values.l2[0];
  assert.ok(l2 instanceof Float64Array);
  assert.equal(l2[0], 0.5);
  assert.ok(Number.isNaN(l2[1]));
  assert.equal(l2[2], Infinity);
  assert.equal(l2[3], -Infinity);
  assert.deepEqual([...t.values.nan[0]], [0, 3, 0, 0]);
  assert.deepEqual([...t.values.inf[0]], [0, 0, 1, 1]);
});

test("decodeTimeline reads every row of every stat from its place, whatever the header's length", () => {
  const rows = [0, 1, 2].map((i) => ({ ...ROWS[0], name: `d${i}/kernel`, layer: `d${i}` }));
  for (const run of ["r", "rr", "a longer run name", "ü"]) {
    const values = {
      a: [
        [1, 2],
        [3, 4],
        [5, 6],
      ],
      b: [
        [7, 8],
        [9, 10],
        [11, 12],
      ],
    };
    const t = decodeTimeline(binaryTimeline({ run, kind: "weights", rows, stats: ["a", "b"] }, [5, 7], values));
    assert.equal(t.run, run);
    assert.deepEqual(t.steps, [5, 7]);
    assert.deepEqual(
      t.values.b.map((row) => [...row]),
      values.b,
    );
    assert.deepEqual([...t.values.a[2]], [5, 6]);
  }
  const sparse = {
    a: [
      [0, 0],
      [1, 2],
      [0, 0],
    ],
    b: [
      [0, 0],
      [-0, -0],
      [4, 0],
    ],
  };
  const s = decodeTimeline(binaryTimeline({ run: "r", kind: "weights", rows, stats: ["a", "b"] }, [5, 7], sparse));
  assert.deepEqual(
    ["a", "b"].map((stat) => s.values[stat].map((row) => [...row])),
    [sparse.a, sparse.b],
  );
  assert.ok(Object.is(s.values.b[1][0], -0)); // sent: only rows of +0.0 are left out
  const empty = decodeTimeline(binaryTimeline({ run: "r", kind: "loss", rows: [], stats: [] }, [], {}));
  assert.deepEqual(empty.steps, []);
  assert.deepEqual(empty.values, {});
});

test("fetchTimeline escapes run names in the query", async () => {
  const requests = serve(() => [200, binaryTimeline({ run: "a&b", kind: "loss", rows: [], stats: [] }, [], {})]);
  await fetchTimeline("a&b=c/d e", "loss", TIMELINE_STATS.loss, 10);
  assert.equal(requests[0].searchParams.get("run"), "a&b=c/d e");
  assert.equal(requests[0].searchParams.get("stats"), "value");
});

test("fetchTimeline asks for a sample of the steps only for a preview", async () => {
  const requests = serve(() => [200, binaryTimeline({ run: "r", kind: "loss", rows: [], stats: [] }, [], {})]);
  await fetchTimeline("r", "loss", TIMELINE_STATS.loss, 10, 500);
  await fetchTimeline("r", "loss", TIMELINE_STATS.loss, 10);
  assert.equal(requests[0].searchParams.get("samples"), "500");
  assert.equal(requests[1].searchParams.has("samples"), false);
});

test("fetchTimeline retries without `stats` when the run lacks one of them (400)", async () => {
  const requests = serve((_route, params) =>
    params.has("stats")
      ? [400, "unknown stat update_norm"]
      : [
          200,
          binaryTimeline({ run: "r", kind: "weights", rows: ROWS, stats: ["norm", "mean"] }, [1], {
            norm: [[2]],
            mean: [[NaN]],
          }),
        ],
  );
  const t = (await fetchTimeline("r", "weights", TIMELINE_STATS.weights, 100))!;
  assert.equal(requests.length, 2);
  assert.equal(requests[1].searchParams.has("stats"), false);
  assert.equal(requests[1].searchParams.get("max_points"), "100");
  assert.equal(requests[1].searchParams.get("format"), "binary");
  assert.deepEqual(t.stats, ["norm", "mean"]);
  assert.equal(t.values.norm[0][0], 2);
  assert.ok(Number.isNaN(t.values.mean[0][0]));
});

test("fetchTimeline is null for a kind the run did not log (404), and throws other errors", async () => {
  serve(() => [404, "no activations"]);
  assert.equal(await fetchTimeline("r", "activations", TIMELINE_STATS.activations, 100), null);

  serve(() => [500, "boom"]);
  await assert.rejects(fetchTimeline("r", "loss", TIMELINE_STATS.loss, 100), (err: unknown) => {
    if (!(err instanceof HttpError)) return false;
    assert.equal(err.status, 500);
    assert.match(err.message, /HTTP 500 boom/);
    return true;
  });
});

test("fetchEvents decodes non-finite evidence values and thresholds", async () => {
  const evidence = (value: unknown, threshold: unknown) => ({
    metric: "m",
    label: "the measure",
    value,
    threshold,
    op: ">",
    step: 3,
    note: "",
  });
  const requests = serve(() => [
    200,
    {
      events: [
        {
          id: "nan_inf:dense:3",
          kind: "nan_inf",
          severity: "error",
          layer: "dense",
          first_step: 3,
          last_step: 3,
          title: "t",
          evidence: [evidence("NaN", 0), evidence("Infinity", "-Infinity"), evidence(1.5, 1e3)],
          advice: "a",
          caused_by: [],
        },
      ],
      checked: ["nan_inf"],
      skipped: { dead_relu: "activations not logged" },
    },
  ]);
  const result = await fetchEvents("my run");
  assert.equal(requests[0].pathname, "/data/plugin/gradcause/events");
  assert.equal(requests[0].searchParams.get("run"), "my run");
  const [a, b, c] = result.events[0].evidence;
  assert.ok(Number.isNaN(a.value));
  assert.equal(a.threshold, 0);
  assert.equal(b.value, Infinity);
  assert.equal(b.threshold, -Infinity);
  assert.equal(c.value, 1.5);
  assert.equal(c.threshold, 1000);
  assert.deepEqual(result.checked, ["nan_inf"]);
  assert.deepEqual(result.skipped, { dead_relu: "activations not logged" });
});

test("fetchOverview asks the one overview route; fetchReport returns the report's text as sent", async () => {
  const overview = { runs: [], skipped: [{ run: "scalars", damaged: [] }], damage_checked: true };
  const markdown = "## tb-gradcause report: logs\n\n| a | b |\n";
  const requests = serve((route) => [200, route === "overview" ? overview : markdown]);
  assert.deepEqual(await fetchOverview(), overview);
  assert.equal(await fetchReport("a&b/c"), markdown);
  assert.deepEqual(
    requests.map((r) => r.pathname),
    ["/data/plugin/gradcause/overview", "/data/plugin/gradcause/report"],
  );
  assert.equal(requests[1].searchParams.get("run"), "a&b/c");
  serve(() => [404, "no gradcause data for run 'x'"]);
  await assert.rejects(fetchReport("x"), (err: unknown) => err instanceof HttpError && err.status === 404);
});
