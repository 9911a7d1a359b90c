//! What only PostgreSQL can get wrong: concurrent writers from several nodes, the multi-row batch
//! statements against SQLite's row-by-row writes, collation and case folding, the append-only
//! triggers, and failing fast on an unreachable server. The behaviour both backends share is the
//! contract suite's (crates/muster-store-tests).
//!
//! Needs `MUSTER_TEST_DATABASE_URL` (e.g. `postgres://postgres@127.0.0.1:5432/test`); each test makes
//! its own database and drops it. Without the variable the tests pass without doing anything.

use std::sync::Arc;
use std::time::{Duration, Instant};

use muster_core::alert::Alert;
use muster_core::entity::EntityKind;
use muster_core::enums::IncidentStatus;
use muster_core::history::{Actor, HistoryFilter, HistoryKind, NewHistoryEntry};
use muster_core::incident::Incident;
use muster_core::store::{IncidentStore, PageRequest, Store, StoreError, StoredAlert, WriteBatch};
use muster_core::{IncidentId, Timestamp};
use muster_store_postgres::PostgresStore;
use muster_store_sqlite::SqliteStore;
use serde_json::json;
use sqlx::{Connection, PgConnection};

const URL_VAR: &str = "MUSTER_TEST_DATABASE_URL";

/// A throw-away database, dropped on drop.
struct Scratch {
    admin_url: String,
    name: String,
    url: String,
}

impl Scratch {
    async fn new() -> Option<Self> {
        let Ok(admin_url) = std::env::var(URL_VAR) else {
            eprintln!("skipped: {URL_VAR} is not set");
            return None;
        };
        let name = format!("muster_pg_{}", uuid::Uuid::new_v4().simple());
        let mut conn = PgConnection::connect(&admin_url).await.expect("reach PostgreSQL");
        sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut conn).await.expect("create database");
        let _ = conn.close().await;
        let (head, query) = admin_url.split_once('?').map_or((admin_url.as_str(), None), |(h, q)| (h, Some(q)));
        let authority_end = head.find("://").map_or(0, |i| i + 3);
        let base = match head[authority_end..].find('/') {
            Some(i) => &head[..authority_end + i],
            None => head,
        };
        let url = match query {
            Some(q) => format!("{base}/{name}?{q}"),
            None => format!("{base}/{name}"),
        };
        Some(Self { admin_url, name, url })
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
            rt.block_on(async {
                let mut conn = PgConnection::connect(&admin_url).await.ok()?;
                sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&mut conn).await.ok()
            })
        })
        .join();
    }
}

async fn sqlite() -> (SqliteStore, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&format!("sqlite://{}", dir.path().join("m.db").display())).await.unwrap();
    (store, dir)
}

fn at(minutes: i64) -> Timestamp {
    Timestamp::from_secs(1_714_521_600 + minutes * 60)
}

fn iid(n: i64) -> IncidentId {
    IncidentId::new(n).unwrap()
}

fn incident(id: i64, version: i64, tags: &[&str]) -> Incident {
    let mut i = Incident::new(iid(id), at(0));
    i.display_name = Some(format!("Incident {id}"));
    i.custom_tags = tags.iter().map(|t| (*t).to_owned()).collect();
    i.last_activity_date_time = Some(at(id));
    i.meta.version = version;
    i
}

fn alert(provider_id: &str, host: &str, minutes: i64, incident: i64, pinned: bool) -> StoredAlert {
    let when = at(minutes).to_string();
    let mut alert = Alert::from_json_value(json!({
        "providerAlertId": provider_id,
        "title": format!("Alert {provider_id} on {host}"),
        "severity": "high",
        "status": "new",
        "serviceSource": "microsoftDefenderForEndpoint",
        "createdDateTime": when,
        "lastActivityDateTime": when,
        "evidence": [{"@odata.type": "#microsoft.graph.security.deviceEvidence", "hostName": host}]
    }))
    .unwrap();
    alert.id = muster_core::ids::alert_id(&alert.service_source, provider_id);
    StoredAlert { alert, incident_id: iid(incident), pinned, seq: 0 }
}

