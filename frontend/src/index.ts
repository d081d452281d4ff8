// Entry point: TensorBoard's plugin page runs `import("./index.js").then((m) => m.render())`.

import uplotCss from "uplot/dist/uPlot.min.css";
import { App } from "./app";
import css from "./styles.css";

export function render(): void {
  // The page's CSP allows inline styles but no inline scripts: CSS ships inside the bundle.
  const style = document.createElement("style");
  style.textContent = uplotCss + css;
  document.head.append(style);
  const root = document.createElement("div");
  root.className = "gc-root";
  document.body.append(root);
  void new App(root).refresh();
}
