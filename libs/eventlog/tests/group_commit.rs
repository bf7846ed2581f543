//! Group commit on both backends: concurrent appends share transactions, an append is
//! acknowledged only after the transaction holding it committed, and one append's failure never
//! fails another's.
use std::sync::Arc;

use tokio::sync::Barrier;
use yeyak_eventlog::{
    AppendError, AppendRequest, AppendStatus, EventStore, ExpectedVersion, GroupCommits,
    PgEventStore, SqliteEventStore,
    testing::{event, fresh_postgres_url, fresh_sqlite_url},
};

/// Events of this type pass every check and every statement, then make their transaction's
/// COMMIT fail (a deferred constraint, checked only at the commit).
const REFUSED_AT_COMMIT: &str = "RefusedAtCommit";

const APPENDS: usize = 240;

/// Every tenth append carries an event the database refuses at COMMIT.
fn refused(i: usize) -> bool {
    i % 10 == 3
}

/// `APPENDS` appends released together, each on a stream of its own.
async fn race(
    store: Arc<dyn EventStore>,
    each: impl Fn(usize) -> AppendRequest,
) -> Vec<Result<yeyak_eventlog::AppendResult, AppendError>> {
    let barrier = Arc::new(Barrier::new(APPENDS));
    let mut tasks = Vec::new();
    for i in 0..APPENDS {
        let (store, barrier, request) = (store.clone(), barrier.clone(), each(i));
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            store.append(request).await
        }));
    }
    let mut out = Vec::new();
    for task in tasks {
        out.push(task.await.expect("append task"));
    }
    out
}

async fn only_committed_appends_are_acknowledged(
    store: Arc<dyn EventStore>,
    grouped: impl Fn() -> GroupCommits,
) {
    let requests: Vec<AppendRequest> = (0..APPENDS)
        .map(|i| {
            let kind = if refused(i) {
                REFUSED_AT_COMMIT
            } else {
                "Kept"
            };
            AppendRequest::single(
                format!("member-{i}"),
                ExpectedVersion::NoStream,
                vec![event(kind, format!("{i}").as_bytes())],
            )
        })
        .collect();
    let ids: Vec<_> = requests
        .iter()
        .map(|r| r.streams[0].events[0].event_id)
        .collect();
    let results = race(store.clone(), |i| requests[i].clone()).await;
    for (i, result) in results.iter().enumerate() {
        let stored = store.event_by_id(ids[i]).await.expect("read back");
        match result {
            Ok(r) => {
                assert_eq!(r.status, AppendStatus::Committed);
                assert!(
                    stored.is_some(),
                    "append {i} was acknowledged, yet its event is not in the log"
                );
            }
            Err(_) => assert!(
                stored.is_none(),
                "append {i} failed, yet its event is stored"
            ),
        }
        assert_eq!(
            result.is_ok(),
            !refused(i),
            "append {i}: only the appends the database refuses fail ({result:?})"
        );
    }
    let grouped = grouped();
    assert!(
        grouped.largest > 1,
        "the appends were grouped into shared transactions ({grouped:?})"
    );
}

