// One upload with the real tus-js-client (npm, 4.3.1, unchanged) on an upload token (SPEC §10),
// reporting everything it did, for tests/tests/tus_clients.rs to check: every request it sent
// and every answer it got, the offsets the server acknowledged, and how the upload ended.
//
// usage: node node_tus.mjs '<json config>'
//   base, token        the API and the upload token (endpoint: <base>/upload/<token>/tus)
//   file               the file to upload
//   source             "path" (an fs.ReadStream, read slice by slice) or "buffer"
//   chunkSize          bytes per PATCH
//   uploadUrl          resume this upload (HEAD, then PATCH from its offset); no endpoint is
//                      given then, so a failed HEAD cannot fall back to a new upload
//   metadata           Upload-Metadata ({filename, filetype})
//   uploadDataDuringCreation, overridePatchMethod   tus-js-client's options of these names
//   abortAbove         call upload.abort() once onProgress reports more than this many bytes
//                      (mid-PATCH: the first progress of a PATCH past its start)
//   deleteTokenAfter   with apiKey: DELETE /upload-tokens/<token> before the PATCH that follows
//                      the n-th acknowledged chunk
//
// prints one JSON line: {outcome: "success"|"aborted"|"error", url, status, body, message,
//   acknowledged: [offsets], progressMax, deletion, requests: [{method, override, offset,
//   length, status, responseOffset, responseLength, location, tusResumable}]}
import * as tus from "tus-js-client";
import { createReadStream, readFileSync } from "node:fs";

const config = JSON.parse(process.argv[2] ?? "null");
if (!config?.base || !config?.token || !config?.file) {
  console.error("usage: node_tus.mjs '{\"base\":…,\"token\":…,\"file\":…}'");
  process.exit(2);
}

const requests = [];
const acknowledged = [];
let progressMax = 0;
let deletion = null;
let upload = null;

const input = config.source === "buffer"
  ? readFileSync(config.file)
  : createReadStream(config.file);

const result = await new Promise((resolve) => {
  let aborted = false;
  const options = {
    chunkSize: config.chunkSize ?? Number.POSITIVE_INFINITY,
    metadata: config.metadata ?? {},
    uploadDataDuringCreation: config.uploadDataDuringCreation ?? false,
    overridePatchMethod: config.overridePatchMethod ?? false,
    // A refusal is reported as it is, not retried into something else.
    retryDelays: [],
    onBeforeRequest: async (req) => {
      const record = {
        method: req.getMethod(),
        override: req.getHeader("X-HTTP-Method-Override") ?? null,
        offset: numberOrNull(req.getHeader("Upload-Offset")),
        length: numberOrNull(req.getHeader("Upload-Length")),
        status: null,
      };
      requests.push(record);
      req._record = record;
      const patching = record.method === "PATCH" || record.override === "PATCH";
      if (patching && config.deleteTokenAfter != null && deletion == null
        && acknowledged.length >= config.deleteTokenAfter) {
        const response = await fetch(`${config.base}/upload-tokens/${config.token}`, {
          method: "DELETE",
          headers: { authorization: `Basic ${Buffer.from(`${config.apiKey}:`).toString("base64")}` },
        });
        deletion = { status: response.status, beforeOffset: record.offset };
      }
    },
    onAfterResponse: (req, res) => {
      const record = req._record;
      if (!record) return;
      record.status = res.getStatus();
      record.responseOffset = numberOrNull(res.getHeader("Upload-Offset"));
      record.responseLength = numberOrNull(res.getHeader("Upload-Length"));
      record.location = res.getHeader("Location") ?? null;
      record.tusResumable = res.getHeader("Tus-Resumable") ?? null;
    },
    onProgress: (bytesSent) => {
      progressMax = Math.max(progressMax, bytesSent);
      if (config.abortAbove != null && !aborted && bytesSent > config.abortAbove) {
        aborted = true;
        upload.abort().then(() => resolve({ outcome: "aborted" }));
      }
    },
    onChunkComplete: (_chunkSize, bytesAccepted) => {
      acknowledged.push(bytesAccepted);
    },
    onSuccess: () => resolve({ outcome: "success" }),
    onError: (err) => resolve({
      outcome: "error",
      status: err.originalResponse ? err.originalResponse.getStatus() : null,
      body: err.originalResponse ? err.originalResponse.getBody() : null,
      message: String(err.message ?? err),
    }),
  };
  if (config.uploadUrl) {
    options.uploadUrl = config.uploadUrl;
  } else {
    options.endpoint = `${config.base}/upload/${config.token}/tus`;
  }
  upload = new tus.Upload(input, options);
  upload.start();
});

function numberOrNull(value) {
  if (value == null || value === "") return null;
  const n = Number(value);
  return Number.isFinite(n) ? n : value;
}

console.log(JSON.stringify({
  ...result,
  url: upload.url ?? null,
  acknowledged,
  progressMax,
  deletion,
  requests,
}));
process.exit(0);