/// Several nodes writing the same incident from the same version: exactly one wins.
#[tokio::test]
async fn concurrent_writers_cannot_both_win() {
    let Some(db) = Scratch::new().await else {
        return;
    };
    let store = Arc::new(PostgresStore::connect(&db.url).await.unwrap());
    store.write(WriteBatch { incidents: vec![incident(1, 1, &[])], ..Default::default() }).await.unwrap();

    for (id, version) in [(1, 2), (2, 1)] {
        let barrier = Arc::new(tokio::sync::Barrier::new(8));
        let tasks: Vec<_> = (0..8)
            .map(|n| {
                let (store, barrier) = (store.clone(), barrier.clone());
                tokio::spawn(async move {
                    let mut i = incident(id, version, &[&format!("writer-{id}-{n}")]);
                    i.status = IncidentStatus::InProgress;
                    barrier.wait().await;
                    store.write(WriteBatch { incidents: vec![i], ..Default::default() }).await
                })
            })
            .collect();
        let mut won = 0;
        for task in tasks {
            match task.await.unwrap() {
                Ok(()) => won += 1,
                Err(StoreError::VersionMismatch { current, .. }) => assert_eq!(current, version),
                Err(e) => panic!("unexpected error: {e:?}"),
            }
        }
        assert_eq!(won, 1, "incident {id}: exactly one writer of version {version} wins");
        let stored = store.incident(iid(id)).await.unwrap().unwrap();
        assert_eq!(stored.meta.version, version);
        assert_eq!(store.tag_suggestions("writer-", 10).await.unwrap().len(), id as usize, "one set of facets");
    }
    store.close().await;
}

/// One batch naming the same incident and alert twice ends exactly as on SQLite.
#[tokio::test]
async fn repeated_records_in_a_batch_end_as_on_sqlite() {
    let Some(db) = Scratch::new().await else {
        return;
    };
    let pg = PostgresStore::connect(&db.url).await.unwrap();
    let (lite, _dir) = sqlite().await;

    let first = incident(5, 1, &["early", "shared"]);
    let mut second = incident(5, 2, &["late", "shared"]);
    second.created_date_time = at(3);
    second.status = IncidentStatus::Resolved;
    let batch = WriteBatch {
        incidents: vec![incident(3, 1, &["other"]), first, second],
        alerts: vec![
            alert("a-1", "ws-01", 10, 5, false),
            alert("a-2", "ws-02", 12, 3, false),
            alert("a-1", "ws-09", 11, 3, true),
        ],
        relinks: vec![],
        history: (0..5)
            .map(|n| NewHistoryEntry::new(iid(5), at(n), Actor::user(format!("user-{n}")), HistoryKind::Updated))
            .collect(),
    };
    let stores: [&dyn Store; 2] = [&pg, &lite];
    for store in stores {
        store.write(batch.clone()).await.unwrap();
    }
    let page = PageRequest { limit: 50, after: None };
    // Arrival numbers are each backend's own.
    let unnumbered = |alerts: Vec<StoredAlert>| -> Vec<StoredAlert> {
        alerts.into_iter().map(|a| StoredAlert { seq: 0, ..a }).collect()
    };
    {
        let (p, l): (&dyn Store, &dyn Store) = (&pg, &lite);
        assert_eq!(p.incidents(&[iid(5), iid(3)]).await.unwrap(), l.incidents(&[iid(5), iid(3)]).await.unwrap());
        assert_eq!(unnumbered(p.list_alerts(&page).await.unwrap()), unnumbered(l.list_alerts(&page).await.unwrap()));
        for host in ["ws-01", "ws-02", "ws-09"] {
            assert_eq!(
                unnumbered(p.alerts_with_entity(EntityKind::Device, host, &page).await.unwrap()),
                unnumbered(l.alerts_with_entity(EntityKind::Device, host, &page).await.unwrap()),
                "{host}"
            );
        }
        assert_eq!(p.tag_suggestions("", 50).await.unwrap(), l.tag_suggestions("", 50).await.unwrap());
        let (ph, lh) = (
            p.history(iid(5), &HistoryFilter::default()).await.unwrap(),
            l.history(iid(5), &HistoryFilter::default()).await.unwrap(),
        );
        assert_eq!(ph.iter().map(|h| &h.entry).collect::<Vec<_>>(), lh.iter().map(|h| &h.entry).collect::<Vec<_>>());
    }
    let alert = pg.alert(&batch.alerts[0].alert.id).await.unwrap().unwrap();
    assert!(alert.pinned);
    assert_eq!(alert.incident_id, iid(3));

    // The creation time column keeps the first version's, as an insert followed by an upsert does.
    let mut conn = PgConnection::connect(&db.url).await.unwrap();
    let created: i64 =
        sqlx::query_scalar("SELECT created_at FROM incidents WHERE id = 5").fetch_one(&mut conn).await.unwrap();
    assert_eq!(created, at(0).micros());
    let _ = conn.close().await;
    pg.close().await;
}

