//! `muster incidents show|update`: an incident on a running server, through its API.
//!
//! An update is one bulk-update request for the one incident, so tag additions and removals are
//! applied by the server against the current tags (nothing read here can go stale), and the
//! change, its cascades and its comment land together in the incident's history.

use std::fmt::Write as _;
use std::time::Duration;

use anyhow::{bail, Context};
use reqwest::{Method, StatusCode};
use serde_json::{json, Map, Value};

use crate::cli::{IncidentShowArgs, IncidentUpdateArgs, IncidentsCommand, ServerArgs};

/// Comments and history entries `show` lists.
const LISTED: usize = 5;

pub async fn run(command: IncidentsCommand) -> anyhow::Result<()> {
    match command {
        IncidentsCommand::Show(args) => show(args).await,
        IncidentsCommand::Update(args) => update(*args).await,
    }
}

/// A running server's API, with a token.
struct Api {
    client: reqwest::Client,
    base: String,
    token: String,
}

impl std::fmt::Debug for Api {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Api").field("base", &self.base).finish_non_exhaustive()
    }
}

impl Api {
    fn new(server: &ServerArgs) -> anyhow::Result<Self> {
        let Some(token) = &server.token else {
            bail!("give an API token with --token or MUSTER_TOKEN (create one with `muster tokens create ...`)");
        };
        let parsed =
            url::Url::parse(server.url.trim()).with_context(|| format!("--url {:?} is not a URL", server.url))?;
        if parsed.scheme() != "http" || !parsed.has_host() {
            bail!("--url {:?} must be an http:// URL with a host", server.url);
        }
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(120))
            .connect_timeout(Duration::from_secs(10))
            .build()
            .context("cannot build an HTTP client")?;
        Ok(Self { client, base: parsed.as_str().trim_end_matches('/').to_owned(), token: token.expose().to_owned() })
    }

    /// Sends a request; a refusal becomes the server's own reason, on one line.
    async fn call(&self, method: Method, path: &str, body: Option<&Value>) -> anyhow::Result<Value> {
        let mut request = self.client.request(method, format!("{}{path}", self.base)).bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.with_context(|| format!("cannot reach {}", self.base))?;
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            bail!("{}", refusal(status, &body));
        }
        Ok(body)
    }
}

fn refusal(status: StatusCode, body: &Value) -> String {
    let error = &body["error"];
    match (error["code"].as_str(), error["message"].as_str()) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        _ => format!("the server answered {status}"),
    }
}

fn incident_path(id: &str) -> anyhow::Result<String> {
    let id = id.trim();
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
        bail!("{id:?} is not an incident id (a number, like 42)");
    }
    Ok(format!("/v1.0/security/incidents/{id}"))
}

async fn show(args: IncidentShowArgs) -> anyhow::Result<()> {
    let api = Api::new(&args.server)?;
    let path = incident_path(&args.id)?;
    let incident = api.call(Method::GET, &path, None).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&incident)?);
        return Ok(());
    }
    let history = api.call(Method::GET, &format!("{path}/history?$top={LISTED}"), None).await?;
    print!("{}", render(&incident, &history["value"]));
    Ok(())
}

fn text<'a>(value: &'a Value, name: &str) -> &'a str {
    value[name].as_str().unwrap_or("")
}

