//! One behavioural suite for every `Store` adapter. A test file writes an
//! `async fn setup() -> Option<Subject<S>>` for its adapter (`None`: the backend is not
//! available here, the test is skipped) and expands `store_suite!(setup)`, which makes one
//! `#[tokio::test]` per behaviour, so every adapter runs the same named tests.
//!
//! Time is always explicit: every token is created at, and every read happens at, a `now`
//! derived from [`base`], a fixed instant far in the future, so that nothing depends on the
//! wall clock (and a store that consulted the wall clock instead of `now` would be caught).

use chrono::{DateTime, TimeDelta, Utc};
use std::any::Any;
use std::collections::HashSet;
use std::sync::Arc;
use upload_tokens_core::auth::{ApiKey, RefreshToken};
use upload_tokens_core::domain::{
    CurrentPage, FieldStyle, KeyId, ListQuery, PageSize, PolicyPatch, ProjectId, SortBy, SortOrder,
    TokenId, Ttl, UploadToken, Video,
};
use upload_tokens_core::store::{
    ApiKeyRecord, RefreshRecord, Store, StoreError, TokenPage, VideoRecord,
};

/// A store under test, and whatever must stay alive while it is used (a temporary directory).
pub struct Subject<S> {
    /// The adapter under test.
    pub store: Arc<S>,
    _keep: Box<dyn Any + Send + Sync>,
}

impl<S: Store + 'static> Subject<S> {
    /// `store`, keeping `keep` alive as long as the subject.
    pub fn new(store: S, keep: impl Any + Send + Sync) -> Self {
        Self {
            store: Arc::new(store),
            _keep: Box::new(keep),
        }
    }
}

/// The instant every test measures from: 2100-01-01T00:00:00.250Z (with milliseconds, so that
/// sub-second precision is exercised).
pub fn base() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2100-01-01T00:00:00.250Z")
        .expect("valid date")
        .with_timezone(&Utc)
}

/// `base()` moved by `ms` milliseconds.
pub fn at_ms(ms: i64) -> DateTime<Utc> {
    base() + TimeDelta::milliseconds(ms)
}

/// `base()` moved by `s` seconds.
pub fn at_s(s: i64) -> DateTime<Utc> {
    base() + TimeDelta::seconds(s)
}

fn ttl(seconds: u32) -> Ttl {
    Ttl::from_seconds(seconds).expect("valid ttl")
}

/// A new token of `project`, created at `now` with `ttl_s` seconds of life (0: never expires).
pub fn token(project: &ProjectId, ttl_s: u32, now: DateTime<Utc>) -> UploadToken {
    UploadToken::create(project.clone(), ttl(ttl_s), now)
}

/// Inserts `tokens` one after the other. An insert refused as `AlreadyExists` whose token is
/// stored exactly as sent was applied: its reply was lost and the SDK sent it again (moto under
/// load resets connections). The create use case recognises it the same way.
async fn insert_all<S: Store>(store: &S, tokens: &[UploadToken]) {
    for t in tokens {
        match store.insert_token(t).await {
            Ok(()) => {}
            Err(StoreError::AlreadyExists) => {
                let stored = store
                    .get_token(&t.project_id, &t.id, t.created_at)
                    .await
                    .expect("read back");
                assert_eq!(stored.as_ref(), Some(t), "insert token: AlreadyExists");
            }
            Err(e) => panic!("insert token: {e:?}"),
        }
    }
}

fn query(sort_by: SortBy, order: SortOrder, page: u32, size: u32) -> ListQuery {
    ListQuery {
        sort_by: Some(sort_by),
        sort_order: Some(order),
        current_page: CurrentPage::new(page).expect("valid page"),
        page_size: PageSize::new(size).expect("valid page size"),
    }
}

async fn list<S: Store>(
    store: &S,
    project: &ProjectId,
    q: &ListQuery,
    now: DateTime<Utc>,
) -> TokenPage {
    store
        .list_tokens(project, q, now)
        .await
        .expect("list tokens")
}

/// Every active token of `project` at `now` in the given order, as one page of 100 (the tests
/// keep well under 100 tokens per project), checking the total while at it.
async fn list_all<S: Store>(
    store: &S,
    project: &ProjectId,
    sort_by: SortBy,
    order: SortOrder,
    now: DateTime<Utc>,
) -> Vec<TokenId> {
    let page = list(store, project, &query(sort_by, order, 1, 100), now).await;
    assert_eq!(
        page.total,
        page.tokens.len() as u64,
        "total of a single page holding everything"
    );
    ids(&page.tokens)
}

fn ids(tokens: &[UploadToken]) -> Vec<TokenId> {
    tokens.iter().map(|t| t.id.clone()).collect()
}

/// The order `sortBy=ttl&sortOrder=asc` must produce: by expiry, never-expiring last, ties by id.
fn ttl_asc_order(tokens: &[UploadToken]) -> Vec<TokenId> {
    let mut sorted: Vec<&UploadToken> = tokens.iter().collect();
    sorted.sort_by_key(|t| {
        (
            t.expires_at().map_or(i64::MAX, |e| e.timestamp_millis()),
            t.id.clone(),
        )
    });
    sorted.into_iter().map(|t| t.id.clone()).collect()
}

fn reversed(mut ids: Vec<TokenId>) -> Vec<TokenId> {
    ids.reverse();
    ids
}

/// What every one of the four orders must give over `tokens` (all active), with `created` the
/// ids in true creation order.
fn expected_orders(
    tokens: &[UploadToken],
    created: &[TokenId],
) -> Vec<(SortBy, SortOrder, Vec<TokenId>)> {
    let ttl_asc = ttl_asc_order(tokens);
    vec![
        (SortBy::CreatedAt, SortOrder::Asc, created.to_vec()),
        (
            SortBy::CreatedAt,
            SortOrder::Desc,
            reversed(created.to_vec()),
        ),
        (SortBy::Ttl, SortOrder::Asc, ttl_asc.clone()),
        (SortBy::Ttl, SortOrder::Desc, reversed(ttl_asc)),
    ]
}

fn api_key_record(project: &ProjectId, created_at: DateTime<Utc>) -> ApiKeyRecord {
    ApiKeyRecord {
        key_id: KeyId::generate(),
        project_id: project.clone(),
        hash: ApiKey::generate().hash(),
        created_at,
    }
}

fn refresh_record(project: &ProjectId, expires_at: DateTime<Utc>) -> (RefreshToken, RefreshRecord) {
    let token = RefreshToken::generate();
    let record = RefreshRecord {
        hash: token.hash(),
        key_id: KeyId::generate(),
        project_id: project.clone(),
        expires_at,
    };
    (token, record)
}

// ---------------------------------------------------------------------------------------------
// Tokens: insert and get
// ---------------------------------------------------------------------------------------------