/// Case-insensitive matching folds ASCII only and text sorts by bytes, as on SQLite, whatever the
/// server's locale.
#[tokio::test]
async fn folding_and_ordering_match_sqlite() {
    let Some(db) = Scratch::new().await else {
        return;
    };
    let pg = PostgresStore::connect(&db.url).await.unwrap();
    let (lite, _dir) = sqlite().await;
    let tags = ["b", "B", "a", "é", "É", "Z", "Ärger", "ärger", "ARGH", "arg"];
    let batch = WriteBatch {
        incidents: vec![incident(1, 1, &tags), incident(2, 1, &["arg"])],
        history: ["Alice", "ALICE", "Ålice", "ålice"]
            .iter()
            .map(|a| NewHistoryEntry::new(iid(1), at(0), Actor::user(*a), HistoryKind::Commented))
            .collect(),
        ..Default::default()
    };
    pg.write(batch.clone()).await.unwrap();
    lite.write(batch.clone()).await.unwrap();
    for prefix in ["", "a", "A", "ar", "ä", "Ä", "é", "É", "b"] {
        assert_eq!(
            pg.tag_suggestions(prefix, 50).await.unwrap(),
            lite.tag_suggestions(prefix, 50).await.unwrap(),
            "prefix {prefix:?}"
        );
    }
    for actor in ["alice", "ålice", "ÅLICE", "Ålice"] {
        let filter = HistoryFilter { actor: Some(actor.into()), ..Default::default() };
        let names = |h: Vec<muster_core::history::HistoryEntry>| -> Vec<String> {
            h.into_iter().map(|e| e.entry.actor.name).collect()
        };
        assert_eq!(
            names(pg.history(iid(1), &filter).await.unwrap()),
            names(lite.history(iid(1), &filter).await.unwrap()),
            "actor {actor:?}"
        );
    }
    pg.close().await;
}

/// The history and the audit log refuse edits, deletions and truncation.
#[tokio::test]
async fn history_and_audit_log_are_append_only() {
    let Some(db) = Scratch::new().await else {
        return;
    };
    let pg = PostgresStore::connect(&db.url).await.unwrap();
    pg.append_history(&[NewHistoryEntry::new(iid(1), at(0), Actor::correlation(), HistoryKind::Created)])
        .await
        .unwrap();
    muster_core::store::AccessStore::append_audit(
        &pg,
        &muster_core::access::NewAuditEntry {
            at: at(0),
            actor: "admin".into(),
            action: "login".into(),
            target: None,
            detail: None,
            client_ip: None,
        },
    )
    .await
    .unwrap();
    let mut conn = PgConnection::connect(&db.url).await.unwrap();
    for sql in [
        "UPDATE history SET actor = 'x'",
        "DELETE FROM history",
        "TRUNCATE history",
        "UPDATE audit_log SET actor = 'x'",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log",
    ] {
        let err = sqlx::query(sql).execute(&mut conn).await.expect_err(sql);
        assert!(err.to_string().contains("append-only"), "{sql}: {err}");
    }
    let _ = conn.close().await;
    assert_eq!(pg.history(iid(1), &HistoryFilter::default()).await.unwrap().len(), 1);
    pg.close().await;

    // The long scheme works too, and a second connect finds the migrations applied.
    let again = PostgresStore::connect(&db.url.replacen("postgres://", "postgresql://", 1)).await.unwrap();
    again.ping().await.unwrap();
    assert_eq!(again.backend(), "postgres");
    assert_eq!(again.history(iid(1), &HistoryFilter::default()).await.unwrap().len(), 1);
    again.close().await;
}

/// A server that does not answer fails start-up within about ten seconds, saying where and why.
#[tokio::test]
async fn unreachable_server_fails_fast() {
    let started = Instant::now();
    let err = PostgresStore::connect("postgres://muster:secret@127.0.0.1:1/muster").await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(11), "took {:?}", started.elapsed());
    let StoreError::Backend(message) = err else { panic!("expected a backend error, got {err:?}") };
    eprintln!("{message} (after {:?})", started.elapsed());
    assert!(message.contains("127.0.0.1:1/muster"), "{message}");
    assert!(!message.contains("secret"), "{message}");

    let err = PostgresStore::connect("mysql://u@h/db").await.unwrap_err();
    assert!(matches!(err, StoreError::Backend(m) if m.contains("postgres://")));
}
