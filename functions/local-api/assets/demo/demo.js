// The demo page: uploads the chosen file with the official @api.video/video-uploader
// (VideoUploader for chunked uploads, ProgressiveUploader for progressive sessions), or with
// Uppy's S3 uploader straight to the store (SPEC §9).
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

// Uppy's S3 uploader on the token (Companion's protocol under /upload/<token>/s3/). Uppy reports
// the object's key (`videos/<id>/source`, or `direct/videos/<id>/source` for one POST), which
// names the video; the download link is the completion's `location` (multipart only: a POSTed
// file is checked when its video is next read).
async function uploadWithUppy(file, uploadToken) {
  const { Uppy, AwsS3 } = window.UppyDirect;
  const uppy = new Uppy({ autoProceed: false });
  uppy.use(AwsS3, { companionEndpoint: `${location.origin}/upload/${encodeURIComponent(uploadToken)}` });
  uppy.on("upload-progress", (_, p) => showProgress(p.bytesUploaded, p.bytesTotal || file.size));
  uppy.addFile({ name: file.name, type: file.type, data: file });
  const { successful, failed } = await uppy.upload();
  if (failed.length > 0 || successful.length === 0) {
    const error = failed[0] && failed[0].error;
    throw { title: (error && (error.message || String(error))) || "the upload failed" };
  }
  const body = (successful[0].response && successful[0].response.body) || {};
  const where = `${body.key || ""} ${body.location || successful[0].uploadURL || ""}`;
  const id = (where.match(/videos\/(vi[0-9A-Za-z]{22})\//) || [])[1];
  const multipart = String(body.key || "").startsWith("videos/");
  return {
    videoId: id,
    title: file.name,
    assets: multipart && body.location ? { mp4: body.location } : {},
  };
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const file = $("file").files[0];
  const uploadToken = $("token").value.trim();
  const chunkSize = Number($("chunk-size").value) * MIB;
  const progressive = $("mode-progressive").checked;
  const uppy = $("mode-uppy").checked;
  errorBox.hidden = true;
  result.hidden = true;
  button.disabled = true;
  showProgress(0, file.size);
  try {
    const video = uppy
      ? await uploadWithUppy(file, uploadToken)
      : progressive
        ? await uploadProgressive(file, uploadToken, chunkSize)
        : await uploadChunked(file, uploadToken, chunkSize);
    progress.value = 100;
    const how = uppy ? "straight to the store with Uppy" : progressive ? "progressively" : "in chunks";
    statusLine.textContent = `Done: ${mib(file.size)} MiB uploaded ${how}.`;
    $("video-id").textContent = video.videoId;
    const link = $("video-link");
    const mp4 = video.assets && video.assets.mp4;
    link.href = mp4 || "#";
    link.textContent = mp4
      ? `download ${video.title || "the file"}`
      : `checked and stored when your backend next reads GET /videos/${video.videoId}`;
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
