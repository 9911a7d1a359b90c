//! What the SQLite backend does beyond the shared contract: the look-ups by id and entity key kept
//! in memory and flushed in bulk, compressed bodies, one ingesting process per file, and
//! databases it cannot read.

use muster_core::entity::EntityKind;
use muster_core::store::{IncidentStore, PageRequest, StoredAlert, WriteBatch};
use muster_core::{Alert, IncidentId, Timestamp};
use muster_store_sqlite::{SqliteOptions, SqliteStore};
use serde_json::json;

fn url(dir: &tempfile::TempDir) -> String {
    format!("sqlite://{}", dir.path().join("muster.db").display())
}

/// An alert on one host, from a fixed time.
fn alert(provider_id: &str, host: &str, minutes: i64) -> Alert {
    let when = Timestamp::from_secs(1_714_521_600 + minutes * 60).to_string();
    let mut alert = Alert::from_json_value(json!({
        "providerAlertId": provider_id,
        "title": format!("Detection {provider_id}"),
        "severity": "medium",
        "serviceSource": "microsoftDefenderForEndpoint",
        "createdDateTime": when, "firstActivityDateTime": when, "lastActivityDateTime": when,
        "evidence": [{"@odata.type": "#microsoft.graph.security.deviceEvidence", "hostName": host,
                      "osPlatform": "Windows11", "rbacGroupName": "Lab"}]
    }))
    .unwrap();
    alert.id = muster_core::ids::alert_id(&alert.service_source, provider_id);
    alert
}

fn stored(alert: Alert) -> StoredAlert {
    StoredAlert::new(alert, IncidentId::new(1).unwrap())
}

async fn write(store: &SqliteStore, alerts: Vec<Alert>) {
    store.write(WriteBatch { alerts: alerts.into_iter().map(stored).collect(), ..Default::default() }).await.unwrap();
}

async fn hosts_of(store: &SqliteStore, host: &str) -> Vec<String> {
    let page = PageRequest { limit: 1000, after: None };
    let mut ids: Vec<String> = store
        .alerts_with_entity(EntityKind::Device, host, &page)
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.alert.provider_alert_id.unwrap())
        .collect();
    ids.sort();
    ids
}

/// Alerts are found by id and by entity key before, across and after flushes and a restart;
/// an alert sent again with other evidence is no longer found by the key it lost.
#[tokio::test]
async fn lookups_hold_across_flushes_and_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let options = SqliteOptions { deferred_flush_min: 5, ..SqliteOptions::default() };
    let store = SqliteStore::open_with(&url(&dir), options.clone()).await.unwrap();
    // Enough batches that every range of the look-ups is flushed at least once.
    for round in 0..40 {
        let batch = (0..4).map(|n| alert(&format!("a{round:02}{n}"), "ws-01", round * 10 + n)).collect();
        write(&store, batch).await;
    }
    // Moved off ws-01: one alert flushed long ago, one still in memory.
    write(&store, vec![alert("a000", "ws-09", 1000), alert("a393", "ws-09", 1001)]).await;
    let on_01 = hosts_of(&store, "ws-01").await;
    assert_eq!(on_01.len(), 158, "{on_01:?}");
    assert!(!on_01.contains(&"a000".to_owned()) && !on_01.contains(&"a393".to_owned()));
    assert_eq!(hosts_of(&store, "ws-09").await, ["a000", "a393"]);
    store.close().await;

    let store = SqliteStore::open_with(&url(&dir), options).await.unwrap();
    assert_eq!(hosts_of(&store, "ws-01").await.len(), 158);
    assert_eq!(hosts_of(&store, "ws-09").await, ["a000", "a393"]);
    let ids: Vec<String> =
        (0..40).flat_map(|r| (0..4).map(move |n| alert(&format!("a{r:02}{n}"), "x", 0).id)).collect();
    let found = store.alerts(&ids).await.unwrap();
    assert_eq!(found.len(), 160, "every alert once, none twice");
    // Sent again after the restart: updated, never duplicated.
    write(&store, vec![alert("a001", "ws-02", 2000)]).await;
    let all = store.list_alerts(&PageRequest { limit: 1000, after: None }).await.unwrap();
    assert_eq!(all.len(), 160);
    assert_eq!(hosts_of(&store, "ws-02").await, ["a001"]);
    let conn = rusqlite::Connection::open(dir.path().join("muster.db")).unwrap();
    let unflushed: i64 = conn.query_row("SELECT COUNT(*) FROM index_state WHERE value = 0", [], |r| r.get(0)).unwrap();
    assert_eq!(unflushed, 0, "every range was flushed");
    store.close().await;
}

