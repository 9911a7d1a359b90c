//! Turns the engine's decisions into one write: alerts with their incident, every touched
//! incident with fresh roll-ups, merges with their redirects, and the history of it all.

use std::collections::{BTreeMap, BTreeSet};

use muster_core::correlation::Step;
use muster_core::enums::{AlertStatus, CorrelationReasons, IncidentStatus};
use muster_core::history::{Actor, HistoryKind, NewHistoryEntry};
use muster_core::incident::Incident;
use muster_core::store::columns::AlertColumns;
use muster_core::store::{BodyCodec, Store, StoreError};
use muster_core::{Alert, Assessment, IncidentId, Timestamp};
use serde_json::json;

use super::committer::Batch;
use super::{facts_of, Incoming, State, RECURRING_TAG, REDIRECTED_TAG};

/// History lists at most this many alert ids per entry; the count is always exact.
const LISTED_ALERTS: usize = 5;

/// Makes sure every incident in `ids` is in the cache (new ones are created, the rest read from
/// storage when missing).
async fn load(
    store: &dyn Store,
    state: &mut State,
    ids: &BTreeSet<IncidentId>,
    created: &BTreeSet<IncidentId>,
    now: Timestamp,
    number: u64,
) -> Result<(), StoreError> {
    let missing: Vec<IncidentId> =
        ids.iter().filter(|id| !created.contains(id) && !state.incidents.contains(**id)).copied().collect();
    if !missing.is_empty() {
        for incident in store.incidents(&missing).await? {
            state.incidents.insert(incident, number);
        }
    }
    for id in created {
        let mut incident = Incident::new(*id, now);
        incident.last_modified_by = Some("correlation".into());
        state.incidents.insert(incident, number);
    }
    for id in ids {
        if !state.incidents.contains(*id) {
            // The engine placed it in an incident storage does not have: its memory is out of step.
            return Err(StoreError::Corrupt(format!("incident {id} is neither new nor stored")));
        }
    }
    Ok(())
}

/// Builds batch `number` from the engine's `step` over `alerts`, with its rows encoded for storage.
pub(super) async fn build(
    store: &dyn Store,
    codec: Option<&dyn BodyCodec>,
    state: &mut State,
    step: &Step,
    alerts: Vec<Box<Incoming>>,
    now: Timestamp,
    number: u64,
) -> Result<Batch, StoreError> {
    let created: BTreeSet<IncidentId> = step.decisions.iter().filter(|d| d.created).map(|d| d.incident).collect();
    let mut touched: BTreeSet<IncidentId> = step.decisions.iter().map(|d| state.engine.resolve(d.incident)).collect();
    for merge in &step.merges {
        touched.insert(merge.from);
        touched.insert(state.engine.resolve(merge.into));
    }
    // Alerts sent again leave their old incident's totals too.
    touched.extend(alerts.iter().filter_map(|a| a.stored.as_ref()).map(|s| state.engine.resolve(s.incident_id)));
    touched.extend(created.iter().copied());
    load(store, state, &touched, &created, now, number).await?;
    // The rest is milliseconds of work with nothing to wait for: done without holding up the
    // other tasks of this worker thread.
    without_holding_up(|| assemble(codec, state, step, alerts, &created, &touched, now, number))
}

/// Runs CPU-bound work so the worker thread's other tasks move to another thread meanwhile; on
/// a single-threaded runtime, where there is no other, it simply runs.
fn without_holding_up<T>(work: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::current().runtime_flavor() {
        tokio::runtime::RuntimeFlavor::CurrentThread => work(),
        _ => tokio::task::block_in_place(work),
    }
}

/// A re-sent alert keeps what people decided on it: a resolved alert stays resolved (correlation
/// never reopens), and a set assignee, classification or determination stays set.
fn keep_managed(alert: &mut Alert, before: &Alert) {
    if before.status == AlertStatus::Resolved {
        alert.status = AlertStatus::Resolved;
        alert.resolved_date_time = before.resolved_date_time.or(alert.resolved_date_time);
    }
    if before.assigned_to.is_some() {
        alert.assigned_to = before.assigned_to.clone();
    }
    if before.assessment != Assessment::default() {
        alert.assessment = before.assessment;
    }
}

