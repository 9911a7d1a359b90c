//! The contract scenarios. Each takes a fresh, empty store and panics on the first broken promise.

use muster_core::access::{NewApiToken, NewAuditEntry, NewUser, Role, Session};
use muster_core::alert::AlertComment;
use muster_core::assessment::Assessment;
use muster_core::entity::EntityKind;
use muster_core::enums::{AlertClassification, AlertDetermination, AlertSeverity, IncidentStatus};
use muster_core::history::{Actor, HistoryFilter, HistoryKind, NewHistoryEntry};
use muster_core::store::columns::IncidentColumns;
use muster_core::store::{CommentTarget, LateIncidents, PageRequest, Store, StoreError, StoreResult, WriteBatch};
use serde_json::json;

use crate::fixtures::{alert, at, iid, incident, stored, viewer};

fn page(limit: u32) -> PageRequest {
    PageRequest { limit, after: None }
}

/// An incident with every kind of property comes back exactly as written, bookkeeping included.
pub async fn incident_round_trips(store: &dyn Store) {
    let mut i = incident(7, 30);
    i.assigned_to = Some("Alice@Contoso.com".into());
    i.assessment = Assessment::new(Some(AlertClassification::TruePositive), Some(AlertDetermination::Malware)).unwrap();
    i.custom_tags = vec!["ransomware".into(), "vip".into()];
    i.system_tags = vec!["Multi-stage".into()];
    i.categories = vec!["Execution".into(), "CredentialAccess".into()];
    i.service_sources = vec!["microsoftDefenderForEndpoint".into(), "suricata".into()];
    i.device_groups = vec!["Servers".into()];
    i.description = Some("It's <b>bad</b> '; DROP TABLE incidents; --".into());
    i.impacted_assets.devices.count = 2;
    i.impacted_assets.devices.names = vec!["ws-01".into(), "ws-02".into()];
    i.alert_count = 3;
    i.active_alert_count = 2;
    i.meta.name_locked = true;
    i.unknown.insert("vendorExtra".into(), json!({"k": [1, 2]}));
    store.write(WriteBatch { incidents: vec![i.clone()], ..Default::default() }).await.unwrap();

    let back = store.incident(iid(7)).await.unwrap().expect("stored incident");
    assert_eq!(back, i);
    assert!(store.incident(iid(8)).await.unwrap().is_none());
    assert_eq!(store.max_incident_id().await.unwrap(), 7);
}

/// Writes carry the version they build on; a stale one changes nothing.
pub async fn versions_guard_against_lost_updates(store: &dyn Store) {
    let mut i = incident(1, 0);
    store.write(WriteBatch { incidents: vec![i.clone()], ..Default::default() }).await.unwrap();

    // A second "new" incident with the same id is refused.
    let err = store.write(WriteBatch { incidents: vec![i.clone()], ..Default::default() }).await.unwrap_err();
    assert!(matches!(err, StoreError::VersionMismatch { current: 1, .. }), "{err:?}");

    i.meta.version = 2;
    i.status = IncidentStatus::InProgress;
    store.write(WriteBatch { incidents: vec![i.clone()], ..Default::default() }).await.unwrap();

    // A writer that read version 1 cannot overwrite version 2.
    let mut stale = i.clone();
    stale.meta.version = 2;
    stale.status = IncidentStatus::Resolved;
    let err = store.write(WriteBatch { incidents: vec![stale], ..Default::default() }).await.unwrap_err();
    assert!(matches!(err, StoreError::VersionMismatch { current: 2, .. }), "{err:?}");
    let back = store.incident(iid(1)).await.unwrap().unwrap();
    assert_eq!(back.status, IncidentStatus::InProgress);
    assert_eq!(back.meta.version, 2);
}

