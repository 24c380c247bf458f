// Compile a TypeScript module of src/ with esbuild (as the bundle is built) and import it.
import { build } from "esbuild";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve, dirname } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const folder = mkdtempSync(join(tmpdir(), "rlt-card-test-"));
process.on("exit", () => rmSync(folder, { recursive: true, force: true }));

export async function load(name) {
  const result = await build({
    entryPoints: [resolve(here, "../src", `${name}.ts`)],
    bundle: true,
    format: "esm",
    write: false,
    platform: "node",
  });
  const file = join(folder, `${name}.mjs`);
  writeFileSync(file, result.outputFiles[0].text);
  return import(pathToFileURL(file).href);
}