pub async fn inserted_token_reads_back_unchanged<S: Store>(store: &S) {
    let project = ProjectId::generate();
    let expiring = token(&project, 3600, at_ms(123));
    let never = token(&project, 0, at_ms(456));
    let longest = token(&project, Ttl::MAX, at_ms(789));
    insert_all(store, &[expiring.clone(), never.clone(), longest.clone()]).await;
    for t in [&expiring, &never, &longest] {
        let got = store
            .get_token(&project, &t.id, at_s(1))
            .await
            .expect("get token");
        assert_eq!(got.as_ref(), Some(t), "get_token round trip");
        let found = store.find_token(&t.id, at_s(1)).await.expect("find token");
        assert_eq!(found.as_ref(), Some(t), "find_token round trip");
    }
    assert_eq!(never.expires_at(), None);
}

pub async fn inserting_an_existing_token_id_fails_and_keeps_the_original<S: Store>(store: &S) {
    let project = ProjectId::generate();
    let original = token(&project, 3600, at_s(0));
    store.insert_token(&original).await.expect("first insert");

    let other_project = ProjectId::generate();
    let mut impostor = token(&other_project, 0, at_s(5));
    impostor.id = original.id.clone();
    let again = store.insert_token(&impostor).await;
    assert!(
        matches!(again, Err(StoreError::AlreadyExists)),
        "expected AlreadyExists, got {again:?}"
    );
    let same = store.insert_token(&original).await;
    assert!(
        matches!(same, Err(StoreError::AlreadyExists)),
        "re-inserting the identical token: expected AlreadyExists, got {same:?}"
    );

    let got = store
        .get_token(&project, &original.id, at_s(10))
        .await
        .expect("get");
    assert_eq!(got.as_ref(), Some(&original), "original is untouched");
    let theirs = store
        .get_token(&other_project, &original.id, at_s(10))
        .await
        .expect("get");
    assert_eq!(theirs, None, "the impostor's project does not own it");
    let page = list(store, &other_project, &ListQuery::default(), at_s(10)).await;
    assert_eq!(
        page.total, 0,
        "nothing was listed for the impostor's project"
    );
    let mine = list(store, &project, &ListQuery::default(), at_s(10)).await;
    assert_eq!(mine.tokens, vec![original], "listed once, unchanged");
    assert_eq!(mine.total, 1);
}

pub async fn get_ignores_another_projects_token<S: Store>(store: &S) {
    let owner = ProjectId::generate();
    let t = token(&owner, 0, at_s(0));
    store.insert_token(&t).await.expect("insert");
    let stranger = ProjectId::generate();
    assert_eq!(
        store
            .get_token(&stranger, &t.id, at_s(1))
            .await
            .expect("get"),
        None
    );
    assert!(
        store
            .get_token(&owner, &t.id, at_s(1))
            .await
            .expect("get")
            .is_some()
    );
}

pub async fn get_returns_none_for_an_unknown_token<S: Store>(store: &S) {
    let project = ProjectId::generate();
    store
        .insert_token(&token(&project, 0, at_s(0)))
        .await
        .expect("insert");
    let unknown = TokenId::generate();
    assert_eq!(
        store
            .get_token(&project, &unknown, at_s(1))
            .await
            .expect("get"),
        None
    );
    assert_eq!(
        store.find_token(&unknown, at_s(1)).await.expect("find"),
        None
    );
}

pub async fn expired_token_is_invisible_to_get<S: Store>(store: &S) {
    let project = ProjectId::generate();
    let t = token(&project, 10, at_ms(0));
    store.insert_token(&t).await.expect("insert");
    let expiry = t.expires_at().expect("expires");
    assert_eq!(expiry, at_ms(10_000));

    let just_before = expiry - TimeDelta::milliseconds(1);
    assert!(
        store
            .get_token(&project, &t.id, just_before)
            .await
            .expect("get")
            .is_some(),
        "still active 1 ms before its expiry"
    );
    assert!(
        store
            .find_token(&t.id, just_before)
            .await
            .expect("find")
            .is_some()
    );
    for (when, label) in [
        (expiry, "at the expiry instant"),
        (expiry + TimeDelta::seconds(1), "1 s after expiry"),
    ] {
        assert_eq!(
            store.get_token(&project, &t.id, when).await.expect("get"),
            None,
            "get {label}"
        );
        assert_eq!(
            store.find_token(&t.id, when).await.expect("find"),
            None,
            "find {label}"
        );
    }
}

pub async fn find_token_ignores_the_project<S: Store>(store: &S) {
    let t = token(&ProjectId::generate(), 60, at_s(0));
    store.insert_token(&t).await.expect("insert");
    assert_eq!(
        store.find_token(&t.id, at_s(1)).await.expect("find"),
        Some(t)
    );
}

pub async fn never_expiring_token_stays_visible_forever<S: Store>(store: &S) {
    let project = ProjectId::generate();
    let t = token(&project, 0, at_s(0));
    store.insert_token(&t).await.expect("insert");
    let far = at_s(100 * 365 * 24 * 3600);
    assert_eq!(
        store.get_token(&project, &t.id, far).await.expect("get"),
        Some(t.clone())
    );
    let page = list(store, &project, &ListQuery::default(), far).await;
    assert_eq!(page.total, 1);
    assert_eq!(page.tokens, vec![t]);
}

// ---------------------------------------------------------------------------------------------
// Listing
// ---------------------------------------------------------------------------------------------

pub async fn created_at_order_is_true_creation_order_within_one_millisecond<S: Store>(store: &S) {
    let project = ProjectId::generate();
    // 3 a second earlier, 30 in the very same millisecond, 3 a second later: created in this
    // order, ids random, so id order is unrelated to creation order.
    let mut created = Vec::new();
    for _ in 0..3 {
        created.push(token(&project, 0, at_s(-1)));
    }
    for i in 0..30 {
        // Mixed lifetimes, so the expiry order differs from the creation order.
        created.push(token(&project, [0, 3600, 60][i % 3], at_s(0)));
    }
    for _ in 0..3 {
        created.push(token(&project, 7200, at_s(1)));
    }
    let in_creation_order = ids(&created);
    let mut by_id = in_creation_order.clone();
    by_id.sort();
    assert_ne!(
        by_id, in_creation_order,
        "ids happen to be in creation order"
    );

    // Insert in a scrambled order: the store must not rely on insertion order either.
    let n = created.len();
    let scrambled: Vec<UploadToken> = (0..n).map(|i| created[(i * 7 + 3) % n].clone()).collect();
    insert_all(store, &scrambled).await;

    let now = at_s(2);
    assert_eq!(
        list_all(store, &project, SortBy::CreatedAt, SortOrder::Asc, now).await,
        in_creation_order,
        "createdAt asc"
    );
    assert_eq!(
        list_all(store, &project, SortBy::CreatedAt, SortOrder::Desc, now).await,
        reversed(in_creation_order.clone()),
        "createdAt desc"
    );
    // Without sortBy/sortOrder: createdAt asc.
    let default_page = list(store, &project, &ListQuery::default(), now).await;
    assert_eq!(default_page.total, n as u64);
    assert_eq!(ids(&default_page.tokens), in_creation_order[..25].to_vec());
}

