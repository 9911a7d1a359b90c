//! People's changes: incident and alert updates with their cascades, moving alerts and merging
//! incidents. Each takes the engine as a batch of alerts does, once what is in flight has been
//! committed, so changes and ingest are serialised: every change builds on the latest version (no
//! update is lost to another, or to a batch), correlation's memory follows it (assignee, status,
//! pins, merges), and it is written through the committer in its place in the order.

use std::collections::{BTreeMap, BTreeSet};

use muster_core::correlation::{alert_facts, device_groups, AlertFacts, Placement};
use muster_core::enums::{AlertStatus, IncidentStatus};
use muster_core::history::{Actor, HistoryKind, NewHistoryEntry};
use muster_core::incident::Incident;
use muster_core::manage::{edit_tags, AlertPatch, FieldChange, IncidentPatch, PatchError, MAX_TAGS};
use muster_core::rollup::RollupState;
use muster_core::store::columns::AlertColumns;
use muster_core::store::{PageRequest, StoreError, StoredAlert};
use muster_core::{Alert, IncidentId, Timestamp};
use serde_json::{json, Value};
use tokio::sync::{oneshot, MutexGuard};

use super::committer::{Batch, Message, Reply};
use super::{facts_of, Correlator, State, REDIRECTED_TAG};
use crate::auth::Scope;

/// Alerts one move takes at most.
pub const MAX_MOVED_ALERTS: usize = 1_000;
/// Incidents one merge takes at most (as in Defender).
pub const MAX_MERGED_INCIDENTS: usize = 5;
/// History lists at most this many alert ids per entry; the count is always exact.
const LISTED_ALERTS: usize = 5;

/// Why a change was refused.
#[derive(Debug, thiserror::Error)]
pub enum ManageError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Invalid(#[from] PatchError),
    #[error("incident {id} is at version {current}, not the one the change was based on")]
    Stale { id: IncidentId, current: i64 },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Who makes a change and when; `scope` is what they may see (outside it is not found).
#[derive(Debug, Clone)]
pub struct ChangeContext {
    pub actor: Actor,
    pub now: Timestamp,
    pub scope: Scope,
}

/// One update of an incident: a PATCH, plus the tag edits and comment a bulk update may carry.
#[derive(Debug, Clone, Default)]
pub struct IncidentEdit {
    pub patch: IncidentPatch,
    pub add_tags: Vec<String>,
    pub remove_tags: Vec<String>,
}

/// Where a move put alerts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Moved {
    pub target: IncidentId,
    pub created: bool,
}

/// What one change writes, and how correlation's memory follows it once encoded.
#[derive(Debug, Default)]
struct Writes {
    incidents: BTreeMap<IncidentId, Incident>,
    alerts: Vec<StoredAlert>,
    history: Vec<NewHistoryEntry>,
    relinks: Vec<(IncidentId, IncidentId)>,
    pins: Vec<(AlertFacts, IncidentId)>,
    merges: Vec<(IncidentId, IncidentId)>,
}

fn alert_visible(scope: &Scope, alert: &Alert) -> bool {
    scope.is_unrestricted() || scope.allows_groups(&device_groups(alert))
}

fn no_incident(id: impl std::fmt::Display) -> ManageError {
    ManageError::NotFound(format!("No incident with id '{id}'."))
}

/// The first few ids, for a history entry.
fn listed(alerts: &[StoredAlert]) -> Vec<String> {
    alerts.iter().take(LISTED_ALERTS).map(|a| a.alert.id.clone()).collect()
}

/// Recomputes what the roll-up decides (name, severity, totals) and stamps the change.
fn refresh(incident: &mut Incident, ctx: &ChangeContext) {
    let rollup = std::mem::take(&mut incident.meta.rollup);
    rollup.apply(incident);
    incident.meta.rollup = rollup;
    incident.last_update_date_time = ctx.now;
    incident.last_modified_by = Some(ctx.actor.name.clone());
}

fn history_of(id: IncidentId, changes: &[FieldChange], ctx: &ChangeContext) -> Vec<NewHistoryEntry> {
    changes
        .iter()
        .map(|c| {
            NewHistoryEntry::new(id, ctx.now, ctx.actor.clone(), HistoryKind::Updated).change(
                c.field,
                Some(c.old.clone()),
                Some(c.new.clone()),
            )
        })
        .collect()
}

