// Uploads files with the real Uppy (@uppy/core + @uppy/aws-s3 6.x from npm, bundled here with
// esbuild) in headless Chromium (Debian's, via playwright-core), straight to the store on an
// upload token (SPEC §9): the page is served from its own loopback origin, so every request to
// the API, and every part PUT and form POST to the store (the local server's signed URLs, or S3's
// presigned ones), is cross-origin, as from a customer's site.
//
// usage: node browser_uppy.mjs <api base url> <upload token> <file>...
// prints one JSON line: {"files": [{"name", "size", "videoId", "multipart"}], "failed": [...]}
import { launchChromium, servePage } from "./uppy_page.mjs";
import { basename } from "node:path";

const [base, token, ...files] = process.argv.slice(2);
if (!token || files.length === 0) {
  console.error("usage: browser_uppy.mjs <base> <token> <file>...");
  process.exit(2);
}

const { origin, pages } = await servePage("./uppy/entry.js", "uppy");
const browser = await launchChromium();
let exitCode = 1;
try {
  const page = await (await browser.newContext()).newPage();
  const problems = [];
  page.on("pageerror", (e) => problems.push(String(e)));
  // The videoId of each file, from the answers of the calls that start its upload.
  const started = [];
  page.on("response", async (response) => {
    const url = new URL(response.url());
    if (!url.pathname.startsWith(`/upload/${token}/s3/`)) return;
    const path = url.pathname.slice(`/upload/${token}/s3`.length);
    if (response.request().method() === "OPTIONS") return;
    if (path === "/params" || path === "/multipart") {
      try {
        const body = await response.json();
        const name = path === "/params"
          ? url.searchParams.get("filename")
          : JSON.parse(response.request().postData() ?? "{}").filename;
        started.push({ name, videoId: body.videoId, multipart: path === "/multipart", status: response.status() });
      } catch { /* not JSON */ }
    }
  });
  await page.goto(origin);
  await page.setInputFiles("#file", files);
  const result = await page.evaluate(([b, t]) => window.uploadWithUppy(b, t), [base, token]);
  if (result.failed.length > 0 || problems.length > 0) {
    throw new Error(`Uppy failed: ${JSON.stringify(result.failed)} ${problems.join(" | ")}`);
  }
  const names = files.map((f) => basename(f));
  console.log(JSON.stringify({ origin, files: result.successful, started, names }));
  exitCode = 0;
} catch (e) {
  console.error(e);
} finally {
  await browser.close();
  pages.close();
}
process.exit(exitCode);
