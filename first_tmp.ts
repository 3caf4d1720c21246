import { Sampler } from "./lib/sampler/mod.ts";
for (let i = 0; i < 3; i++) {
  const t0 = performance.now();
  const s = Sampler.open({});
  console.log(`open took ${(performance.now() - t0).toFixed(0)} ms`);
  s.close();
}
