// "Copy report": the run's report as Markdown, the very text of `tb-gradcause report LOGDIR --run RUN
// --format markdown` (the `report` route calls the CLI's formatter), ready to paste into an issue.

import { fetchReport } from "./api";
import { el } from "./dom";

/** Puts `text` on the clipboard; false when the page may not (e.g. plain http on another host). */
async function toClipboard(text: string): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    // No async clipboard here: the older copy command on a selected textarea.
    const area = el("textarea", { text });
    document.body.append(area);
    area.select();
    try {
      return document.execCommand("copy");
    } catch {
      return false;
    } finally {
      area.remove();
    }
  }
}

/** A button that copies the run's report; where copying is refused, it shows the text selected to copy by hand. */
export function copyReportButton(run: string): HTMLElement {
  const button = el("button", {
    class: "gc-button gc-copy",
    text: "Copy report",
    title: "Copy this run's report as Markdown (the same as tb-gradcause report --format markdown)",
    attrs: { type: "button" },
  });
  const done = (text: string, state: string) => {
    button.textContent = text;
    button.dataset.state = state;
    window.setTimeout(() => {
      button.textContent = "Copy report";
      delete button.dataset.state;
    }, 2500);
  };
  button.addEventListener("click", async () => {
    let text: string;
    try {
      text = await fetchReport(run);
    } catch (err) {
      done("Report failed", "failed");
      button.title = err instanceof Error ? err.message : String(err);
      return;
    }
    if (await toClipboard(text)) return done("Copied", "copied");
    const area = el("textarea", { class: "gc-report-text", text, attrs: { readonly: "", rows: "12" } });
    button.closest(".gc-run")?.querySelector(".gc-report-text")?.remove();
    button.closest(".gc-run-head")?.after(area);
    area.select();
    done("Press Ctrl+C", "manual");
  });
  return button;
}
