/** Summary reports: group output rows, format them as tables or JSON, read Parquet back. */
export {
  hasPodMeta,
  summarize,
  type SummaryBy,
  type SummaryCoverage,
  type SummaryInput,
  type SummaryOptions,
  SummaryOptionsError,
  type SummaryReport,
  summaryReport,
  type SummaryRow,
} from "./summary.ts";
export {
  type Column,
  droppedColumns,
  formatTable,
  summaryColumns,
  type SummaryColumnsOptions,
} from "./table.ts";
export {
  bigintReplacer,
  formatJson,
  formatJsonLines,
  isoFromNs,
  type SummaryDocument,
  summaryGroupJson,
  summaryJson,
} from "./json.ts";
export {
  type FileFacts,
  ParquetReadError,
  type PodperfFile,
  readPodperfFile,
  readRowsFromParquet,
  type ScanCounts,
  type ScanOptions,
  scanPodperf,
  scanPodperfColumns,
} from "./read_parquet.ts";
export { type ReportRow, type ScannedFile, scanPodperfFiles } from "./row_scan.ts";
export {
  bucketMetrics,
  type EveryRow,
  everyRows,
  SeriesBuilder,
  type SeriesBy,
  type TimeSeries,
} from "./timeseries.ts";
export {
  type Finding,
  findSuspects,
  pearson,
  type Suspect,
  type SuspectReport,
} from "./suspects.ts";
export { DEMO_PLANTED, writeDemoFiles } from "./demo_data.ts";
export { InputError, type InputSource, resolveInputs, type SourceBuffer } from "./inputs.ts";
export { type InputSummary, summarizeInputs } from "./summarize_inputs.ts";
