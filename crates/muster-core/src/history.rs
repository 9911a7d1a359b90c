//! The append-only comments-and-history log of an incident: who, when, what changed from → to,
//! the comment and the reason.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::ids::IncidentId;
use crate::time::Timestamp;

/// Who made a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ActorKind {
    User,
    Token,
    Correlation,
    Automation,
}

/// The actor of a change: a user (by login), a token (by name), correlation or automation.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Actor {
    pub kind: ActorKind,
    pub name: String,
}

impl Actor {
    pub fn user(login: impl Into<String>) -> Self {
        Self { kind: ActorKind::User, name: login.into() }
    }

    pub fn token(name: impl Into<String>) -> Self {
        Self { kind: ActorKind::Token, name: name.into() }
    }

    pub fn correlation() -> Self {
        Self { kind: ActorKind::Correlation, name: "correlation".into() }
    }

    pub fn automation() -> Self {
        Self { kind: ActorKind::Automation, name: "automation".into() }
    }
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

macro_rules! history_kinds {
    ($($variant:ident = $wire:literal),+ $(,)?) => {
        /// What sort of event an entry records.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum HistoryKind {
            $(#[serde(rename = $wire)] $variant,)+
        }

        impl HistoryKind {
            pub const ALL: &'static [HistoryKind] = &[$(Self::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $wire,)+ }
            }
        }

        impl FromStr for HistoryKind {
            type Err = String;

            fn from_str(value: &str) -> Result<Self, Self::Err> {
                $(if value.eq_ignore_ascii_case($wire) { return Ok(Self::$variant); })+
                let valid: Vec<&str> = Self::ALL.iter().map(|k| k.as_str()).collect();
                Err(format!("'{value}' is not a history kind; expected one of: {}", valid.join(", ")))
            }
        }
    };
}

history_kinds! {
    Created = "created",
    Updated = "updated",
    Commented = "commented",
    AlertAdded = "alertAdded",
    AlertRemoved = "alertRemoved",
    Merged = "merged",
    Redirected = "redirected",
}

impl fmt::Display for HistoryKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An entry before it is stored (the store gives it its sequence number).
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NewHistoryEntry {
    pub incident_id: IncidentId,
    pub at: Timestamp,
    pub actor: Actor,
    pub kind: HistoryKind,
    /// The property that changed, for `updated` entries (`status`, `assignedTo`, ...).
    pub field: Option<String>,
    pub old_value: Option<Value>,
    pub new_value: Option<Value>,
    pub comment: Option<String>,
    /// Why: correlation reason flags, a merge reason, or a person's note.
    pub reason: Option<String>,
}

impl NewHistoryEntry {
    pub fn new(incident_id: IncidentId, at: Timestamp, actor: Actor, kind: HistoryKind) -> Self {
        Self {
            incident_id,
            at,
            actor,
            kind,
            field: None,
            old_value: None,
            new_value: None,
            comment: None,
            reason: None,
        }
    }

    pub fn change(mut self, field: &str, old: Option<Value>, new: Option<Value>) -> Self {
        self.field = Some(field.to_owned());
        self.old_value = old;
        self.new_value = new;
        self
    }

    pub fn with_comment(mut self, comment: impl Into<String>) -> Self {
        self.comment = Some(comment.into());
        self
    }

    pub fn with_reason(mut self, reason: impl Into<String>) -> Self {
        self.reason = Some(reason.into());
        self
    }
}

/// A stored entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryEntry {
    /// Increasing; later entries have larger ids.
    pub id: i64,
    #[serde(flatten)]
    pub entry: NewHistoryEntry,
}

/// Which entries to read, newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HistoryFilter {
    pub kinds: Vec<HistoryKind>,
    pub actor: Option<String>,
    /// Only entries older than this id (paging backwards).
    pub before_id: Option<i64>,
    pub limit: u32,
}
