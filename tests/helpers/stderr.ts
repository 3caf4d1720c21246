/** Runs fn with the process's stderr writes recorded (lib/log.ts writes there); returns them. */
export async function captureStderr(fn: () => Promise<void> | void): Promise<string> {
  const orig = Deno.stderr.writeSync.bind(Deno.stderr);
  const dec = new TextDecoder();
  let text = "";
  Deno.stderr.writeSync = (p: Uint8Array) => {
    text += dec.decode(p);
    return p.length;
  };
  try {
    await fn();
  } finally {
    Deno.stderr.writeSync = orig;
  }
  return text;
}
