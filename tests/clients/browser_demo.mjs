// Drives the local server's /demo page in headless Chromium (Debian's, via playwright-core):
// pastes an upload token, picks a file, uploads it with the official @api.video/video-uploader
// (chunked or progressive), waits for the result, keeps a screenshot, then downloads the stored
// file from the page's link (trusting the server's certificate through NODE_EXTRA_CA_CERTS).
//
// usage: node browser_demo.mjs <https base url> <upload token> <file> <chunked|progressive|uppy>
//                              <chunk MiB> <screenshot.png> [expect-refusal]
// prints one JSON line: {"videoId", "link", "sha256", "bytes", "progressEvents"}; with
// expect-refusal, the upload must fail in the page, and it prints {"refused": <the page's error>}
import { chromium } from "playwright-core";
import { createHash } from "node:crypto";

const [base, token, file, mode, chunkMiB, screenshot, expectation] = process.argv.slice(2);
if (!screenshot || !["chunked", "progressive", "uppy"].includes(mode)) {
  console.error("usage: browser_demo.mjs <base> <token> <file> <chunked|progressive|uppy> <MiB> <png>");
  process.exit(2);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    // The server's certificate is self-signed, generated at its start.
    "--ignore-certificate-errors",
  ],
});
let exitCode = 1;
try {
  const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 900, height: 900 } });
  const page = await context.newPage();
  const consoleErrors = [];
  page.on("console", (m) => m.type() === "error" && consoleErrors.push(m.text()));
  page.on("pageerror", (e) => consoleErrors.push(String(e)));

  await page.goto(`${base}/demo?token=${encodeURIComponent(token)}`);
  if ((await page.inputValue("#token")) !== token) throw new Error("the token was not prefilled from ?token=");
  if (!(await page.isHidden("#https-warning"))) throw new Error("the HTTPS warning shows over HTTPS");
  await page.setInputFiles("#file", file);
  await page.check(`#mode-${mode}`);
  await page.fill("#chunk-size", String(chunkMiB));

  // Sample the progress bar while the upload runs: it must move through intermediate values.
  const seen = new Set();
  const sampler = setInterval(async () => {
    try { seen.add(await page.$eval("#progress", (p) => Math.round(p.value))); } catch { /* closing */ }
  }, 20);
  await page.click("#upload");
  await page.waitForSelector("body[data-state]", { timeout: 120_000 });
  clearInterval(sampler);
  const state = await page.getAttribute("body", "data-state");
  if (expectation === "expect-refusal") {
    if (state !== "failed") throw new Error(`the upload was not refused: ${state}`);
    await page.screenshot({ path: screenshot, fullPage: true });
    console.log(JSON.stringify({ refused: (await page.textContent("#error")).trim() }));
    exitCode = 0;
  } else {
    if (state !== "done") {
      throw new Error(`upload failed in the page: ${await page.textContent("#error")}; console: ${consoleErrors.join(" | ")}`);
    }
    const videoId = (await page.textContent("#video-id")).trim();
    const link = await page.getAttribute("#video-link", "href");
    const progress = await page.$eval("#progress", (p) => p.value);
    const status = await page.textContent("#status");
    if (progress !== 100) throw new Error(`progress bar ends at ${progress}`);
    if (!/^vi[0-9A-Za-z]{22}$/.test(videoId)) throw new Error(`bad videoId ${videoId}`);
    await page.screenshot({ path: screenshot, fullPage: true });

    // Uppy's single POST has no link yet: its file is checked when the video is next read.
    let bytes = Buffer.alloc(0);
    let sha256 = null;
    if (link !== "#") {
      const response = await fetch(link);
      if (response.status !== 200) throw new Error(`download answered ${response.status}`);
      bytes = Buffer.from(await response.arrayBuffer());
      sha256 = createHash("sha256").update(bytes).digest("hex");
    }
    const intermediate = [...seen].filter((v) => v > 0 && v < 100).length;
    console.log(JSON.stringify({ videoId, link, sha256, bytes: bytes.length, status: status.trim(), intermediate, consoleErrors }));
    exitCode = 0;
  }
} catch (e) {
  console.error(e && e.stack ? e.stack : String(e));
} finally {
  // playwright gives the browser a fresh temporary profile and removes it on close.
  await browser.close();
}
process.exit(exitCode);
