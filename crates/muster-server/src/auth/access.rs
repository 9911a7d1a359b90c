//! Who may call what: the access level every route declares, and the caller it is checked against.

use muster_core::access::Role;
use muster_core::history::Actor;
use muster_core::Incident;
use serde::Serialize;

/// What a route needs. Declared once per route, next to it, in its router's table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Access {
    /// No credentials: health, login, static assets, the OpenAPI document.
    Public,
    /// Any signed-in caller, whatever its role (signing out).
    Signed,
    /// Read incidents and alerts: viewer, analyst, admin.
    Read,
    /// Change incidents and alerts: analyst, admin.
    Manage,
    /// Post alerts: ingest, admin.
    Ingest,
    /// Users, tokens, settings, the audit log: admin.
    Admin,
}

impl Access {
    pub fn allows(self, roles: &[Role]) -> bool {
        let any = |wanted: &[Role]| roles.iter().any(|r| wanted.contains(r));
        match self {
            Self::Public => true,
            Self::Signed => !roles.is_empty(),
            Self::Read => any(&[Role::Admin, Role::Analyst, Role::Viewer]),
            Self::Manage => any(&[Role::Admin, Role::Analyst]),
            Self::Ingest => any(&[Role::Admin, Role::Ingest]),
            Self::Admin => any(&[Role::Admin]),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Public => "public",
            Self::Signed => "any signed-in caller",
            Self::Read => "read (viewer, analyst, admin)",
            Self::Manage => "manage (analyst, admin)",
            Self::Ingest => "ingest (ingest, admin)",
            Self::Admin => "admin",
        }
    }
}

/// How a caller proved who it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// A UI session; `csrf` is the token its state-changing requests must echo.
    Session { user_id: i64, session_hash: String, csrf: String },
    /// An API token, optionally owned by a user.
    Token { token_id: i64, user_id: Option<i64> },
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The user's login, or the token's name.
    pub name: String,
    pub roles: Vec<Role>,
    pub scope: Scope,
    pub credential: Credential,
}

impl Principal {
    /// How the caller appears in incident history and the audit log.
    pub fn actor(&self) -> Actor {
        match &self.credential {
            Credential::Session { .. } => Actor::user(self.name.clone()),
            Credential::Token { user_id: Some(_), .. } => Actor::user(self.name.clone()),
            Credential::Token { user_id: None, .. } => Actor::token(self.name.clone()),
        }
    }

    pub fn can(&self, access: Access) -> bool {
        access.allows(&self.roles)
    }

    pub fn is_admin(&self) -> bool {
        self.roles.contains(&Role::Admin)
    }
}

/// The device groups a caller may see: everything, or incidents touching one of some groups.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Scope {
    /// `None`: unscoped. Lower-cased group names otherwise.
    groups: Option<Vec<String>>,
}

impl Scope {
    pub fn unrestricted() -> Self {
        Self { groups: None }
    }

    /// A scope from configured groups; no groups means unscoped.
    pub fn of(groups: &[String]) -> Self {
        let groups: Vec<String> = groups.iter().map(|g| g.trim().to_lowercase()).filter(|g| !g.is_empty()).collect();
        Self { groups: (!groups.is_empty()).then_some(groups) }
    }

    /// A token owned by a user sees no more than the user: the narrower of the two scopes.
    pub fn narrowed(&self, other: &Scope) -> Scope {
        match (&self.groups, &other.groups) {
            (None, _) => other.clone(),
            (_, None) => self.clone(),
            (Some(a), Some(b)) => Scope { groups: Some(a.iter().filter(|g| b.contains(g)).cloned().collect()) },
        }
    }

    pub fn groups(&self) -> Option<&[String]> {
        self.groups.as_deref()
    }

    pub fn is_unrestricted(&self) -> bool {
        self.groups.is_none()
    }

    /// Whether an incident with these device groups is visible. An incident with no device group
    /// is visible only to unscoped callers.
    pub fn allows_groups(&self, device_groups: &[String]) -> bool {
        match &self.groups {
            None => true,
            Some(mine) => device_groups.iter().any(|g| mine.contains(&g.to_lowercase())),
        }
    }

    pub fn allows(&self, incident: &Incident) -> bool {
        self.allows_groups(&incident.device_groups)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_map_to_access() {
        assert!(Access::Read.allows(&[Role::Viewer]));
        assert!(!Access::Manage.allows(&[Role::Viewer]));
        assert!(!Access::Read.allows(&[Role::Ingest]));
        assert!(Access::Ingest.allows(&[Role::Ingest]));
        assert!(Access::Ingest.allows(&[Role::Admin]));
        assert!(!Access::Admin.allows(&[Role::Analyst]));
        assert!(Access::Public.allows(&[]));
    }

    #[test]
    fn scopes_see_only_their_groups() {
        let scoped = Scope::of(&["Servers".into()]);
        assert!(scoped.allows_groups(&["servers".into(), "Lab".into()]));
        assert!(!scoped.allows_groups(&["Lab".into()]));
        assert!(!scoped.allows_groups(&[]), "no group: unscoped callers only");
        assert!(Scope::unrestricted().allows_groups(&[]));
        assert!(Scope::of(&[]).is_unrestricted());
        let narrowed = scoped.narrowed(&Scope::of(&["Lab".into()]));
        assert!(!narrowed.allows_groups(&["Lab".into()]) && !narrowed.allows_groups(&["Servers".into()]));
    }
}
