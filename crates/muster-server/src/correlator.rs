//! The one place alerts enter storage: each batch is prepared, correlated by the engine, rolled up
//! into its incidents and written in one transaction (group commit). The engine is a single writer;
//! batches queue for it.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use muster_core::correlation::{alert_facts, CorrelationConfig, Engine, IncidentFacts, Placement, Step};
use muster_core::enums::{CorrelationReasons, IncidentStatus};
use muster_core::history::{Actor, HistoryKind, NewHistoryEntry};
use muster_core::incident::Incident;
use muster_core::ingest::prepare;
use muster_core::store::columns::assignee_key;
use muster_core::store::{Store, StoreError, StoredAlert, WriteBatch};
use muster_core::{Alert, IncidentId, Timestamp};
use serde_json::json;
use tokio::sync::{oneshot, Mutex};

/// The system tag Graph gives an incident merged into another.
pub const REDIRECTED_TAG: &str = "Redirected";
/// The system tag of an incident that holds one recurring detector/entity pair's alerts.
pub const RECURRING_TAG: &str = "Recurring alerts";

/// Where an accepted alert went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    pub alert_id: String,
    pub incident_id: IncidentId,
}

/// How many times a batch is re-applied when a person changed one of its incidents meanwhile.
const WRITE_ATTEMPTS: usize = 5;

/// The correlation engine and what it needs to write its decisions.
#[derive(Debug)]
pub struct Correlator {
    engine: Mutex<Engine>,
    /// Batches waiting for the engine. Whoever takes the engine next correlates and commits all of
    /// them in one transaction (group commit), so concurrent senders share one commit.
    waiting: std::sync::Mutex<Vec<Waiting>>,
    config: CorrelationConfig,
}

/// One sender's batch, and where its outcome goes.
#[derive(Debug)]
struct Waiting {
    alerts: Vec<Alert>,
    outcome: oneshot::Sender<Result<Vec<Accepted>, StoreError>>,
}

/// What the engine needs to know of a stored incident.
pub fn facts_of(incident: &Incident) -> IncidentFacts {
    IncidentFacts {
        closed: incident.status.is_closed(),
        assigned_to: assignee_key(incident.assigned_to.as_deref()),
        classification: incident.assessment.classification(),
        determination: incident.assessment.determination(),
        device_groups: incident.device_groups.iter().map(|g| g.to_lowercase()).collect(),
        alert_count: incident.alert_count,
        recurring: incident.system_tags.iter().any(|t| t == RECURRING_TAG),
    }
}

impl Correlator {
    /// Rebuilds the engine's memory from storage: the alerts of the window measured back from the
    /// latest activity stored (not from the wall clock), so a restart changes no result.
    pub async fn start(store: &dyn Store, config: CorrelationConfig) -> Result<Self, StoreError> {
        let engine = Self::rebuild(store, &config).await?;
        Ok(Self { engine: Mutex::new(engine), waiting: Default::default(), config })
    }

    async fn rebuild(store: &dyn Store, config: &CorrelationConfig) -> Result<Engine, StoreError> {
        let mut engine = Engine::new(config.clone(), store.max_incident_id().await?);
        if let Some(latest) = store.latest_activity().await? {
            let since = latest.plus_secs(-config.memory_secs());
            let alerts = store.alerts_since(since).await?;
            let ids: BTreeSet<IncidentId> = alerts.iter().map(|a| a.incident_id).collect();
            let ids: Vec<IncidentId> = ids.into_iter().collect();
            for incident in store.incidents(&ids).await? {
                engine.incident_changed(incident.id, facts_of(&incident));
                if let Some(into) = incident.redirect_incident_id {
                    engine.merged(incident.id, into);
                }
            }
            for stored in &alerts {
                let placed = Placement { incident: stored.incident_id, pinned: stored.pinned };
                engine.restore(&alert_facts(&stored.alert, Some(placed)));
            }
        }
        Ok(engine)
    }

    /// Tells the engine a person changed an incident (status, assignee, classification).
    pub async fn incident_changed(&self, incident: &Incident) {
        self.engine.lock().await.incident_changed(incident.id, facts_of(incident));
    }

