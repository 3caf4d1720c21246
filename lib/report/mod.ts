/** Summary reports: group output rows, format them as tables or JSON, read Parquet back. */
export {
  summarize,
  type SummaryBy,
  type SummaryInput,
  type SummaryOptions,
  SummaryOptionsError,
  type SummaryRow,
} from "./summary.ts";
export { type Column, formatTable, summaryColumns } from "./table.ts";
export { bigintReplacer, formatJson, formatJsonLines } from "./json.ts";
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
export { InputError, type InputSource, resolveInputs, type SourceBuffer } from "./inputs.ts";
export { type InputSummary, summarizeInputs } from "./summarize_inputs.ts";
