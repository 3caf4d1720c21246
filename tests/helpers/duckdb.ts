/**
 * DuckDB from npm as the independent reader of the Parquet files podperf writes.
 *
 * @example
 * const rows = await queryParquet(`SELECT count(*) AS n FROM read_parquet('${path}')`);
 * assert.equal(rows[0].n, 3n);
 */
import { type DuckDBConnection, DuckDBInstance } from "@duckdb/node-api";

let connection: Promise<DuckDBConnection> | undefined;

function connect(): Promise<DuckDBConnection> {
  connection ??= DuckDBInstance.create(":memory:").then((db) => db.connect());
  return connection;
}

/**
 * Runs one SQL statement in a shared in-memory DuckDB and returns its rows as objects keyed by
 * column name. Values are DuckDB's own: BIGINT/UBIGINT as bigint, VARCHAR as string, NULL as
 * null, TIMESTAMP_NS as a value object (cast to VARCHAR or use epoch_ns() to compare).
 */
export async function queryParquet(sql: string): Promise<Record<string, unknown>[]> {
  const reader = await (await connect()).runAndReadAll(sql);
  return reader.getRowObjects() as Record<string, unknown>[];
}

/** Column name → DuckDB type name (e.g. `TIMESTAMP_NS`, `UBIGINT`) of a Parquet file or glob. */
export async function parquetColumnTypes(path: string): Promise<Record<string, string>> {
  const rows = await queryParquet(`DESCRIBE SELECT * FROM read_parquet('${sqlString(path)}')`);
  return Object.fromEntries(rows.map((r) => [r.column_name as string, r.column_type as string]));
}

/** Escapes a value for use inside a single-quoted SQL string literal. */
export function sqlString(s: string): string {
  return s.replaceAll("'", "''");
}