pub async fn ttl_order_is_by_expiry_with_never_expiring_last_and_ties_by_id<S: Store>(store: &S) {
    let project = ProjectId::generate();
    let mut tokens = vec![
        token(&project, 100, at_s(0)),      // expires at +100 s
        token(&project, 3000, at_s(5)),     // +3005 s
        token(&project, Ttl::MAX, at_s(0)), // ~68 years: still before "never"
        token(&project, 20, at_ms(-1)),     // +19.999 s: 1 ms before the next one
        token(&project, 20, at_s(0)),       // +20 s
    ];
    // Four tokens expiring in the same millisecond (+50 s), two ways.
    tokens.push(token(&project, 50, at_s(0)));
    tokens.push(token(&project, 50, at_s(0)));
    tokens.push(token(&project, 40, at_s(10)));
    tokens.push(token(&project, 40, at_s(10)));
    // Three that never expire: tied, ordered by id.
    for _ in 0..3 {
        tokens.push(token(&project, 0, at_s(0)));
    }
    insert_all(store, &tokens).await;

    let now = at_s(11);
    let asc = list_all(store, &project, SortBy::Ttl, SortOrder::Asc, now).await;
    let expected = ttl_asc_order(&tokens);
    assert_eq!(asc, expected, "ttl asc: by expiry, ties by id, never last");

    // Spell the rule out rather than trust the helper alone.
    let by_id = |id: &TokenId| tokens.iter().find(|t| &t.id == id).expect("known").clone();
    let never: Vec<TokenId> = tokens
        .iter()
        .filter(|t| t.expires_at().is_none())
        .map(|t| t.id.clone())
        .collect();
    let mut never_sorted = never.clone();
    never_sorted.sort();
    assert_eq!(
        asc[asc.len() - 3..].to_vec(),
        never_sorted,
        "never-expiring last"
    );
    assert_eq!(by_id(&asc[asc.len() - 4]).ttl, ttl(Ttl::MAX));
    let mut tied: Vec<TokenId> = tokens
        .iter()
        .filter(|t| t.expires_at() == Some(at_s(50)))
        .map(|t| t.id.clone())
        .collect();
    tied.sort();
    assert_eq!(tied.len(), 4);
    let first_tied = asc.iter().position(|id| id == &tied[0]).expect("listed");
    assert_eq!(
        asc[first_tied..first_tied + 4].to_vec(),
        tied,
        "ties by id asc"
    );

    let desc = list_all(store, &project, SortBy::Ttl, SortOrder::Desc, now).await;
    assert_eq!(desc, reversed(expected), "ttl desc is the exact reverse");
}

pub async fn pages_cover_every_active_token_exactly_once<S: Store>(store: &S) {
    let project = ProjectId::generate();
    let mut tokens = Vec::new();
    let mut noise = Vec::new();
    for i in 0..23u32 {
        // Several lifetimes, with ties (same creation instant and ttl), some never expiring.
        let created = at_ms(i64::from(i / 4));
        tokens.push(token(
            &project,
            [0, 60, 60, 3600, 120][(i % 5) as usize],
            created,
        ));
        // Noise that must not show, created in between: expired tokens of this project,
        // tokens of another project.
        if i % 4 == 1 {
            noise.push(token(
                &project,
                1,
                at_ms(i64::from(i / 4)) - TimeDelta::seconds(2),
            ));
            noise.push(token(&ProjectId::generate(), 0, created));
        }
    }
    let created = ids(&tokens);
    insert_all(store, &tokens).await;
    insert_all(store, &noise).await;

    let now = at_s(1);
    let total = tokens.len();
    for (sort_by, order, expected) in expected_orders(&tokens, &created) {
        for size in [1u32, 3, 7, 100] {
            let pages = total.div_ceil(size as usize) as u32;
            let mut seen = Vec::new();
            for page in 1..=pages {
                let got = list(store, &project, &query(sort_by, order, page, size), now).await;
                assert_eq!(
                    got.total, total as u64,
                    "{sort_by:?} {order:?} size {size} page {page}: total"
                );
                let want_len = (total - seen.len()).min(size as usize);
                assert_eq!(
                    got.tokens.len(),
                    want_len,
                    "{sort_by:?} {order:?} size {size} page {page}: items"
                );
                seen.extend(ids(&got.tokens));
            }
            assert_eq!(
                seen, expected,
                "{sort_by:?} {order:?} size {size}: pages in order, no repeat, no gap"
            );
            let unique: HashSet<&TokenId> = seen.iter().collect();
            assert_eq!(unique.len(), total);
        }
    }
}

pub async fn page_past_the_end_is_empty_with_the_true_total<S: Store>(store: &S) {
    let project = ProjectId::generate();
    let tokens: Vec<UploadToken> = (0..5).map(|_| token(&project, 0, at_s(0))).collect();
    insert_all(store, &tokens).await;
    for sort_by in [SortBy::CreatedAt, SortBy::Ttl] {
        for order in [SortOrder::Asc, SortOrder::Desc] {
            for (page, size) in [(2, 5), (4, 2), (6, 1), (2, 100), (u32::MAX, 100)] {
                let got = list(store, &project, &query(sort_by, order, page, size), at_s(1)).await;
                assert!(
                    got.tokens.is_empty(),
                    "{sort_by:?} {order:?} page {page} of size {size}"
                );
                assert_eq!(got.total, 5);
            }
        }
    }
    let empty = ProjectId::generate();
    let got = list(store, &empty, &ListQuery::default(), at_s(1)).await;
    assert!(got.tokens.is_empty());
    assert_eq!(got.total, 0, "a project without tokens");
}

pub async fn expired_tokens_are_excluded_from_listing_and_total<S: Store>(store: &S) {
    let project = ProjectId::generate();
    let now = at_s(100);
    let mut active = vec![
        token(&project, 3600, at_s(0)),
        token(&project, 101, at_s(0)), // 1 s left
        token(&project, 0, at_s(0)),   // never
        token(&project, 60, at_s(50)), // 10 s left
        token(&project, 0, at_s(99)),  // never
    ];
    let mut just_active = token(&project, 100, at_s(0));
    just_active.created_at += TimeDelta::milliseconds(1); // expires 1 ms after `now`
    active.push(just_active);
    let expired = [
        token(&project, 100, at_s(0)), // expires exactly at `now`
        token(&project, 99, at_s(0)),  // 1 s ago
        token(&project, 10, at_s(0)),
        token(&project, 1, at_s(98)),
    ];
    // Interleave, so expired tokens sit between active ones in every order.
    let mut all = Vec::new();
    for i in 0..active.len().max(expired.len()) {
        all.extend(active.get(i).cloned());
        all.extend(expired.get(i).cloned());
    }
    insert_all(store, &all).await;
    // Test data: `active` is in creation order and holds exactly what is active at `now`.
    let created = ids(&active);
    let active_now: Vec<TokenId> = all
        .iter()
        .filter(|t| t.is_active(now))
        .map(|t| t.id.clone())
        .collect();
    assert_eq!(active_now, created, "test data");

    for (sort_by, order, expected) in expected_orders(&active, &created) {
        assert_eq!(
            list_all(store, &project, sort_by, order, now).await,
            expected,
            "{sort_by:?} {order:?}"
        );
        // Paging through the same: the total counts only active tokens.
        let page = list(store, &project, &query(sort_by, order, 2, 2), now).await;
        assert_eq!(
            page.total,
            active.len() as u64,
            "{sort_by:?} {order:?} total"
        );
        assert_eq!(ids(&page.tokens), expected[2..4].to_vec());
    }
}

