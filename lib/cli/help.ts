/**
 * The CLI's help text and the argv fix-ups cac lacks: one format for defaults, no "(default:
 * true)" on `--no-…` switches, negative numbers kept as flag values, and "did you mean" hints.
 */
import type { CAC } from "cac";
import { suggest } from "./suggest.ts";
import { UsageError } from "./units.ts";

type Option = CAC["globalCommand"]["options"][number];

function optionLine(o: Option, width: number): string {
  const d = o.config.default;
  // A `--no-x` switch is "on" by default in cac's model: printing that reads as "off by default".
  const shown = d === undefined || (o.negated && d === true) ? "" : ` (default: ${d})`;
  return `  ${o.rawName.padEnd(width)}  ${o.description}${shown}`.trimEnd();
}

/**
 * Makes every command's help print its options as `--flag <v>  What it does (default: X)`: one
 * format for every default, none for `--no-…` switches, no trailing spaces. Call after all
 * commands and options are registered.
 */
export function tidyHelp(cli: CAC): void {
  cli.globalCommand.helpCallback = (sections) => {
    const cmd = cli.matchedCommand;
    const global = cli.globalCommand.options;
    let options = cmd ? [...cmd.options, ...global] : global;
    if (cmd) options = options.filter((o) => o.name !== "version");
    const width = Math.max(...options.map((o) => o.rawName.length));
    return sections.map((s) =>
      s.title === "Options"
        ? { ...s, body: options.map((o) => optionLine(o, width)).join("\n") }
        : { ...s, body: s.body.split("\n").map((l) => l.trimEnd()).join("\n") }
    );
  };
}

/**
 * Joins `--flag -1` into `--flag=-1` so a negative value reaches the flag's own check (which
 * explains it) instead of cac taking `-1` for an unknown option.
 */
export function keepNegativeValues(args: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i], next = args[i + 1];
    if (/^--[a-z][\w-]*$/i.test(a) && next !== undefined && /^-\d/.test(next)) {
      out.push(`${a}=${next}`);
      i++;
    } else out.push(a);
  }
  return out;
}

/** The usage error for an unknown command, with the nearest command when one is close. */
export function unknownCommandError(cli: CAC, word: string): UsageError {
  const near = suggest(word, cli.commands.map((c) => c.name));
  return new UsageError(
    "command",
    `unknown command "${word}"` + (near ? ` (did you mean "${near}"?)` : "") +
      " (see podperf --help)",
  );
}

/** cac's "Unknown option `--x`" message with the nearest flag of the command, when close. */
export function withOptionHint(cli: CAC, message: string): string {
  const m = /^Unknown option `--([^`]+)`$/.exec(message);
  if (!m) return message;
  const options = [...(cli.matchedCommand?.options ?? []), ...cli.globalCommand.options];
  const flags = options.flatMap((o) =>
    o.rawName.split(",").map((r) => r.trim().split(/\s/)[0].replace(/^-+/, ""))
  ).filter((f) => f.length > 1);
  const near = suggest(m[1], flags);
  return `unknown option --${m[1]}` + (near ? ` (did you mean --${near}?)` : "") +
    ` (see podperf ${cli.matchedCommandName ?? ""} --help)`.replace(/\s+--help/, " --help");
}

const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;

/** Checks `--log-level`; a bad level is a usage error naming the choices. */
export function parseLogLevel(text: unknown): (typeof LOG_LEVELS)[number] {
  const s = String(text);
  if (!(LOG_LEVELS as readonly string[]).includes(s)) {
    throw new UsageError(
      "log-level",
      `--log-level: "${s}" is not one of ${LOG_LEVELS.join(", ")}`,
    );
  }
  return s as (typeof LOG_LEVELS)[number];
}
