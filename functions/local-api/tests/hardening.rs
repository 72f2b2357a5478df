//! The local server's smaller holes: a replaced `--api-key` stops working, the data directory
//! is its owner's only, the banner never echoes a given key, and links never take a scheme or
//! host from a client that is not trusted to give them.

mod support;

use local_api::{KeyOrigin, LocalError, Options, open_store, start};
use support::{Server, basic, send};
use upload_tokens_core::auth::ApiKey;

const KEY_A: &str = "first-local-key-0123456789";
const KEY_B: &str = "second-local-key-0123456789";

fn options(dir: &std::path::Path, key: Option<&str>) -> Options {
    let mut options = Options::new(dir, "127.0.0.1:0");
    options.api_key = key.map(str::to_owned);
    options
}

async fn key_is_live(dir: &std::path::Path, key: &str) -> bool {
    let store = open_store(&options(dir, None).store).await.expect("store");
    let hash = ApiKey::parse(key).expect("key").hash();
    store.api_key_by_hash(&hash).await.expect("read").is_some()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_api_key_revokes_the_previous_default_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Generated at the first start, then replaced.
    let first = start(options(dir.path(), None)).await.expect("start");
    assert_eq!(first.project.key_origin, KeyOrigin::Generated);
    let generated = first.project.api_key.expose().to_owned();
    first.stop().await.expect("stop");
    let second = start(options(dir.path(), Some(KEY_A)))
        .await
        .expect("start");
    assert_eq!(second.project.key_origin, KeyOrigin::Given);
    let project = second.project.project_id.clone();
    second.stop().await.expect("stop");
    assert!(
        !key_is_live(dir.path(), &generated).await,
        "generated key revoked"
    );
    assert!(key_is_live(dir.path(), KEY_A).await);

    // Given, then another given: the first one stops working, over HTTP too.
    let third = start(options(dir.path(), Some(KEY_B)))
        .await
        .expect("start");
    assert_eq!(third.project.project_id, project, "same project");
    let addr = third.addr.to_string();
    tokio::task::spawn_blocking(move || {
        for (key, status) in [(KEY_A, 401), (KEY_B, 200)] {
            let r = send(
                &addr,
                format!(
                    "GET /upload-tokens HTTP/1.1\r\nHost: {addr}\r\nAuthorization: {}\r\n\
                     Connection: close\r\n\r\n",
                    basic(key)
                )
                .as_bytes(),
            );
            assert_eq!(r.status, status, "{key}: {r:?}");
        }
    })
    .await
    .expect("client");
    third.stop().await.expect("stop");
    assert!(
        !key_is_live(dir.path(), KEY_A).await,
        "replaced key revoked"
    );

    // Restarting without --api-key keeps the saved one.
    let fourth = start(options(dir.path(), None)).await.expect("start");
    assert_eq!(fourth.project.key_origin, KeyOrigin::Saved);
    assert_eq!(fourth.project.api_key.expose(), KEY_B);
    fourth.stop().await.expect("stop");
    assert!(key_is_live(dir.path(), KEY_B).await, "kept");
}

#[cfg(unix)]
#[tokio::test]
async fn the_data_directory_and_its_files_are_for_the_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let parent = tempfile::tempdir().expect("tempdir");
    let dir = parent.path().join("data");
    let mut opts = options(&dir, None);
    opts.tls = true;
    let server = start(opts).await.expect("start");
    server.stop().await.expect("stop");
    let mode = |p: &std::path::Path| {
        std::fs::metadata(p)
            .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(mode(&dir), 0o700, "data dir");
    for sub in ["blobs", "tls"] {
        assert_eq!(mode(&dir.join(sub)), 0o700, "{sub}");
    }
    for file in [
        "upload-tokens.db",
        "upload-tokens.db-wal",
        "upload-tokens.db-shm",
        "default-project.json",
        "signing-secret",
        "tls/cert.pem",
    ] {
        let path = dir.join(file);
        if file.ends_with("-wal") || file.ends_with("-shm") {
            // SQLite may remove them when the last connection closes.
            if !path.exists() {
                continue;
            }
        }
        assert_eq!(mode(&path), 0o600, "{file}");
    }
}