pub async fn listing_shows_only_the_projects_own_tokens<S: Store>(store: &S) {
    let a = ProjectId::generate();
    let b = ProjectId::generate();
    let mut a_tokens = Vec::new();
    let mut b_tokens = Vec::new();
    for i in 0..6 {
        let ta = token(&a, [0, 60][i % 2], at_s(i as i64));
        let tb = token(&b, [60, 0][i % 2], at_s(i as i64));
        store.insert_token(&ta).await.expect("insert");
        store.insert_token(&tb).await.expect("insert");
        a_tokens.push(ta);
        if i < 4 {
            b_tokens.push(tb);
        } else {
            // Deleted: not b's any more.
            assert!(
                store
                    .delete_token(&b, &tb.id, at_s(6))
                    .await
                    .expect("delete")
            );
        }
    }
    let now = at_s(7);
    for (project, mine) in [(&a, &a_tokens), (&b, &b_tokens)] {
        for (sort_by, order, expected) in expected_orders(mine, &ids(mine)) {
            assert_eq!(
                list_all(store, project, sort_by, order, now).await,
                expected,
                "{sort_by:?} {order:?}"
            );
        }
    }
    let c = ProjectId::generate();
    assert_eq!(list(store, &c, &ListQuery::default(), now).await.total, 0);
}

pub async fn listing_reaches_past_a_thousand_tokens<S: Store + 'static>(store: Arc<S>) {
    // More than one backend page (DynamoDB queries at most 1000 items at a time), with expired
    // tokens spread through every order so that filtering and paging interact.
    let project = ProjectId::generate();
    let mut tokens = Vec::new();
    let mut expired = Vec::new();
    for i in 0..1100u32 {
        if i % 10 == 9 {
            expired.push(token(&project, 1 + i % 3, at_s(0)));
        } else {
            tokens.push(token(
                &project,
                [0, 600, 3600, 86_400][(i % 4) as usize],
                at_ms(i64::from(i)),
            ));
        }
    }
    let created = ids(&tokens);
    let all: Vec<UploadToken> = tokens.iter().chain(&expired).cloned().collect();
    let chunks: Vec<Vec<UploadToken>> = all
        .chunks(all.len().div_ceil(16))
        .map(<[_]>::to_vec)
        .collect();
    let tasks: Vec<_> = chunks
        .into_iter()
        .map(|chunk| {
            let store = Arc::clone(&store);
            tokio::spawn(async move { insert_all(&*store, &chunk).await })
        })
        .collect();
    for task in tasks {
        task.await.expect("insert task");
    }

    let now = at_s(10);
    let total = tokens.len();
    assert_eq!(total, 990);
    for (sort_by, order, expected) in expected_orders(&tokens, &created) {
        for page in [1u32, 9, 10] {
            let got = list(&*store, &project, &query(sort_by, order, page, 100), now).await;
            assert_eq!(
                got.total, total as u64,
                "{sort_by:?} {order:?} page {page}: total"
            );
            let from = (page as usize - 1) * 100;
            let to = (from + 100).min(total);
            assert_eq!(
                ids(&got.tokens),
                expected[from..to].to_vec(),
                "{sort_by:?} {order:?} page {page}"
            );
        }
        let past = list(&*store, &project, &query(sort_by, order, 11, 100), now).await;
        assert!(past.tokens.is_empty(), "{sort_by:?} {order:?} past the end");
        assert_eq!(past.total, total as u64);
    }
}

// ---------------------------------------------------------------------------------------------
// Deleting
// ---------------------------------------------------------------------------------------------

pub async fn delete_succeeds_once_then_reports_nothing_to_delete<S: Store>(store: &S) {
    let project = ProjectId::generate();
    let t = token(&project, 3600, at_s(0));
    let kept = token(&project, 0, at_s(0));
    insert_all(store, &[t.clone(), kept.clone()]).await;
    assert!(
        store
            .delete_token(&project, &t.id, at_s(1))
            .await
            .expect("delete")
    );
    assert!(
        !store
            .delete_token(&project, &t.id, at_s(1))
            .await
            .expect("delete")
    );
    assert_eq!(
        store
            .get_token(&project, &t.id, at_s(1))
            .await
            .expect("get"),
        None
    );
    assert_eq!(store.find_token(&t.id, at_s(1)).await.expect("find"), None);
    let page = list(store, &project, &ListQuery::default(), at_s(1)).await;
    assert_eq!(page.tokens, vec![kept]);
    assert_eq!(page.total, 1);
    assert!(
        !store
            .delete_token(&project, &TokenId::generate(), at_s(1))
            .await
            .expect("delete"),
        "unknown token"
    );
}

pub async fn deleting_another_projects_token_changes_nothing<S: Store>(store: &S) {
    let owner = ProjectId::generate();
    let t = token(&owner, 3600, at_s(0));
    store.insert_token(&t).await.expect("insert");
    let stranger = ProjectId::generate();
    assert!(
        !store
            .delete_token(&stranger, &t.id, at_s(1))
            .await
            .expect("delete")
    );
    assert_eq!(
        store.get_token(&owner, &t.id, at_s(1)).await.expect("get"),
        Some(t.clone())
    );
    assert_eq!(
        list(store, &owner, &ListQuery::default(), at_s(1))
            .await
            .total,
        1
    );
    assert!(
        store
            .delete_token(&owner, &t.id, at_s(1))
            .await
            .expect("delete")
    );
}

pub async fn deleting_an_expired_token_changes_nothing<S: Store>(store: &S) {
    let project = ProjectId::generate();
    let t = token(&project, 10, at_s(0));
    store.insert_token(&t).await.expect("insert");
    for when in [at_s(10), at_s(11)] {
        assert!(
            !store
                .delete_token(&project, &t.id, when)
                .await
                .expect("delete"),
            "expired at {when}"
        );
    }
    // Nothing was removed: seen from before its expiry, it is still there.
    assert_eq!(
        store
            .get_token(&project, &t.id, at_s(9))
            .await
            .expect("get"),
        Some(t)
    );
    assert_eq!(
        list(store, &project, &ListQuery::default(), at_s(9))
            .await
            .total,
        1
    );
}

pub async fn concurrent_deletes_of_one_token_succeed_exactly_once<S: Store + 'static>(
    store: Arc<S>,
) {
    let project = ProjectId::generate();
    let t = token(&project, 3600, at_s(0));
    store.insert_token(&t).await.expect("insert");
    let barrier = Arc::new(tokio::sync::Barrier::new(10));
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let (store, project, id, barrier) = (
                Arc::clone(&store),
                project.clone(),
                t.id.clone(),
                Arc::clone(&barrier),
            );
            tokio::spawn(async move {
                barrier.wait().await;
                store
                    .delete_token(&project, &id, at_s(1))
                    .await
                    .expect("delete")
            })
        })
        .collect();
    let mut deleted = 0;
    for task in tasks {
        if task.await.expect("task") {
            deleted += 1;
        }
    }
    assert_eq!(deleted, 1, "exactly one delete reports success");
    assert_eq!(
        store
            .get_token(&project, &t.id, at_s(1))
            .await
            .expect("get"),
        None
    );
}

