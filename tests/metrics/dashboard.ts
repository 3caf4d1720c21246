/**
 * The Grafana dashboard's queries (deploy/grafana/podperf.json) as Prometheus would receive
 * them from Grafana: panel expressions with the template variables substituted, and the
 * variables' `label_values(selector, label)` queries as label-values API calls.
 */

const DASHBOARD = new URL("../../deploy/grafana/podperf.json", import.meta.url);

/** One panel's query. */
export interface PanelQuery {
  panel: string;
  expr: string;
}

/** One template variable's `label_values(selector, label)` query. */
export interface VariableQuery {
  variable: string;
  selector: string;
  label: string;
}

interface Dashboard {
  panels: { title: string; targets?: { expr: string }[] }[];
  templating: { list: { name: string; type: string; query: unknown }[] };
}

/** Reads the dashboard JSON. */
export async function loadDashboard(): Promise<Dashboard> {
  return JSON.parse(await Deno.readTextFile(DASHBOARD)) as Dashboard;
}

/**
 * Replaces `$name` (and `${name}`) with values; Grafana sends a multi-value "All" as the
 * variable's allValue (".*") and one value as itself, regex-escaped inside `=~`.
 */
export function substitute(expr: string, vars: Record<string, string>): string {
  return expr.replace(/\$\{(\w+)\}|\$(\w+)/g, (m, a, b) => vars[a ?? b] ?? m);
}

/** Every panel's expressions with `vars` substituted. */
export function panelQueries(d: Dashboard, vars: Record<string, string>): PanelQuery[] {
  return d.panels.flatMap((p) =>
    (p.targets ?? []).map((t) => ({ panel: p.title, expr: substitute(t.expr, vars) }))
  );
}

/** The query variables, each parsed from `label_values(selector, label)`. */
export function variableQueries(d: Dashboard, vars: Record<string, string>): VariableQuery[] {
  return d.templating.list.filter((v) => v.type === "query").map((v) => {
    const q = typeof v.query === "string" ? v.query : (v.query as { query: string }).query;
    const m = /^label_values\((.+),\s*(\w+)\)$/s.exec(q.trim());
    if (!m) throw new Error(`variable ${v.name}: not a label_values(selector, label) query: ${q}`);
    return { variable: v.name, selector: substitute(m[1], vars), label: m[2] };
  });
}