#[test]
fn the_banner_shows_a_generated_key_once_and_never_a_given_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let first = Server::start(dir.path(), &[]);
    let generated = first
        .banner
        .lines()
        .find_map(|l| l.strip_prefix("API key: "))
        .and_then(|l| l.split_whitespace().next())
        .expect("a generated key is shown")
        .to_owned();
    assert!(ApiKey::parse(&generated).is_ok(), "{generated}");
    drop(first);
    let again = Server::start(dir.path(), &[]);
    assert!(!again.banner.contains(&generated), "{}", again.banner);
    drop(again);
    let given = Server::start(dir.path(), &["--api-key", KEY_A]);
    assert!(!given.banner.contains(KEY_A), "{}", given.banner);
    assert!(given.banner.contains("--api-key"), "{}", given.banner);
}

/// Uploads a small file and returns the video id.
fn upload(addr: &str, key: &str) -> String {
    let token = support::create_token(addr, key);
    let r = send(
        addr,
        &support::upload_request(addr, &token, b"not really a video", ""),
    );
    assert_eq!(r.status, 201, "{r:?}");
    let json: serde_json::Value = serde_json::from_str(&r.body).expect("json");
    json["videoId"].as_str().expect("videoId").to_owned()
}

/// `assets.mp4` of the video as this request sees it.
fn link(addr: &str, video: &str, extra_headers: &str) -> String {
    let r = send(
        addr,
        format!(
            "GET /videos/{video} HTTP/1.1\r\n{extra_headers}Authorization: {}\r\n\
             Connection: close\r\n\r\n",
            basic(KEY_A)
        )
        .as_bytes(),
    );
    assert_eq!(r.status, 200, "{r:?}");
    let json: serde_json::Value = serde_json::from_str(&r.body).expect("json");
    json["assets"]["mp4"].as_str().expect("mp4").to_owned()
}

const HOSTILE: &str = "Host: javascript:alert(1)//\r\nX-Forwarded-Proto: javascript\r\n\
                       X-Forwarded-Host: evil.example\"><script>\r\n";

#[tokio::test(flavor = "multi_thread")]
async fn links_use_the_public_url_or_the_listening_address_never_a_hostile_header() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(options(dir.path(), Some(KEY_A)))
        .await
        .expect("start");
    let addr = server.addr.to_string();
    let base = server.url();
    let (video, links) = tokio::task::spawn_blocking(move || {
        let video = upload(&addr, KEY_A);
        let links = [
            link(&addr, &video, &format!("Host: {addr}\r\n")),
            link(&addr, &video, HOSTILE),
            link(
                &addr,
                &video,
                "Host: other.example\r\nX-Forwarded-Proto: https\r\n",
            ),
        ];
        (video, links)
    })
    .await
    .expect("client");
    server.stop().await.expect("stop");
    for l in &links {
        assert!(l.starts_with(&format!("{base}/downloads/{video}?")), "{l}");
    }

    // Behind a trusted proxy: valid forwarded values are used, hostile ones are not.
    let mut opts = options(dir.path(), Some(KEY_A));
    opts.trust_proxy = true;
    let server = start(opts).await.expect("start");
    let addr = server.addr.to_string();
    let base = server.url();
    let links = tokio::task::spawn_blocking(move || {
        [
            link(
                &addr,
                &video,
                "Host: internal\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: v.example:8443\r\n",
            ),
            link(&addr, &video, HOSTILE),
            link(
                &addr,
                &video,
                "Host: v.example\r\nX-Forwarded-Proto: javascript\r\n",
            ),
        ]
    })
    .await
    .expect("client");
    server.stop().await.expect("stop");
    assert!(
        links[0].starts_with("https://v.example:8443/downloads/"),
        "{}",
        links[0]
    );
    assert!(
        links[1].starts_with(&format!("{base}/downloads/")),
        "{}",
        links[1]
    );
    assert!(
        links[2].starts_with(&format!("{base}/downloads/")),
        "{}",
        links[2]
    );

    // A public URL wins.
    let mut opts = options(dir.path(), Some(KEY_A));
    opts.public_url = Some("https://videos.example.com/api/".into());
    opts.trust_proxy = true;
    let server = start(opts).await.expect("start");
    let addr = server.addr.to_string();
    let video_id = links[0]
        .split("/downloads/")
        .nth(1)
        .and_then(|rest| rest.split('?').next())
        .expect("id")
        .to_owned();
    let links = tokio::task::spawn_blocking(move || {
        [
            link(&addr, &video_id, HOSTILE),
            link(
                &addr,
                &video_id,
                "Host: a\r\nX-Forwarded-Proto: http\r\nX-Forwarded-Host: b\r\n",
            ),
        ]
    })
    .await
    .expect("client");
    server.stop().await.expect("stop");
    for l in &links {
        assert!(
            l.starts_with("https://videos.example.com/api/downloads/"),
            "{l}"
        );
    }
}