// ---------------------------------------------------------------------------------------------
// API keys
// ---------------------------------------------------------------------------------------------

pub async fn api_key_is_found_by_hash_and_by_id<S: Store>(store: &S) {
    let project = ProjectId::generate();
    let key = api_key_record(&project, at_ms(42));
    store.insert_api_key(&key).await.expect("insert key");
    assert_eq!(
        store.api_key_by_hash(&key.hash).await.expect("by hash"),
        Some(key.clone())
    );
    assert_eq!(
        store.api_key_by_id(&key.key_id).await.expect("by id"),
        Some(key.clone())
    );
    assert_eq!(
        store
            .api_key_by_hash(&ApiKey::generate().hash())
            .await
            .expect("by hash"),
        None
    );
    assert_eq!(
        store
            .api_key_by_id(&KeyId::generate())
            .await
            .expect("by id"),
        None
    );
}

pub async fn duplicate_api_key_is_refused_and_changes_nothing<S: Store>(store: &S) {
    let project = ProjectId::generate();
    let key = api_key_record(&project, at_s(0));
    store.insert_api_key(&key).await.expect("insert key");

    let same = store.insert_api_key(&key).await;
    assert!(
        matches!(same, Err(StoreError::AlreadyExists)),
        "same key: {same:?}"
    );
    // Same id, another secret.
    let mut same_id = api_key_record(&ProjectId::generate(), at_s(1));
    same_id.key_id = key.key_id.clone();
    let r = store.insert_api_key(&same_id).await;
    assert!(
        matches!(r, Err(StoreError::AlreadyExists)),
        "same id: {r:?}"
    );
    // Same secret, another id.
    let mut same_hash = api_key_record(&ProjectId::generate(), at_s(2));
    same_hash.hash = key.hash.clone();
    let r = store.insert_api_key(&same_hash).await;
    assert!(
        matches!(r, Err(StoreError::AlreadyExists)),
        "same hash: {r:?}"
    );

    assert_eq!(
        store.api_key_by_hash(&key.hash).await.expect("by hash"),
        Some(key.clone())
    );
    assert_eq!(
        store.api_key_by_id(&key.key_id).await.expect("by id"),
        Some(key.clone())
    );
    assert_eq!(
        store.api_key_by_hash(&same_id.hash).await.expect("by hash"),
        None,
        "the refused key's secret was not registered"
    );
    assert_eq!(
        store.api_key_by_id(&same_hash.key_id).await.expect("by id"),
        None,
        "the refused key's id was not registered"
    );
    assert_eq!(store.list_api_keys(None).await.expect("list"), vec![key]);
}

pub async fn revoked_api_key_is_no_longer_found<S: Store>(store: &S) {
    let project = ProjectId::generate();
    let key = api_key_record(&project, at_s(0));
    let other = api_key_record(&project, at_s(1));
    store.insert_api_key(&key).await.expect("insert key");
    store.insert_api_key(&other).await.expect("insert key");
    assert!(store.revoke_api_key(&key.key_id).await.expect("revoke"));
    assert!(!store.revoke_api_key(&key.key_id).await.expect("revoke"));
    assert!(
        !store
            .revoke_api_key(&KeyId::generate())
            .await
            .expect("revoke"),
        "unknown key"
    );
    assert_eq!(
        store.api_key_by_hash(&key.hash).await.expect("by hash"),
        None
    );
    assert_eq!(store.api_key_by_id(&key.key_id).await.expect("by id"), None);
    assert_eq!(
        store.list_api_keys(Some(&project)).await.expect("list"),
        vec![other.clone()]
    );
    assert_eq!(
        store.api_key_by_id(&other.key_id).await.expect("by id"),
        Some(other),
        "the project's other key is untouched"
    );
}

pub async fn api_keys_are_listed_per_project_oldest_first<S: Store>(store: &S) {
    let a = ProjectId::generate();
    let b = ProjectId::generate();
    // Inserted out of creation order.
    let a2 = api_key_record(&a, at_s(20));
    let b1 = api_key_record(&b, at_s(15));
    let a1 = api_key_record(&a, at_s(10));
    let a3 = api_key_record(&a, at_s(30));
    for k in [&a2, &b1, &a1, &a3] {
        store.insert_api_key(k).await.expect("insert key");
    }
    assert_eq!(
        store.list_api_keys(Some(&a)).await.expect("list"),
        vec![a1.clone(), a2.clone(), a3.clone()]
    );
    assert_eq!(
        store.list_api_keys(Some(&b)).await.expect("list"),
        vec![b1.clone()]
    );
    assert_eq!(
        store
            .list_api_keys(Some(&ProjectId::generate()))
            .await
            .expect("list"),
        vec![]
    );
    assert_eq!(
        store.list_api_keys(None).await.expect("list"),
        vec![a1, b1, a2, a3]
    );
}

// ---------------------------------------------------------------------------------------------
// Refresh tokens
// ---------------------------------------------------------------------------------------------

pub async fn refresh_token_can_be_taken_once<S: Store>(store: &S) {
    let project = ProjectId::generate();
    let (token, record) = refresh_record(&project, at_ms(3_600_123));
    let (_, other) = refresh_record(&project, at_s(3600));
    store.insert_refresh_token(&record).await.expect("insert");
    store.insert_refresh_token(&other).await.expect("insert");
    assert_eq!(
        store
            .take_refresh_token(&token.hash(), at_s(1))
            .await
            .expect("take"),
        Some(record.clone())
    );
    assert_eq!(
        store
            .take_refresh_token(&token.hash(), at_s(1))
            .await
            .expect("take"),
        None,
        "spent"
    );
    assert_eq!(
        store
            .take_refresh_token(&RefreshToken::generate().hash(), at_s(1))
            .await
            .expect("take"),
        None,
        "unknown"
    );
    assert_eq!(
        store
            .take_refresh_token(&other.hash, at_s(1))
            .await
            .expect("take"),
        Some(other),
        "taking one leaves the others"
    );
}

pub async fn duplicate_refresh_token_is_refused<S: Store>(store: &S) {
    let project = ProjectId::generate();
    let (token, record) = refresh_record(&project, at_s(3600));
    store.insert_refresh_token(&record).await.expect("insert");
    let mut again = record.clone();
    again.project_id = ProjectId::generate();
    again.expires_at = at_s(7200);
    let r = store.insert_refresh_token(&again).await;
    assert!(matches!(r, Err(StoreError::AlreadyExists)), "got {r:?}");
    assert_eq!(
        store
            .take_refresh_token(&token.hash(), at_s(1))
            .await
            .expect("take"),
        Some(record),
        "the original is kept"
    );
}

pub async fn expired_refresh_token_is_not_returned<S: Store>(store: &S) {
    let project = ProjectId::generate();
    let (at_expiry, r1) = refresh_record(&project, at_s(60));
    let (after_expiry, r2) = refresh_record(&project, at_s(60));
    let (just_before, r3) = refresh_record(&project, at_s(60));
    for r in [&r1, &r2, &r3] {
        store.insert_refresh_token(r).await.expect("insert");
    }
    assert_eq!(
        store
            .take_refresh_token(&at_expiry.hash(), at_s(60))
            .await
            .expect("take"),
        None,
        "at the expiry instant"
    );
    assert_eq!(
        store
            .take_refresh_token(&after_expiry.hash(), at_s(61))
            .await
            .expect("take"),
        None,
        "1 s after expiry"
    );
    assert_eq!(
        store
            .take_refresh_token(&just_before.hash(), at_s(60) - TimeDelta::milliseconds(1))
            .await
            .expect("take"),
        Some(r3),
        "1 ms before expiry"
    );
}

