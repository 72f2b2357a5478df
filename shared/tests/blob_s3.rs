//! The blob suite over `S3BlobStore` against a moto server, and what only S3 has.
//!
//! `UPLOAD_TOKENS_TEST_MOTO_URL` (e.g. `http://127.0.0.1:5123`) names the moto server; without
//! it the tests are skipped, except in CI (`CI=true`) where that is a failure. Each test makes
//! its own bucket.

mod blob_suite;

use aws_config::{BehaviorVersion, Region};
use aws_sdk_s3::Client;
use aws_sdk_s3::config::Credentials;
use blob_suite::{Harness, MIB};
use bytes::Bytes;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use upload_tokens_core::store::blob::{BlobProgress, BlobStore};
use upload_tokens_core::store::chunk_data::ChunkData;
use upload_tokens_core::store::s3::{S3BlobStore, STAGING_PREFIX};

/// An S3 store over a bucket of its own on moto.
struct S3 {
    client: Client,
    bucket: String,
    endpoint: String,
    store: S3BlobStore,
}

/// A bucket name no other test (or run) uses.
fn unique_bucket() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!(
        "blobs-{}-{}-{nanos}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

async fn setup() -> Option<S3> {
    let endpoint = test_gate::require_moto("blob_s3")?;
    let config = aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(&endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "test"))
        .load()
        .await;
    let client = Client::from_conf(
        aws_sdk_s3::config::Builder::from(&config)
            .force_path_style(true)
            .build(),
    );
    let bucket = unique_bucket();
    client
        .create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .expect("create bucket");
    let store =
        S3BlobStore::new(client.clone(), &bucket).signing_with(config.credentials_provider());
    Some(S3 {
        client,
        bucket,
        endpoint,
        store,
    })
}

impl S3 {
    async fn exists(&self, key: &str) -> bool {
        match self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(_) => true,
            Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => false,
            Err(e) => panic!("HeadObject {key}: {e:?}"),
        }
    }

    /// Keys of the objects under `prefix`.
    async fn objects(&self, prefix: &str) -> Vec<String> {
        let out = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(prefix)
            .send()
            .await
            .expect("ListObjectsV2");
        out.contents()
            .iter()
            .filter_map(|o| o.key().map(str::to_owned))
            .collect()
    }

    /// Unfinished multipart uploads under `prefix`, as `upload:<key>`.
    async fn uploads(&self, prefix: &str) -> Vec<String> {
        let out = self
            .client
            .list_multipart_uploads()
            .bucket(&self.bucket)
            .prefix(prefix)
            .send()
            .await
            .expect("ListMultipartUploads");
        out.uploads()
            .iter()
            .map(|u| format!("upload:{}", u.key().unwrap_or_default()))
            .collect()
    }
}

impl Harness for S3 {
    type Store = S3BlobStore;
    const STAGES: bool = true;

    fn store(&self) -> &S3BlobStore {
        &self.store
    }

    async fn read(&self, key: &str) -> Vec<u8> {
        let out = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .expect("GetObject");
        out.body.collect().await.expect("body").to_vec()
    }

    async fn leftovers(&self, key: &str) -> Vec<String> {
        let mut all = self.objects(key).await;
        all.extend(self.objects(&format!("{STAGING_PREFIX}{key}")).await);
        all.extend(self.uploads(key).await);
        all.sort();
        all
    }

    async fn staged_exists(&self, key: &str, progress: &BlobProgress) -> Option<bool> {
        Some(match S3BlobStore::staged_key(key, progress) {
            Some(staged) => self.exists(&staged).await,
            None => false,
        })
    }

    /// Per part, `HeadObject ?partNumber=n` (moto answers it, with `x-amz-mp-parts-count`).
    async fn part_sizes(&self, key: &str) -> Option<Vec<u64>> {
        let mut sizes = Vec::new();
        let mut count = 1;
        let mut number = 1;
        while number <= count {
            let out = self
                .client
                .head_object()
                .bucket(&self.bucket)
                .key(key)
                .part_number(number)
                .send()
                .await
                .expect("HeadObject partNumber");
            count = out.parts_count().unwrap_or(1);
            sizes.push(u64::try_from(out.content_length().unwrap_or(-1)).expect("part size"));
            number += 1;
        }
        Some(sizes)
    }