/// Once enough alerts were stored, bodies are compressed against a trained dictionary, and read
/// back as they were written, also after a restart.
#[tokio::test]
async fn bodies_are_compressed_and_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&url(&dir)).await.unwrap();
    let alerts: Vec<Alert> = (0..3000).map(|n| alert(&format!("b{n}"), &format!("ws-{:03}", n % 97), n)).collect();
    for chunk in alerts.chunks(500) {
        write(&store, chunk.to_vec()).await;
        // Training runs beside the writer; give it the time it needs.
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    store.close().await;

    let conn = rusqlite::Connection::open(dir.path().join("muster.db")).unwrap();
    let dictionaries: i64 =
        conn.query_row("SELECT COUNT(*) FROM codec_dictionaries WHERE kind = 'alert'", [], |r| r.get(0)).unwrap();
    assert_eq!(dictionaries, 1, "one dictionary for alerts, trained once");
    let (packed, average): (i64, f64) = conn
        .query_row("SELECT COUNT(*), AVG(length(body)) FROM alerts WHERE codec <> 0", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert!(packed > 1000, "{packed} compressed bodies");
    let plain = serde_json::to_string(&alerts[0]).unwrap().len() as f64;
    assert!(average * 3.0 < plain, "compressed bodies average {average} bytes against {plain} plain");

    let store = SqliteStore::open(&url(&dir)).await.unwrap();
    let ids: Vec<String> = alerts.iter().map(|a| a.id.clone()).collect();
    let back = store.alerts(&ids).await.unwrap();
    assert_eq!(back.len(), alerts.len());
    for (read, written) in back.iter().zip(&alerts) {
        let mut expected = written.clone();
        expected.incident_id = Some("1".into());
        assert_eq!(read.alert, expected);
    }
    store.close().await;
}

/// Only one process stores alerts in a database at a time; the second is told why, and nothing of
/// its batch is stored.
#[tokio::test]
async fn a_second_ingesting_store_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let first = SqliteStore::open(&url(&dir)).await.unwrap();
    write(&first, vec![alert("c1", "ws-01", 0)]).await;
    let second = SqliteStore::open(&url(&dir)).await.unwrap();
    let refused = second
        .write(WriteBatch { alerts: vec![stored(alert("c2", "ws-01", 1))], ..Default::default() })
        .await
        .unwrap_err();
    assert!(refused.to_string().contains("another Muster process"), "{refused}");
    first.close().await;
    write(&second, vec![alert("c3", "ws-01", 2)]).await;
    let stored_ids: Vec<String> = second
        .list_alerts(&PageRequest { limit: 10, after: None })
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.alert.provider_alert_id.unwrap())
        .collect();
    assert_eq!(stored_ids, ["c3", "c1"]);
    second.close().await;
}

/// A database from a development build with the old layout is refused, and left as it was.
#[tokio::test]
async fn old_layouts_are_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("muster.db");
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch("CREATE TABLE _sqlx_migrations (version INTEGER); CREATE TABLE incidents (id INTEGER);")
            .unwrap();
    }
    let before = std::fs::read(&path).unwrap();
    let error = SqliteStore::open(&url(&dir)).await.unwrap_err();
    assert!(error.to_string().contains("older layout"), "{error}");
    assert!(std::fs::read(&path).unwrap() == before, "the file was changed");
}
