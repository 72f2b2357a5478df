//! Rotating the signing secret in Secrets Manager (moto's, started by the test command) while
//! "instances" of a function serve requests: each instance is the function's state (`App`) with
//! the signer `SecretSource` builds for it, its own clock, and one shared store, driven through
//! the route table as the Lambda glue drives it.

use aws_config::{BehaviorVersion, Region};
use bytes::Bytes;
use chrono::{DateTime, TimeDelta, Utc};
use std::sync::Arc;
use upload_tokens_core::auth::{AccessClaims, AccessTokenSigner, ApiKey, ReloadPolicy, SigningKey};
use upload_tokens_core::domain::{Clock, KeyId, ManualClock, ProjectId};
use upload_tokens_core::http::{App, RouteSet, TOKEN_ROUTES};
use upload_tokens_core::store::embedded::EmbeddedStore;
use upload_tokens_core::store::{ApiKeyAdmin, ApiKeyRecord, Store};
use upload_tokens_lambda::SecretSource;

/// Far from the wall clock, as every suite here.
fn start() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2100-01-02T03:04:05Z")
        .expect("valid date")
        .with_timezone(&Utc)
}

struct Secret {
    client: aws_sdk_secretsmanager::Client,
    source: SecretSource,
    arn: String,
}

impl Secret {
    async fn create(url: &str, value: &str) -> Self {
        let config = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(url)
            .test_credentials()
            .load()
            .await;
        let client = aws_sdk_secretsmanager::Client::new(&config);
        let name = format!(
            "rotation-{}-{}",
            std::process::id(),
            Utc::now().timestamp_nanos_opt().unwrap_or(0)
        );
        let arn = client
            .create_secret()
            .name(&name)
            .secret_string(value)
            .send()
            .await
            .expect("secret created")
            .arn()
            .expect("an ARN")
            .to_owned();
        let source = SecretSource::SecretsManager {
            config: Box::new(config),
            secret_id: arn.clone(),
        };
        Self {
            client,
            source,
            arn,
        }
    }

    /// `aws secretsmanager put-secret-value`: the new value becomes AWSCURRENT, the old one
    /// AWSPREVIOUS.
    async fn rotate(&self, value: &str) {
        self.client
            .put_secret_value()
            .secret_id(&self.arn)
            .secret_string(value)
            .send()
            .await
            .expect("new secret value");
    }
}

/// A warm execution environment of a token function.
struct Instance {
    app: App,
    clock: Arc<ManualClock>,
    routes: RouteSet<App>,
}

impl Instance {
    /// Started (its first request read the secret) at `at`.
    async fn start(secret: &Secret, store: Arc<dyn Store>, at: DateTime<Utc>) -> Self {
        let clock = Arc::new(ManualClock::new(at));
        let signer = secret
            .source
            .signer(at, ReloadPolicy::default())
            .await
            .expect("the secret is read");
        Self {
            app: App {
                store,
                clock: clock.clone(),
                signer,
            },
            clock,
            routes: RouteSet::all(TOKEN_ROUTES),
        }
    }

    async fn send(
        &self,
        at: DateTime<Utc>,
        method: &str,
        uri: &str,
        authorization: Option<&str>,
        body: &str,
    ) -> (u16, serde_json::Value) {
        self.clock.set(at);
        let mut request = http::Request::builder()
            .method(method)
            .uri(uri)
            .header("content-type", "application/json");
        if let Some(auth) = authorization {
            request = request.header("authorization", auth);
        }
        let request = request
            .body(Bytes::from(body.to_owned()))
            .expect("valid request");
        let response = self.routes.handle(&self.app, request, "test").await;
        let json = serde_json::from_slice(response.body()).unwrap_or(serde_json::Value::Null);
        (response.status().as_u16(), json)
    }