#[tokio::test]
async fn a_public_url_must_be_http_or_https() {
    let dir = tempfile::tempdir().expect("tempdir");
    for bad in [
        "javascript:alert(1)",
        "ftp://x.example",
        "x.example",
        "http://a@b.example",
    ] {
        let mut opts = options(dir.path(), None);
        opts.public_url = Some(bad.into());
        match start(opts).await {
            Err(LocalError::Usage(message)) => {
                assert!(message.contains("--public-url"), "{message}")
            }
            Err(other) => panic!("{bad}: {other}"),
            Ok(_) => panic!("{bad} accepted"),
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn another_process_writing_stalls_neither_reads_nor_fails_writes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(options(dir.path(), Some(KEY_A)))
        .await
        .expect("start");
    let addr = server.addr.to_string();
    let db = dir.path().join("upload-tokens.db");
    let (results, list_took) = tokio::task::spawn_blocking(move || {
        // The admin command (any other connection) holds SQLite's write lock for 2 s.
        let holder = rusqlite::Connection::open(&db).expect("second connection");
        holder
            .execute_batch("BEGIN IMMEDIATE; DELETE FROM upload_tokens WHERE id = 'none';")
            .expect("write lock");
        let create = {
            let addr = addr.clone();
            std::thread::spawn(move || {
                let started = std::time::Instant::now();
                let token = support::create_token(&addr, KEY_A);
                (token, started.elapsed())
            })
        };
        std::thread::sleep(std::time::Duration::from_millis(300));
        let started = std::time::Instant::now();
        let list = send(
            &addr,
            format!(
                "GET /upload-tokens HTTP/1.1\r\nHost: {addr}\r\nAuthorization: {}\r\n\
                 Connection: close\r\n\r\n",
                basic(KEY_A)
            )
            .as_bytes(),
        );
        let list_took = started.elapsed();
        assert_eq!(list.status, 200, "{list:?}");
        assert!(!create.is_finished(), "the write waits for the lock");
        std::thread::sleep(std::time::Duration::from_millis(1700));
        holder.execute_batch("COMMIT").expect("commit");
        (create.join().expect("create"), list_took)
    })
    .await
    .expect("client");
    server.stop().await.expect("stop");
    let (token, create_took) = results;
    eprintln!(
        "list answered in {list_took:?} while the lock was held; create took {create_took:?}"
    );
    assert!(token.starts_with("to"), "{token}");
    // Reads are not queued behind the waiting write (before: ~10 s, then the write failed).
    assert!(
        list_took < std::time::Duration::from_secs(1),
        "{list_took:?}"
    );
    assert!(
        create_took >= std::time::Duration::from_millis(1500),
        "{create_took:?}"
    );
}

#[test]
fn every_request_is_logged_by_its_route_never_its_token_nor_in_colour() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start_logging(dir.path(), &["--api-key", KEY_A], "info");
    let token = support::create_token(&server.addr, KEY_A);
    let got = send(
        &server.addr,
        format!(
            "GET /upload-tokens/{token} HTTP/1.1\r\nAuthorization: {}\r\nConnection: close\r\n\r\n",
            basic(KEY_A)
        )
        .as_bytes(),
    );
    assert_eq!(got.status, 200, "{got:?}");
    // Stopped gracefully, the server writes every queued line before it exits.
    let lines = server.stop();
    let requests: Vec<&String> = lines
        .iter()
        .filter(|l| l.contains("request") && l.contains("route="))
        .collect();
    assert!(
        requests
            .iter()
            .any(|l| l.contains(r#"route="/upload-tokens""#) && l.contains("method=POST")),
        "{lines:#?}"
    );
    assert!(
        requests
            .iter()
            .any(|l| l.contains(r#"route="/upload-tokens/{token}""#)
                && l.contains("method=GET")
                && l.contains("status=200")),
        "{lines:#?}"
    );
    for line in &lines {
        assert!(!line.contains(&token), "a log line holds the token: {line}");
        assert!(!line.contains(KEY_A), "a log line holds the key: {line}");
        assert!(!line.contains('\u{1b}'), "escape codes in a pipe: {line:?}");
    }
}
