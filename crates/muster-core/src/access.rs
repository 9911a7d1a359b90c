//! Users, roles, API tokens and the audit log: the model behind "nobody gets in where they don't belong".

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::time::Timestamp;

/// What a caller may do. Admin ⊃ analyst ⊃ viewer; ingest only posts alerts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Role {
    Admin,
    Analyst,
    Viewer,
    Ingest,
}

impl Role {
    pub const ALL: &'static [Role] = &[Self::Admin, Self::Analyst, Self::Viewer, Self::Ingest];

    /// Whether holding `self` includes what `other` may do: admin covers every role, analyst
    /// covers viewer.
    pub fn covers(self, other: Role) -> bool {
        match self {
            Self::Admin => true,
            Self::Analyst => matches!(other, Self::Analyst | Self::Viewer),
            Self::Viewer => other == Self::Viewer,
            Self::Ingest => other == Self::Ingest,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Analyst => "analyst",
            Self::Viewer => "viewer",
            Self::Ingest => "ingest",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .iter()
            .copied()
            .find(|r| r.as_str().eq_ignore_ascii_case(value.trim()))
            .ok_or_else(|| format!("'{value}' is not a role; expected one of: admin, analyst, viewer, ingest"))
    }
}

/// A person who signs in to the UI (and may own API tokens).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: i64,
    pub login: String,
    pub display_name: String,
    /// The argon2 PHC string; never the password.
    pub password_hash: String,
    pub roles: Vec<Role>,
    pub enabled: bool,
    /// Empty: sees every device group. Otherwise only incidents touching one of these.
    pub device_groups: Vec<String>,
    pub created_at: Timestamp,
}

/// A user to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUser {
    pub login: String,
    pub display_name: String,
    pub password_hash: String,
    pub roles: Vec<Role>,
    pub device_groups: Vec<String>,
}

/// An API token as stored: only the hash of its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiToken {
    pub id: i64,
    pub name: String,
    /// The owning user, or `None` for a service token.
    pub user_id: Option<i64>,
    pub role: Role,
    pub device_groups: Vec<String>,
    /// SHA-256 of the secret, hex.
    pub secret_hash: String,
    pub created_at: Timestamp,
    pub expires_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
    pub last_used_at: Option<Timestamp>,
}

impl ApiToken {
    /// Whether the token may be used at `now`.
    pub fn is_usable(&self, now: Timestamp) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|e| e > now)
    }
}

/// A token to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewApiToken {
    pub name: String,
    pub user_id: Option<i64>,
    pub role: Role,
    pub device_groups: Vec<String>,
    pub secret_hash: String,
    pub expires_at: Option<Timestamp>,
}

/// One line of the audit log: logins, failed logins, logouts, changes to users and tokens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntry {
    pub id: i64,
    pub at: Timestamp,
    pub actor: String,
    pub action: String,
    pub target: Option<String>,
    pub detail: Option<String>,
    pub client_ip: Option<String>,
}

/// An audit line to append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAuditEntry {
    pub at: Timestamp,
    pub actor: String,
    pub action: String,
    pub target: Option<String>,
    pub detail: Option<String>,
    pub client_ip: Option<String>,
}

/// A signed-in UI session. Only the hash of the cookie's secret is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id_hash: String,
    pub user_id: i64,
    /// The token state-changing requests of this session must echo (CSRF protection).
    pub csrf_token: String,
    pub created_at: Timestamp,
    pub last_seen_at: Timestamp,
}
