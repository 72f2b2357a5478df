//! tus 1.0 (SPEC §10) over HTTP on every form: the embedded store, DynamoDB and S3 in moto, and
//! behind the API Gateway emulator (one function per route). The protocol's rules as the tus
//! specification states them (headers, 412, 409, 413, 415, deferred length, termination,
//! expiration), the token's policy, the integrity rules (racing PATCHes at one offset, an
//! interrupted PATCH), and the result read back as any video (`/videos/{id}`, `assets.mp4`).
//!
//! Real clients (tus-js-client, Uppy's Tus plugin) are `tus_clients.rs`.

mod support;

use local_api::StoreKind;
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use support::upload::{MIB, data, sha, stored_sha};
use support::{Api, Deployment, options};

/// An answer: status, headers, body.
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    text: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn number(&self, name: &str) -> u64 {
        self.header(name)
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{name} in {:?}", self.headers))
    }

    fn expect(&self, status: u16) -> &Self {
        assert_eq!(
            self.status.as_u16(),
            status,
            "{:?} {}",
            self.headers,
            self.text
        );
        assert_eq!(
            self.header("tus-resumable"),
            Some("1.0.0"),
            "every answer carries Tus-Resumable: {:?}",
            self.headers
        );
        self
    }
}

/// A token's view of `/upload/{token}/tus`.
struct Tus<'a> {
    api: &'a Api,
    token: String,
}

impl<'a> Tus<'a> {
    fn new(api: &'a Api, token: &str) -> Self {
        Tus {
            api,
            token: token.to_owned(),
        }
    }

    fn endpoint(&self) -> String {
        format!("{}/upload/{}/tus", self.api.base, self.token)
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Answer {
        let response = request.send().await.expect("the server answers");
        Answer {
            status: response.status(),
            headers: response.headers().clone(),
            text: response.text().await.unwrap_or_default(),
        }
    }

    fn request(
        &self,
        method: Method,
        url: &str,
        headers: &[(&str, &str)],
    ) -> reqwest::RequestBuilder {
        let mut request = self.api.http.request(method, url);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request
    }

    async fn create(&self, headers: &[(&str, &str)], body: &[u8]) -> Answer {
        let mut all = vec![("Tus-Resumable", "1.0.0")];
        all.extend_from_slice(headers);
        if !body.is_empty() {
            all.push(("Content-Type", "application/offset+octet-stream"));
        }
        self.send(
            self.request(Method::POST, &self.endpoint(), &all)
                .body(body.to_vec()),
        )
        .await
    }

    /// Creates an upload of `length` bytes named `name`; its absolute URL.
    async fn upload(&self, length: u64, name: &str) -> String {
        let length = length.to_string();
        let metadata = format!("filename {},filetype dmlkZW8vbXA0", b64(name));
        let created = self
            .create(
                &[("Upload-Length", &length), ("Upload-Metadata", &metadata)],
                &[],
            )
            .await;
        created.expect(201);
        self.location(&created)
    }

    /// The upload's URL, resolved as clients resolve it against the creation URL.
    fn location(&self, created: &Answer) -> String {
        let location = created.header("location").expect("a Location");
        if location.starts_with("http") {
            location.to_owned()
        } else {
            assert!(location.starts_with("/upload/"), "{location}");
            format!("{}{location}", self.api.base)
        }
    }

    async fn head(&self, url: &str) -> Answer {
        self.send(self.request(Method::HEAD, url, &[("Tus-Resumable", "1.0.0")]))
            .await
    }

    async fn patch_with(
        &self,
        url: &str,
        offset: u64,
        body: &[u8],
        extra: &[(&str, &str)],
    ) -> Answer {
        let offset = offset.to_string();
        let mut headers = vec![
            ("Tus-Resumable", "1.0.0"),
            ("Content-Type", "application/offset+octet-stream"),
            ("Upload-Offset", offset.as_str()),
        ];
        headers.extend_from_slice(extra);
        self.send(
            self.request(Method::PATCH, url, &headers)
                .body(body.to_vec()),
        )
        .await
    }

    async fn patch(&self, url: &str, offset: u64, body: &[u8]) -> Answer {
        self.patch_with(url, offset, body, &[]).await
    }

    async fn offset(&self, url: &str) -> u64 {
        self.head(url).await.expect(200).number("upload-offset")
    }
}

fn b64(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s)
}