/// A batch is all or nothing: one stale incident keeps every other part of it out.
pub async fn batches_are_atomic(store: &dyn Store) {
    store.write(WriteBatch { incidents: vec![incident(1, 0)], ..Default::default() }).await.unwrap();
    let batch = WriteBatch {
        incidents: vec![incident(2, 5), incident(1, 5)],
        alerts: vec![stored(alert("a-1", "ws-01", "alice", 5), 2)],
        history: vec![NewHistoryEntry::new(iid(2), at(5), Actor::correlation(), HistoryKind::Created)],
        relinks: vec![],
    };
    assert!(store.write(batch.clone()).await.is_err());
    assert!(store.incident(iid(2)).await.unwrap().is_none());
    assert!(store.alerts(&[batch.alerts[0].alert.id.clone()]).await.unwrap().is_empty());
    assert!(store.history(iid(2), &HistoryFilter::default()).await.unwrap().is_empty());
}

/// Incidents encoded while the rest of the write is under way land in the same transaction: all
/// of it is stored, or (a stale version, an encoder that failed) none of it.
pub async fn late_incidents_share_the_transaction(store: &dyn Store) {
    let late = |incidents: StoreResult<Vec<muster_core::incident::Incident>>| {
        let (sender, late) = LateIncidents::channel();
        let rows = incidents.and_then(|all| all.iter().map(|i| IncidentColumns::of(i, None)).collect());
        std::thread::spawn(move || sender.send(rows));
        late
    };
    let batch = |id: &str, incident: i64| {
        let alerts = vec![stored(alert(id, "ws-01", "alice", 5), incident)];
        let history = vec![NewHistoryEntry::new(iid(incident), at(5), Actor::correlation(), HistoryKind::Created)];
        WriteBatch { alerts, history, ..Default::default() }.encode(None).unwrap()
    };

    store.write_encoded_then(vec![batch("a-1", 1)], late(Ok(vec![incident(1, 5)]))).await.unwrap();
    assert_eq!(store.incident(iid(1)).await.unwrap().expect("stored incident").meta.version, 1);
    assert_eq!(store.alerts_of_incident(iid(1), &page(10)).await.unwrap().len(), 1);
    assert_eq!(store.history(iid(1), &HistoryFilter::default()).await.unwrap().len(), 1);

    // Incident 1 exists already: the whole write is refused, its alert and history included.
    let stale = store.write_encoded_then(vec![batch("a-2", 2)], late(Ok(vec![incident(2, 5), incident(1, 5)]))).await;
    assert!(matches!(stale, Err(StoreError::VersionMismatch { current: 1, .. })), "{stale:?}");
    let failed =
        store.write_encoded_then(vec![batch("a-3", 3)], late(Err(StoreError::Backend("cannot encode".into())))).await;
    assert!(failed.is_err());
    for (alert_id, incident_id) in [("a-2", 2), ("a-3", 3)] {
        assert!(store.incident(iid(incident_id)).await.unwrap().is_none());
        assert!(store.alerts(&[alert(alert_id, "ws-01", "alice", 5).id]).await.unwrap().is_empty());
        assert!(store.history(iid(incident_id), &HistoryFilter::default()).await.unwrap().is_empty());
    }
}

