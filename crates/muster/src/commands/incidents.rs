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

use crate::cli::{IncidentListArgs, IncidentShowArgs, IncidentUpdateArgs, IncidentsCommand, ServerArgs};

/// Comments and history entries `show` lists.
const LISTED: usize = 5;

pub async fn run(command: IncidentsCommand) -> anyhow::Result<()> {
    match command {
        IncidentsCommand::List(args) => list_incidents(*args).await,
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

/// An OData string literal: quotes doubled.
fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// The flags as one OData `$filter` (`None` when nothing filters).
fn list_filter(args: &IncidentListArgs, now: std::time::SystemTime) -> Option<String> {
    let mut clauses = Vec::new();
    let any_of = |name: &str, values: &[String]| {
        let items: Vec<String> = values.iter().map(|v| literal(v)).collect();
        format!("{name} in ({})", items.join(", "))
    };
    if !args.status.is_empty() {
        clauses.push(any_of("status", &args.status));
    }
    if !args.severity.is_empty() {
        clauses.push(any_of("severity", &args.severity));
    }
    match args.assigned_to.as_deref() {
        Some(who) if who.eq_ignore_ascii_case("none") => clauses.push("assignedTo eq null".into()),
        Some(who) => clauses.push(format!("assignedTo eq {}", literal(who))),
        None => {}
    }
    for tag in &args.tags {
        clauses.push(format!("customTags/any(t: t eq {})", literal(tag)));
    }
    if let Some(days) = args.days {
        let since = now - Duration::from_secs(u64::from(days) * 86_400);
        let secs = since.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
        clauses.push(format!("lastActivityDateTime ge {}", muster_core::Timestamp::from_secs(secs)));
    }
    if let Some(filter) = args.filter.as_deref().map(str::trim).filter(|f| !f.is_empty()) {
        clauses.push(format!("({filter})"));
    }
    (!clauses.is_empty()).then(|| clauses.join(" and "))
}

async fn list_incidents(args: IncidentListArgs) -> anyhow::Result<()> {
    let api = Api::new(&args.server)?;
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    query.append_pair("$top", &args.top.min(50).to_string());
    if let Some(filter) = list_filter(&args, std::time::SystemTime::now()) {
        query.append_pair("$filter", &filter);
    }
    if let Some(search) = &args.search {
        query.append_pair("$search", &format!("\"{}\"", search.replace('"', "")));
    }
    if let Some(orderby) = &args.orderby {
        query.append_pair("$orderby", orderby);
    }
    let mut path = format!("/v1.0/security/incidents?{}", query.finish());
    let mut incidents: Vec<Value> = Vec::new();
    loop {
        let page = api.call(Method::GET, &path, None).await?;
        incidents.extend(page["value"].as_array().cloned().unwrap_or_default());
        let next = page["@odata.nextLink"].as_str();
        match next.and_then(|n| n.strip_prefix(&api.base)) {
            Some(rest) if incidents.len() < args.top as usize => path = rest.to_owned(),
            _ => break,
        }
    }
    incidents.truncate(args.top as usize);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&incidents)?);
    } else {
        print!("{}", table(&incidents));
    }
    Ok(())
}

/// The queue as a terminal table, one incident a line.
fn table(incidents: &[Value]) -> String {
    let mut out = format!(
        "{:>7}  {:<13}  {:<10}  {:>6}  {:<24}  {:<20}  {}\n",
        "ID", "SEVERITY", "STATUS", "ALERTS", "ASSIGNED TO", "LAST ACTIVITY", "NAME"
    );
    for i in incidents {
        let when = text(i, "lastActivityDateTime");
        let _ = writeln!(
            out,
            "{:>7}  {:<13}  {:<10}  {:>6}  {:<24}  {:<20}  {}",
            text(i, "id"),
            text(i, "severity"),
            text(i, "status"),
            i["alertCount"].as_u64().unwrap_or(0),
            text(i, "assignedTo").chars().take(24).collect::<String>(),
            when.get(..19).unwrap_or(when),
            text(i, "displayName"),
        );
    }
    let _ = writeln!(out, "{} incident(s)", incidents.len());
    out
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
    fn list_flags_become_one_filter() {
        let cli = crate::cli::Cli::try_parse_from([
            "muster",
            "incidents",
            "list",
            "--status",
            "active",
            "--status",
            "inProgress",
            "--severity",
            "high",
            "--assigned-to",
            "o'brien@example.com",
            "--tag",
            "vip",
            "--days",
            "7",
            "--filter",
            "alertCount gt 3",
        ])
        .unwrap();
        let crate::cli::Command::Incidents(IncidentsCommand::List(args)) = cli.command else { panic!() };
        let now = std::time::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let filter = list_filter(&args, now).unwrap();
        assert_eq!(
            filter,
            "status in ('active', 'inProgress') and severity in ('high') and assignedTo eq 'o''brien@example.com' \
             and customTags/any(t: t eq 'vip') and lastActivityDateTime ge 2027-01-08T08:00:00Z and (alertCount gt 3)"
        );
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
