//! Nobody gets in where they don't belong: every route against every kind of caller, over real
//! HTTP, on SQLite and on PostgreSQL.

use muster_core::access::Role;
use muster_server::accounts::{self, TokenSpec, UserSpec};
use muster_server::{route_table, Access, RouteSpec};
use muster_store_tests::backends::TestDb;
use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{graph_error, TestApp};

const PASSWORD: &str = "correct horse battery";

/// A signed-in browser: its session cookie and the CSRF token its pages carry.
struct Browser {
    cookie: String,
    csrf: String,
}

async fn add_user(app: &TestApp, login: &str, roles: &[Role], groups: &[&str]) {
    let spec = UserSpec {
        login: login.into(),
        display_name: None,
        roles: roles.to_vec(),
        device_groups: groups.iter().map(|g| g.to_string()).collect(),
        password: Some(PASSWORD.into()),
    };
    accounts::add_user(app.store.as_ref(), spec, "test", app.clock_now()).await.expect("add user");
}

async fn token(app: &TestApp, role: Role, expires_in_days: Option<u32>) -> String {
    let spec = TokenSpec { name: format!("{role} token"), role, user: None, expires_in_days, device_groups: vec![] };
    accounts::create_token(app.store.as_ref(), spec, "test", app.clock_now()).await.expect("create token").1
}

trait Now {
    fn clock_now(&self) -> muster_core::Timestamp;
}

impl Now for TestApp {
    fn clock_now(&self) -> muster_core::Timestamp {
        use muster_core::time::Clock;
        self.clock.now()
    }
}

fn login_form(app: &TestApp, login: &str, password: &str) -> RequestBuilder {
    app.client.post(app.url("/login")).header("origin", format!("http://{}", app.addr)).form(&[
        ("login", login),
        ("password", password),
        ("next", "/"),
    ])
}

async fn sign_in(app: &TestApp, login: &str) -> Browser {
    let response = login_form(app, login, PASSWORD).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "login of {login}");
    let set_cookie = response.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Lax"), "{set_cookie}");
    let cookie = set_cookie.split(';').next().unwrap().to_owned();
    let home = app.client.get(app.url("/")).header("cookie", &cookie).send().await.unwrap();
    assert_eq!(home.status(), StatusCode::OK);
    let html = home.text().await.unwrap();
    let csrf = html
        .split("name=\"csrf_token\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a CSRF field on the page")
        .to_owned();
    Browser { cookie, csrf }
}

/// A concrete URL for a route pattern.
fn concrete(path: &str) -> String {
    path.replace("{login}", "nobody").replace("{id}", "1")
}

fn request(app: &TestApp, spec: &RouteSpec) -> RequestBuilder {
    let builder = app.client.request(spec.method.clone(), app.url(&concrete(spec.path)));
    if matches!(spec.method, Method::POST | Method::PATCH | Method::PUT) {
        builder.json(&json!({}))
    } else {
        builder
    }
}

/// What a refusal must leave untouched.
async fn snapshot(app: &TestApp) -> (Vec<String>, Vec<String>, usize) {
    let users = app.store.list_users().await.unwrap().into_iter().map(|u| format!("{u:?}")).collect();
    let tokens =
        app.store.list_tokens().await.unwrap().into_iter().map(|t| format!("{:?}", (t.id, t.revoked_at))).collect();
    let audit = app.store.audit_log(10_000, None).await.unwrap().len();
    (users, tokens, audit)
}

/// Every route has a declared access; without credentials only the public ones answer.
async fn strangers_get_only_public_routes(app: TestApp) {
    let table = route_table();
    assert!(table.iter().any(|s| s.path == "/healthz" && s.access == Access::Public));
    for path in ["/healthz", "/readyz", "/login", "/static/muster.css"] {
        assert!(table.iter().any(|s| s.path == path && s.access == Access::Public), "{path} is public");
    }
    let before = snapshot(&app).await;
    for spec in &table {
        let response = request(&app, spec).header("accept", "application/json").send().await.unwrap();
        let status = response.status();
        if spec.access == Access::Public {
            assert_ne!(status, StatusCode::UNAUTHORIZED, "{} {} is public", spec.method, spec.path);
        } else {
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{} {} without credentials", spec.method, spec.path);
            assert_eq!(response.headers()["www-authenticate"], "Bearer");
        }
    }
    assert_eq!(snapshot(&app).await, before);
}

