/**
 * The tests' assertion module, imported as `@podperf/assert` (deno.json's import map): Node's
 * strict assert, which Deno ships, because deno std's `@std/assert` lives on JSR, unreachable
 * here. Where JSR is reachable this file is the one place to adapt (docs/DESIGN.md).
 */
import { strict } from "node:assert";

export default strict;
