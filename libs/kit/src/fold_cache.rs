//! Folded aggregates kept in this process, so a stream is folded from where it was last seen
//! instead of from its start: the cost of loading a stream stops growing with its history.
//!
//! Safe because a stream is append-only with contiguous versions: the fold of versions 1..=v
//! never changes, and the events after v are read from the log each time. A decision on a state
//! that another process has moved on from still fails at the append (the runner's expected
//! versions), exactly as without the cache. Entries are per log (told apart by the log's commit
//! channel, which the entry keeps alive, so no other log can take its place), per stream and per
//! aggregate type. At most [`CAPACITY`] entries; when full, the cache starts again empty.
use std::{
    any::{Any, TypeId},
    collections::HashMap,
    sync::Mutex,
};

use tokio::sync::watch;
use yeyak_eventlog::EventStore;

/// How many folded streams a process keeps.
pub const CAPACITY: usize = 20_000;

struct Entry {
    log: watch::Receiver<u64>,
    version: u64,
    state: Box<dyn Any + Send + Sync>,
}

type Key = (String, TypeId);

/// The entries by key, and how many there are.
type Entries = (HashMap<Key, Vec<Entry>>, usize);

static CACHE: Mutex<Option<Entries>> = Mutex::new(None);

/// The cached fold of `stream` in `log` for `A`, and the version it has folded to.
pub fn get<A: Clone + 'static>(log: &dyn EventStore, stream: &str) -> Option<(A, u64)> {
    let commits = log.commits();
    let cache = CACHE.lock().expect("fold cache");
    let entries = cache
        .as_ref()?
        .0
        .get(&(stream.to_string(), TypeId::of::<A>()))?;
    entries
        .iter()
        .find(|e| e.log.same_channel(&commits))
        .and_then(|e| Some((e.state.downcast_ref::<A>()?.clone(), e.version)))
}

/// Keeps the fold of `stream` in `log` at `version`, unless a later one is kept already.
pub fn put<A: Clone + Send + Sync + 'static>(
    log: &dyn EventStore,
    stream: &str,
    state: &A,
    version: u64,
) {
    let commits = log.commits();
    let mut cache = CACHE.lock().expect("fold cache");
    let (map, count) = cache.get_or_insert_with(|| (HashMap::new(), 0));
    if *count >= CAPACITY {
        map.clear();
        *count = 0;
    }
    let entries = map
        .entry((stream.to_string(), TypeId::of::<A>()))
        .or_default();
    match entries.iter_mut().find(|e| e.log.same_channel(&commits)) {
        Some(e) if e.version > version => {}
        Some(e) => {
            e.version = version;
            e.state = Box::new(state.clone());
        }
        None => {
            entries.push(Entry {
                log: commits,
                version,
                state: Box::new(state.clone()),
            });
            *count += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use prost::Message;
    use yeyak_eventlog::{AppendRequest, ExpectedVersion, testing::event};
    use yeyak_proto::access::v1::OperatorRecorded;

    use crate::command::{Aggregate, aggregate};

    use super::*;

    crate::event_set! {
        enum Noted {
            Recorded(OperatorRecorded),
        }
    }

    /// The operators recorded, in order.
    #[derive(Debug, Default, Clone, PartialEq)]
    struct Seen(Vec<String>);

    impl Aggregate for Seen {
        type Event = Noted;
        type Command = ();
        type Context = ();
        type Decision = ();
        type Error = ();

        fn evolve(&mut self, Noted::Recorded(e): Noted) {
            self.0.push(e.operator_id);
        }

        fn decide(&self, _: (), _: &()) -> Result<(), ()> {
            Ok(())
        }
    }

    async fn record(log: &dyn EventStore, stream: &str, operator: &str) {
        let payload = OperatorRecorded {
            operator_id: operator.into(),
            ..Default::default()
        }
        .encode_to_vec();
        log.append(AppendRequest::single(
            stream,
            ExpectedVersion::Any,
            vec![event("yeyak.access.v1.OperatorRecorded", &payload)],
        ))
        .await
        .expect("appended");
    }

    async fn log() -> std::sync::Arc<dyn EventStore> {
        let url = yeyak_eventlog::testing::fresh_sqlite_url("fold-cache");
        yeyak_eventlog::connect(&url).await.expect("log")
    }

    #[tokio::test]
    async fn a_fold_goes_on_from_the_cached_state_and_reads_only_what_came_after() {
        let log = log().await;
        record(&*log, "s", "a").await;
        record(&*log, "s", "b").await;
        let (seen, version) = aggregate::<Seen>(&*log, "s").await.unwrap();
        assert_eq!(
            (seen.0.as_slice(), version),
            (&["a".to_string(), "b".into()][..], Some(2))
        );
        // A marked state in the cache at version 2: a fold that starts from it never read the
        // first two events again.
        put(&*log, "s", &Seen(vec!["cached".into()]), 2);
        record(&*log, "s", "c").await;
        let (seen, version) = aggregate::<Seen>(&*log, "s").await.unwrap();
        assert_eq!(seen.0, vec!["cached".to_string(), "c".into()]);
        assert_eq!(version, Some(3));
    }

    #[tokio::test]
    async fn two_logs_with_a_stream_of_the_same_name_never_share_a_fold() {
        let (one, two) = (log().await, log().await);
        record(&*one, "shared-name", "one").await;
        record(&*two, "shared-name", "two").await;
        record(&*two, "shared-name", "two-again").await;
        let (a, _) = aggregate::<Seen>(&*one, "shared-name").await.unwrap();
        let (b, _) = aggregate::<Seen>(&*two, "shared-name").await.unwrap();
        assert_eq!(a.0, vec!["one".to_string()]);
        assert_eq!(b.0, vec!["two".to_string(), "two-again".into()]);
        // An older fold never replaces a newer one.
        put(&*two, "shared-name", &Seen(vec![]), 1);
        assert_eq!(get::<Seen>(&*two, "shared-name").map(|(_, v)| v), Some(2));
    }
}