pub async fn concurrent_takes_of_one_refresh_token_succeed_exactly_once<S: Store + 'static>(
    store: Arc<S>,
) {
    let project = ProjectId::generate();
    let (token, record) = refresh_record(&project, at_s(3600));
    store.insert_refresh_token(&record).await.expect("insert");
    let barrier = Arc::new(tokio::sync::Barrier::new(10));
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let (store, hash, barrier) = (Arc::clone(&store), token.hash(), Arc::clone(&barrier));
            tokio::spawn(async move {
                barrier.wait().await;
                store
                    .take_refresh_token(&hash, at_s(1))
                    .await
                    .expect("take")
            })
        })
        .collect();
    let mut taken = Vec::new();
    for task in tasks {
        if let Some(r) = task.await.expect("task") {
            taken.push(r);
        }
    }
    assert_eq!(taken, vec![record], "exactly one take gets the record");
}

pub async fn concurrent_revocations_of_one_key_succeed_exactly_once<S: Store + 'static>(
    store: Arc<S>,
) {
    let key = api_key_record(&ProjectId::generate(), at_s(0));
    store.insert_api_key(&key).await.expect("insert key");
    let barrier = Arc::new(tokio::sync::Barrier::new(8));
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (store, id, barrier) =
                (Arc::clone(&store), key.key_id.clone(), Arc::clone(&barrier));
            tokio::spawn(async move {
                barrier.wait().await;
                store.revoke_api_key(&id).await.expect("revoke")
            })
        })
        .collect();
    let mut revoked = 0;
    for task in tasks {
        if task.await.expect("task") {
            revoked += 1;
        }
    }
    assert_eq!(revoked, 1, "exactly one revocation reports it");
    assert_eq!(
        store.api_key_by_hash(&key.hash).await.expect("by hash"),
        None
    );
}

/// A token with every field set: a name, a policy of each kind, who made it, a value hash.
fn named_token_with_policy(project: &ProjectId, now: DateTime<Utc>) -> UploadToken {
    let value = upload_tokens_core::auth::NamedTokenValue::generate();
    let mut t = UploadToken::with_id(value.id(), project.clone(), ttl(3600), now);
    let body = serde_json::json!({
        "name": "Browser uploads", "max_file_bytes": 2147483648u64,
        "allowed_content_types": ["video/*"], "max_uploads": 1,
        "allowed_origins": ["https://app.example.com"],
        "video": {"title": "From the app", "tags": ["web"], "public": false}
    });
    PolicyPatch::parse(body.as_object().expect("object"), FieldStyle::Snake, &[])
        .expect("valid")
        .apply(&mut t.policy, &mut t.name);
    t.created_by = Some(KeyId::generate());
    t.updated_by = t.created_by.clone();
    t.value_hash = Some(value.hash());
    t
}

pub async fn a_named_token_with_a_policy_reads_back_unchanged<S: Store>(store: &S) {
    let project = ProjectId::generate();
    let t = named_token_with_policy(&project, at_s(0));
    store.insert_token(&t).await.expect("insert");
    assert_eq!(
        store
            .get_token(&project, &t.id, at_s(1))
            .await
            .expect("get"),
        Some(t.clone())
    );
    assert_eq!(
        store.find_token(&t.id, at_s(1)).await.expect("find"),
        Some(t)
    );
}

pub async fn an_update_changes_settings_keeps_usage_and_is_conditional_on_the_version<S: Store>(
    store: &S,
) {
    let project = ProjectId::generate();
    let t = token(&project, 100, at_s(0));
    store.insert_token(&t).await.expect("insert");
    // Some use, recorded by the video store as uploads would.
    let mut video = video_of(&t, at_s(1));
    store.insert_video(&video).await.expect("video");
    video.version = 1;
    let chunk = upload_tokens_core::domain::ReceivedChunk {
        offset: 0,
        size: 10,
        part: 0,
        sha256: "ab".repeat(32),
    };
    assert!(
        store
            .update_video(&video, Some((0, &chunk)))
            .await
            .expect("chunk")
    );
    let mut changed = named_token_with_policy(&project, at_s(0));
    changed.id = t.id.clone();
    changed.value_hash = None;
    changed.created_at = t.created_at;
    changed.creation_order = t.creation_order;
    changed.created_by = None;
    changed.ttl = ttl(7200);
    changed.updated_at = at_s(2);
    changed.version = 1;
    assert!(store.update_token(&changed, at_s(2)).await.expect("update"));
    let read = store
        .get_token(&project, &t.id, at_s(3))
        .await
        .expect("get")
        .expect("there");
    assert_eq!(read.policy, changed.policy);
    assert_eq!(read.name, changed.name);
    assert_eq!(read.ttl, ttl(7200));
    assert_eq!(
        read.expires_at(),
        Some(t.created_at + TimeDelta::seconds(7200))
    );
    assert_eq!(read.version, 1);
    assert_eq!(read.usage.uploads, 1, "usage kept");
    assert_eq!(read.usage.bytes_received, 10);
    // A stale version, another project, an expired token: nothing written.
    assert!(!store.update_token(&changed, at_s(4)).await.expect("stale"));
    let mut foreign = changed.clone();
    foreign.version = 2;
    foreign.project_id = ProjectId::generate();
    assert!(
        !store
            .update_token(&foreign, at_s(4))
            .await
            .expect("foreign")
    );
    let mut late = changed.clone();
    late.version = 2;
    assert!(
        !store
            .update_token(&late, at_s(7200))
            .await
            .expect("expired")
    );
    // Cleared fields are cleared.
    let mut cleared = read.clone();
    cleared.policy = Default::default();
    cleared.name = None;
    cleared.version = 2;
    assert!(store.update_token(&cleared, at_s(5)).await.expect("clear"));
    let read = store
        .get_token(&project, &t.id, at_s(6))
        .await
        .expect("get")
        .expect("there");
    assert!(read.policy.is_unlimited() && read.name.is_none());
}

/// A new, empty video of `token`, created `at`.
fn video_of(token: &UploadToken, at: DateTime<Utc>) -> VideoRecord {
    VideoRecord {
        video: Video::new(
            token.project_id.clone(),
            Some(token.id.clone()),
            Some("a.mp4"),
            at,
        ),
        progress: Default::default(),
        blob: Default::default(),
        version: 0,
        lease: None,
    }
}