    async fn check_download_url(&self, key: &str, url: Option<String>, expected: &[u8]) {
        let url = url.expect("S3 gives a URL");
        assert!(
            url.starts_with(&self.endpoint),
            "{url} is on {}",
            self.endpoint
        );
        assert!(url.contains(key), "{url} names {key}");
        assert!(url.contains("X-Amz-Signature="), "{url} is presigned");
        let (status, body) = http_get(&url).await;
        assert_eq!(status, 200, "GET {url}");
        blob_suite::assert_same(&body, expected);
    }
}

/// A plain HTTP/1.1 GET (no client library): the status and the body.
async fn http_get(url: &str) -> (u16, Vec<u8>) {
    let (status, _, body) = http_send("GET", url, &[], &[]).await;
    (status, body)
}

/// A plain HTTP/1.1 request (no client library): the status, the head (lower case) and the
/// body.
async fn http_send(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, String, Vec<u8>) {
    let rest = url.strip_prefix("http://").expect("an http:// URL");
    let (authority, target) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let mut stream = tokio::net::TcpStream::connect(authority)
        .await
        .expect("connect");
    let mut request = format!(
        "{method} {target} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str("\r\n");
    stream
        .write_all(request.as_bytes())
        .await
        .expect("send request");
    stream.write_all(body).await.expect("send body");
    let mut response = Vec::new();
    stream
        .read_to_end(&mut response)
        .await
        .expect("read response");
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("end of headers");
    let head = String::from_utf8_lossy(&response[..split]).to_ascii_lowercase();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status code");
    let body = &response[split + 4..];
    let body = if head.contains("transfer-encoding: chunked") {
        dechunk(body)
    } else {
        body.to_vec()
    };
    (status, head, body)
}

/// A header's value from a lower-cased head.
fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .map(str::trim)
}

/// Decodes a `Transfer-Encoding: chunked` body.
fn dechunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line = body
            .windows(2)
            .position(|w| w == b"\r\n")
            .expect("chunk size line");
        let size_text = String::from_utf8_lossy(&body[..line]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .expect("chunk size");
        body = &body[line + 2..];
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&body[..size]);
        body = &body[size + 2..];
    }
}

blob_suite!(setup);

#[tokio::test]
async fn staged_remainders_are_named_after_their_end_offset() {
    let Some(h) = setup().await else { return };
    let key = "videos/vi1";
    let blob = blob_suite::data(2 * MIB + 3, 1);
    let p1 = h
        .store
        .append(
            key,
            &BlobProgress::default(),
            &ChunkData::from(Bytes::copy_from_slice(&blob[..MIB])),
            false,
        )
        .await
        .expect("append 1");
    assert_eq!(p1.staged, MIB as u64);
    let staging = format!("{STAGING_PREFIX}{key}");
    assert_eq!(h.objects(&staging).await, [format!("{staging}.{MIB}")]);
    let p2 = h
        .store
        .append(
            key,
            &p1,
            &ChunkData::from(Bytes::copy_from_slice(&blob[MIB..2 * MIB])),
            false,
        )
        .await
        .expect("append 2");
    // Until released, both remainders are there; the committed one is untouched.
    let mut objects = h.objects(&staging).await;
    objects.sort();
    assert_eq!(
        objects,
        [format!("{staging}.{MIB}"), format!("{staging}.{}", 2 * MIB)]
    );
    h.store.release(key, &p1, &p2).await.expect("release");
    assert!(!h.exists(&format!("{staging}.{MIB}")).await);
    assert!(h.exists(&format!("{staging}.{}", 2 * MIB)).await);
    assert!(h.uploads(key).await.is_empty(), "no multipart upload yet");
}

/// What the SDK sent: each request's method, URI, payload-hash header, CRC32 header and body.
#[derive(Debug, Default, Clone)]
struct Sent(SentLog);

type SentLog = std::sync::Arc<
    std::sync::Mutex<Vec<(String, String, Option<String>, Option<String>, Vec<u8>)>>,
>;

impl aws_sdk_s3::config::Intercept for Sent {
    fn name(&self) -> &'static str {
        "Sent"
    }

    fn read_before_transmit(
        &self,
        context: &aws_sdk_s3::config::interceptors::BeforeTransmitInterceptorContextRef<'_>,
        _: &aws_sdk_s3::config::RuntimeComponents,
        _: &mut aws_sdk_s3::config::ConfigBag,
    ) -> Result<(), aws_sdk_s3::error::BoxError> {
        let request = context.request();
        let header = |name: &str| request.headers().get(name).map(str::to_owned);
        self.0.lock().expect("lock").push((
            request.method().to_owned(),
            request.uri().to_owned(),
            header("x-amz-content-sha256"),
            header("x-amz-checksum-crc32"),
            request.body().bytes().unwrap_or_default().to_vec(),
        ));
        Ok(())
    }
}