async fn a_conflict_fails_only_its_own_append(
    store: Arc<dyn EventStore>,
    grouped: impl Fn() -> GroupCommits,
) {
    // Half the appends race for the first version of one stream, the others write streams of
    // their own.
    let results = race(store.clone(), |i| {
        let stream = if i % 2 == 0 {
            "contested".to_string()
        } else {
            format!("own-{i}")
        };
        AppendRequest::single(
            stream,
            ExpectedVersion::NoStream,
            vec![event("Raced", b"x")],
        )
    })
    .await;
    let contested: Vec<_> = results.iter().step_by(2).collect();
    let winners = contested.iter().filter(|r| r.is_ok()).count();
    assert_eq!(winners, 1, "exactly one append wins the contested stream");
    for loser in contested.iter().filter(|r| r.is_err()) {
        assert!(
            matches!(
                loser,
                Err(AppendError::Conflict {
                    actual: Some(1),
                    ..
                })
            ),
            "a loser is told the version that won: {loser:?}"
        );
    }
    for (i, own) in results.iter().enumerate().skip(1).step_by(2) {
        assert!(
            own.is_ok(),
            "append {i} on its own stream committed: {own:?}"
        );
    }
    assert!(grouped().largest > 1, "the appends were grouped");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_acknowledges_only_appends_whose_transaction_committed() {
    let url = fresh_sqlite_url("group_commit_refused");
    let store = Arc::new(SqliteEventStore::connect(&url).await.expect("sqlite"));
    // A deferred foreign key: the insert passes, the COMMIT fails.
    for sql in [
        "CREATE TABLE refused_parent (id INTEGER PRIMARY KEY)",
        "CREATE TABLE refused_child (parent INTEGER REFERENCES refused_parent (id) DEFERRABLE INITIALLY DEFERRED)",
        "CREATE TRIGGER refused_at_commit AFTER INSERT ON events WHEN NEW.event_type = 'RefusedAtCommit' \
         BEGIN INSERT INTO refused_child (parent) VALUES (1); END",
    ] {
        sqlx::query(sql).execute(store.pool()).await.expect(sql);
    }
    let stats = store.clone();
    only_committed_appends_are_acknowledged(store, move || stats.group_commits()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_acknowledges_only_appends_whose_transaction_committed() {
    let Some(url) = fresh_postgres_url("group_commit_refused").await else {
        return;
    };
    let store = Arc::new(PgEventStore::connect(&url).await.expect("postgres"));
    // A deferred constraint trigger: the insert passes, the COMMIT fails.
    for sql in [
        "CREATE FUNCTION refused_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
         IF NEW.event_type = 'RefusedAtCommit' THEN RAISE EXCEPTION 'refused at commit'; END IF; \
         RETURN NULL; END $$",
        "CREATE CONSTRAINT TRIGGER refused_at_commit AFTER INSERT ON events \
         DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION refused_at_commit()",
    ] {
        sqlx::query(sql).execute(store.pool()).await.expect(sql);
    }
    let stats = store.clone();
    only_committed_appends_are_acknowledged(store, move || stats.group_commits()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_a_conflict_in_a_shared_transaction_fails_only_its_own_append() {
    let url = fresh_sqlite_url("group_commit_conflict");
    let store = Arc::new(SqliteEventStore::connect(&url).await.expect("sqlite"));
    let stats = store.clone();
    a_conflict_fails_only_its_own_append(store, move || stats.group_commits()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_a_conflict_in_a_shared_transaction_fails_only_its_own_append() {
    let Some(url) = fresh_postgres_url("group_commit_conflict").await else {
        return;
    };
    let store = Arc::new(PgEventStore::connect(&url).await.expect("postgres"));
    let stats = store.clone();
    a_conflict_fails_only_its_own_append(store, move || stats.group_commits()).await;
}

/// `APPENDS` appends released together onto one stream, after whatever it holds: they go to one
/// committer and share its batches, so none finds the stream's lock held by another batch and
/// none runs alone; every version is written once.
async fn appends_to_one_stream_share_batches(
    store: Arc<dyn EventStore>,
    grouped: impl Fn() -> GroupCommits,
) {
    let results = race(store.clone(), |i| {
        AppendRequest::single(
            "busy",
            ExpectedVersion::Any,
            vec![event("Tracked", format!("{i}").as_bytes())],
        )
    })
    .await;
    let mut versions: Vec<u64> = results
        .iter()
        .map(|r| r.as_ref().expect("committed").events[0].stream_version)
        .collect();
    versions.sort_unstable();
    assert_eq!(versions, (1..=APPENDS as u64).collect::<Vec<_>>());
    let grouped = grouped();
    assert_eq!(grouped.alone, 0, "no append ran alone ({grouped:?})");
    assert!(
        grouped.largest > 1,
        "the appends were grouped ({grouped:?})"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_appends_to_one_stream_share_batches_instead_of_waiting_alone() {
    let Some(url) = fresh_postgres_url("group_commit_one_stream").await else {
        return;
    };
    let store = Arc::new(PgEventStore::connect(&url).await.expect("postgres"));
    let stats = store.clone();
    appends_to_one_stream_share_batches(store, move || stats.group_commits()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_appends_to_one_stream_share_batches_instead_of_waiting_alone() {
    let url = fresh_sqlite_url("group_commit_one_stream");
    let store = Arc::new(SqliteEventStore::connect(&url).await.expect("sqlite"));
    let stats = store.clone();
    appends_to_one_stream_share_batches(store, move || stats.group_commits()).await;
}
