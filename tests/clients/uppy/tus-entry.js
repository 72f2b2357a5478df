// The page's script, bundled by browser_uppy_tus.mjs with esbuild from the npm packages as they
// are: @uppy/core 6 with @uppy/tus 6 (tus-js-client 4 inside) on an upload token (SPEC §10).
import Uppy from "@uppy/core";
import Tus from "@uppy/tus";

// Uploads the files picked in #file to `<base>/upload/<token>/tus` in `chunkSize` PATCHes;
// resolves to what Uppy reports: {successful: [{name, size, uploadURL}], failed: [{name, error}]}.
window.uploadWithUppyTus = async (base, token, chunkSize) => {
  const uppy = new Uppy({ autoProceed: false });
  uppy.use(Tus, {
    endpoint: `${base}/upload/${token}/tus`,
    chunkSize,
    // A refusal fails the upload at once rather than being retried.
    retryDelays: [],
  });
  for (const file of document.querySelector("#file").files) {
    uppy.addFile({ name: file.name, type: file.type, data: file });
  }
  const result = await uppy.upload();
  return {
    successful: result.successful.map((f) => ({
      name: f.name,
      size: f.size,
      uploadURL: f.response?.uploadURL ?? null,
    })),
    failed: result.failed.map((f) => ({ name: f.name, error: String(f.error) })),
  };
};