    /// An access token from `POST /auth/api-key` at `at`.
    async fn access_token(&self, at: DateTime<Utc>, key: &ApiKey) -> String {
        let body = serde_json::json!({ "apiKey": key.expose() }).to_string();
        let (status, json) = self.send(at, "POST", "/auth/api-key", None, &body).await;
        assert_eq!(status, 200, "{json}");
        json["access_token"]
            .as_str()
            .expect("an access token")
            .to_owned()
    }

    /// The status of `GET /upload-tokens` with `Bearer <token>` at `at`; a 401 must be the
    /// invalid-access-token problem.
    async fn list_status(&self, at: DateTime<Utc>, token: &str) -> u16 {
        let auth = format!("Bearer {token}");
        let (status, json) = self
            .send(at, "GET", "/upload-tokens", Some(&auth), "")
            .await;
        if status == 401 {
            assert_eq!(
                json["type"],
                "https://docs.api.video/reference/authentication-invalid-access-token",
                "{json}"
            );
        }
        status
    }

    fn signing_key_ids(&self) -> (String, Option<String>) {
        let keys = self.app.signer.keys();
        (
            keys.current().id().to_string(),
            keys.previous().map(|k| k.id().to_string()),
        )
    }
}

fn id_of(secret: &str) -> String {
    SigningKey::new(secret.as_bytes().to_vec())
        .expect("long enough")
        .id()
        .to_string()
}

/// The signing key id a token names (its second dot-separated part).
fn named_key(token: &str) -> &str {
    token
        .split('.')
        .nth(1)
        .expect("v2.<key id>.<claims>.<signature>")
}

/// The functions' logs in the test's output: a failed read of the secret (kept keys, logged
/// as a warning) then shows with its cause when an assertion on the keys fails.
fn log_to_test_output() {
    let _ = tracing_subscriber::fmt().with_test_writer().try_init();
}

async fn store_with_key(dir: &tempfile::TempDir) -> (Arc<dyn Store>, ApiKey) {
    let store = EmbeddedStore::open(dir.path()).expect("store opens");
    let key = ApiKey::generate();
    store
        .insert_api_key(&ApiKeyRecord {
            key_id: KeyId::generate(),
            project_id: ProjectId::generate(),
            hash: key.hash(),
            created_at: start(),
        })
        .await
        .expect("key registered");
    (Arc::new(store), key)
}