/// Alerts keep their evidence, their incident and their pin; re-writing one replaces its entity keys.
pub async fn alerts_and_entity_keys(store: &dyn Store) {
    let a1 = alert("a-1", "WS-01.contoso.com", "alice", 10);
    let a2 = alert("a-2", "ws-02", "bob", 20);
    let mut pinned = stored(a2.clone(), 1);
    pinned.pinned = true;
    store
        .write(WriteBatch {
            incidents: vec![incident(1, 20)],
            alerts: vec![stored(a1.clone(), 1), pinned.clone()],
            ..Default::default()
        })
        .await
        .unwrap();

    let back = store.alert(&a1.id).await.unwrap().expect("stored alert");
    assert_eq!(back.incident_id, iid(1));
    assert_eq!(back.alert.incident_id.as_deref(), Some("1"));
    let mut expected = a1.clone();
    expected.incident_id = Some("1".into());
    assert_eq!(back.alert, expected);
    assert!(store.alert(&a2.id).await.unwrap().unwrap().pinned);

    // Newest activity first.
    let of_incident = store.alerts_of_incident(iid(1), &page(10)).await.unwrap();
    let ids: Vec<_> = of_incident.iter().map(|a| a.alert.id.clone()).collect();
    assert_eq!(ids, vec![a2.id.clone(), a1.id.clone()]);

    // `CONTOSO\alice` is found as `alice@contoso`; the device by its short lower-case name.
    let by_user = store.alerts_with_entity(EntityKind::User, "alice@contoso", &page(10)).await.unwrap();
    assert_eq!(by_user.len(), 1);
    assert_eq!(by_user[0].alert.id, a1.id);
    let by_host = store.alerts_with_entity(EntityKind::Device, "ws-01", &page(10)).await.unwrap();
    assert_eq!(by_host.len(), 1);

    // The same alert sent again with other evidence: the old keys go.
    let moved = alert("a-1", "ws-09", "alice", 30);
    store.write(WriteBatch { alerts: vec![stored(moved, 1)], ..Default::default() }).await.unwrap();
    assert!(store.alerts_with_entity(EntityKind::Device, "ws-01", &page(10)).await.unwrap().is_empty());
    assert_eq!(store.alerts_with_entity(EntityKind::Device, "ws-09", &page(10)).await.unwrap().len(), 1);
    assert_eq!(store.list_alerts(&page(10)).await.unwrap().len(), 2, "upsert never duplicates");

    assert_eq!(store.latest_activity().await.unwrap(), Some(at(30)));
    let since = store.alerts_since(at(25)).await.unwrap();
    assert_eq!(since.len(), 1);
    assert_eq!(since[0].alert.id, a1.id);
}

/// Lists are newest activity first, page with a keyset cursor without gaps or repeats, and leave
/// redirected incidents out.
pub async fn keyset_paging_is_stable(store: &dyn Store) {
    let mut incidents: Vec<_> = (1..=25).map(|n| incident(n, (n * 7) % 13)).collect();
    incidents[4].status = IncidentStatus::Redirected;
    incidents[4].redirect_incident_id = Some(iid(1));
    store.write(WriteBatch { incidents, ..Default::default() }).await.unwrap();

    let mut seen = Vec::new();
    let mut request = page(10);
    loop {
        let got = store.list_incidents(&request).await.unwrap();
        if got.is_empty() {
            break;
        }
        let last = got.last().unwrap();
        request.after = Some((last.last_activity_date_time.unwrap().micros(), last.id.get()));
        seen.extend(got);
    }
    assert_eq!(seen.len(), 24);
    assert!(seen.iter().all(|i| i.status != IncidentStatus::Redirected));
    for pair in seen.windows(2) {
        let a = (pair[0].last_activity_date_time, pair[0].id);
        let b = (pair[1].last_activity_date_time, pair[1].id);
        assert!(a > b, "not newest first: {a:?} then {b:?}");
    }

    let alerts: Vec<_> = (0..15).map(|n| stored(alert(&format!("p-{n}"), "h", "u", n % 4), 1)).collect();
    store.write(WriteBatch { alerts, ..Default::default() }).await.unwrap();
    let mut ids = Vec::new();
    let mut request = page(4);
    loop {
        let got = store.list_alerts(&request).await.unwrap();
        let Some(last) = got.last() else { break };
        let at = last.alert.activity_time().unwrap().micros();
        request.after = Some((at, last.seq));
        ids.extend(got.into_iter().map(|a| a.alert.id));
    }
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!((ids.len(), unique.len()), (15, 15));
}