/// Garbage, unknown, expired and revoked tokens, and tokens of disabled users, are all refused alike.
async fn bad_tokens_are_refused(app: TestApp) {
    let good = token(&app, Role::Viewer, None).await;
    let expiring = token(&app, Role::Viewer, Some(1)).await;
    let revoked = token(&app, Role::Viewer, None).await;
    let me = |secret: String| app.client.get(app.url("/v1.0/muster/me")).bearer_auth(secret);
    assert_eq!(me(good.clone()).send().await.unwrap().status(), StatusCode::OK);

    let last = app.store.list_tokens().await.unwrap().last().unwrap().id;
    accounts::revoke_token(app.store.as_ref(), last, "test", app.clock_now()).await.unwrap();
    assert_eq!(me(revoked).send().await.unwrap().status(), StatusCode::UNAUTHORIZED);

    for bad in ["", "mst_", "mst_nope", "' OR 1=1 --", &good[..good.len() - 1]] {
        let response = me(bad.to_owned()).send().await.unwrap();
        graph_error(response, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    }
    let response = app
        .client
        .get(app.url("/v1.0/muster/me"))
        .header("authorization", "Basic YWRtaW46YWRtaW4=")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);

    assert_eq!(me(expiring.clone()).send().await.unwrap().status(), StatusCode::OK);
    app.clock.advance_secs(86_400 + 1);
    assert_eq!(me(expiring).send().await.unwrap().status(), StatusCode::UNAUTHORIZED);

    // A user's token dies with the user's access.
    add_user(&app, "carol", &[Role::Analyst], &[]).await;
    let spec = TokenSpec {
        name: "carol's".into(),
        role: Role::Viewer,
        user: Some("carol".into()),
        expires_in_days: None,
        device_groups: vec![],
    };
    let carols = accounts::create_token(app.store.as_ref(), spec, "test", app.clock_now()).await.unwrap().1;
    assert_eq!(me(carols.clone()).send().await.unwrap().status(), StatusCode::OK);
    accounts::set_enabled(app.store.as_ref(), "carol", false, "test", app.clock_now()).await.unwrap();
    assert_eq!(me(carols).send().await.unwrap().status(), StatusCode::UNAUTHORIZED);
}

/// A viewer reads but changes nothing; an ingest token posts alerts and reads nothing.
async fn roles_bound_what_callers_do(app: TestApp) {
    let viewer = token(&app, Role::Viewer, None).await;
    let ingest = token(&app, Role::Ingest, None).await;
    let before = snapshot(&app).await;
    for spec in route_table().iter().filter(|s| s.access != Access::Public) {
        let as_viewer = request(&app, spec).bearer_auth(&viewer).send().await.unwrap().status();
        let as_ingest = request(&app, spec).bearer_auth(&ingest).send().await.unwrap().status();
        let what = format!("{} {}", spec.method, spec.path);
        match spec.access {
            Access::Read => {
                assert_ne!(as_viewer, StatusCode::FORBIDDEN, "viewer may {what}");
                assert_eq!(as_ingest, StatusCode::FORBIDDEN, "ingest may not {what}");
            }
            Access::Manage | Access::Admin => {
                assert_eq!(as_viewer, StatusCode::FORBIDDEN, "viewer may not {what}");
                assert_eq!(as_ingest, StatusCode::FORBIDDEN, "ingest may not {what}");
            }
            Access::Ingest => {
                assert_eq!(as_viewer, StatusCode::FORBIDDEN, "viewer may not {what}");
                assert_ne!(as_ingest, StatusCode::FORBIDDEN, "ingest may {what}");
            }
            Access::Signed => {
                assert_ne!(as_viewer, StatusCode::FORBIDDEN, "anyone signed in may {what}");
                assert_ne!(as_ingest, StatusCode::FORBIDDEN, "anyone signed in may {what}");
            }
            Access::Public => unreachable!(),
        }
    }
    assert_eq!(snapshot(&app).await, before, "refusals change nothing");
}

