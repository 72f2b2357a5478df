//! The real `local-api` binary as a child process: what can be killed with SIGKILL, aborted by
//! a crash hook, pointed at another AWS endpoint, and restarted on the same data.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, OnceLock, mpsc};
use std::time::Duration;

/// Builds the `local-api` binary (once per test binary) and returns the path of this
/// workspace's build of it.
///
/// Cargo copies (hard-links) the binary it builds to `<target>/debug/local-api`, a path that
/// every checkout sharing the target directory writes. The build itself sits in `deps/` under
/// a name unique to this checkout, so the test runs that file: the one with the same inode as
/// `local-api` right after two builds in a row agree.
pub fn binary() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let mut previous = None;
        for _ in 0..5 {
            let found = build_once();
            if previous.as_ref() == Some(&found) {
                return found;
            }
            previous = Some(found);
        }
        panic!("the local-api build keeps changing under this test (another build?)")
    })
    .clone()
}

fn build_once() -> PathBuf {
    use std::os::unix::fs::MetadataExt;
    let out = Command::new(env!("CARGO"))
        .args([
            "build",
            "--quiet",
            "-p",
            "local-api",
            "--bin",
            "local-api",
            "--message-format=json",
        ])
        .current_dir(super::workspace())
        .stderr(Stdio::inherit())
        .output()
        .expect("cargo build runs");
    assert!(out.status.success(), "cargo build -p local-api failed");
    let exe = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|m| m["executable"].as_str().map(PathBuf::from))
        .next_back()
        .expect("cargo names the local-api executable");
    let inode = std::fs::metadata(&exe).expect("local-api built").ino();
    let deps = exe.parent().expect("target profile dir").join("deps");
    std::fs::read_dir(&deps)
        .expect("deps dir")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("local_api-") && !n.contains('.'))
                && std::fs::metadata(p).is_ok_and(|m| m.ino() == inode)
        })
        .unwrap_or(exe)
}

/// How to start the server.
#[derive(Clone, Debug)]
pub struct Config {
    pub data_dir: PathBuf,
    /// `Some((table, bucket))`: `--store aws`; `None`: the embedded store.
    pub aws: Option<(String, String)>,
    /// `AWS_ENDPOINT_URL` of the child (a fault proxy, say); else inherited.
    pub endpoint: Option<String>,
    /// `UPLOAD_TOKENS_CRASH_AT` of the child.
    pub crash_at: Option<String>,
    /// The default project's key, given with `--api-key` at every start (the server never
    /// echoes a given key, and keeps the same one across restarts).
    pub api_key: String,
}

impl Config {
    pub fn embedded(data_dir: &Path) -> Self {
        Self {
            data_dir: data_dir.to_owned(),
            aws: None,
            endpoint: None,
            crash_at: None,
            api_key: upload_tokens_core::domain::random_alphanumeric(43),
        }
    }

    pub fn aws(data_dir: &Path, table: &str) -> Self {
        Self {
            aws: Some((table.to_owned(), table.to_lowercase())),
            ..Self::embedded(data_dir)
        }
    }

    pub fn crashing_at(&self, point: &str) -> Self {
        Self {
            crash_at: Some(point.to_owned()),
            ..self.clone()
        }
    }
}

/// A running `local-api` process.
pub struct Server {
    child: Arc<Mutex<Child>>,
    pub url: String,
    pub key: String,
    pub log: Arc<Mutex<String>>,
}

impl Server {
    /// Starts the binary on a free 127.0.0.1 port and waits until it serves.
    pub fn start(config: &Config) -> Self {
        let mut cmd = Command::new(binary());
        cmd.arg("--addr")
            .arg("127.0.0.1:0")
            .arg("--data-dir")
            .arg(&config.data_dir)
            .arg("--api-key")
            .arg(&config.api_key)
            .env("RUST_LOG", "warn")
            .env("NO_COLOR", "1")
            .env_remove("UPLOAD_TOKENS_CRASH_AT")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some((table, bucket)) = &config.aws {
            cmd.args(["--store", "aws", "--create-table", "--table", table])
                .args(["--bucket", bucket]);
        } else {
            cmd.args(["--store", "embedded"]);
        }
        if let Some(endpoint) = &config.endpoint {
            cmd.env("AWS_ENDPOINT_URL", endpoint);
        }
        if let Some(point) = &config.crash_at {
            cmd.env("UPLOAD_TOKENS_CRASH_AT", point);
        }
        let mut child = cmd.spawn().expect("local-api starts");
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = mpsc::channel::<String>();
        let stdout = child.stdout.take().expect("stdout");
        let stderr = child.stderr.take().expect("stderr");
        for (stream, tx) in [
            (Box::new(stdout) as Box<dyn std::io::Read + Send>, Some(tx)),
            (Box::new(stderr), None),
        ] {
            let log = log.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    if let Some(tx) = &tx {
                        let _ = tx.send(line.clone());
                    }
                    let mut log = log.lock().unwrap_or_else(|e| e.into_inner());
                    log.push_str(&line);
                    log.push('\n');
                }
            });
        }
        let mut url = None;
        while url.is_none() {
            match rx.recv_timeout(Duration::from_secs(60)) {
                Ok(line) => {
                    if let Some(rest) = line.strip_prefix("upload-tokens local API on ") {
                        url = rest.split_whitespace().next().map(str::to_owned);
                    }
                }
                Err(_) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!(
                        "local-api did not start; its output:\n{}",
                        log.lock().unwrap_or_else(|e| e.into_inner())
                    );
                }
            }
        }
        Self {
            child: Arc::new(Mutex::new(child)),
            url: url.expect("url"),
            key: config.api_key.clone(),
            log,
        }
    }

    pub fn api(&self) -> super::Api {
        super::Api::at(&self.url, &self.key, false)
    }

    /// SIGKILL, then reaps it.
    pub fn kill(self) {
        drop(self);
    }

    /// The process, for a timer that kills it (`Child::kill` is SIGKILL).
    pub fn handle(&self) -> Arc<Mutex<Child>> {
        self.child.clone()
    }

    /// Waits up to `timeout` for the process to exit by itself.
    pub fn exited_within(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let polled = self
                .child
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .try_wait();
            if let Ok(Some(status)) = polled {
                return Some(status);
            }
            if std::time::Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn output(&self) -> String {
        self.log.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let mut child = self.child.lock().unwrap_or_else(|e| e.into_inner());
        let _ = child.kill();
        let _ = child.wait();
    }
}