pub async fn usage_counts_videos_chunks_and_completions<S: Store>(store: &S) {
    let project = ProjectId::generate();
    let t = token(&project, 0, at_s(0));
    store.insert_token(&t).await.expect("insert");
    let mut video = video_of(&t, at_s(1));
    store.insert_video(&video).await.expect("video");
    for (i, size, last) in [(0u64, 7u64, false), (1, 5, true)] {
        video.version += 1;
        video.progress.completed = last;
        video.video.updated_at = at_s(2 + i as i64);
        let chunk = upload_tokens_core::domain::ReceivedChunk {
            offset: 0,
            size,
            part: 0,
            sha256: "cd".repeat(32),
        };
        assert!(
            store
                .update_video(&video, Some((i, &chunk)))
                .await
                .expect("chunk")
        );
    }
    let usage = store
        .get_token(&project, &t.id, at_s(9))
        .await
        .expect("get")
        .expect("there")
        .usage;
    assert_eq!(usage.uploads, 1);
    assert_eq!(usage.completed_uploads, 1);
    assert_eq!(usage.bytes_received, 12);
    assert_eq!(usage.last_used_at, Some(at_s(3)));
}

pub async fn a_video_of_a_deleted_or_expired_token_is_refused<S: Store>(store: &S) {
    let project = ProjectId::generate();
    let t = token(&project, 10, at_s(0));
    store.insert_token(&t).await.expect("insert");
    // Expired at the video's creation.
    let late = video_of(&t, at_s(10));
    assert!(matches!(
        store.insert_video(&late).await,
        Err(StoreError::TokenGone)
    ));
    assert_eq!(store.get_video(&late.video.id).await.expect("get"), None);
    // Deleted between a chunk's start and its commit.
    let mut video = video_of(&t, at_s(1));
    store.insert_video(&video).await.expect("video");
    assert!(
        store
            .delete_token(&project, &t.id, at_s(2))
            .await
            .expect("delete")
    );
    video.version = 1;
    let chunk = upload_tokens_core::domain::ReceivedChunk {
        offset: 0,
        size: 3,
        part: 0,
        sha256: "ef".repeat(32),
    };
    assert!(matches!(
        store.update_video(&video, Some((0, &chunk))).await,
        Err(StoreError::TokenGone)
    ));
    assert_eq!(
        store
            .get_video(&video.video.id)
            .await
            .expect("get")
            .map(|v| v.version),
        Some(0),
        "nothing written"
    );
    // Never existed.
    let stranger = token(&project, 0, at_s(0));
    assert!(matches!(
        store.insert_video(&video_of(&stranger, at_s(1))).await,
        Err(StoreError::TokenGone)
    ));
}

pub async fn concurrent_videos_of_a_limited_token_start_exactly_max_uploads<S: Store + 'static>(
    store: Arc<S>,
) {
    let project = ProjectId::generate();
    let mut t = token(&project, 0, at_s(0));
    t.policy.max_uploads = Some(3);
    store.insert_token(&t).await.expect("insert");
    let barrier = Arc::new(tokio::sync::Barrier::new(10));
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let (store, barrier, video) = (
                Arc::clone(&store),
                Arc::clone(&barrier),
                video_of(&t, at_s(1)),
            );
            tokio::spawn(async move {
                barrier.wait().await;
                store.insert_video(&video).await
            })
        })
        .collect();
    let (mut started, mut refused) = (0, 0);
    for task in tasks {
        match task.await.expect("task") {
            Ok(()) => started += 1,
            Err(StoreError::UploadLimitReached) => refused += 1,
            Err(e) => panic!("{e:?}"),
        }
    }
    assert_eq!((started, refused), (3, 7));
    let usage = store
        .get_token(&project, &t.id, at_s(2))
        .await
        .expect("get")
        .expect("there")
        .usage;
    assert_eq!(usage.uploads, 3);
}

pub async fn newest_first_lists_both_faces_from_any_position<S: Store>(store: &S) {
    let project = ProjectId::generate();
    let mut all = Vec::new();
    for i in 0..7 {
        let t = if i % 2 == 0 {
            token(&project, 0, at_ms(i))
        } else {
            named_token_with_policy(&project, at_ms(i))
        };
        store.insert_token(&t).await.expect("insert");
        all.push(t);
    }
    // One expired (invisible), one of another project.
    let expired = token(&project, 1, at_ms(3));
    store.insert_token(&expired).await.expect("insert");
    store
        .insert_token(&token(&ProjectId::generate(), 0, at_ms(4)))
        .await
        .expect("insert");
    all.reverse();
    let now = at_s(5);
    let ids = |v: &[UploadToken]| v.iter().map(|t| t.id.clone()).collect::<Vec<_>>();
    let first = store
        .list_newest(&project, None, 3, now)
        .await
        .expect("list");
    assert_eq!(ids(&first), ids(&all[..3]));
    let next = store
        .list_newest(&project, Some(&first[2].creation_order), 3, now)
        .await
        .expect("list");
    assert_eq!(ids(&next), ids(&all[3..6]));
    let last = store
        .list_newest(&project, Some(&next[2].creation_order), 3, now)
        .await
        .expect("list");
    assert_eq!(ids(&last), ids(&all[6..]));
    // The api.video face lists only its own tokens.
    let page = list(
        store,
        &project,
        &query(SortBy::CreatedAt, SortOrder::Asc, 1, 100),
        now,
    )
    .await;
    assert_eq!(page.total, 4);
    assert!(page.tokens.iter().all(UploadToken::value_is_shown));
}

// ---------------------------------------------------------------------------------------------
// Tokens: totals kept by counters (DESIGN.md, "Counts without scans")
// ---------------------------------------------------------------------------------------------

/// The total a listing at `now` must report over `tokens` (all of them inserted and kept).
fn active_at(tokens: &[UploadToken], now: DateTime<Utc>) -> u64 {
    tokens.iter().filter(|t| t.is_active(now)).count() as u64
}

/// Reads the total at each of `times` and checks it against `tokens`, and against the tokens a
/// page of 100 holds (both orders), so that counters and listing agree. `times` go forward (a
/// store may fold counts of minutes past, as the real clock never comes back to them).
async fn check_totals<S: Store>(
    store: &S,
    project: &ProjectId,
    tokens: &[UploadToken],
    times: &[DateTime<Utc>],
) {
    for &now in times {
        let expected = active_at(tokens, now);
        for sort_by in [SortBy::CreatedAt, SortBy::Ttl] {
            let page = list(store, project, &query(sort_by, SortOrder::Asc, 1, 100), now).await;
            assert_eq!(page.total, expected, "total at {now} ({sort_by:?})");
            assert_eq!(page.tokens.len() as u64, expected, "page at {now}");
        }
    }
}

/// Instants from `base()` on, every `step_s` seconds up to `until_s`, each 1 ms past a
/// multiple of `step_s` too, so that minute boundaries and the instants right after them are
/// both read.
fn instants(step_s: i64, until_s: i64) -> Vec<DateTime<Utc>> {
    (0..=until_s / step_s)
        .flat_map(|i| {
            [
                at_s(i * step_s),
                at_s(i * step_s) + TimeDelta::milliseconds(1),
            ]
        })
        .collect()
}