#[tokio::test]
async fn bytes_go_unsigned_with_the_crc32_of_each_body() {
    let Some(h) = setup().await else { return };
    unsigned_with_crc32(&h, h.client.config().to_builder()).await;
}

#[tokio::test]
async fn bodies_keep_their_crc32_when_the_configuration_asks_only_for_required_checksums() {
    let Some(h) = setup().await else { return };
    // What `AWS_REQUEST_CHECKSUM_CALCULATION=when_required` gives the shared configuration.
    let config =
        h.client.config().to_builder().request_checksum_calculation(
            aws_sdk_s3::config::RequestChecksumCalculation::WhenRequired,
        );
    unsigned_with_crc32(&h, config).await;
}

/// Appends through a store whose client is built from `config`, and checks every body sent:
/// unsigned, with its CRC32.
async fn unsigned_with_crc32(h: &S3, config: aws_sdk_s3::config::Builder) {
    use base64::Engine;
    let sent = Sent::default();
    let client = Client::from_conf(config.interceptor(sent.clone()).build());
    let store = S3BlobStore::new(client, &h.bucket);
    let key = "videos/vi-unsigned";
    let blob = blob_suite::data(7 * MIB + 5, 3);
    // A staged remainder (PutObject), a part of it and the next chunk (UploadPart), the last
    // part, then a whole blob in one PutObject.
    let mut progress = BlobProgress::default();
    for (range, last) in [
        (0..MIB, false),
        (MIB..6 * MIB, false),
        (6 * MIB..blob.len(), true),
    ] {
        let chunk = ChunkData::from(Bytes::copy_from_slice(&blob[range]));
        progress = store
            .append(key, &progress, &chunk, last)
            .await
            .expect("append");
    }
    let small = blob_suite::data(1000, 4);
    store
        .append(
            "videos/vi-small",
            &BlobProgress::default(),
            &ChunkData::from(small.clone()),
            true,
        )
        .await
        .expect("whole blob");
    let sent = std::mem::take(&mut *sent.0.lock().expect("lock"));
    let uploads: Vec<_> = sent
        .iter()
        .filter(|(method, uri, ..)| method == "PUT" && !uri.contains("x-id=CopyObject"))
        .filter(|(.., body)| !body.is_empty())
        .collect();
    // PutObject of the remainder, UploadPart × 2, PutObject of the small blob.
    assert_eq!(
        uploads.len(),
        4,
        "{:?}",
        sent.iter().map(|s| &s.1).collect::<Vec<_>>()
    );
    for (_, uri, payload, crc, body) in uploads {
        assert_eq!(payload.as_deref(), Some("UNSIGNED-PAYLOAD"), "{uri}");
        let expected =
            base64::engine::general_purpose::STANDARD.encode(crc32fast::hash(body).to_be_bytes());
        assert_eq!(
            crc.as_deref(),
            Some(expected.as_str()),
            "{uri}: the body's CRC32"
        );
    }
    let stored = h.read(key).await;
    assert!(stored == blob, "the object holds the chunks, in order");
}

#[tokio::test]
async fn removing_an_upload_that_is_already_aborted_is_not_an_error() {
    let Some(h) = setup().await else { return };
    let key = "videos/vi2";
    let blob = blob_suite::data(5 * MIB, 2);
    let progress = h
        .store
        .append(
            key,
            &BlobProgress::default(),
            &ChunkData::from(Bytes::from(blob)),
            false,
        )
        .await
        .expect("append");
    let upload_id = progress.upload_id.clone().expect("a multipart upload");
    h.client
        .abort_multipart_upload()
        .bucket(&h.bucket)
        .key(key)
        .upload_id(&upload_id)
        .send()
        .await
        .expect("abort");
    h.store.remove(key, &progress).await.expect("remove");
    assert!(h.leftovers(key).await.is_empty());
}