/// Comments are kept with author and time, returned as the whole list, and refused for unknown targets.
pub async fn comments_accumulate(store: &dyn Store) {
    let a = alert("c-1", "h", "u", 0);
    store
        .write(WriteBatch {
            incidents: vec![incident(1, 0)],
            alerts: vec![stored(a.clone(), 1)],
            history: vec![],
            relinks: vec![],
        })
        .await
        .unwrap();
    let c = |text: &str, minutes| AlertComment {
        comment: text.into(),
        created_by_display_name: Some("alice".into()),
        created_date_time: at(minutes),
    };
    store.add_comment(&CommentTarget::Incident(iid(1)), &c("first", 1)).await.unwrap();
    let all = store.add_comment(&CommentTarget::Incident(iid(1)), &c("<script>x</script>", 2)).await.unwrap();
    assert_eq!(all.iter().map(|c| c.comment.as_str()).collect::<Vec<_>>(), ["first", "<script>x</script>"]);
    assert_eq!(store.incident(iid(1)).await.unwrap().unwrap().comments, all);

    let on_alert = store.add_comment(&CommentTarget::Alert(a.id.clone()), &c("alert note", 3)).await.unwrap();
    assert_eq!(on_alert.len(), 1);
    assert_eq!(store.alert(&a.id).await.unwrap().unwrap().alert.comments, on_alert);

    let missing = store.add_comment(&CommentTarget::Incident(iid(99)), &c("x", 4)).await;
    assert!(matches!(missing, Err(StoreError::NotFound)), "{missing:?}");
    let missing = store.add_comment(&CommentTarget::Alert("nope".into()), &c("x", 4)).await;
    assert!(matches!(missing, Err(StoreError::NotFound)), "{missing:?}");
}

/// History is read newest first and filters by kind and actor.
pub async fn history_is_an_ordered_log(store: &dyn Store) {
    store.write(WriteBatch { incidents: vec![incident(1, 0)], ..Default::default() }).await.unwrap();
    let entries = vec![
        NewHistoryEntry::new(iid(1), at(0), Actor::correlation(), HistoryKind::Created).with_reason("sameAsset"),
        NewHistoryEntry::new(iid(1), at(1), Actor::user("alice"), HistoryKind::Updated).change(
            "status",
            Some(json!("active")),
            Some(json!("resolved")),
        ),
        NewHistoryEntry::new(iid(1), at(2), Actor::user("bob"), HistoryKind::Commented).with_comment("looks bad"),
        NewHistoryEntry::new(iid(2), at(2), Actor::user("bob"), HistoryKind::Commented).with_comment("elsewhere"),
    ];
    store.append_history(&entries).await.unwrap();

    let all = store.history(iid(1), &HistoryFilter::default()).await.unwrap();
    assert_eq!(all.len(), 3);
    assert_eq!(all[0].entry, entries[2]);
    assert_eq!(all[1].entry, entries[1]);
    assert_eq!(all[2].entry, entries[0]);
    assert!(all[0].id > all[1].id && all[1].id > all[2].id);

    let updates = HistoryFilter { kinds: vec![HistoryKind::Updated], ..Default::default() };
    let got = store.history(iid(1), &updates).await.unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].entry.field.as_deref(), Some("status"));

    let by_alice = HistoryFilter { actor: Some("ALICE".into()), ..Default::default() };
    assert_eq!(store.history(iid(1), &by_alice).await.unwrap().len(), 1);

    let older = HistoryFilter { before_id: Some(all[0].id), limit: 1, ..Default::default() };
    let got = store.history(iid(1), &older).await.unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].id, all[1].id);
}

/// Tag suggestions: most used first, by case-insensitive prefix.
pub async fn tag_suggestions_rank_by_use(store: &dyn Store) {
    let tagged = |id, tags: &[&str]| {
        let mut i = incident(id, 0);
        i.custom_tags = tags.iter().map(|t| t.to_string()).collect();
        i
    };
    let batch = WriteBatch {
        incidents: vec![
            tagged(1, &["ransomware", "vip"]),
            tagged(2, &["ransomware", "phish"]),
            tagged(3, &["Ransomware-2024", "ransomware"]),
        ],
        ..Default::default()
    };
    store.write(batch.clone()).await.unwrap();
    let all = store.tag_suggestions("", 10).await.unwrap();
    assert_eq!(all[0].tag, "ransomware");
    assert_eq!(all[0].count, 3);
    assert_eq!(all.len(), 4);
    let r = store.tag_suggestions("RAN", 10).await.unwrap();
    assert_eq!(r.iter().map(|t| t.tag.as_str()).collect::<Vec<_>>(), ["ransomware", "Ransomware-2024"]);
    assert!(store.tag_suggestions("%", 10).await.unwrap().is_empty(), "prefix is literal, not a pattern");
}