/// Sign in, use the session, sign out; tampered and expired cookies are refused.
async fn sessions_begin_and_end(app: TestApp) {
    add_user(&app, "alice@contoso.com", &[Role::Analyst], &[]).await;
    let browser = sign_in(&app, "ALICE@contoso.com").await;
    let me = |cookie: &str| app.client.get(app.url("/v1.0/muster/me")).header("cookie", cookie.to_owned());
    let body: Value = me(&browser.cookie).send().await.unwrap().json().await.unwrap();
    assert_eq!(body["name"], "alice@contoso.com");

    // Tampered cookie: refused; a page asks for the login form instead.
    let tampered = format!("{}x", browser.cookie);
    assert_eq!(me(&tampered).send().await.unwrap().status(), StatusCode::UNAUTHORIZED);
    let page =
        app.client.get(app.url("/")).header("cookie", &tampered).header("accept", "text/html").send().await.unwrap();
    assert_eq!(page.status(), StatusCode::SEE_OTHER);
    assert!(page.headers()["location"].to_str().unwrap().starts_with("/login?next="));

    // Signing out needs the page's CSRF token, from this site.
    let logout = || app.client.post(app.url("/logout")).header("cookie", &browser.cookie);
    assert_eq!(logout().send().await.unwrap().status(), StatusCode::FORBIDDEN);
    let cross = logout().header("origin", "http://evil.example").form(&[("csrf_token", browser.csrf.as_str())]);
    assert_eq!(cross.send().await.unwrap().status(), StatusCode::FORBIDDEN);
    let wrong = logout().form(&[("csrf_token", "forged")]);
    assert_eq!(wrong.send().await.unwrap().status(), StatusCode::FORBIDDEN);
    assert_eq!(me(&browser.cookie).send().await.unwrap().status(), StatusCode::OK, "still signed in");
    let out = logout().form(&[("csrf_token", browser.csrf.as_str())]).send().await.unwrap();
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    assert!(out.headers()["set-cookie"].to_str().unwrap().contains("Max-Age=0"));
    assert_eq!(me(&browser.cookie).send().await.unwrap().status(), StatusCode::UNAUTHORIZED);

    // Idle sessions expire.
    let again = sign_in(&app, "alice@contoso.com").await;
    app.clock.advance_secs(3 * 3600);
    assert_eq!(me(&again.cookie).send().await.unwrap().status(), StatusCode::UNAUTHORIZED);

    // Busy sessions end too, twelve hours after sign-in.
    let busy = sign_in(&app, "alice@contoso.com").await;
    for _ in 0..11 {
        app.clock.advance_secs(3600);
        assert_eq!(me(&busy.cookie).send().await.unwrap().status(), StatusCode::OK);
    }
    app.clock.advance_secs(3600 + 1);
    assert_eq!(me(&busy.cookie).send().await.unwrap().status(), StatusCode::UNAUTHORIZED);

    let actions: Vec<String> = app.store.audit_log(100, None).await.unwrap().into_iter().map(|e| e.action).collect();
    assert!(actions.contains(&"login".to_owned()) && actions.contains(&"logout".to_owned()), "{actions:?}");
}