    /// Stores and correlates a batch of valid alerts. When it returns, every alert is committed
    /// and its incident is up to date. Batches that arrive while the engine is busy are committed
    /// together with the others waiting; each sender gets its own alerts' outcome. Should that one
    /// commit fail, every batch in it fails and none of them is stored.
    pub async fn ingest(
        &self,
        store: &dyn Store,
        mut alerts: Vec<Alert>,
        now: Timestamp,
    ) -> Result<Vec<Accepted>, StoreError> {
        for alert in &mut alerts {
            prepare(alert, now, self.config.future_tolerance_secs);
        }
        let (outcome, mine) = oneshot::channel();
        self.waiting.lock().unwrap_or_else(|e| e.into_inner()).push(Waiting { alerts, outcome });
        {
            let mut engine = self.engine.lock().await;
            let waiting = std::mem::take(&mut *self.waiting.lock().unwrap_or_else(|e| e.into_inner()));
            // Empty when an earlier holder of the engine already committed this batch.
            if !waiting.is_empty() {
                let sizes: Vec<usize> = waiting.iter().map(|w| w.alerts.len()).collect();
                let mut outcomes = Vec::with_capacity(waiting.len());
                let mut all = Vec::with_capacity(sizes.iter().sum());
                for w in waiting {
                    all.extend(w.alerts);
                    outcomes.push(w.outcome);
                }
                match self.commit(&mut engine, store, all, now).await {
                    Ok(accepted) => {
                        let mut accepted = accepted.into_iter();
                        for (size, outcome) in sizes.into_iter().zip(outcomes) {
                            let _ = outcome.send(Ok(accepted.by_ref().take(size).collect()));
                        }
                    }
                    Err(e) => {
                        for outcome in outcomes {
                            let _ = outcome.send(Err(e.clone()));
                        }
                    }
                }
            }
        }
        mine.await.unwrap_or_else(|_| Err(StoreError::Backend("the ingest was cancelled before it committed".into())))
    }

    /// Correlates and commits prepared alerts with the engine held.
    async fn commit(
        &self,
        engine: &mut Engine,
        store: &dyn Store,
        alerts: Vec<Alert>,
        now: Timestamp,
    ) -> Result<Vec<Accepted>, StoreError> {
        let order: Vec<String> = alerts.iter().map(|a| a.id.clone()).collect();
        // The same alert twice in one batch: its last version, in the place of its first, as if
        // the first had been sent alone and then updated.
        let mut slot: HashMap<String, usize> = HashMap::with_capacity(alerts.len());
        let mut unique: Vec<Alert> = Vec::with_capacity(alerts.len());
        for alert in alerts {
            match slot.get(&alert.id) {
                Some(&i) => unique[i] = alert,
                None => {
                    slot.insert(alert.id.clone(), unique.len());
                    unique.push(alert);
                }
            }
        }

        let ids: Vec<String> = unique.iter().map(|a| a.id.clone()).collect();
        let existing: HashMap<String, StoredAlert> =
            store.alerts(&ids).await?.into_iter().map(|s| (s.alert.id.clone(), s)).collect();
        let facts: Vec<_> = unique
            .iter()
            .map(|a| {
                let placed = existing.get(&a.id).map(|s| Placement { incident: s.incident_id, pinned: s.pinned });
                alert_facts(a, placed)
            })
            .collect();
        let step = engine.process(&facts);

        let mut attempt = 0;
        let written = loop {
            let batch = match build_batch(store, engine, &step, &unique, &existing, now).await {
                Ok(batch) => batch,
                Err(e) => break Err(e),
            };
            match store.write(&batch).await {
                Ok(()) => break Ok(batch),
                Err(StoreError::VersionMismatch { .. }) if attempt + 1 < WRITE_ATTEMPTS => attempt += 1,
                Err(e) => break Err(e),
            }
        };
        let batch = match written {
            Ok(batch) => batch,
            Err(e) => {
                // The engine already remembers decisions that were not stored: rebuild its memory
                // from what storage holds, so a retry starts from the truth.
                tracing::warn!(error = %e, "ingest failed; rebuilding the correlation window from storage");
                if let Ok(fresh) = Self::rebuild(store, &self.config).await {
                    *engine = fresh;
                }
                return Err(e);
            }
        };
        for incident in &batch.incidents {
            engine.incident_changed(incident.id, facts_of(incident));
        }

        let placed: HashMap<&str, IncidentId> =
            batch.alerts.iter().map(|s| (s.alert.id.as_str(), s.incident_id)).collect();
        Ok(order
            .into_iter()
            .map(|alert_id| {
                let incident_id = placed[alert_id.as_str()];
                Accepted { alert_id, incident_id }
            })
            .collect())
    }
}