/// Ids are never reused: the largest id referenced anywhere counts.
pub async fn incident_ids_only_grow(store: &dyn Store) {
    assert_eq!(store.max_incident_id().await.unwrap(), 0);
    store.write(WriteBatch { incidents: vec![incident(41, 0)], ..Default::default() }).await.unwrap();
    store
        .append_history(&[NewHistoryEntry::new(iid(57), at(0), Actor::correlation(), HistoryKind::Created)])
        .await
        .unwrap();
    assert_eq!(store.max_incident_id().await.unwrap(), 57);
}

/// Hostile text is data, never SQL.
pub async fn hostile_text_is_stored_verbatim(store: &dyn Store) {
    let nasty = "x'); DROP TABLE incidents; -- \" <img src=x onerror=alert(1)> ☃ \\ %_";
    let mut i = incident(1, 0);
    i.display_name = Some(nasty.into());
    i.custom_tags = vec![nasty.into()];
    let mut a = alert("'; DELETE FROM alerts; --", "h", nasty, 0);
    a.title = nasty.into();
    store
        .write(WriteBatch {
            incidents: vec![i.clone()],
            alerts: vec![stored(a.clone(), 1)],
            history: vec![],
            relinks: vec![],
        })
        .await
        .unwrap();
    assert_eq!(store.incident(iid(1)).await.unwrap().unwrap().display_name.as_deref(), Some(nasty));
    assert_eq!(store.alert(&a.id).await.unwrap().unwrap().alert.title, nasty);
    assert_eq!(store.tag_suggestions(nasty, 5).await.unwrap().len(), 1);
}

/// Users: unique logins whatever their case, updates, listing.
pub async fn users_are_unique_and_updatable(store: &dyn Store) {
    let new = |login: &str| NewUser {
        login: login.into(),
        display_name: format!("{login} display"),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
        roles: vec![Role::Analyst],
        device_groups: vec!["Servers".into()],
    };
    assert_eq!(store.count_users().await.unwrap(), 0);
    let alice = store.create_user(&new("Alice@Contoso.com"), at(0)).await.unwrap();
    assert!(alice.enabled);
    assert_eq!(alice.roles, vec![Role::Analyst]);
    assert_eq!(alice.device_groups, vec!["Servers".to_string()]);
    let dup = store.create_user(&new("alice@contoso.com"), at(1)).await;
    assert!(matches!(dup, Err(StoreError::Conflict(_))), "{dup:?}");

    let mut changed = store.user_by_login("ALICE@contoso.COM").await.unwrap().expect("found by any case");
    assert_eq!(changed, alice);
    changed.enabled = false;
    changed.roles = vec![Role::Admin, Role::Viewer];
    changed.device_groups = vec![];
    store.update_user(&changed).await.unwrap();
    assert_eq!(store.user_by_id(alice.id).await.unwrap(), Some(changed.clone()));

    store.create_user(&new("bob"), at(2)).await.unwrap();
    let logins: Vec<_> = store.list_users().await.unwrap().into_iter().map(|u| u.login).collect();
    assert_eq!(logins, ["Alice@Contoso.com", "bob"]);
    assert_eq!(store.count_users().await.unwrap(), 2);

    let mut ghost = changed;
    ghost.id = 9999;
    assert!(matches!(store.update_user(&ghost).await, Err(StoreError::NotFound)));
}