#[tokio::test]
async fn instances_on_either_side_of_a_rotation_accept_each_others_tokens() {
    log_to_test_output();
    let Some(url) = test_gate::require_moto("secret_rotation") else {
        return;
    };
    let (k0, k1, k2) = ("0".repeat(64), "1".repeat(64), "2".repeat(64));
    let secret = Secret::create(&url, &k0).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let (store, key) = store_with_key(&dir).await;
    let t0 = start();
    let at = |s: i64| t0 + TimeDelta::seconds(s);

    // Instance A, before the rotation: signs with K0.
    let a = Instance::start(&secret, store.clone(), t0).await;
    assert_eq!(a.signing_key_ids(), (id_of(&k0), None));
    let token_a = a.access_token(at(1), &key).await;
    assert_eq!(named_key(&token_a), id_of(&k0));
    assert_eq!(a.list_status(at(1), &token_a).await, 200);

    // Rotation; instance B starts after it: signs with K1, still accepts K0's tokens.
    secret.rotate(&k1).await;
    let b = Instance::start(&secret, store.clone(), at(5)).await;
    assert_eq!(b.signing_key_ids(), (id_of(&k1), Some(id_of(&k0))));
    assert_eq!(b.list_status(at(6), &token_a).await, 200);
    let token_b = b.access_token(at(6), &key).await;
    assert_eq!(named_key(&token_b), id_of(&k1));

    // A meets a token naming a key it does not hold. Within 30 s of its last read of the
    // secret it does not read it again (and refuses); after that, it reads it and accepts.
    assert_eq!(a.list_status(at(10), &token_b).await, 401);
    assert_eq!(a.signing_key_ids(), (id_of(&k0), None));
    assert_eq!(a.list_status(at(31), &token_b).await, 200);
    assert_eq!(a.signing_key_ids(), (id_of(&k1), Some(id_of(&k0))));
    // Its own old token still works, and what it signs now names K1.
    assert_eq!(a.list_status(at(32), &token_a).await, 200);
    assert_eq!(named_key(&a.access_token(at(32), &key).await), id_of(&k1));

    // A forged key id, or a key the secret never held: 401, never a 500, on either instance,
    // whether or not the instance reads the secret again on the way.
    let forged = token_b.replacen(named_key(&token_b), "AAAAAAAAAAA", 1);
    let foreign = AccessTokenSigner::new(SigningKey::new("9".repeat(64)).expect("long"))
        .issue(&claims_until(&token_b, at(3000)));
    for token in [&forged, &foreign] {
        assert_eq!(a.list_status(at(33), token).await, 401);
        assert_eq!(b.list_status(at(70), token).await, 401);
    }

    // Tokens signed before the rotation keep working until they expire (an hour).
    assert_eq!(b.list_status(at(3600), &token_a).await, 200);
    assert_eq!(b.list_status(at(3601), &token_a).await, 401);

    // A second rotation retires K0: an instance that has read the secret since no longer holds
    // it. (Keys 5 minutes old are re-read before the next verification.)
    let signed_with = |secret: &str| {
        AccessTokenSigner::new(SigningKey::new(secret.as_bytes().to_vec()).expect("long"))
            .issue(&claims_until(&token_a, at(10_000)))
    };
    let (old, recent) = (signed_with(&k0), signed_with(&k1));
    assert_eq!(b.list_status(at(3602), &old).await, 200, "K0 is previous");
    secret.rotate(&k2).await;
    assert_eq!(b.list_status(at(3902), &old).await, 401);
    assert_eq!(b.signing_key_ids(), (id_of(&k2), Some(id_of(&k1))));
    assert_eq!(
        b.list_status(at(3903), &recent).await,
        200,
        "K1 is previous"
    );
    assert_eq!(named_key(&b.access_token(at(3903), &key).await), id_of(&k2));
}

/// The claims of `token`, expiring at `exp`.
fn claims_until(token: &str, exp: DateTime<Utc>) -> AccessClaims {
    let mut claims = claims_of(token);
    claims["exp"] = exp.timestamp().into();
    serde_json::from_value(claims).expect("claims")
}

/// The claims of a token, as JSON.
fn claims_of(token: &str) -> serde_json::Value {
    use base64::Engine;
    let payload = token.split('.').nth(2).expect("claims part");
    let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64url claims");
    serde_json::from_slice(&json).expect("JSON claims")
}

#[tokio::test]
async fn a_forged_key_id_reads_the_secret_at_most_once_per_interval() {
    log_to_test_output();
    let Some(url) = test_gate::require_moto("secret_rotation") else {
        return;
    };
    let (k0, k1) = ("a".repeat(64), "b".repeat(64));
    let secret = Secret::create(&url, &k0).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let (store, key) = store_with_key(&dir).await;
    let t0 = start();
    let at = |s: i64| t0 + TimeDelta::seconds(s);
    let a = Instance::start(&secret, store.clone(), t0).await;
    let token = a.access_token(at(1), &key).await;
    let forged = token.replacen(named_key(&token), "BBBBBBBBBBB", 1);

    // At 40 s the forged id makes A read the secret (nothing new). The secret is then rotated:
    // however many forged tokens come, A does not read it again before 70 s, so it does not
    // know K1 yet; at 70 s it reads it.
    assert_eq!(a.list_status(at(40), &forged).await, 401);
    secret.rotate(&k1).await;
    for s in 41..70 {
        assert_eq!(a.list_status(at(s), &forged).await, 401);
    }
    assert_eq!(
        a.signing_key_ids(),
        (id_of(&k0), None),
        "no read before 70 s"
    );
    assert_eq!(a.list_status(at(70), &forged).await, 401);
    assert_eq!(a.signing_key_ids(), (id_of(&k1), Some(id_of(&k0))));
    assert_eq!(a.clock.now(), at(70));
}