fn list(value: &Value) -> String {
    let items: Vec<&str> = value.as_array().map(|a| a.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
    if items.is_empty() {
        "-".into()
    } else {
        items.join(", ")
    }
}

/// An incident for a terminal: what an analyst looks at first, then its latest comments and log.
fn render(incident: &Value, history: &Value) -> String {
    let mut out = String::new();
    let or_dash = |s: &str| if s.is_empty() { "-".to_owned() } else { s.to_owned() };
    let _ = writeln!(out, "Incident {}: {}", text(incident, "id"), text(incident, "displayName"));
    let rows = [
        ("Severity", or_dash(text(incident, "severity"))),
        ("Status", or_dash(text(incident, "status"))),
        ("Assigned to", or_dash(text(incident, "assignedTo"))),
        (
            "Classification",
            match (text(incident, "classification"), text(incident, "determination")) {
                ("", _) => "-".into(),
                (c, "") => c.to_owned(),
                (c, d) => format!("{c} / {d}"),
            },
        ),
        ("Tags", list(&incident["customTags"])),
        ("System tags", list(&incident["systemTags"])),
        ("Alerts", format!("{} ({} active)", incident["alertCount"], incident["activeAlertCount"])),
        ("Categories", list(&incident["categories"])),
        ("Sources", list(&incident["serviceSources"])),
        (
            "Activity",
            format!(
                "{} .. {}",
                or_dash(text(incident, "firstActivityDateTime")),
                or_dash(text(incident, "lastActivityDateTime"))
            ),
        ),
        (
            "Updated",
            format!("{} by {}", text(incident, "lastUpdateDateTime"), or_dash(text(incident, "lastModifiedBy"))),
        ),
    ];
    for (label, value) in rows {
        let _ = writeln!(out, "  {label:<15} {value}");
    }
    let assets = &incident["impactedAssets"];
    for kind in ["devices", "users", "mailboxes", "apps"] {
        let count = assets[kind]["count"].as_u64().unwrap_or(0);
        if count > 0 {
            let _ = writeln!(out, "  {:<15} {count}: {}", format!("Impacted {kind}"), list(&assets[kind]["names"]));
        }
    }
    if !text(incident, "resolvingComment").is_empty() {
        let _ = writeln!(out, "  {:<15} {}", "Resolution", text(incident, "resolvingComment"));
    }
    let comments = incident["comments"].as_array().cloned().unwrap_or_default();
    if !comments.is_empty() {
        let _ = writeln!(out, "Comments ({}, latest last):", comments.len());
        for c in comments.iter().rev().take(LISTED).rev() {
            let _ = writeln!(
                out,
                "  {} {}: {}",
                text(c, "createdDateTime"),
                text(c, "createdByDisplayName"),
                text(c, "comment")
            );
        }
    }
    if let Some(entries) = history.as_array().filter(|e| !e.is_empty()) {
        let _ = writeln!(out, "History (latest {}, newest first):", entries.len());
        for e in entries {
            let mut line = format!("  {} {} {}", text(e, "at"), text(&e["actor"], "name"), text(e, "kind"));
            if let Some(field) = e["field"].as_str() {
                let _ = write!(line, " {field}: {} -> {}", e["oldValue"], e["newValue"]);
            }
            if let Some(comment) = e["comment"].as_str() {
                let _ = write!(line, " \"{comment}\"");
            }
            let _ = writeln!(out, "{line}");
        }
    }
    out
}

/// The bulk-update body for the one incident, from the flags.
fn update_body(args: &IncidentUpdateArgs) -> anyhow::Result<Value> {
    let mut changes = Map::new();
    let mut set = |name: &str, value: Value| {
        changes.insert(name.into(), value);
    };
    if let Some(status) = &args.status {
        set("status", json!(status));
    }
    if let Some(classification) = &args.classification {
        set("classification", json!(classification));
    }
    if let Some(determination) = &args.determination {
        set("determination", json!(determination));
    }
    if let Some(who) = &args.assign {
        set("assignedTo", json!(who));
    }
    if args.unassign {
        set("assignedTo", Value::Null);
    }
    if let Some(name) = &args.name {
        set("displayName", if name.trim().is_empty() { Value::Null } else { json!(name) });
    }
    if let Some(severity) = &args.severity {
        set("severity", if severity.eq_ignore_ascii_case("auto") { Value::Null } else { json!(severity) });
    }
    if let Some(note) = &args.resolving_comment {
        set("resolvingComment", json!(note));
    }
    let mut body = json!({ "incidentIds": [args.id.trim()], "changes": changes });
    if !args.tags.is_empty() {
        body["addTags"] = json!(args.tags);
    }
    if !args.untags.is_empty() {
        body["removeTags"] = json!(args.untags);
    }
    if let Some(comment) = &args.comment {
        body["comment"] = json!(comment);
    }
    if changes_nothing(&body) {
        bail!("nothing to change: give --status, --classification, --assign, --tag, --comment, ...");
    }
    Ok(body)
}

fn changes_nothing(body: &Value) -> bool {
    body["changes"].as_object().is_none_or(Map::is_empty)
        && body.get("addTags").is_none()
        && body.get("removeTags").is_none()
        && body.get("comment").is_none()
}

async fn update(args: IncidentUpdateArgs) -> anyhow::Result<()> {
    let api = Api::new(&args.server)?;
    let path = incident_path(&args.id)?;
    let body = update_body(&args)?;
    let answer = api.call(Method::POST, "/v1.0/muster/incidents/bulkUpdate", Some(&body)).await?;
    let result = &answer["value"][0];
    if result["status"].as_u64() != Some(200) {
        let error = &result["error"];
        bail!("{}: {}", text(error, "code"), text(error, "message"));
    }
    let incident = api.call(Method::GET, &path, None).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&incident)?);
    } else {
        let history = api.call(Method::GET, &format!("{path}/history?$top={LISTED}"), None).await?;
        print!("{}", render(&incident, &history["value"]));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn update_args(flags: &[&str]) -> IncidentUpdateArgs {
        let cli = crate::cli::Cli::try_parse_from(["muster", "incidents", "update"].iter().chain(flags)).unwrap();
        match cli.command {
            crate::cli::Command::Incidents(IncidentsCommand::Update(args)) => *args,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn flags_become_one_bulk_update() {
        let args = update_args(&[
            "42",
            "--status",
            "resolved",
            "--classification",
            "truePositive",
            "--determination",
            "malware",
            "--assign",
            "alice@example.com",
            "--tag",
            "ransomware",
            "--tag",
            "vip",
            "--comment",
            "Contained",
        ]);
        let body = update_body(&args).unwrap();
        assert_eq!(body["incidentIds"], json!(["42"]));
        assert_eq!(body["changes"]["status"], "resolved");
        assert_eq!(body["changes"]["assignedTo"], "alice@example.com");
        assert_eq!(body["addTags"], json!(["ransomware", "vip"]));
        assert_eq!(body["comment"], "Contained");
        assert_eq!(update_body(&update_args(&["42", "--unassign"])).unwrap()["changes"]["assignedTo"], Value::Null);
        assert!(update_body(&update_args(&["42"])).unwrap_err().to_string().contains("nothing to change"));
    }

    #[test]
    fn ids_and_urls_are_checked_before_anything_is_sent() {
        assert!(incident_path("12; DROP").is_err());
        assert_eq!(incident_path(" 12 ").unwrap(), "/v1.0/security/incidents/12");
        let server = ServerArgs { url: "ftp://x".into(), token: Some("t".to_string().into()) };
        assert!(Api::new(&server).is_err());
        let server = ServerArgs { url: "http://x".into(), token: None };
        assert!(Api::new(&server).unwrap_err().to_string().contains("MUSTER_TOKEN"));
    }

    #[test]
    fn the_token_stays_out_of_debug_output() {
        let api =
            Api::new(&ServerArgs { url: "http://x".into(), token: Some("mst_secret".to_string().into()) }).unwrap();
        assert!(!format!("{api:?}").contains("mst_secret"));
    }
}