/// State-changing API calls made with a session need the CSRF header; tokens do not.
async fn sessions_need_csrf_for_changes(app: TestApp) {
    add_user(&app, "root", &[Role::Admin], &[]).await;
    let browser = sign_in(&app, "root").await;
    let create = |csrf: Option<&str>| {
        let builder = app
            .client
            .post(app.url("/v1.0/muster/tokens"))
            .header("cookie", &browser.cookie)
            .json(&json!({"name": "from the UI", "role": "viewer"}));
        match csrf {
            Some(value) => builder.header("x-csrf-token", value),
            None => builder,
        }
    };
    let before = app.store.list_tokens().await.unwrap().len();
    assert_eq!(create(None).send().await.unwrap().status(), StatusCode::FORBIDDEN);
    assert_eq!(create(Some("guess")).send().await.unwrap().status(), StatusCode::FORBIDDEN);
    let cross = create(Some(&browser.csrf)).header("origin", "https://evil.example").send().await.unwrap();
    assert_eq!(cross.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.store.list_tokens().await.unwrap().len(), before);
    let made = create(Some(&browser.csrf)).send().await.unwrap();
    assert_eq!(made.status(), StatusCode::CREATED);
    let body: Value = made.json().await.unwrap();
    assert!(body["token"].as_str().unwrap().starts_with("mst_"));

    // Ingest-only accounts post alerts with tokens; they get no UI session.
    add_user(&app, "feeder", &[Role::Ingest], &[]).await;
    let refused = login_form(&app, "feeder", PASSWORD).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    assert!(refused.headers().get("set-cookie").is_none());

    // A login link cannot send people elsewhere afterwards.
    for next in ["//evil.example", "/\t/evil.example", "https://evil.example", "/\\evil.example"] {
        let response = app
            .client
            .post(app.url("/login"))
            .header("origin", format!("http://{}", app.addr))
            .form(&[("login", "root"), ("password", PASSWORD), ("next", next)])
            .send()
            .await
            .unwrap();
        assert_eq!(response.headers()["location"], "/", "{next:?}");
    }

    // A login form posted from another site is refused too.
    let forged = app
        .client
        .post(app.url("/login"))
        .header("origin", "https://evil.example")
        .form(&[("login", "root"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
}

/// A flood of wrong passwords is throttled and changes nothing; the account works again later.
async fn login_floods_are_throttled(app: TestApp) {
    add_user(&app, "alice", &[Role::Analyst], &[]).await;
    let users_before = app.store.list_users().await.unwrap();
    let mut statuses = std::collections::BTreeMap::new();
    for n in 0..10_000 {
        let login = if n % 2 == 0 { "alice".to_owned() } else { format!("spray{n}") };
        let status = login_form(&app, &login, "wrong password").send().await.unwrap().status();
        *statuses.entry(status.as_u16()).or_insert(0) += 1;
    }
    assert!(statuses[&429] > 9_900, "{statuses:?}");
    assert_eq!(statuses.keys().copied().collect::<Vec<_>>(), [401, 429], "{statuses:?}");
    // Even the right password waits out the lockout.
    let locked = login_form(&app, "alice", PASSWORD).send().await.unwrap();
    assert_eq!(locked.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(locked.headers().contains_key("retry-after"));
    assert_eq!(app.store.list_users().await.unwrap(), users_before, "no data changed");
    let failures = app.store.audit_log(10_000, None).await.unwrap().len();
    assert!(failures < 100, "throttled attempts are not each audited: {failures}");

    app.clock.advance_secs(16 * 60);
    sign_in(&app, "alice").await;
}

/// Hostile text in logins and names is refused or stored as text, and escaped in pages.
async fn hostile_input_stays_inert(app: TestApp) {
    let admin = token(&app, Role::Admin, None).await;
    for login in ["' OR '1'='1", "admin'--", "<script>alert(1)</script>"] {
        let response = login_form(&app, login, "x' OR 'x'='x").send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        let html = response.text().await.unwrap();
        assert!(!html.contains("<script>alert(1)</script>"), "escaped");
    }
    let nasty = "<script>alert(1)</script>'; DROP TABLE users; --";
    let created = app
        .client
        .post(app.url("/v1.0/muster/users"))
        .bearer_auth(&admin)
        .json(&json!({"login": nasty, "roles": ["viewer"], "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let users: Value =
        app.client.get(app.url("/v1.0/muster/users")).bearer_auth(&admin).send().await.unwrap().json().await.unwrap();
    assert_eq!(users["value"][0]["login"], nasty);
    assert!(users["value"][0].get("passwordHash").is_none() && !users.to_string().contains("argon2"));

    let made = app
        .client
        .post(app.url("/v1.0/muster/tokens"))
        .bearer_auth(&admin)
        .json(&json!({"name": nasty, "role": "viewer"}))
        .send()
        .await
        .unwrap();
    assert_eq!(made.status(), StatusCode::CREATED);
    add_user(&app, "root", &[Role::Admin], &[]).await;
    let browser = sign_in(&app, "root").await;
    let page = app.client.get(app.url("/admin/tokens")).header("cookie", &browser.cookie).send().await.unwrap();
    let html = page.text().await.unwrap();
    let escaped = html.contains("&#60;script&#62;") || html.contains("&lt;script&gt;");
    assert!(escaped && !html.contains("<script>alert(1)"), "names are escaped in pages: {html}");

    let bad = app
        .client
        .post(app.url("/v1.0/muster/users"))
        .bearer_auth(&admin)
        .json(&json!({"login": "x", "roles": ["superuser"]}))
        .send()
        .await
        .unwrap();
    let error = graph_error(bad, StatusCode::BAD_REQUEST, "invalidRequest").await;
    assert!(error["message"].as_str().unwrap().contains("superuser"), "{error}");
}

/// Every response carries the security headers, errors and public pages included.
async fn security_headers_everywhere(app: TestApp) {
    for path in ["/healthz", "/login", "/v1.0/muster/me", "/no/such/page"] {
        let response = app.get(path).await;
        let h = response.headers();
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("frame-ancestors 'none'") && csp.contains("script-src 'self'"), "{path}: {csp}");
        assert!(!csp.contains("unsafe-inline"), "{path}");
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert!(h.contains_key("referrer-policy"), "{path}");
    }
}

/// Admins read the audit log of logins, failures and account changes; nobody else does.
async fn the_audit_log_is_for_admins(app: TestApp) {
    let admin = token(&app, Role::Admin, None).await;
    let analyst = token(&app, Role::Analyst, None).await;
    add_user(&app, "bob", &[Role::Viewer], &[]).await;
    login_form(&app, "bob", "nope nope nope").send().await.unwrap();
    sign_in(&app, "bob").await;
    let log: Value =
        app.client.get(app.url("/v1.0/muster/audit")).bearer_auth(&admin).send().await.unwrap().json().await.unwrap();
    let actions: Vec<&str> = log["value"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    for expected in ["login", "login.failed", "user.created", "token.created"] {
        assert!(actions.contains(&expected), "{expected} in {actions:?}");
    }
    assert!(log["value"][0]["clientIp"].as_str().is_some());
    let refused = app.client.get(app.url("/v1.0/muster/audit")).bearer_auth(&analyst).send().await.unwrap();
    graph_error(refused, StatusCode::FORBIDDEN, "accessDenied").await;
}

/// Scoped callers carry their device groups; a scoped token of a scoped user gets the narrower scope;
/// a scoped admin hands out nothing wider than its own groups.
async fn scopes_follow_the_caller(app: TestApp) {
    let scoped_admin = {
        let spec = TokenSpec {
            name: "lab admin".into(),
            role: Role::Admin,
            user: None,
            expires_in_days: None,
            device_groups: vec!["Lab".into()],
        };
        accounts::create_token(app.store.as_ref(), spec, "test", app.clock_now()).await.unwrap().1
    };
    for groups in [json!([]), json!(["Finance"]), json!(["Lab", "Finance"])] {
        let wider = app
            .client
            .post(app.url("/v1.0/muster/tokens"))
            .bearer_auth(&scoped_admin)
            .json(&json!({"name": "escape", "role": "viewer", "deviceGroups": groups}))
            .send()
            .await
            .unwrap();
        assert_eq!(wider.status(), StatusCode::FORBIDDEN, "{groups}");
    }
    let inside = app
        .client
        .post(app.url("/v1.0/muster/tokens"))
        .bearer_auth(&scoped_admin)
        .json(&json!({"name": "lab viewer", "role": "viewer", "deviceGroups": ["lab"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(inside.status(), StatusCode::CREATED);

    add_user(&app, "dana", &[Role::Analyst], &["Servers", "Lab"]).await;
    let spec = TokenSpec {
        name: "dana lab".into(),
        role: Role::Viewer,
        user: Some("dana".into()),
        expires_in_days: None,
        device_groups: vec!["Lab".into(), "Finance".into()],
    };
    let secret = accounts::create_token(app.store.as_ref(), spec, "test", app.clock_now()).await.unwrap().1;
    let me: Value =
        app.client.get(app.url("/v1.0/muster/me")).bearer_auth(secret).send().await.unwrap().json().await.unwrap();
    assert_eq!(me["deviceGroups"], json!(["lab"]));
    assert_eq!(me["roles"], json!(["viewer"]));
}

on_both_backends!(
    strangers_get_only_public_routes,
    bad_tokens_are_refused,
    roles_bound_what_callers_do,
    sessions_begin_and_end,
    sessions_need_csrf_for_changes,
    login_floods_are_throttled,
    hostile_input_stays_inert,
    security_headers_everywhere,
    the_audit_log_is_for_admins,
    scopes_follow_the_caller,
);
