/** What `/metrics` is made of: each component renders its own metric families. */

/** A component that contributes Prometheus text-exposition families to `/metrics`. */
export interface MetricsSource {
  /**
   * Complete families in the Prometheus text format (version 0.0.4): `# HELP` and `# TYPE`
   * lines before each family's samples, every line ending in "\n"; "" when there is nothing.
   */
  renderMetrics(): string;
}

/** One health condition for `/healthz` or `/readyz`. */
export interface HealthCheck {
  /** Short name shown in the probe's body, e.g. "drain" or "writer". */
  name: string;
  /** Evaluated on every probe request: cheap, never blocking. */
  check(): { ok: boolean; detail?: string };
}
