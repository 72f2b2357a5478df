// The demo page: uploads the chosen file with the official @api.video/video-uploader
// (VideoUploader for chunked uploads, ProgressiveUploader for progressive sessions).
"use strict";

const MIB = 1024 * 1024;
const $ = (id) => document.getElementById(id);

const form = $("upload-form");
const button = $("upload");
const progress = $("progress");
const statusLine = $("status");
const errorBox = $("error");
const result = $("result");

const params = new URLSearchParams(location.search);
if (params.get("token")) $("token").value = params.get("token");
if (location.protocol !== "https:") $("https-warning").hidden = false;

function mib(bytes) {
  return (bytes / MIB).toFixed(1);
}

function showProgress(done, total) {
  progress.value = total > 0 ? (100 * done) / total : 0;
  statusLine.textContent = `Uploading: ${mib(done)} of ${mib(total)} MiB`;
}

async function uploadChunked(file, uploadToken, chunkSize) {
  const uploader = new VideoUploader({
    file,
    uploadToken,
    apiHost: location.host,
    chunkSize,
    videoName: file.name,
  });
  uploader.onProgress((e) => showProgress(e.uploadedBytes, e.totalBytes));
  return uploader.upload();
}

async function uploadProgressive(file, uploadToken, chunkSize) {
  const uploader = new ProgressiveUploader({ uploadToken, apiHost: location.host, videoName: file.name });
  let sent = 0;
  uploader.onProgress((e) => showProgress(sent + e.uploadedBytes, file.size));
  let offset = 0;
  while (file.size - offset > chunkSize) {
    await uploader.uploadPart(file.slice(offset, offset + chunkSize));
    offset += chunkSize;
    sent = offset;
  }
  return uploader.uploadLastPart(file.slice(offset));
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const file = $("file").files[0];
  const uploadToken = $("token").value.trim();
  const chunkSize = Number($("chunk-size").value) * MIB;
  const progressive = $("mode-progressive").checked;
  errorBox.hidden = true;
  result.hidden = true;
  button.disabled = true;
  showProgress(0, file.size);
  try {
    const video = progressive
      ? await uploadProgressive(file, uploadToken, chunkSize)
      : await uploadChunked(file, uploadToken, chunkSize);
    progress.value = 100;
    statusLine.textContent = `Done: ${mib(file.size)} MiB uploaded ${progressive ? "progressively" : "in chunks"}.`;
    $("video-id").textContent = video.videoId;
    const link = $("video-link");
    link.href = (video.assets && video.assets.mp4) || "#";
    link.textContent = `download ${video.title || "the file"}`;
    result.hidden = false;
    document.body.dataset.state = "done";
  } catch (e) {
    const problem = e && (e.title || e.message) ? e : { title: String(e) };
    errorBox.textContent = `Upload failed: ${problem.title || problem.message}${problem.detail ? `: ${problem.detail}` : ""}`;
    errorBox.hidden = false;
    statusLine.textContent = "Failed.";
    document.body.dataset.state = "failed";
  } finally {
    button.disabled = false;
  }
});
