/** The HTML report: one self-contained page of per-pod charts and the victims/suspects table. */
export {
  type PageData,
  pageData,
  type PanelData,
  renderReportHtml,
  type ReportPageOptions,
} from "./page.ts";
export { type Aligned, minMaxDownsample } from "./downsample.ts";