/// Tokens are found by hash only, revoked once, and know whether they may be used.
pub async fn tokens_are_hashed_and_revocable(store: &dyn Store) {
    let user = store
        .create_user(
            &NewUser {
                login: "alice".into(),
                display_name: "Alice".into(),
                password_hash: "h".into(),
                roles: vec![Role::Analyst],
                device_groups: vec![],
            },
            at(0),
        )
        .await
        .unwrap();
    let token = store
        .create_token(
            &NewApiToken {
                name: "ci".into(),
                user_id: Some(user.id),
                role: Role::Ingest,
                device_groups: vec!["Lab".into()],
                secret_hash: "ab".repeat(32),
                expires_at: Some(at(60)),
            },
            at(0),
        )
        .await
        .unwrap();
    assert_eq!(token.role, Role::Ingest);
    assert!(token.is_usable(at(30)));
    assert!(!token.is_usable(at(61)), "expired");
    assert_eq!(store.token_by_hash(&"ab".repeat(32)).await.unwrap(), Some(token.clone()));
    assert!(store.token_by_hash("cd").await.unwrap().is_none());

    let dup = store
        .create_token(
            &NewApiToken {
                name: "dup".into(),
                user_id: None,
                role: Role::Viewer,
                device_groups: vec![],
                secret_hash: "ab".repeat(32),
                expires_at: None,
            },
            at(0),
        )
        .await;
    assert!(matches!(dup, Err(StoreError::Conflict(_))), "{dup:?}");

    store.touch_token(token.id, at(5)).await.unwrap();
    store.revoke_token(token.id, at(10)).await.unwrap();
    store.revoke_token(token.id, at(20)).await.unwrap();
    let back = store.token_by_hash(&"ab".repeat(32)).await.unwrap().unwrap();
    assert_eq!(back.revoked_at, Some(at(10)), "the first revocation time is kept");
    assert_eq!(back.last_used_at, Some(at(5)));
    assert!(!back.is_usable(at(11)));
    assert_eq!(store.list_tokens().await.unwrap().len(), 1);
    assert!(matches!(store.revoke_token(999, at(0)).await, Err(StoreError::NotFound)));
}

/// The audit log reads newest first and pages backwards.
pub async fn audit_log_reads_newest_first(store: &dyn Store) {
    for n in 0..5 {
        store
            .append_audit(&NewAuditEntry {
                at: at(n),
                actor: "admin".into(),
                action: if n % 2 == 0 { "login" } else { "login.failed" }.into(),
                target: Some(format!("user{n}")),
                detail: None,
                client_ip: Some("127.0.0.1".into()),
            })
            .await
            .unwrap();
    }
    let newest = store.audit_log(2, None).await.unwrap();
    assert_eq!(newest.iter().map(|e| e.target.clone().unwrap()).collect::<Vec<_>>(), ["user4", "user3"]);
    let older = store.audit_log(10, Some(newest[1].id)).await.unwrap();
    assert_eq!(older.len(), 3);
    assert_eq!(older[0].target.as_deref(), Some("user2"));
    assert_eq!(older[0].at, at(2));
}

/// Severity and other enums survive storage in Graph spelling.
pub async fn enums_survive_storage(store: &dyn Store) {
    let mut i = incident(1, 0);
    for severity in [AlertSeverity::Informational, AlertSeverity::Low, AlertSeverity::High] {
        i.severity = severity;
        store.write(WriteBatch { incidents: vec![i.clone()], ..Default::default() }).await.unwrap();
        assert_eq!(store.incident(iid(1)).await.unwrap().unwrap().severity, severity);
        i.meta.version += 1;
    }
}

/// Sessions are found by hash, touched, ended one by one, per user, or when expired.
pub async fn sessions_live_and_end(store: &dyn Store) {
    let alice = store.create_user(&viewer("alice"), at(0)).await.unwrap();
    let bob = store.create_user(&viewer("bob"), at(0)).await.unwrap();
    let session = |hash: &str, user: i64, minutes| Session {
        id_hash: hash.into(),
        user_id: user,
        csrf_token: format!("csrf-{hash}"),
        created_at: at(minutes),
        last_seen_at: at(minutes),
    };
    store.create_session(&session("a1", alice.id, 0)).await.unwrap();
    store.create_session(&session("a2", alice.id, 0)).await.unwrap();
    store.create_session(&session("b1", bob.id, 30)).await.unwrap();
    assert_eq!(store.session("a1").await.unwrap(), Some(session("a1", alice.id, 0)));
    assert!(store.session("zz").await.unwrap().is_none());

    store.touch_session("a1", at(20)).await.unwrap();
    assert_eq!(store.session("a1").await.unwrap().unwrap().last_seen_at, at(20));

    store.delete_session("a1").await.unwrap();
    assert!(store.session("a1").await.unwrap().is_none());
    store.delete_user_sessions(alice.id).await.unwrap();
    assert!(store.session("a2").await.unwrap().is_none());
    assert!(store.session("b1").await.unwrap().is_some(), "other users keep theirs");

    store.create_session(&session("b2", bob.id, 0)).await.unwrap();
    let removed = store.delete_expired_sessions(at(10), at(-100)).await.unwrap();
    assert_eq!(removed, 1);
    assert!(store.session("b2").await.unwrap().is_none());
    assert!(store.session("b1").await.unwrap().is_some());
}