/// With a maximum file size above 10,000 × 5 MiB, parts grow so that the maximum fits 10,000
/// parts: a remainder of 5 MiB is still staged, and the part made once it passes the larger
/// size holds everything staged.
#[tokio::test]
async fn parts_grow_so_that_the_maximum_fits_ten_thousand_parts() {
    let Some(s3) = setup().await else { return };
    let max = 10_000 * 6 * MIB as u64;
    let store = s3.store.clone().for_files_up_to(max);
    assert_eq!(store.part_bytes(), 6 * MIB as u64);
    assert_eq!(
        S3BlobStore::new(s3.client.clone(), &s3.bucket)
            .for_files_up_to(50 << 30)
            .part_bytes(),
        5_368_710,
        "the default 50 GiB maximum: 5.12 MiB parts"
    );
    let key = "videos/grow/source";
    let first = vec![1u8; 5 * MIB];
    let p = store
        .append(
            key,
            &BlobProgress::default(),
            &ChunkData::from(first.clone()),
            false,
        )
        .await
        .expect("first");
    assert!(p.parts.is_empty(), "5 MiB is below the 6 MiB part: staged");
    assert_eq!(p.staged, 5 * MIB as u64);
    let second = vec![2u8; 2 * MIB];
    let q = store
        .append(key, &p, &ChunkData::from(second.clone()), false)
        .await
        .expect("second");
    assert_eq!(
        (q.parts.len(), q.staged),
        (1, 0),
        "7 MiB staged + chunk: one part"
    );
    store.release(key, &p, &q).await.expect("release");
    let last = vec![3u8; 10];
    let r = store
        .append(key, &q, &ChunkData::from(last.clone()), true)
        .await
        .expect("last");
    assert!(r.completed);
    let mut want = first;
    want.extend_from_slice(&second);
    want.extend_from_slice(&last);
    assert!(s3.read(key).await == want, "the object is the three chunks");
    assert!(
        s3.objects("staging/").await.is_empty(),
        "nothing staged is left"
    );
}

#[tokio::test]
async fn a_direct_multipart_upload_through_presigned_part_urls() {
    let Some(h) = setup().await else { return };
    let key = "videos/vi20/source";
    let id = h
        .store
        .start_direct(key, "video/mp4")
        .await
        .expect("started");
    let blob = blob_suite::data(5 * MIB + 1000, 20);
    let mut etags = Vec::new();
    for (n, piece) in [(1u32, &blob[..5 * MIB]), (2, &blob[5 * MIB..])] {
        let url = h
            .store
            .direct_part_url(key, &id, n, Duration::from_secs(600))
            .await
            .expect("signed")
            .expect("S3 has URLs");
        // Uppy sends part blobs with no Content-Type; the URL signs nothing but the host, and
        // carries no checksum of an empty body.
        assert!(!url.to_ascii_lowercase().contains("checksum"), "{url}");
        assert!(url.contains("X-Amz-SignedHeaders=host"), "{url}");
        assert!(url.contains("X-Amz-Expires=600"), "{url}");
        let (status, head, _) = http_send("PUT", &url, &[], piece).await;
        assert_eq!(status, 200, "PUT part {n}");
        etags.push(
            header(&head, "etag")
                .expect("an ETag")
                .trim_matches('"')
                .to_owned(),
        );
    }
    let parts = h.store.direct_parts(key, &id).await.expect("listed");
    assert_eq!(parts.iter().map(|p| p.number).collect::<Vec<_>>(), [1, 2]);
    assert_eq!(
        parts.iter().map(|p| p.etag.clone()).collect::<Vec<_>>(),
        etags
    );
    assert_eq!(parts[0].size, 5 * MIB as u64);
    h.store
        .finish_direct(key, &id, &parts)
        .await
        .expect("completed");
    blob_suite::assert_same(&h.read(key).await, &blob);
    assert_eq!(
        &h.store.read_start(key, 10).await.expect("start")[..],
        &blob[..10]
    );
    // The upload is gone once complete.
    assert!(matches!(
        h.store.direct_parts(key, &id).await,
        Err(upload_tokens_core::store::StoreError::BlobGone(_))
    ));
}

