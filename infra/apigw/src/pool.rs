//! The execution environments of one function: processes of its binary, each polling its own
//! Runtime API, each handling one invocation at a time. A request takes an idle process, or
//! starts a new one (a cold start) while fewer than the cap are running, or waits for one.

use crate::runtime_api::{Outcome, RuntimeApi};
use crate::template::{EnvValue, Function};
use crate::{EmulatorError, Options, PASSED_THROUGH};
use bytes::Bytes;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Semaphore, watch};

/// What became of an invocation.
pub(crate) enum Invoked {
    /// The function's response document (not yet judged).
    Answer(Bytes),
    /// The function failed (error, crash, init error, its own timeout): API Gateway's 502.
    Failed(String),
    /// The integration timed out, or the emulator is stopping: API Gateway's 503.
    Unavailable(String),
}

/// The environment a function's processes get: Lambda's own variables, the template's (with the
/// table, bucket and secret filled in), and the AWS settings passed through.
pub(crate) fn environment(
    function: &Function,
    options: &Options,
    secret: &str,
) -> Result<Vec<(String, String)>, EmulatorError> {
    let mut env: Vec<(String, String)> = vec![
        (
            "PATH".into(),
            std::env::var("PATH").unwrap_or_else(|_| "/usr/local/bin:/usr/bin:/bin".into()),
        ),
        ("LANG".into(), "en_US.UTF-8".into()),
        ("TZ".into(), ":UTC".into()),
        ("_HANDLER".into(), "bootstrap".into()),
        ("AWS_LAMBDA_FUNCTION_NAME".into(), function.name.clone()),
        ("AWS_LAMBDA_FUNCTION_VERSION".into(), "$LATEST".into()),
        (
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE".into(),
            function.memory_mb.to_string(),
        ),
        (
            "AWS_LAMBDA_LOG_GROUP_NAME".into(),
            format!("/aws/lambda/{}", function.name),
        ),
        ("AWS_LAMBDA_INITIALIZATION_TYPE".into(), "on-demand".into()),
    ];
    for name in PASSED_THROUGH {
        if let Ok(value) = std::env::var(name) {
            env.push(((*name).to_owned(), value));
        }
    }
    if !env.iter().any(|(k, _)| k == "AWS_REGION") {
        env.push(("AWS_REGION".into(), "us-east-1".into()));
    }
    for (name, value) in &function.environment {
        let (name, value) = match value {
            EnvValue::Text(text) => (name.clone(), text.clone()),
            EnvValue::Table => (name.clone(), options.table.clone()),
            EnvValue::Bucket => (name.clone(), options.bucket.clone()),
            EnvValue::Secret => match name.strip_suffix("_ARN") {
                Some(plain) => (plain.to_owned(), secret.to_owned()),
                None => {
                    return Err(EmulatorError::Usage(format!(
                        "{}: {name} names a secret but does not end in _ARN: no local value for it",
                        function.name
                    )));
                }
            },
        };
        env.retain(|(k, _)| *k != name);
        env.push((name, value));
    }
    Ok(env)
}

struct Instance {
    api: RuntimeApi,
    child: tokio::process::Child,
    _running: Running,
}

/// Counts a live process while it exists.
struct Running(Arc<AtomicUsize>);

impl Drop for Running {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

pub(crate) struct Pool {
    function: Function,
    binary: PathBuf,
    environment: Vec<(String, String)>,
    permits: Semaphore,
    idle: Mutex<Vec<Instance>>,
    running: Arc<AtomicUsize>,
    started: AtomicUsize,
    logs: bool,
}

impl Pool {
    pub(crate) fn new(
        function: Function,
        binary: PathBuf,
        environment: Vec<(String, String)>,
        max_instances: usize,
        logs: bool,
    ) -> Self {
        Self {
            function,
            binary,
            environment,
            permits: Semaphore::new(max_instances),
            idle: Mutex::new(Vec::new()),
            running: Arc::new(AtomicUsize::new(0)),
            started: AtomicUsize::new(0),
            logs,
        }
    }

