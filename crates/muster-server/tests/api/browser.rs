//! `Browser`: a signed-in web session over real HTTP, as the pages' tests drive it: its session
//! cookie and the CSRF token its pages carry.

use muster_core::access::Role;
use muster_core::time::Clock;
use muster_server::accounts::{self, UserSpec};
use reqwest::{RequestBuilder, StatusCode};

use crate::helpers::TestApp;

pub const PASSWORD: &str = "correct horse battery";

pub struct Browser<'a> {
    pub app: &'a TestApp,
    pub cookie: String,
    pub csrf: String,
}

impl<'a> Browser<'a> {
    /// Adds a user with `role` and signs in through the login form.
    pub async fn sign_in(app: &'a TestApp, login: &str, role: Role) -> Browser<'a> {
        let spec = UserSpec {
            login: login.into(),
            display_name: None,
            roles: vec![role],
            device_groups: Vec::new(),
            password: Some(PASSWORD.into()),
        };
        accounts::add_user(app.store.as_ref(), spec, "test", app.clock.now()).await.unwrap();
        let response = app
            .client
            .post(app.url("/login"))
            .header("origin", format!("http://{}", app.addr))
            .form(&[("login", login), ("password", PASSWORD), ("next", "/")])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        let cookie = response.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
        let mut browser = Browser { app, cookie, csrf: String::new() };
        let (_, queue) = browser.page("/").await;
        browser.csrf = field(&queue, "csrf_token").expect("a CSRF field on the queue page");
        browser
    }

    pub fn get(&self, path: &str) -> RequestBuilder {
        self.app.client.get(self.app.url(path)).header("cookie", &self.cookie).header("accept", "text/html")
    }

    /// A GET as htmx makes it, for the fragment it swaps in.
    pub fn htmx(&self, path: &str) -> RequestBuilder {
        self.get(path).header("hx-request", "true")
    }

    pub async fn page(&self, path: &str) -> (StatusCode, String) {
        let response = self.get(path).send().await.unwrap();
        (response.status(), response.text().await.unwrap())
    }

    /// The fragment at `path`, which must answer 200.
    pub async fn fragment(&self, path: &str) -> String {
        let response = self.htmx(path).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "GET {path}");
        response.text().await.unwrap()
    }

    /// A form post as htmx sends it from a page; `csrf` says whether the form carries its token.
    pub fn form(&self, path: &str, pairs: &[(&str, &str)], csrf: bool) -> RequestBuilder {
        let mut form: Vec<(&str, &str)> = pairs.to_vec();
        if csrf {
            form.push(("csrf_token", &self.csrf));
        }
        self.app
            .client
            .post(self.app.url(path))
            .header("cookie", &self.cookie)
            .header("origin", format!("http://{}", self.app.addr))
            .header("hx-request", "true")
            .form(&form)
    }

    /// Posts a form with its CSRF token; returns the status and body.
    pub async fn post(&self, path: &str, pairs: &[(&str, &str)]) -> (StatusCode, String) {
        let response = self.form(path, pairs, true).send().await.unwrap();
        (response.status(), response.text().await.unwrap())
    }
}

/// The value of the first input named `name` in `html`.
pub fn field(html: &str, name: &str) -> Option<String> {
    let at = html.find(&format!("name=\"{name}\" value=\""))?;
    let rest = &html[at + name.len() + 15..];
    rest.split('"').next().map(str::to_owned)
}
