// What the /demo page's Uppy mode loads (functions/local-api/assets/vendor/uppy-6.3.1.js is this,
// bundled by build_demo_uppy.mjs from the npm packages; a test rebuilds it and compares).
import Uppy from "@uppy/core";
import AwsS3 from "@uppy/aws-s3";

window.UppyDirect = { Uppy, AwsS3 };