/// Settings are kept per user and key, replaced when saved again, and go with their user.
pub async fn preferences_are_per_user(store: &dyn Store) {
    let alice = store.create_user(&viewer("alice"), at(0)).await.unwrap();
    let bob = store.create_user(&viewer("bob"), at(0)).await.unwrap();
    assert_eq!(store.preference(alice.id, "queue.columns").await.unwrap(), None);
    store.set_preference(alice.id, "queue.columns", r#"["name","id"]"#, at(1)).await.unwrap();
    store.set_preference(bob.id, "queue.columns", r#"["severity"]"#, at(1)).await.unwrap();
    store.set_preference(alice.id, "other", "x'); DROP TABLE users; --", at(1)).await.unwrap();
    store.set_preference(alice.id, "queue.columns", r#"["id","name"]"#, at(2)).await.unwrap();
    assert_eq!(store.preference(alice.id, "queue.columns").await.unwrap().as_deref(), Some(r#"["id","name"]"#));
    assert_eq!(store.preference(bob.id, "queue.columns").await.unwrap().as_deref(), Some(r#"["severity"]"#));
    assert_eq!(store.preference(alice.id, "other").await.unwrap().as_deref(), Some("x'); DROP TABLE users; --"));
    assert_eq!(store.preference(bob.id, "other").await.unwrap(), None);
    assert_eq!(store.count_users().await.unwrap(), 2);
}

/// A merge relinks every alert of one incident to another in the same commit.
pub async fn merges_relink_alerts(store: &dyn Store) {
    let a = alert("m-1", "ws-01", "alice", 0);
    let b = alert("m-2", "ws-02", "bob", 1);
    store
        .write(WriteBatch {
            incidents: vec![incident(1, 0), incident(2, 1)],
            alerts: vec![stored(a.clone(), 1), stored(b.clone(), 2)],
            ..Default::default()
        })
        .await
        .unwrap();
    let mut survivor = incident(1, 1);
    survivor.meta.version = 2;
    survivor.meta.rollup.alert_count = 2;
    let mut gone = incident(2, 1);
    gone.meta.version = 2;
    gone.status = IncidentStatus::Redirected;
    gone.redirect_incident_id = Some(iid(1));
    store
        .write(WriteBatch { incidents: vec![survivor, gone], relinks: vec![(iid(2), iid(1))], ..Default::default() })
        .await
        .unwrap();
    let alerts = store.alerts_of_incident(iid(1), &page(10)).await.unwrap();
    assert_eq!(alerts.len(), 2);
    assert!(store.alerts_of_incident(iid(2), &page(10)).await.unwrap().is_empty());
    let back = store.incident(iid(1)).await.unwrap().unwrap();
    assert_eq!(back.meta.rollup.alert_count, 2, "roll-up totals are kept with the incident");
    let redirected = store.incident(iid(2)).await.unwrap().unwrap();
    assert_eq!(redirected.redirect_incident_id, Some(iid(1)));
}

/// The same alert twice in one batch: its last version wins, with only that version's keys.
pub async fn repeated_alerts_in_a_batch_keep_the_last(store: &dyn Store) {
    let first = alert("dup-1", "ws-01", "alice", 0);
    let last = alert("dup-1", "ws-09", "alice", 5);
    store
        .write(WriteBatch {
            incidents: vec![incident(1, 5)],
            alerts: vec![stored(first, 1), stored(last.clone(), 1)],
            ..Default::default()
        })
        .await
        .unwrap();
    let all = store.list_alerts(&page(10)).await.unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].alert.evidence, last.evidence);
    assert!(store.alerts_with_entity(EntityKind::Device, "ws-01", &page(10)).await.unwrap().is_empty());
    assert_eq!(store.alerts_with_entity(EntityKind::Device, "ws-09", &page(10)).await.unwrap().len(), 1);
}
