//! SDK clients built on a function's first request rather than during its init.
//!
//! Building the DynamoDB client (`Client::new`: its runtime plugins, endpoint resolver and
//! retry and identity components) is most of what a function's init costs beyond a hello-world
//! binary's. On an on-demand cold start the request that started the environment waits for init
//! anyway, so building the client there or on that first request costs it the same, while init
//! itself, what Lambda reports and bills as the init phase, is shorter (BENCHMARKS.md, "Cold
//! start": `get-token`'s init 1.41–1.48× hello-world with the client built during init,
//! 1.15–1.20× without, and its first responses no later). Where Lambda runs init ahead of any
//! request (provisioned concurrency, SnapStart: `AWS_LAMBDA_INITIALIZATION_TYPE`), init is off
//! the request path and the clients are built there, so the first request finds them ready.
//!
//! Only building is deferred: the environment is read during init, so a missing or unusable
//! variable is still an init error, and no network I/O happens in either case.

use std::sync::OnceLock;

/// The environment variable in which Lambda says how this execution environment was started.
pub const INITIALIZATION_TYPE_ENV: &str = "AWS_LAMBDA_INITIALIZATION_TYPE";

/// How an execution environment's init relates to its first request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InitTiming {
    /// Init runs because a request arrived, which waits for it (`on-demand`, or outside Lambda).
    OnDemand,
    /// Init runs before any request is routed to the environment (`provisioned-concurrency`,
    /// `snap-start`, or any other value Lambda may add).
    AheadOfRequests,
}

impl InitTiming {
    /// From `AWS_LAMBDA_INITIALIZATION_TYPE`.
    pub fn from_env() -> Self {
        Self::from_value(std::env::var(INITIALIZATION_TYPE_ENV).ok().as_deref())
    }

    /// From the variable's value (`None` when unset).
    pub fn from_value(value: Option<&str>) -> Self {
        match value {
            None | Some("on-demand") => Self::OnDemand,
            Some(_) => Self::AheadOfRequests,
        }
    }
}

/// A value built by the first [`OnFirstUse::get`] (once, however many requests race for it),
/// or when it is made if init runs ahead of requests.
pub struct OnFirstUse<T> {
    value: OnceLock<T>,
    build: Box<dyn Fn() -> T + Send + Sync>,
}

impl<T> OnFirstUse<T> {
    /// A value `build` makes when first needed, or at once with [`InitTiming::AheadOfRequests`].
    pub fn new(timing: InitTiming, build: impl Fn() -> T + Send + Sync + 'static) -> Self {
        let this = Self {
            value: OnceLock::new(),
            build: Box::new(build),
        };
        if timing == InitTiming::AheadOfRequests {
            this.get();
        }
        this
    }

    /// The value, built now if this is its first use.
    pub fn get(&self) -> &T {
        self.value.get_or_init(|| (self.build)())
    }

    /// Whether the value has been built.
    pub fn is_built(&self) -> bool {
        self.value.get().is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn counting(timing: InitTiming) -> (OnFirstUse<usize>, Arc<AtomicUsize>) {
        let builds = Arc::new(AtomicUsize::new(0));
        let counter = builds.clone();
        let value = OnFirstUse::new(timing, move || counter.fetch_add(1, Ordering::SeqCst) + 41);
        (value, builds)
    }

    #[test]
    fn on_demand_builds_at_first_use_and_only_once() {
        let (value, builds) = counting(InitTiming::OnDemand);
        assert!(!value.is_built());
        assert_eq!(builds.load(Ordering::SeqCst), 0);
        assert_eq!(*value.get(), 41);
        assert_eq!(*value.get(), 41);
        assert_eq!(builds.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn ahead_of_requests_builds_when_made() {
        let (value, builds) = counting(InitTiming::AheadOfRequests);
        assert!(value.is_built());
        assert_eq!(builds.load(Ordering::SeqCst), 1);
        assert_eq!(*value.get(), 41);
        assert_eq!(builds.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn racing_first_uses_build_once() {
        let (value, builds) = counting(InitTiming::OnDemand);
        std::thread::scope(|s| {
            for _ in 0..8 {
                s.spawn(|| assert_eq!(*value.get(), 41));
            }
        });
        assert_eq!(builds.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn the_initialization_types_lambda_documents() {
        assert_eq!(InitTiming::from_value(None), InitTiming::OnDemand);
        assert_eq!(
            InitTiming::from_value(Some("on-demand")),
            InitTiming::OnDemand
        );
        for ahead in ["provisioned-concurrency", "snap-start", "something-new"] {
            assert_eq!(
                InitTiming::from_value(Some(ahead)),
                InitTiming::AheadOfRequests
            );
        }
    }
}
