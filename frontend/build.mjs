// Bundle src/card.ts into the integration's folder (committed, so HACS needs no build).
// `node build.mjs --check` builds in memory and fails when the committed bundle differs.
import { build } from "esbuild";
import { readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const out = resolve(here, "../custom_components/red_light_therapy/frontend/red-light-therapy-card.js");
const result = await build({
  entryPoints: [resolve(here, "src/card.ts")],
  bundle: true,
  minify: true,
  format: "esm",
  target: "es2021",
  legalComments: "none",
  write: false,
  tsconfig: resolve(here, "tsconfig.json"),
});
const code = result.outputFiles[0].text;
if (process.argv.includes("--check")) {
  let committed = "";
  try {
    committed = readFileSync(out, "utf8");
  } catch {}
  if (committed !== code) {
    console.error("frontend: the committed bundle does not match src/; run `npm run build` in frontend/ and commit it");
    process.exit(1);
  }
  console.log("frontend: committed bundle matches its sources");
} else {
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, code);
  console.log(`frontend: wrote ${out} (${code.length} bytes)`);
}