    pub(crate) fn name(&self) -> &str {
        &self.function.name
    }

    /// Processes alive now.
    pub(crate) fn running(&self) -> usize {
        self.running.load(Ordering::SeqCst)
    }

    fn idle(&self) -> std::sync::MutexGuard<'_, Vec<Instance>> {
        self.idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// An idle process that is still alive.
    fn take_idle(&self) -> Option<Instance> {
        let mut idle = self.idle();
        while let Some(mut instance) = idle.pop() {
            if matches!(instance.child.try_wait(), Ok(None)) {
                return Some(instance);
            }
        }
        None
    }

    async fn spawn(&self) -> std::io::Result<Instance> {
        let api = RuntimeApi::start(&self.function.name).await?;
        let n = self.started.fetch_add(1, Ordering::SeqCst);
        let output = || {
            if self.logs {
                Stdio::inherit()
            } else {
                Stdio::null()
            }
        };
        let child = tokio::process::Command::new(&self.binary)
            .env_clear()
            .envs(self.environment.iter().map(|(k, v)| (k, v)))
            .env("AWS_LAMBDA_RUNTIME_API", api.addr.to_string())
            .env("AWS_LAMBDA_LOG_STREAM_NAME", format!("local/{n}"))
            .stdin(Stdio::null())
            .stdout(output())
            .stderr(output())
            .kill_on_drop(true)
            .spawn()?;
        self.running.fetch_add(1, Ordering::SeqCst);
        Ok(Instance {
            api,
            child,
            _running: Running(self.running.clone()),
        })
    }

    /// One invocation on an idle or new process. A process that failed, timed out or was
    /// interrupted is killed (dropped); a healthy one goes back to the idle list.
    pub(crate) async fn invoke(
        &self,
        event: Bytes,
        integration_timeout: Duration,
        stopping: &mut watch::Receiver<bool>,
    ) -> Invoked {
        let Ok(_permit) = self.permits.acquire().await else {
            return Invoked::Unavailable("stopping".into());
        };
        if *stopping.borrow() {
            return Invoked::Unavailable("stopping".into());
        }
        let mut instance = match self.take_idle() {
            Some(instance) => instance,
            None => match self.spawn().await {
                Ok(instance) => instance,
                Err(e) => return Invoked::Failed(format!("cannot start the function: {e}")),
            },
        };
        let function_timeout = Duration::from_secs(self.function.timeout_secs);
        let outcome = tokio::select! {
            outcome = instance.api.invoke(event, function_timeout) => outcome,
            status = instance.child.wait() => {
                return Invoked::Failed(format!("the process exited during the invocation: {status:?}"));
            }
            () = tokio::time::sleep(integration_timeout.min(function_timeout)) => {
                return if integration_timeout <= function_timeout {
                    Invoked::Unavailable("integration timeout".into())
                } else {
                    Invoked::Failed(format!("Task timed out after {} seconds", function_timeout.as_secs()))
                };
            }
            _ = stopping.wait_for(|stop| *stop) => {
                return Invoked::Unavailable("stopping".into());
            }
        };
        let invoked = match outcome {
            Ok(Outcome::Response { body, .. }) => Invoked::Answer(body),
            Ok(Outcome::Error { body, .. }) => Invoked::Failed(format!("function error: {body}")),
            Ok(Outcome::InitError(e)) => return Invoked::Failed(format!("init error: {e}")),
            Err(e) => return Invoked::Failed(e.to_string()),
        };
        if matches!(instance.child.try_wait(), Ok(None)) && !*stopping.borrow() {
            self.idle().push(instance);
        }
        invoked
    }

    /// Kills the idle processes now (busy ones are killed by their request as it ends).
    pub(crate) fn kill_idle(&self) {
        self.permits.close();
        self.idle().clear();
    }

    /// Kills the idle processes and waits for them to exit.
    pub(crate) async fn shut_down(&self) {
        self.permits.close();
        let idle: Vec<Instance> = std::mem::take(&mut *self.idle());
        for mut instance in idle {
            let _ = instance.child.kill().await;
        }
    }
}