pub async fn the_total_follows_expiries_across_minutes_exactly<S: Store>(store: &S) {
    let project = ProjectId::generate();
    // Expiries spread over five minutes, several within each minute, some at the very edges
    // of a minute (base() is 250 ms past a minute), and tokens that never expire.
    let mut tokens = Vec::new();
    for (i, ttl_s) in [
        1, 2, 59, 60, 61, 89, 119, 120, 121, 150, 179, 180, 240, 299, 0, 0,
    ]
    .into_iter()
    .enumerate()
    {
        tokens.push(token(&project, ttl_s, at_ms(i as i64)));
    }
    let mut edge = token(&project, 60, at_s(0));
    edge.created_at -= TimeDelta::milliseconds(250); // expires exactly on a minute
    tokens.push(edge);
    insert_all(store, &tokens).await;
    // A token of another project and a named token of this one count for nothing here.
    store
        .insert_token(&token(&ProjectId::generate(), 30, at_s(0)))
        .await
        .expect("insert");
    store
        .insert_token(&named_token_with_policy(&project, at_s(0)))
        .await
        .expect("insert named");
    // Read forward in time only, as clocks go: a store may fold what is past.
    check_totals(store, &project, &tokens, &instants(10, 330)).await;
}

pub async fn a_total_read_long_after_many_expiries_is_exact<S: Store>(store: &S) {
    let project = ProjectId::generate();
    // One expiry in each of 40 minutes: more buckets than a total reads at once, so the first
    // listing after them all has a backlog to fold.
    let mut tokens: Vec<UploadToken> = (0..40)
        .map(|i| token(&project, 60 * i + 30, at_ms(i64::from(i))))
        .collect();
    tokens.extend((0..5).map(|i| token(&project, 0, at_ms(100 + i))));
    insert_all(store, &tokens).await;
    check_totals(
        store,
        &project,
        &tokens,
        &[at_s(0), at_s(905), at_s(3600), at_s(3601)],
    )
    .await;
}

pub async fn the_total_follows_deletes_and_lifetime_changes<S: Store>(store: &S) {
    let project = ProjectId::generate();
    let mut tokens: Vec<UploadToken> = [30, 90, 150, 0, 200, 45]
        .into_iter()
        .map(|ttl_s| token(&project, ttl_s, at_s(0)))
        .collect();
    insert_all(store, &tokens).await;
    // Deleted while active: gone from the total at once, and not counted again at its expiry.
    assert!(
        store
            .delete_token(&project, &tokens[1].id, at_s(10))
            .await
            .expect("delete")
    );
    tokens.remove(1);
    check_totals(store, &project, &tokens, &[at_s(10), at_s(15)]).await;
    // A lifetime moved later (from the 150 s minute to 400 s), one moved earlier (never to
    // 100 s), one within its minute.
    for (i, new_ttl) in [(1, 400), (2, 100), (4, 50)] {
        let mut changed = tokens[i].clone();
        changed.ttl = ttl(new_ttl);
        changed.version += 1;
        changed.updated_at = at_s(20);
        assert!(
            store
                .update_token(&changed, at_s(20))
                .await
                .expect("update")
        );
        tokens[i] = changed;
    }
    check_totals(store, &project, &tokens, &instants(15, 450)[4..]).await;
}

pub async fn the_total_is_exact_under_concurrent_creates_and_deletes<S: Store + 'static>(
    store: Arc<S>,
) {
    let project = ProjectId::generate();
    let ttls = [0, 30, 65, 130, 3600];
    let first: Vec<UploadToken> = (0..30)
        .map(|i| token(&project, ttls[i % ttls.len()], at_ms(i as i64)))
        .collect();
    insert_all(&*store, &first).await;
    // At once: 30 more created, 15 of the first deleted, each of those deleted twice.
    let more: Vec<UploadToken> = (0..30)
        .map(|i| token(&project, ttls[(i + 2) % ttls.len()], at_s(5)))
        .collect();
    let mut tasks = tokio::task::JoinSet::new();
    for t in more.clone() {
        let store = Arc::clone(&store);
        tasks.spawn(async move {
            insert_all(&*store, std::slice::from_ref(&t)).await;
            false
        });
    }
    for t in first.iter().take(15).chain(first.iter().take(15)).cloned() {
        let (store, project) = (Arc::clone(&store), project.clone());
        tasks.spawn(async move {
            store
                .delete_token(&project, &t.id, at_s(6))
                .await
                .expect("delete")
        });
    }
    let deleted = tasks.join_all().await.into_iter().filter(|d| *d).count();
    assert_eq!(deleted, 15, "each token deleted once");
    let kept: Vec<UploadToken> = first[15..].iter().chain(&more).cloned().collect();
    check_totals(&*store, &project, &kept, &instants(20, 200)[1..]).await;
}

/// Expands to one `#[tokio::test]` per behaviour of the suite, each starting from `$setup()`
/// (an `async fn() -> Option<Subject<S>>`; `None` skips the test).
macro_rules! store_suite {
    ($setup:path) => {
        store_suite!(@by_ref $setup;
            inserted_token_reads_back_unchanged,
            inserting_an_existing_token_id_fails_and_keeps_the_original,
            get_ignores_another_projects_token,
            get_returns_none_for_an_unknown_token,
            expired_token_is_invisible_to_get,
            find_token_ignores_the_project,
            never_expiring_token_stays_visible_forever,
            created_at_order_is_true_creation_order_within_one_millisecond,
            ttl_order_is_by_expiry_with_never_expiring_last_and_ties_by_id,
            pages_cover_every_active_token_exactly_once,
            page_past_the_end_is_empty_with_the_true_total,
            expired_tokens_are_excluded_from_listing_and_total,
            listing_shows_only_the_projects_own_tokens,
            delete_succeeds_once_then_reports_nothing_to_delete,
            deleting_another_projects_token_changes_nothing,
            deleting_an_expired_token_changes_nothing,
            api_key_is_found_by_hash_and_by_id,
            duplicate_api_key_is_refused_and_changes_nothing,
            revoked_api_key_is_no_longer_found,
            api_keys_are_listed_per_project_oldest_first,
            refresh_token_can_be_taken_once,
            duplicate_refresh_token_is_refused,
            expired_refresh_token_is_not_returned,
            a_named_token_with_a_policy_reads_back_unchanged,
            an_update_changes_settings_keeps_usage_and_is_conditional_on_the_version,
            usage_counts_videos_chunks_and_completions,
            a_video_of_a_deleted_or_expired_token_is_refused,
            newest_first_lists_both_faces_from_any_position,
            the_total_follows_expiries_across_minutes_exactly,
            the_total_follows_deletes_and_lifetime_changes,
            a_total_read_long_after_many_expiries_is_exact,
        );
        store_suite!(@shared $setup;
            listing_reaches_past_a_thousand_tokens,
            concurrent_deletes_of_one_token_succeed_exactly_once,
            concurrent_takes_of_one_refresh_token_succeed_exactly_once,
            concurrent_revocations_of_one_key_succeed_exactly_once,
            concurrent_videos_of_a_limited_token_start_exactly_max_uploads,
            the_total_is_exact_under_concurrent_creates_and_deletes,
        );
    };
    (@by_ref $setup:path; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                let Some(subject) = $setup().await else { return };
                $crate::store_suite::$name(&*subject.store).await;
            }
        )*
    };
    (@shared $setup:path; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                let Some(subject) = $setup().await else { return };
                $crate::store_suite::$name(::std::sync::Arc::clone(&subject.store)).await;
            }
        )*
    };
}
