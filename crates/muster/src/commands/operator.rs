//! What the operator commands (`users`, `tokens`) share: who is acting, the time, a password from
//! stdin and plain-text tables.

use std::io::{BufRead, IsTerminal, Read, Write};

use anyhow::{bail, Context};
use muster_core::access::Role;
use muster_core::time::{Clock, SystemClock};
use muster_core::Timestamp;

use crate::config::Settings;
use crate::database::Database;

/// The audit log's actor for a command run by hand: `cli:` and the OS user.
pub fn actor() -> String {
    actor_from(std::env::var("USER").ok())
}

fn actor_from(user: Option<String>) -> String {
    match user.map(|user| user.trim().to_owned()).filter(|user| !user.is_empty()) {
        Some(user) => format!("cli:{user}"),
        None => "cli".to_owned(),
    }
}

pub fn now() -> Timestamp {
    SystemClock.now()
}

/// Opens (and migrates) the configured database, as `migrate` does.
pub async fn open(settings: &Settings) -> anyhow::Result<Database> {
    Database::open(&settings.database).await
}

/// Roles as given on the command line (`admin,analyst`), without repeats.
pub fn parse_roles(given: &[String]) -> anyhow::Result<Vec<Role>> {
    let mut roles = Vec::new();
    for text in given.iter().filter(|text| !text.trim().is_empty()) {
        let role: Role = text.parse().map_err(anyhow::Error::msg)?;
        if !roles.contains(&role) {
            roles.push(role);
        }
    }
    if roles.is_empty() {
        bail!("give at least one role: admin, analyst, viewer or ingest");
    }
    Ok(roles)
}

/// Reads a password from stdin: everything up to the end (a pipe) or the first line (a terminal),
/// with only the trailing newline dropped.
pub fn password_from_stdin() -> anyhow::Result<String> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprint!("Password (it is shown as you type): ");
        let _ = std::io::stderr().flush();
        let mut line = String::new();
        stdin.lock().read_line(&mut line).context("cannot read the password from stdin")?;
        return password_from_text(line);
    }
    let mut text = String::new();
    stdin.lock().read_to_string(&mut text).context("cannot read the password from stdin")?;
    password_from_text(text)
}

fn password_from_text(mut text: String) -> anyhow::Result<String> {
    if text.ends_with('\n') {
        text.pop();
        if text.ends_with('\r') {
            text.pop();
        }
    }
    if text.contains(['\n', '\r']) {
        bail!("the password on stdin must be a single line");
    }
    Ok(text)
}

/// Device groups as shown in a table: empty means the holder sees every incident.
pub fn groups_text(groups: &[String]) -> String {
    if groups.is_empty() {
        "(all)".to_owned()
    } else {
        groups.join(",")
    }
}

/// When something happened, to the second, in UTC.
pub fn time_text(at: Timestamp) -> String {
    at.inner().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// A table in aligned columns, two spaces apart, headers first.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let header: Vec<String> = headers.iter().map(|h| (*h).to_owned()).collect();
    let mut out = String::new();
    for row in std::iter::once(&header).chain(rows) {
        let mut line = String::new();
        for (i, (cell, width)) in row.iter().zip(&widths).enumerate() {
            if i > 0 {
                line.push_str("  ");
            }
            line.push_str(cell);
            line.extend(std::iter::repeat_n(' ', width - cell.chars().count()));
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actor_names_the_os_user() {
        assert_eq!(actor_from(Some("alice".into())), "cli:alice");
        assert_eq!(actor_from(Some(" ".into())), "cli");
        assert_eq!(actor_from(None), "cli");
    }

    #[test]
    fn only_the_trailing_newline_is_dropped() {
        assert_eq!(password_from_text("  secret pw \n".into()).unwrap(), "  secret pw ");
        assert_eq!(password_from_text("secret pw\r\n".into()).unwrap(), "secret pw");
        assert_eq!(password_from_text("secret pw".into()).unwrap(), "secret pw");
        assert_eq!(password_from_text("secret\t".into()).unwrap(), "secret\t");
        assert!(password_from_text("one\ntwo\n".into()).is_err());
    }

    #[test]
    fn roles_parse_without_repeats() {
        let given = ["analyst".to_owned(), "Viewer".to_owned(), "analyst".to_owned()];
        assert_eq!(parse_roles(&given).unwrap(), [Role::Analyst, Role::Viewer]);
        let error = parse_roles(&["boss".to_owned()]).unwrap_err().to_string();
        assert!(error.contains("'boss' is not a role"), "{error}");
        assert!(parse_roles(&[String::new()]).is_err());
    }

    #[test]
    fn tables_align() {
        let rows = vec![vec!["a".to_owned(), "long cell".to_owned(), "x".to_owned()]];
        assert_eq!(table(&["ONE", "TWO", "THREE"], &rows), "ONE  TWO        THREE\na    long cell  x\n");
    }
}