fn video_id(url: &str) -> String {
    url.rsplit('/').next().expect("an id").to_owned()
}

async fn token_with(api: &Api, body: &str) -> String {
    let reply = api.create(body).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.json["token"].as_str().expect("token").to_owned()
}

/// Discovery, versions and the headers a creation must carry.
async fn discovery_and_refusals(api: &Api) {
    let token = token_with(api, r#"{"ttl":3600}"#).await;
    let tus = Tus::new(api, &token);
    let options = tus
        .send(tus.request(Method::OPTIONS, &tus.endpoint(), &[]))
        .await;
    options.expect(204);
    assert_eq!(options.header("tus-version"), Some("1.0.0"));
    let extensions = options.header("tus-extension").expect("Tus-Extension");
    for e in [
        "creation",
        "creation-with-upload",
        "creation-defer-length",
        "termination",
        "expiration",
    ] {
        assert!(extensions.split(',').any(|x| x == e), "{extensions}");
    }
    assert!(options.number("tus-max-size") > 0);
    // The token's maxFileBytes is the largest upload it takes.
    let limited = token_with(
        api,
        r#"{"ttl":3600,"maxFileBytes":1000,"allowedContentTypes":["video/*"]}"#,
    )
    .await;
    let small = Tus::new(api, &limited);
    let options = small
        .send(small.request(Method::OPTIONS, &small.endpoint(), &[]))
        .await;
    assert_eq!(options.expect(204).number("tus-max-size"), 1000);
    small
        .create(&[("Upload-Length", "1001")], &[])
        .await
        .expect(413);
    small
        .create(
            &[
                ("Upload-Length", "10"),
                (
                    "Upload-Metadata",
                    &format!("filetype {}", b64("text/plain")),
                ),
            ],
            &[],
        )
        .await
        .expect(415);
    // Versions: absent or another is 412, naming the one spoken.
    for version in [None, Some("0.2.2"), Some("1.0")] {
        let mut request = tus.request(Method::POST, &tus.endpoint(), &[("Upload-Length", "10")]);
        if let Some(v) = version {
            request = request.header("Tus-Resumable", v);
        }
        let answer = tus.send(request).await;
        answer.expect(412);
        assert_eq!(answer.header("tus-version"), Some("1.0.0"));
    }
    // Lengths: one of Upload-Length and Upload-Defer-Length: 1, a file of at least 1 byte;
    // metadata pairs of a key and a base64 value.
    for headers in [
        vec![],
        vec![("Upload-Length", "-1")],
        vec![("Upload-Length", "ten")],
        vec![("Upload-Length", "0")],
        vec![("Upload-Length", "10"), ("Upload-Defer-Length", "1")],
        vec![("Upload-Defer-Length", "2")],
        vec![("Upload-Length", "10"), ("Upload-Metadata", "filename !!!")],
        vec![
            ("Upload-Length", "10"),
            ("Upload-Metadata", "a YQ==,a YQ=="),
        ],
    ] {
        let answer = tus.create(&headers, &[]).await;
        answer.expect(400);
        assert!(!answer.text.is_empty(), "a refusal says why");
    }
    // Over the deployment's maximum (50 GiB by default): 413.
    tus.create(&[("Upload-Length", "99999999999999")], &[])
        .await
        .expect(413);
    // A bad token: 401, still a tus answer.
    let other = Tus::new(api, "toAAAAAAAAAAAAAAAAAAAAAA");
    other
        .create(&[("Upload-Length", "10")], &[])
        .await
        .expect(401);
}

/// An upload in PATCHes, every refusal on the way leaving it as it was.
async fn patches(api: &Api) {
    let token = token_with(api, r#"{"ttl":3600}"#).await;
    let tus = Tus::new(api, &token);
    let file = data(9 * MIB + 333, 71);
    let url = tus.upload(file.len() as u64, "clip.mp4").await;
    let head = tus.head(&url).await;
    head.expect(200);
    assert_eq!(head.number("upload-offset"), 0);
    assert_eq!(head.number("upload-length"), file.len() as u64);
    assert_eq!(head.header("cache-control"), Some("no-store"));
    assert_eq!(
        head.header("upload-metadata"),
        Some(format!("filename {},filetype dmlkZW8vbXA0", b64("clip.mp4")).as_str())
    );
    let expires = head.header("upload-expires").expect("Upload-Expires");
    let expires = chrono::DateTime::parse_from_rfc2822(&expires.replace("GMT", "+0000"))
        .expect("an HTTP date");
    let in_an_hour = chrono::Utc::now() + chrono::TimeDelta::seconds(3601);
    assert!(
        expires <= in_an_hour,
        "no later than the token's expiry: {expires}"
    );

    // Refusals: a wrong content type (415), a wrong or missing offset (409, 400).
    let answer = tus
        .send(
            tus.request(
                Method::PATCH,
                &url,
                &[
                    ("Tus-Resumable", "1.0.0"),
                    ("Upload-Offset", "0"),
                    ("Content-Type", "application/octet-stream"),
                ],
            )
            .body(file[..10].to_vec()),
        )
        .await;
    answer.expect(415);
    tus.patch(&url, 5, &file[..10]).await.expect(409);
    tus.send(
        tus.request(
            Method::PATCH,
            &url,
            &[
                ("Tus-Resumable", "1.0.0"),
                ("Content-Type", "application/offset+octet-stream"),
            ],
        )
        .body(file[..10].to_vec()),
    )
    .await
    .expect(400);
    assert_eq!(tus.offset(&url).await, 0);

    let first = 4 * MIB + 7;
    let patched = tus.patch(&url, 0, &file[..first]).await;
    assert_eq!(patched.expect(204).number("upload-offset"), first as u64);
    assert!(patched.header("upload-expires").is_some());
    // The same PATCH again (a retry whose reply was lost): 409, the client asks HEAD.
    tus.patch(&url, 0, &file[..first]).await.expect(409);
    assert_eq!(tus.offset(&url).await, first as u64);
    // Past the length: 413, nothing stored.
    let mut too_long = file[first..].to_vec();
    too_long.push(0);
    tus.patch(&url, first as u64, &too_long).await.expect(413);
    // A changed length: 400.
    tus.patch_with(
        &url,
        first as u64,
        &file[first..first + 10],
        &[("Upload-Length", "5")],
    )
    .await
    .expect(400);
    assert_eq!(tus.offset(&url).await, first as u64);
    // An empty PATCH changes nothing.
    assert_eq!(
        tus.patch(&url, first as u64, &[])
            .await
            .expect(204)
            .number("upload-offset"),
        first as u64
    );
    // The rest, by the method override (clients that cannot send PATCH).
    let offset = first.to_string();
    let rest = tus
        .send(
            tus.request(
                Method::POST,
                &url,
                &[
                    ("Tus-Resumable", "1.0.0"),
                    ("X-HTTP-Method-Override", "PATCH"),
                    ("Content-Type", "application/offset+octet-stream"),
                    ("Upload-Offset", &offset),
                ],
            )
            .body(file[first..].to_vec()),
        )
        .await;
    assert_eq!(rest.expect(204).number("upload-offset"), file.len() as u64);
    assert!(
        rest.header("upload-expires").is_none(),
        "a complete upload does not expire"
    );
    // A POST on the upload without the override is not a method it has.
    tus.send(tus.request(Method::POST, &url, &[("Tus-Resumable", "1.0.0")]))
        .await
        .expect(405);
    let head = tus.head(&url).await;
    assert_eq!(head.expect(200).number("upload-offset"), file.len() as u64);
    // A video like any other.
    let id = video_id(&url);
    let video = api.get(&format!("/videos/{id}")).await;
    assert_eq!(video.status, 200, "{}", video.text);
    assert_eq!(video.json["title"], "clip.mp4");
    assert_eq!(stored_sha(api, &id).await, sha(&file));
    let status = api.get(&format!("/videos/{id}/status")).await;
    assert_eq!(
        status.json["ingest"]["status"], "uploaded",
        "{}",
        status.text
    );
    assert_eq!(status.json["ingest"]["filesize"], file.len());
    // Complete: more bytes are past its length; terminating it is the API key's business.
    tus.patch(&url, file.len() as u64, b"x").await.expect(413);
    tus.send(tus.request(Method::DELETE, &url, &[("Tus-Resumable", "1.0.0")]))
        .await
        .expect(403);
    assert_eq!(stored_sha(api, &id).await, sha(&file));
}

/// A deferred length, told by the last PATCH or by an empty one; creation with upload.
async fn lengths(api: &Api) {
    let token = token_with(api, r#"{"ttl":3600}"#).await;
    let tus = Tus::new(api, &token);
    // Told by an empty PATCH once every byte is there.
    let file = data(6 * MIB + 5, 72);
    let created = tus.create(&[("Upload-Defer-Length", "1")], &[]).await;
    created.expect(201);
    let url = tus.location(&created);
    let head = tus.head(&url).await;
    head.expect(200);
    assert_eq!(head.header("upload-defer-length"), Some("1"));
    assert!(head.header("upload-length").is_none());
    // PATCHes of at most 4 MiB: these run behind API Gateway too.
    tus.patch(&url, 0, &file[..4 * MIB]).await.expect(204);
    tus.patch(&url, 4 * MIB as u64, &file[4 * MIB..])
        .await
        .expect(204);
    let length = file.len().to_string();
    let done = tus
        .patch_with(&url, file.len() as u64, &[], &[("Upload-Length", &length)])
        .await;
    assert_eq!(done.expect(204).number("upload-offset"), file.len() as u64);
    let head = tus.head(&url).await;
    assert_eq!(head.expect(200).number("upload-length"), file.len() as u64);
    // Told again (a retry): the same; told otherwise: 400.
    tus.patch_with(&url, file.len() as u64, &[], &[("Upload-Length", &length)])
        .await
        .expect(204);
    tus.patch_with(&url, file.len() as u64, &[], &[("Upload-Length", "7")])
        .await
        .expect(400);
    assert_eq!(stored_sha(api, &video_id(&url)).await, sha(&file));

    // Told with the last bytes.
    let file = data(3 * MIB + 1, 73);
    let created = tus.create(&[("Upload-Defer-Length", "1")], &[]).await;
    let url = tus.location(&created);
    tus.patch(&url, 0, &file[..MIB]).await.expect(204);
    let length = file.len().to_string();
    tus.patch_with(
        &url,
        MIB as u64,
        &file[MIB..],
        &[("Upload-Length", &length)],
    )
    .await
    .expect(204);
    assert_eq!(stored_sha(api, &video_id(&url)).await, sha(&file));

    // Creation with upload: the whole file in the POST, and the first part of another.
    let file = data(2 * MIB + 3, 74);
    let length = file.len().to_string();
    let created = tus.create(&[("Upload-Length", &length)], &file).await;
    assert_eq!(
        created.expect(201).number("upload-offset"),
        file.len() as u64
    );
    assert_eq!(
        stored_sha(api, &video_id(&tus.location(&created))).await,
        sha(&file)
    );
    let created = tus
        .create(&[("Upload-Length", &length)], &file[..MIB])
        .await;
    let url = tus.location(&created);
    assert_eq!(created.expect(201).number("upload-offset"), MIB as u64);
    tus.patch(&url, MIB as u64, &file[MIB..]).await.expect(204);
    assert_eq!(stored_sha(api, &video_id(&url)).await, sha(&file));
    // Data in a POST that is not of the tus type: 415, nothing created.
    let answer = tus
        .send(
            tus.request(
                Method::POST,
                &tus.endpoint(),
                &[
                    ("Tus-Resumable", "1.0.0"),
                    ("Upload-Length", "3"),
                    ("Content-Type", "text/plain"),
                ],
            )
            .body("abc"),
        )
        .await;
    answer.expect(415);
    assert!(answer.header("location").is_none());
}

/// Termination, and a token deleted during an upload.
async fn endings(api: &Api) {
    let token = token_with(api, r#"{"ttl":3600}"#).await;
    let tus = Tus::new(api, &token);
    let file = data(7 * MIB, 75);
    let url = tus.upload(file.len() as u64, "gone.mp4").await;
    tus.patch(&url, 0, &file[..4 * MIB]).await.expect(204);
    tus.send(tus.request(Method::DELETE, &url, &[("Tus-Resumable", "1.0.0")]))
        .await
        .expect(204);
    tus.head(&url).await.expect(404);
    tus.patch(&url, 4 * MIB as u64, &file[4 * MIB..5 * MIB])
        .await
        .expect(404);
    let video = api.get(&format!("/videos/{}", video_id(&url))).await;
    assert_eq!(video.status, 404, "{}", video.text);
    // Another token of the same project may go on with it, as on /upload.
    let url = tus.upload(file.len() as u64, "token-gone.mp4").await;
    let stranger = token_with(api, r#"{"ttl":3600}"#).await;
    let foreign = url.replace(&token, &stranger);
    tus.head(&foreign).await.expect(200);
    // A deleted token stops the next request at once.
    tus.patch(&url, 0, &file[..MIB]).await.expect(204);
    let deleted = api.delete(&format!("/upload-tokens/{token}")).await;
    assert_eq!(deleted.status, 204, "{}", deleted.text);
    tus.patch(&url, MIB as u64, &file[MIB..2 * MIB])
        .await
        .expect(401);
    tus.head(&url).await.expect(401);
    let status = api.get(&format!("/videos/{}/status", video_id(&url))).await;
    assert_eq!(
        status.json["ingest"]["receivedBytes"][0]["to"],
        MIB - 1,
        "{}",
        status.text
    );
}

/// Two PATCHes at one offset at once: exactly one 204, and the file holds its bytes; an
/// interrupted PATCH stores nothing, and HEAD + PATCH resume exactly.
async fn integrity(api: &Api) {
    let token = token_with(api, r#"{"ttl":3600}"#).await;
    let tus = Tus::new(api, &token);
    for trial in 0..6u64 {
        let a = data(2 * MIB + 11, 100 + trial);
        let b = if trial % 3 == 0 {
            a.clone()
        } else {
            data(2 * MIB + 11, 200 + trial)
        };
        let url = tus.upload(a.len() as u64, "race.mp4").await;
        let (ra, rb) = tokio::join!(tus.patch(&url, 0, &a), tus.patch(&url, 0, &b));
        let statuses = [ra.status.as_u16(), rb.status.as_u16()];
        let mut sorted = statuses;
        sorted.sort_unstable();
        assert_eq!(
            sorted,
            [204, 409],
            "trial {trial}: {} / {}",
            ra.text,
            rb.text
        );
        let winner = if statuses[0] == 204 { &a } else { &b };
        assert_eq!(
            stored_sha(api, &video_id(&url)).await,
            sha(winner),
            "trial {trial}"
        );
    }
    // A PATCH whose body stops midway (the connection drops): nothing of it is stored.
    let file = data(8 * MIB, 77);
    let url = tus.upload(file.len() as u64, "cut.mp4").await;
    tus.patch(&url, 0, &file[..MIB]).await.expect(204);
    cut_patch(&url, MIB, &file[MIB..3 * MIB], 7 * MIB).await;
    let offset = tus.offset(&url).await;
    assert_eq!(offset, MIB as u64, "an interrupted PATCH stores nothing");
    tus.patch(&url, offset, &file[MIB..]).await.expect(204);
    assert_eq!(stored_sha(api, &video_id(&url)).await, sha(&file));
}

/// Sends a PATCH at `offset` announcing `announced` bytes, sends only `sent`, and drops the
/// connection (a client whose network goes away mid-chunk).
async fn cut_patch(url: &str, offset: usize, sent: &[u8], announced: usize) {
    use tokio::io::AsyncWriteExt;
    let rest = url.strip_prefix("http://").expect("an http URL");
    let (authority, path) = rest.split_at(rest.find('/').expect("a path"));
    let mut stream = tokio::net::TcpStream::connect(authority)
        .await
        .expect("connects");
    let head = format!(
        "PATCH {path} HTTP/1.1\r\nHost: {authority}\r\nTus-Resumable: 1.0.0\r\n\
         Content-Type: application/offset+octet-stream\r\nUpload-Offset: {offset}\r\n\
         Content-Length: {announced}\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.expect("head sent");
    stream.write_all(sent).await.expect("part of the body sent");
    stream.flush().await.expect("flushed");
    drop(stream);
    // Let the server see the connection go.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
}

async fn everything(api: &Api) {
    discovery_and_refusals(api).await;
    patches(api).await;
    lengths(api).await;
    endings(api).await;
    integrity(api).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn tus_on_the_embedded_store() {
    let dir = tempfile::tempdir().expect("temp dir");
    let deployment = Deployment::local(options(dir.path(), StoreKind::Embedded, None)).await;
    let api = Api::new(&deployment);
    everything(&api).await;
    // CORS: a page reads the tus headers.
    let token = token_with(&api, r#"{"ttl":3600}"#).await;
    let tus = Tus::new(&api, &token);
    let created = tus
        .send(tus.request(
            Method::POST,
            &tus.endpoint(),
            &[
                ("Tus-Resumable", "1.0.0"),
                ("Upload-Length", "3"),
                ("Origin", "http://page.test"),
            ],
        ))
        .await;
    created.expect(201);
    assert_eq!(created.header("access-control-allow-origin"), Some("*"));
    let exposed = created
        .header("access-control-expose-headers")
        .expect("exposed headers");
    for h in [
        "Location",
        "Upload-Offset",
        "Upload-Length",
        "Upload-Expires",
        "Tus-Resumable",
    ] {
        assert!(exposed.contains(h), "{exposed}");
    }
    let preflight = tus
        .send(tus.request(
            Method::OPTIONS,
            &tus.location(&created),
            &[
                ("Origin", "http://page.test"),
                ("Access-Control-Request-Method", "PATCH"),
                (
                    "Access-Control-Request-Headers",
                    "tus-resumable,upload-offset,content-type",
                ),
            ],
        ))
        .await;
    assert!(preflight.status.is_success(), "{}", preflight.text);
    let allowed = preflight
        .header("access-control-allow-headers")
        .expect("allowed headers");
    assert!(
        allowed.contains("upload-offset") && allowed.contains("tus-resumable"),
        "{allowed}"
    );
    assert!(
        preflight
            .header("access-control-allow-methods")
            .is_some_and(|m| m.contains("PATCH"))
    );
    deployment.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn tus_on_dynamodb_and_s3() {
    if test_gate::require_moto("tus_on_dynamodb_and_s3").is_none() {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let table = support::table_name("tus");
    let deployment = Deployment::local(options(dir.path(), StoreKind::Aws, Some(table))).await;
    let api = Api::new(&deployment);
    everything(&api).await;
    deployment.stop().await;
}

/// The deployed form: each tus route its own function behind API Gateway (emulated); PATCHes of
/// at most 4 MiB, as the clients are told to send behind it.
#[tokio::test(flavor = "multi_thread")]
async fn tus_behind_api_gateway() {
    let Some(deployment) = Deployment::gateway("tus_behind_api_gateway").await else {
        return;
    };
    let api = Api::new(&deployment);
    discovery_and_refusals(&api).await;
    lengths(&api).await;
    endings(&api).await;
    // A PATCH over what API Gateway carries is its 413, and changes nothing.
    let token = token_with(&api, r#"{"ttl":3600}"#).await;
    let tus = Tus::new(&api, &token);
    let file = data(12 * MIB, 78);
    let url = tus.upload(file.len() as u64, "big.mp4").await;
    let refused = tus.patch(&url, 0, &file[..7 * MIB]).await;
    assert_eq!(refused.status.as_u16(), 413, "{}", refused.text);
    let mut offset = 0;
    for piece in file.chunks(4 * MIB) {
        let answer = tus.patch(&url, offset, piece).await;
        offset = answer.expect(204).number("upload-offset");
    }
    assert_eq!(offset, file.len() as u64);
    assert_eq!(stored_sha(&api, &video_id(&url)).await, sha(&file));
    deployment.stop().await;
}

/// `--lambda-limits`: a PATCH API Gateway would refuse is refused the same way (413, a tus
/// answer), and changes nothing; 4 MiB PATCHes fit.
#[tokio::test(flavor = "multi_thread")]
async fn lambda_limits_refuse_an_oversized_patch() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut opts = options(dir.path(), StoreKind::Embedded, None);
    opts.lambda_limits = true;
    let deployment = Deployment::local(opts).await;
    let api = Api::new(&deployment);
    let token = token_with(&api, r#"{"ttl":3600}"#).await;
    let tus = Tus::new(&api, &token);
    let file = data(9 * MIB, 79);
    let url = tus.upload(file.len() as u64, "limits.mp4").await;
    let refused = tus.patch(&url, 0, &file[..5 * MIB]).await;
    refused.expect(413);
    assert_eq!(tus.offset(&url).await, 0);
    let mut offset = 0;
    for piece in file.chunks(4 * MIB) {
        offset = tus
            .patch(&url, offset, piece)
            .await
            .expect(204)
            .number("upload-offset");
    }
    assert_eq!(stored_sha(&api, &video_id(&url)).await, sha(&file));
    deployment.stop().await;
}