/// Turns the engine's decisions into one write: alerts with their incident, every touched
/// incident with fresh roll-ups, merges with their redirects, and the history of it all.
async fn build_batch(
    store: &dyn Store,
    engine: &Engine,
    step: &Step,
    alerts: &[Alert],
    existing: &HashMap<String, StoredAlert>,
    now: Timestamp,
) -> Result<WriteBatch, StoreError> {
    let created: BTreeSet<IncidentId> = step.decisions.iter().filter(|d| d.created).map(|d| d.incident).collect();
    let mut touched: BTreeSet<IncidentId> = step.decisions.iter().map(|d| d.incident).collect();
    for merge in &step.merges {
        touched.insert(merge.from);
        touched.insert(merge.into);
    }
    // Alerts sent again leave their old incident's totals too.
    touched.extend(existing.values().map(|s| s.incident_id));
    let stored: Vec<IncidentId> = touched.iter().filter(|id| !created.contains(id)).copied().collect();
    let mut incidents: BTreeMap<IncidentId, Incident> =
        store.incidents(&stored).await?.into_iter().map(|i| (i.id, i)).collect();
    for id in &created {
        let mut incident = Incident::new(*id, now);
        incident.last_modified_by = Some("correlation".into());
        incidents.insert(*id, incident);
    }
    let mut history = Vec::new();
    let mut relinks = Vec::new();

    // Merges first, in the order the engine made them: totals move to the survivor.
    for merge in &step.merges {
        let Some(mut from) = incidents.remove(&merge.from) else { continue };
        let into_id = engine.resolve(merge.into);
        if let Some(into) = incidents.get_mut(&into_id) {
            into.meta.rollup.merge(&from.meta.rollup);
            for tag in &from.custom_tags {
                if !into.custom_tags.contains(tag) {
                    into.custom_tags.push(tag.clone());
                }
            }
        }
        from.meta.rollup = Default::default();
        from.status = IncidentStatus::Redirected;
        from.redirect_incident_id = Some(into_id);
        if !from.system_tags.iter().any(|t| t == REDIRECTED_TAG) {
            from.system_tags.push(REDIRECTED_TAG.into());
        }
        relinks.push((merge.from, into_id));
        let reasons = merge.reasons.to_string();
        history.push(
            NewHistoryEntry::new(into_id, now, Actor::correlation(), HistoryKind::Merged)
                .change("incidents", None, Some(json!([merge.from.to_string()])))
                .with_reason(reasons.clone()),
        );
        history.push(
            NewHistoryEntry::new(merge.from, now, Actor::correlation(), HistoryKind::Redirected)
                .change("redirectIncidentId", None, Some(json!(into_id.to_string())))
                .with_reason(reasons),
        );
        incidents.insert(merge.from, from);
    }

    let mut added: BTreeMap<IncidentId, (Vec<String>, CorrelationReasons)> = BTreeMap::new();
    let mut out_alerts = Vec::with_capacity(alerts.len());
    for (alert, decision) in alerts.iter().zip(&step.decisions) {
        let target = engine.resolve(decision.incident);
        let previous = existing.get(&alert.id);
        let mut alert = alert.clone();
        if let Some(before) = previous {
            // What people set on the alert stays; the sender's view of it is updated.
            alert.assigned_to = alert.assigned_to.or_else(|| before.alert.assigned_to.clone());
            alert.comments = before.alert.comments.clone();
            let old_home = engine.resolve(before.incident_id);
            if let Some(home) = incidents.get_mut(&old_home) {
                // Should the old version have held the span's edge, the span stays as wide as it
                // was: a re-sent alert rarely moves back in time, and never loses an alert.
                home.meta.rollup.remove(&before.alert);
            }
        } else {
            let entry = added.entry(target).or_default();
            entry.0.push(alert.id.clone());
            entry.1 |= decision.reasons;
        }
        let Some(incident) = incidents.get_mut(&target) else {
            // The engine placed it in an incident storage does not have: its memory is out of step.
            return Err(StoreError::Corrupt(format!("incident {target} is neither new nor stored")));
        };
        {
            // Alerts that join later follow the incident's assignee.
            if alert.assigned_to.is_none() {
                alert.assigned_to = incident.assigned_to.clone();
            }
            incident.meta.rollup.add(&alert);
            if decision.recurring && !incident.system_tags.iter().any(|t| t == RECURRING_TAG) {
                incident.system_tags.push(RECURRING_TAG.into());
            }
        }
        let pinned = previous.is_some_and(|p| p.pinned);
        out_alerts.push(StoredAlert { alert, incident_id: target, pinned });
    }

    for (id, (alert_ids, reasons)) in &added {
        let mut entry = if created.contains(id) {
            NewHistoryEntry::new(*id, now, Actor::correlation(), HistoryKind::Created)
        } else {
            NewHistoryEntry::new(*id, now, Actor::correlation(), HistoryKind::AlertAdded)
        };
        let shown: Vec<&String> = alert_ids.iter().take(20).collect();
        entry = entry.change("alerts", None, Some(json!({"count": alert_ids.len(), "alertIds": shown})));
        if !reasons.is_empty() {
            entry = entry.with_reason(reasons.to_string());
        }
        history.push(entry);
    }

    for incident in incidents.values_mut() {
        let rollup = std::mem::take(&mut incident.meta.rollup);
        rollup.apply(incident);
        incident.meta.rollup = rollup;
        incident.last_update_date_time = now;
        incident.meta.version += 1;
    }
    Ok(WriteBatch { incidents: incidents.into_values().collect(), alerts: out_alerts, history, relinks })
}