impl Correlator {
    /// The engine, with every batch before it committed: storage reads see everything.
    async fn settled(&self) -> Result<MutexGuard<'_, State>, ManageError> {
        let mut state = self.state.lock().await;
        self.recover(&mut state).await?;
        self.drain().await;
        Ok(state)
    }

    /// An incident as stored, if the caller may see it.
    async fn visible_incident(&self, id: IncidentId, scope: &Scope) -> Result<Incident, ManageError> {
        self.store.incident(id).await?.filter(|i| scope.allows(i)).ok_or_else(|| no_incident(id))
    }

    /// Every alert of an incident, page by page.
    async fn all_alerts_of(&self, id: IncidentId) -> Result<Vec<StoredAlert>, StoreError> {
        const PAGE: u32 = 1_000;
        let mut all = Vec::new();
        let mut after = None;
        loop {
            let page = self.store.alerts_of_incident(id, &PageRequest { limit: PAGE, after }).await?;
            let full = page.len() == PAGE as usize;
            if let Some(last) = page.last() {
                after = Some((last.alert.activity_time().map(|t| t.micros()).unwrap_or_default(), last.seq));
            }
            all.extend(page);
            if !full {
                return Ok(all);
            }
        }
    }

    /// Writes a change through the committer after every batch before it, moves correlation's
    /// memory along, and waits until it is committed.
    async fn commit(&self, mut state: MutexGuard<'_, State>, writes: Writes) -> Result<(), ManageError> {
        let number = state.last_batch + 1;
        // Encoded first: should that fail, nothing has changed yet.
        let mut rows = Vec::with_capacity(writes.alerts.len());
        for stored in &writes.alerts {
            rows.push(AlertColumns::of(stored, self.codec.as_deref())?);
        }
        for (facts, to) in &writes.pins {
            state.engine.pin(facts, *to);
        }
        for (from, into) in &writes.merges {
            state.engine.merged(*from, *into);
        }
        let mut incidents = Vec::with_capacity(writes.incidents.len());
        for (id, mut incident) in writes.incidents {
            incident.meta.version += 1;
            state.engine.incident_changed(id, facts_of(&incident));
            state.incidents.insert(incident, number);
            incidents.extend(state.incidents.shared(id));
        }
        for row in &rows {
            // A sender that looked this alert up before now must look again.
            state.recent.insert(row.id_hash, number);
        }
        state.last_batch = number;
        let (to, done) = oneshot::channel();
        let batch = Batch { incidents, alerts: rows, history: writes.history, relinks: writes.relinks };
        let message =
            Message::Commit { number, epoch: state.epoch, batch, replies: vec![Reply { accepted: Vec::new(), to }] };
        if self.commits.send(message).await.is_err() {
            return Err(StoreError::Backend("the committer has stopped".into()).into());
        }
        drop(state);
        done.await.map_err(|_| StoreError::Backend("the change was cancelled before it committed".into()))??;
        Ok(())
    }

    /// Updates an incident; `if_match` is the version the caller's change was based on, if it said.
    /// Assigning assigns its alerts; resolving resolves its active alerts; reopening leaves its
    /// alerts as they are, and the history says so.
    pub async fn update_incident(
        &self,
        id: IncidentId,
        edit: &IncidentEdit,
        if_match: Option<i64>,
        ctx: &ChangeContext,
    ) -> Result<Incident, ManageError> {
        let state = self.settled().await?;
        let before = self.visible_incident(id, &ctx.scope).await?;
        if let Some(expected) = if_match {
            if expected != before.meta.version {
                return Err(ManageError::Stale { id, current: before.meta.version });
            }
        }
        let mut incident = before.clone();
        let mut changes = edit.patch.apply(&mut incident)?;
        if !edit.add_tags.is_empty() || !edit.remove_tags.is_empty() {
            edit_tags(&mut incident.custom_tags, &edit.add_tags, &edit.remove_tags);
            if incident.custom_tags.len() > MAX_TAGS {
                return Err(PatchError::new("addTags", format!("An incident carries at most {MAX_TAGS} tags.")).into());
            }
            changes.retain(|c| c.field != "customTags");
            if before.custom_tags != incident.custom_tags {
                changes.push(FieldChange {
                    field: "customTags",
                    old: json!(before.custom_tags),
                    new: json!(incident.custom_tags),
                });
            }
        }
        if changes.is_empty() {
            return Ok(before);
        }
        let mut writes = Writes { history: history_of(id, &changes, ctx), ..Writes::default() };
        let assigned = changes.iter().any(|c| c.field == "assignedTo");
        let resolving = before.status != IncidentStatus::Resolved && incident.status == IncidentStatus::Resolved;
        let reopening = before.status == IncidentStatus::Resolved && incident.status != IncidentStatus::Resolved;
        if assigned || resolving || reopening {
            let alerts = self.all_alerts_of(id).await?;
            let (mut newly_assigned, mut resolved, mut still_resolved) = (0usize, 0usize, 0usize);
            for mut stored in alerts {
                let old = stored.alert.clone();
                if assigned && stored.alert.assigned_to != incident.assigned_to {
                    stored.alert.assigned_to = incident.assigned_to.clone();
                    newly_assigned += 1;
                }
                if resolving && stored.alert.status.is_active() {
                    stored.alert.status = AlertStatus::Resolved;
                    stored.alert.resolved_date_time = Some(ctx.now);
                    resolved += 1;
                }
                if reopening && !stored.alert.status.is_active() {
                    still_resolved += 1;
                }
                if stored.alert != old {
                    stored.alert.last_update_date_time = Some(ctx.now);
                    incident.meta.rollup.remove(&old);
                    incident.meta.rollup.add(&stored.alert);
                    writes.alerts.push(stored);
                }
            }
            let entry = |value: Value, reason: &str| {
                NewHistoryEntry::new(id, ctx.now, ctx.actor.clone(), HistoryKind::Updated)
                    .change("alerts", None, Some(value))
                    .with_reason(reason.to_owned())
            };
            if newly_assigned > 0 {
                let value = json!({"assignedTo": incident.assigned_to, "count": newly_assigned});
                writes.history.push(entry(value, "its alerts follow the incident's assignee"));
            }
            if resolved > 0 {
                writes.history.push(entry(
                    json!({"status": "resolved", "count": resolved}),
                    "resolving an incident resolves its active alerts",
                ));
            }
            if reopening {
                let reason = format!(
                    "reopening the incident reopens none of its alerts: {still_resolved} stay resolved until reopened one by one"
                );
                writes.history.push(entry(json!({"status": "unchanged", "count": still_resolved}), &reason));
            }
        }
        refresh(&mut incident, ctx);
        writes.incidents.insert(id, incident);
        self.commit(state, writes).await?;
        self.store.incident(id).await?.ok_or_else(|| no_incident(id))
    }

    /// Updates an alert; its incident's roll-ups follow, and its history records the change.
    pub async fn update_alert(
        &self,
        alert_id: &str,
        patch: &AlertPatch,
        ctx: &ChangeContext,
    ) -> Result<StoredAlert, ManageError> {
        let state = self.settled().await?;
        let missing = || ManageError::NotFound(format!("No alert with id '{alert_id}'."));
        let mut stored =
            self.store.alert(alert_id).await?.filter(|a| alert_visible(&ctx.scope, &a.alert)).ok_or_else(missing)?;
        let old = stored.alert.clone();
        let changes = patch.apply(&mut stored.alert, ctx.now)?;
        if changes.is_empty() {
            return Ok(stored);
        }
        let home = state.engine.resolve(stored.incident_id);
        let mut incident = self.store.incident(home).await?.ok_or_else(|| no_incident(home))?;
        incident.meta.rollup.remove(&old);
        incident.meta.rollup.add(&stored.alert);
        refresh(&mut incident, ctx);
        let history = changes
            .iter()
            .map(|c| {
                NewHistoryEntry::new(home, ctx.now, ctx.actor.clone(), HistoryKind::Updated).change(
                    &format!("alerts/{alert_id}/{}", c.field),
                    Some(c.old.clone()),
                    Some(c.new.clone()),
                )
            })
            .collect();
        let mut writes = Writes { history, ..Writes::default() };
        writes.incidents.insert(home, incident);
        writes.alerts.push(stored);
        self.commit(state, writes).await?;
        self.store.alert(alert_id).await?.ok_or_else(missing)
    }

    /// Moves alerts to `target`, or to a new incident when there is none; moved alerts are pinned
    /// there. People are not bound by correlation's guards. Every incident touched gets fresh
    /// roll-ups, and one left empty is resolved, its history naming where its alerts went.
    pub async fn move_alerts(
        &self,
        alert_ids: &[String],
        target: Option<IncidentId>,
        comment: Option<&str>,
        reasons: Option<&str>,
        ctx: &ChangeContext,
    ) -> Result<Moved, ManageError> {
        let mut ids: Vec<String> = Vec::with_capacity(alert_ids.len());
        for id in alert_ids {
            if !ids.contains(id) {
                ids.push(id.clone());
            }
        }
        if ids.is_empty() || ids.len() > MAX_MOVED_ALERTS {
            return Err(PatchError::new("alertIds", format!("Move 1 to {MAX_MOVED_ALERTS} alerts at a time.")).into());
        }
        let mut state = self.settled().await?;
        let mut found: BTreeMap<String, StoredAlert> =
            self.store.alerts(&ids).await?.into_iter().map(|a| (a.alert.id.clone(), a)).collect();
        let missing: Vec<&str> = ids
            .iter()
            .filter(|id| !found.get(*id).is_some_and(|a| alert_visible(&ctx.scope, &a.alert)))
            .map(String::as_str)
            .collect();
        if !missing.is_empty() {
            return Err(ManageError::NotFound(format!("No alert with id '{}'.", missing.join("', '"))));
        }
        let (mut into, created) = match target {
            Some(id) => {
                let mut incident = self.visible_incident(id, &ctx.scope).await?;
                // Moving into a merged incident moves into the one it was merged into.
                while let (IncidentStatus::Redirected, Some(next)) = (incident.status, incident.redirect_incident_id) {
                    incident = self.visible_incident(next, &ctx.scope).await?;
                }
                (incident, false)
            }
            None => (Incident::new(state.engine.new_incident_id(), ctx.now), true),
        };
        let target = into.id;
        let mut by_source: BTreeMap<IncidentId, Vec<StoredAlert>> = BTreeMap::new();
        let mut writes = Writes::default();
        for id in &ids {
            let Some(mut stored) = found.remove(id) else { continue };
            let home = state.engine.resolve(stored.incident_id);
            if home == target {
                if !stored.pinned {
                    stored.pinned = true;
                    writes.alerts.push(stored);
                }
            } else {
                stored.incident_id = home;
                by_source.entry(home).or_default().push(stored);
            }
        }
        let moved_ids: BTreeSet<String> = by_source.values().flatten().map(|a| a.alert.id.clone()).collect();
        for (&source, leaving) in &by_source {
            let Some(mut incident) = self.store.incident(source).await? else { continue };
            let mut span_edge = false;
            for stored in leaving {
                span_edge |= incident.meta.rollup.remove(&stored.alert);
            }
            if span_edge {
                // Exact again from what stays.
                let staying = self.all_alerts_of(source).await?;
                incident.meta.rollup = RollupState::from_alerts(
                    staying.iter().filter(|a| !moved_ids.contains(&a.alert.id)).map(|a| &a.alert),
                );
            }
            let mut entry = NewHistoryEntry::new(source, ctx.now, ctx.actor.clone(), HistoryKind::AlertRemoved).change(
                "alerts",
                None,
                Some(json!({"count": leaving.len(), "alertIds": listed(leaving), "movedTo": target.to_string()})),
            );
            if let Some(comment) = comment {
                entry = entry.with_comment(comment);
            }
            writes.history.push(entry);
            if incident.meta.rollup.alert_count == 0 && !incident.status.is_closed() {
                writes.history.push(
                    NewHistoryEntry::new(source, ctx.now, ctx.actor.clone(), HistoryKind::Updated)
                        .change("status", Some(json!(incident.status)), Some(json!(IncidentStatus::Resolved)))
                        .with_reason(format!("every alert was moved to incident {target}")),
                );
                incident.status = IncidentStatus::Resolved;
            }
            refresh(&mut incident, ctx);
            writes.incidents.insert(source, incident);
        }
        let arriving: Vec<StoredAlert> = by_source.into_values().flatten().collect();
        for mut stored in arriving {
            stored.incident_id = target;
            stored.pinned = true;
            if stored.alert.assigned_to.is_none() {
                stored.alert.assigned_to = into.assigned_to.clone();
            }
            stored.alert.last_update_date_time = Some(ctx.now);
            into.meta.rollup.add(&stored.alert);
            let placed = Placement { incident: target, pinned: true };
            writes.pins.push((alert_facts(&stored.alert, Some(placed)), target));
            writes.alerts.push(stored);
        }
        let sources: Vec<String> = writes.incidents.keys().map(|id| id.to_string()).collect();
        let kind = if created { HistoryKind::Created } else { HistoryKind::AlertAdded };
        let moved: Vec<StoredAlert> =
            writes.alerts.iter().filter(|a| moved_ids.contains(&a.alert.id)).cloned().collect();
        let mut entry = NewHistoryEntry::new(target, ctx.now, ctx.actor.clone(), kind).change(
            "alerts",
            None,
            Some(json!({"count": moved.len(), "alertIds": listed(&moved), "movedFrom": sources})),
        );
        if let Some(comment) = comment {
            entry = entry.with_comment(comment);
        }
        if let Some(reasons) = reasons {
            entry = entry.with_reason(reasons);
        }
        writes.history.push(entry);
        refresh(&mut into, ctx);
        writes.incidents.insert(target, into);
        self.commit(state, writes).await?;
        Ok(Moved { target, created })
    }

    /// Merges incidents: the oldest survives and takes the others' alerts, tags and totals; the
    /// others become `redirected` to it.
    pub async fn merge_incidents(
        &self,
        incident_ids: &[IncidentId],
        comment: Option<&str>,
        reasons: Option<&str>,
        ctx: &ChangeContext,
    ) -> Result<IncidentId, ManageError> {
        let mut ids: Vec<IncidentId> = incident_ids.to_vec();
        ids.sort();
        ids.dedup();
        if ids.len() < 2 || ids.len() > MAX_MERGED_INCIDENTS {
            return Err(PatchError::new(
                "incidentIds",
                format!("Merge 2 to {MAX_MERGED_INCIDENTS} different incidents at a time."),
            )
            .into());
        }
        let state = self.settled().await?;
        let mut incidents = Vec::with_capacity(ids.len());
        for id in &ids {
            let incident = self.visible_incident(*id, &ctx.scope).await?;
            if let (IncidentStatus::Redirected, Some(into)) = (incident.status, incident.redirect_incident_id) {
                return Err(PatchError::new(
                    "incidentIds",
                    format!("Incident {id} was merged into incident {into} already; merge that one instead."),
                )
                .into());
            }
            incidents.push(incident);
        }
        incidents.sort_by_key(|i| (i.created_date_time, i.id));
        let mut survivor = incidents.remove(0);
        let into = survivor.id;
        let mut writes = Writes::default();
        for mut from in incidents {
            let rollup = std::mem::take(&mut from.meta.rollup);
            survivor.meta.rollup.merge(&rollup);
            edit_tags(&mut survivor.custom_tags, &from.custom_tags, &[]);
            writes.history.push(
                NewHistoryEntry::new(from.id, ctx.now, ctx.actor.clone(), HistoryKind::Redirected)
                    .change("status", Some(json!(from.status)), Some(json!(IncidentStatus::Redirected)))
                    .change("redirectIncidentId", None, Some(json!(into.to_string()))),
            );
            from.status = IncidentStatus::Redirected;
            from.redirect_incident_id = Some(into);
            if !from.system_tags.iter().any(|t| t == REDIRECTED_TAG) {
                from.system_tags.push(REDIRECTED_TAG.into());
            }
            refresh(&mut from, ctx);
            writes.relinks.push((from.id, into));
            writes.merges.push((from.id, into));
            writes.incidents.insert(from.id, from);
        }
        let merged: Vec<String> = writes.relinks.iter().map(|(from, _)| from.to_string()).collect();
        let mut entry = NewHistoryEntry::new(into, ctx.now, ctx.actor.clone(), HistoryKind::Merged).change(
            "incidents",
            None,
            Some(json!(merged)),
        );
        if let Some(comment) = comment {
            entry = entry.with_comment(comment);
        }
        if let Some(reasons) = reasons {
            entry = entry.with_reason(reasons);
        }
        writes.history.push(entry);
        refresh(&mut survivor, ctx);
        writes.incidents.insert(into, survivor);
        self.commit(state, writes).await?;
        Ok(into)
    }
}
