// What the Uppy browser tests share: a page that loads one entry script (bundled with esbuild
// from the npm packages as they are) served from its own loopback origin, so that every request
// it makes to the API or the store is cross-origin; and Debian's headless Chromium.
import { chromium } from "playwright-core";
import { build } from "esbuild";
import { createServer } from "node:http";

// Serves `<entry>` (a path next to this file) as `/<name>.js` under a page with a file input
// `#file`; resolves to {origin, pages} (close `pages` when done).
export async function servePage(entry, name) {
  const bundled = await build({
    entryPoints: [new URL(entry, import.meta.url).pathname],
    bundle: true,
    format: "iife",
    platform: "browser",
    write: false,
    logLevel: "error",
  });
  const script = bundled.outputFiles[0].text;
  const html = `<!doctype html><meta charset="utf-8"><title>${name}</title>
<input type="file" id="file" multiple><script src="/${name}.js"></script>`;
  const pages = createServer((req, res) => {
    if (req.url === `/${name}.js`) {
      res.writeHead(200, { "content-type": "text/javascript" }).end(script);
    } else {
      res.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end(html);
    }
  });
  await new Promise((ok) => pages.listen(0, "127.0.0.1", ok));
  return { origin: `http://127.0.0.1:${pages.address().port}`, pages };
}

// Headless Chromium ($CHROMIUM, else Debian's).
export function launchChromium() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
      "--disable-component-update", "--disable-sync"],
  });
}
