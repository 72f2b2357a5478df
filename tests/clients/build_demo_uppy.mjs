// Bundles @uppy/core + @uppy/aws-s3 (as installed here from npm) for the local server's /demo
// page: minified, one IIFE, licenses kept at the end.
//
// usage: node build_demo_uppy.mjs <out.js>     writes the bundle
//        node build_demo_uppy.mjs --print      prints it (the test compares it to the vendored one)
import { build } from "esbuild";
import { writeFileSync } from "node:fs";

const [out] = process.argv.slice(2);
if (!out) {
  console.error("usage: build_demo_uppy.mjs <out.js> | --print");
  process.exit(2);
}
const result = await build({
  entryPoints: [new URL("./uppy/demo-entry.js", import.meta.url).pathname],
  bundle: true,
  minify: true,
  format: "iife",
  platform: "browser",
  target: "es2022",
  legalComments: "eof",
  write: false,
  logLevel: "error",
});
const text = result.outputFiles[0].text;
if (out === "--print") process.stdout.write(text);
else writeFileSync(out, text);
