// The page's script, bundled by browser_uppy.mjs with esbuild from the npm packages as they are:
// @uppy/core with @uppy/aws-s3 6.x on an upload token (Companion's protocol, SPEC §9).
import Uppy from "@uppy/core";
import AwsS3 from "@uppy/aws-s3";

// Uploads the file picked in #file through `<base>/upload/<token>/s3/…`; resolves to what
// Uppy reports: {successful: [{name, size, location}], failed: [{name, error}]}.
window.uploadWithUppy = async (base, token) => {
  const uppy = new Uppy({ autoProceed: false });
  uppy.use(AwsS3, {
    companionEndpoint: `${base}/upload/${token}`,
    // Uppy's own default: multipart above 100 MiB, one POST below.
    shouldUseMultipart: (file) => file.size > 100 * 1024 * 1024,
  });
  for (const file of document.querySelector("#file").files) {
    uppy.addFile({ name: file.name, type: file.type, data: file });
  }
  const result = await uppy.upload();
  return {
    successful: result.successful.map((f) => ({
      name: f.name,
      size: f.size,
      location: f.response?.body?.location ?? f.response?.uploadURL ?? null,
    })),
    failed: result.failed.map((f) => ({ name: f.name, error: String(f.error) })),
  };
};