/// The batch, once every incident it touches is in the cache.
#[allow(clippy::too_many_arguments)] // the one call above, whose values these are
fn assemble(
    codec: Option<&dyn BodyCodec>,
    state: &mut State,
    step: &Step,
    alerts: Vec<Box<Incoming>>,
    created: &BTreeSet<IncidentId>,
    touched: &BTreeSet<IncidentId>,
    now: Timestamp,
    number: u64,
) -> Result<Batch, StoreError> {
    let mut history = Vec::new();
    let mut relinks = Vec::new();

    // Merges first, in the order the engine made them: totals move to the survivor.
    for merge in &step.merges {
        let into_id = state.engine.resolve(merge.into);
        let Some(from) = state.incidents.get_mut(merge.from) else { continue };
        let rollup = std::mem::take(&mut from.meta.rollup);
        let tags = from.custom_tags.clone();
        from.status = IncidentStatus::Redirected;
        from.redirect_incident_id = Some(into_id);
        if !from.system_tags.iter().any(|t| t == REDIRECTED_TAG) {
            from.system_tags.push(REDIRECTED_TAG.into());
        }
        if let Some(into) = state.incidents.get_mut(into_id) {
            into.meta.rollup.merge(&rollup);
            for tag in tags {
                if !into.custom_tags.contains(&tag) {
                    into.custom_tags.push(tag);
                }
            }
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
    }

    // New alerts per incident: how many, the first few ids, and why they joined.
    let mut added: BTreeMap<IncidentId, (usize, Vec<String>, CorrelationReasons)> = BTreeMap::new();
    let mut out_alerts = Vec::with_capacity(alerts.len());
    for (mut incoming, decision) in alerts.into_iter().zip(&step.decisions) {
        // Only the row leaves the box: moving the alert out too copied a kilobyte per alert.
        let previous = incoming.stored.take();
        let mut row = incoming.row;
        let alert = &mut incoming.alert;
        let target = state.engine.resolve(decision.incident);
        let as_sent = (alert.assigned_to.clone(), alert.status, alert.assessment, alert.resolved_date_time);
        if let Some(before) = &previous {
            // What people set on the alert stays; the sender's view of the rest is updated.
            keep_managed(alert, &before.alert);
            let old_home = state.engine.resolve(before.incident_id);
            if let Some(home) = state.incidents.get_mut(old_home) {
                // Should the old version have held the span's edge, the span stays as wide as it
                // was: a re-sent alert rarely moves back in time, and never loses an alert.
                home.meta.rollup.remove(&before.alert);
            }
        } else {
            let entry = added.entry(target).or_default();
            entry.0 += 1;
            if entry.1.len() < LISTED_ALERTS {
                entry.1.push(alert.id.clone());
            }
            entry.2 |= decision.reasons;
        }
        let incident = state
            .incidents
            .get_mut(target)
            .ok_or_else(|| StoreError::Corrupt(format!("incident {target} is neither new nor stored")))?;
        // Alerts that join later follow the incident's assignee.
        if alert.assigned_to.is_none() {
            alert.assigned_to = incident.assigned_to.clone();
        }
        incident.meta.rollup.add_keyed(alert, &row.keys);
        if decision.recurring && !incident.system_tags.iter().any(|t| t == RECURRING_TAG) {
            incident.system_tags.push(RECURRING_TAG.into());
        }
        let pinned = previous.as_ref().is_some_and(|p| p.pinned);
        if (alert.assigned_to.clone(), alert.status, alert.assessment, alert.resolved_date_time) != as_sent {
            // Placing it changed the alert itself: its body is written again.
            let keys = std::mem::take(&mut row.keys);
            row = AlertColumns::for_alert(alert, target, pinned, keys, codec)?;
        }
        row.incident_id = target.get();
        row.pinned = pinned;
        row.new = previous.is_none();
        out_alerts.push(row);
    }

    for (id, (count, alert_ids, reasons)) in &added {
        let kind = if created.contains(id) { HistoryKind::Created } else { HistoryKind::AlertAdded };
        let mut entry = NewHistoryEntry::new(*id, now, Actor::correlation(), kind);
        entry = entry.change("alerts", None, Some(json!({"count": count, "alertIds": alert_ids})));
        if !reasons.is_empty() {
            entry = entry.with_reason(reasons.to_string());
        }
        history.push(entry);
    }

    let mut incidents = Vec::with_capacity(touched.len());
    for id in touched {
        let Some(incident) = state.incidents.get_mut(*id) else { continue };
        let rollup = std::mem::take(&mut incident.meta.rollup);
        rollup.apply(incident);
        incident.meta.rollup = rollup;
        incident.last_update_date_time = now;
        incident.meta.version += 1;
        state.engine.incident_changed(*id, facts_of(incident));
        state.incidents.touch(*id, number);
        incidents.extend(state.incidents.shared(*id));
    }
    Ok(Batch { incidents, alerts: out_alerts, history, relinks })
}
