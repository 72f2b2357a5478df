// Uploads files with the real Uppy Tus plugin (@uppy/core 6.3.1 + @uppy/tus 6.0.0 from npm,
// bundled here with esbuild) in headless Chromium (Debian's, via playwright-core) to an upload
// token's tus endpoint (SPEC §10): the page is served from its own loopback origin, so every
// creation, PATCH and HEAD is cross-origin (preflighted), as from a customer's site.
//
// usage: node browser_uppy_tus.mjs <api base url> <upload token> <chunk size> <file>...
// prints one JSON line: {origin, files: [{name, size, uploadURL}], requests: [{method, path,
//   status, offset, responseOffset, length}]} (the tus requests the page sent, preflights apart)
import { launchChromium, servePage } from "./uppy_page.mjs";

const [base, token, chunkSize, ...files] = process.argv.slice(2);
if (!chunkSize || files.length === 0) {
  console.error("usage: browser_uppy_tus.mjs <base> <token> <chunk size> <file>...");
  process.exit(2);
}

const { origin, pages } = await servePage("./uppy/tus-entry.js", "uppy-tus");
const browser = await launchChromium();
let exitCode = 1;
try {
  const page = await (await browser.newContext()).newPage();
  const problems = [];
  page.on("pageerror", (e) => problems.push(String(e)));
  const prefix = `/upload/${token}/tus`;
  const requests = [];
  const details = [];
  page.on("response", (response) => {
    const request = response.request();
    const url = new URL(response.url());
    if (!url.pathname.startsWith(prefix) || request.method() === "OPTIONS") return;
    const record = {
      method: request.method(),
      path: url.pathname.slice(prefix.length),
      status: response.status(),
      responseOffset: numberOrNull(response.headers()["upload-offset"]),
    };
    requests.push(record);
    details.push(request.allHeaders().then((headers) => {
      record.offset = numberOrNull(headers["upload-offset"]);
      record.length = numberOrNull(headers["upload-length"]);
    }));
  });
  await page.goto(origin);
  await page.setInputFiles("#file", files);
  const result = await page.evaluate(
    ([b, t, c]) => window.uploadWithUppyTus(b, t, c),
    [base, token, Number(chunkSize)],
  );
  await Promise.all(details);
  if (result.failed.length > 0 || problems.length > 0) {
    throw new Error(`Uppy failed: ${JSON.stringify(result.failed)} ${problems.join(" | ")}`);
  }
  console.log(JSON.stringify({ origin, files: result.successful, requests }));
  exitCode = 0;
} catch (e) {
  console.error(e);
} finally {
  await browser.close();
  pages.close();
}
process.exit(exitCode);

function numberOrNull(value) {
  if (value == null || value === "") return null;
  const n = Number(value);
  return Number.isFinite(n) ? n : value;
}