#[tokio::test]
async fn a_posted_upload_is_checked_then_moved_and_a_second_post_never_replaces_it() {
    let Some(h) = setup().await else { return };
    let key = "videos/vi21/source";
    let form = h
        .store
        .direct_post_form(key, "video/mp4", 1000, Duration::from_secs(600))
        .await
        .expect("signed")
        .expect("S3 has forms");
    assert!(
        form.url.ends_with(&format!("/{}/", h.bucket)),
        "{}",
        form.url
    );
    let get = |name: &str| {
        form.fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("field {name}"))
    };
    assert_eq!(get("key"), format!("direct/{key}"));
    let policy = upload_tokens_core::store::s3::post_policy::decode(&get("policy"))
        .expect("a policy document");
    let conditions = policy["conditions"].as_array().expect("conditions");
    assert!(conditions.contains(&serde_json::json!(["eq", "$key", format!("direct/{key}")])));
    assert!(conditions.contains(&serde_json::json!(["eq", "$Content-Type", "video/mp4"])));
    assert!(conditions.contains(&serde_json::json!(["content-length-range", 1, 1000])));
    let first = blob_suite::data(700, 21);
    post_form(&form, first.clone()).await;
    let claim = h
        .store
        .claim_direct_post(key, 16)
        .await
        .expect("claimed")
        .expect("posted");
    assert_eq!(claim.size, 700);
    assert_eq!(&claim.first[..], &first[..16]);
    h.store
        .accept_direct_post(key, &claim)
        .await
        .expect("accepted");
    blob_suite::assert_same(&h.read(key).await, &first);
    // Accepting again (a check interrupted before the video recorded it) writes the same bytes.
    let again = h
        .store
        .claim_direct_post(key, 16)
        .await
        .expect("claimed")
        .expect("kept until dropped");
    assert_eq!(again, claim);
    h.store
        .accept_direct_post(key, &again)
        .await
        .expect("again");
    h.store
        .drop_direct_post(key, &claim)
        .await
        .expect("dropped");
    assert!(
        h.store
            .claim_direct_post(key, 16)
            .await
            .expect("claim")
            .is_none()
    );
    // The same form, posted again: lands under direct/, never on the accepted bytes.
    post_form(&form, blob_suite::data(500, 22)).await;
    blob_suite::assert_same(&h.read(key).await, &first);
    let late = h
        .store
        .claim_direct_post(key, 16)
        .await
        .expect("claimed")
        .expect("posted again");
    assert_eq!(late.size, 500);
    h.store.drop_direct_post(key, &late).await.expect("dropped");
    assert!(
        h.store
            .claim_direct_post(key, 16)
            .await
            .expect("claim")
            .is_none()
    );
    blob_suite::assert_same(&h.read(key).await, &first);

    // A claim whose bytes were posted over before they were accepted is not accepted, and
    // leaves nothing under the blob's key.
    let key = "videos/vi22/source";
    let form = h
        .store
        .direct_post_form(key, "video/mp4", 1000, Duration::from_secs(600))
        .await
        .expect("signed")
        .expect("S3 has forms");
    post_form(&form, blob_suite::data(300, 23)).await;
    let stale = h
        .store
        .claim_direct_post(key, 16)
        .await
        .expect("claim")
        .expect("posted");
    post_form(&form, blob_suite::data(301, 24)).await;
    assert!(matches!(
        h.store.accept_direct_post(key, &stale).await,
        Err(upload_tokens_core::store::StoreError::BlobGone(_))
    ));
    assert!(
        h.leftovers(key).await.is_empty(),
        "{:?}",
        h.leftovers(key).await
    );
    let fresh = h
        .store
        .claim_direct_post(key, 16)
        .await
        .expect("claim")
        .expect("the newer post");
    assert_eq!(fresh.size, 301);
    h.store
        .accept_direct_post(key, &fresh)
        .await
        .expect("accepted");
    blob_suite::assert_same(&h.read(key).await, &blob_suite::data(301, 24));
}

/// Sends `file` with the presigned POST `form`, as a browser would (the file last); checks S3
/// took it.
async fn post_form(form: &upload_tokens_core::store::blob::PostForm, file: Vec<u8>) {
    let mut body = Vec::new();
    for (k, v) in &form.fields {
        body.extend_from_slice(
            format!("--FORM\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n")
                .as_bytes(),
        );
    }
    body.extend_from_slice(
        b"--FORM\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.mp4\"\r\n\r\n",
    );
    body.extend_from_slice(&file);
    body.extend_from_slice(b"\r\n--FORM--\r\n");
    let (status, _, text) = http_send(
        "POST",
        &form.url,
        &[("Content-Type", "multipart/form-data; boundary=FORM")],
        &body,
    )
    .await;
    assert!(
        (200..300).contains(&status),
        "{status}: {}",
        String::from_utf8_lossy(&text)
    );
}
