//! A real `muster serve --demo` and a real headless Chromium driven through ChromeDriver, with
//! small typed helpers so each test reads as what a person does. Every wait is for something on
//! the page (an element, a text, a URL), never a fixed sleep.
//!
//! `MUSTER_SCREENSHOTS=docs` redraws the README's screenshots into that folder (relative to the
//! workspace); without it the screenshot tests say they skipped.
//! `MUSTER_CHROMIUM_ARGS` adds flags to Chromium's (`--force-dark-mode` to see the dark theme).
//! `MUSTER_CHROMIUM` and `MUSTER_CHROMEDRIVER` name other binaries than Debian's
//! `/usr/bin/chromium` and `/usr/bin/chromedriver`. Without them, [`Harness::start`] says
//! "skipped: ..." and returns `None`, and the test passes.

// A toolkit for every browser suite: not each one uses every helper.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use fantoccini::actions::{InputSource, KeyAction, KeyActions, MouseActions, PointerAction, MOUSE_BUTTON_LEFT};
use fantoccini::elements::Element;
use fantoccini::key::Key;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Map};
use tempfile::TempDir;

use crate::common::muster;

/// How long any wait lasts before the test fails: generous, for a loaded two-core machine.
pub const PATIENCE: Duration = Duration::from_secs(30);
/// The window every page is drawn in (and screenshots taken at).
pub const WIDTH: u32 = 1440;
pub const HEIGHT: u32 = 900;

/// Where to write the screenshot `name` (`queue.png`), when `MUSTER_SCREENSHOTS` names a folder.
pub fn screenshot_target(name: &str) -> Option<PathBuf> {
    let Some(folder) = std::env::var_os("MUSTER_SCREENSHOTS").map(PathBuf::from) else {
        eprintln!("skipped: set MUSTER_SCREENSHOTS=docs to redraw the README's {name}");
        return None;
    };
    let folder = if folder.is_absolute() {
        folder
    } else {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..").join(folder)
    };
    Some(folder.join(name))
}

/// Ends a child process however the test ends.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn wait_for_port(port: u16, what: &str) {
    let deadline = Instant::now() + PATIENCE;
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "{what} did not listen on port {port}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn binary(variable: &str, default: &str) -> Option<PathBuf> {
    let path = std::env::var_os(variable).map_or_else(|| PathBuf::from(default), PathBuf::from);
    path.exists().then_some(path)
}

/// A running `muster serve --demo` on its own SQLite file and loopback port.
pub struct Server {
    _process: Process,
    _dir: TempDir,
    pub url: String,
    pub database: String,
    /// The one-time password printed for `admin` on first start.
    pub admin_password: String,
}

impl Server {
    pub fn start() -> Server {
        let dir = TempDir::new().unwrap();
        let database = format!("sqlite://{}", dir.path().join("muster.db").display());
        let address = format!("127.0.0.1:{}", free_port());
        let mut child = muster()
            .env("MUSTER_DATABASE", &database)
            .env("RUST_LOG", "warn")
            .args(["serve", "--demo", "--listen", &address])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start muster serve");
        // The password is the first indented line after the notice; the rest of stdout is
        // drained so the server never blocks on a full pipe.
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut seen_notice = false;
            let mut sent = false;
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line.contains("one-time password") {
                    seen_notice = true;
                } else if seen_notice && !sent && !line.trim().is_empty() {
                    let _ = tx.send(line.trim().to_owned());
                    sent = true;
                }
            }
        });
        let process = Process(child);
        let admin_password = rx.recv_timeout(PATIENCE).expect("muster serve printed the admin's password");
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let check = muster().args(["healthcheck", "--listen", &address, "--timeout-secs", "1"]).output().unwrap();
            if check.status.success() {
                break;
            }
            assert!(Instant::now() < deadline, "muster serve did not become ready");
            std::thread::sleep(Duration::from_millis(100));
        }
        Server { _process: process, _dir: dir, url: format!("http://{address}"), database, admin_password }
    }

    /// Runs a `muster` operator command against this server's database.
    pub fn cli(&self, args: &[&str]) -> String {
        let output = muster().env("MUSTER_DATABASE", &self.database).args(args).output().unwrap();
        assert!(output.status.success(), "muster {args:?}: {}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8_lossy(&output.stdout).into_owned()
    }
}

/// ChromeDriver on a free port, and the Chromium it drives.
pub struct Driver {
    _process: Process,
    url: String,
    chromium: PathBuf,
}

impl Driver {
    /// `None` (having said why) when either binary is missing.
    pub fn start() -> Option<Driver> {
        let Some(chromium) = binary("MUSTER_CHROMIUM", "/usr/bin/chromium") else {
            eprintln!("skipped: no Chromium (install Debian's `chromium`, or set MUSTER_CHROMIUM)");
            return None;
        };
        let Some(driver) = binary("MUSTER_CHROMEDRIVER", "/usr/bin/chromedriver") else {
            eprintln!("skipped: no ChromeDriver (install Debian's `chromium-driver`, or set MUSTER_CHROMEDRIVER)");
            return None;
        };
        let port = free_port();
        let child = Command::new(driver)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let process = Process(child);
        wait_for_port(port, "chromedriver");
        Some(Driver { _process: process, url: format!("http://127.0.0.1:{port}"), chromium })
    }

    /// A new browser with a fresh profile: no cookies, no history.
    pub async fn browser(&self, base: &str) -> Browser {
        let profile = TempDir::new().unwrap();
        let mut args: Vec<String> = [
            "--headless=new",
            "--no-sandbox",
            "--disable-dev-shm-usage",
            "--disable-gpu",
            "--no-first-run",
            "--disable-extensions",
            "--hide-scrollbars",
            "--force-color-profile=srgb",
        ]
        .iter()
        .map(|a| (*a).to_owned())
        .collect();
        args.push(format!("--window-size={WIDTH},{HEIGHT}"));
        args.push(format!("--user-data-dir={}", profile.path().display()));
        // More flags for a look at the pages another way, e.g. `--force-dark-mode`.
        if let Ok(extra) = std::env::var("MUSTER_CHROMIUM_ARGS") {
            args.extend(extra.split_whitespace().map(str::to_owned));
        }
        let mut caps = Map::new();
        caps.insert("browserName".into(), json!("chrome"));
        caps.insert("goog:chromeOptions".into(), json!({ "binary": self.chromium, "args": args }));
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client =
            ClientBuilder::new(connector).capabilities(caps).connect(&self.url).await.expect("a browser session");
        // The window's frame takes some of its height: grow it until the page itself has the size.
        client.set_window_size(WIDTH, HEIGHT).await.unwrap();
        let inner = client.execute("return [window.innerWidth, window.innerHeight];", vec![]).await.unwrap();
        let (w, h) = (inner[0].as_u64().unwrap_or(0) as u32, inner[1].as_u64().unwrap_or(0) as u32);
        if (w, h) != (WIDTH, HEIGHT) && w > 0 && h > 0 {
            client.set_window_size(2 * WIDTH - w, 2 * HEIGHT - h).await.unwrap();
        }
        let session = client.session_id().await.ok().flatten();
        Browser {
            client,
            base: base.trim_end_matches('/').to_owned(),
            session,
            driver: self.address(),
            _profile: profile,
        }
    }

    fn address(&self) -> String {
        self.url.trim_start_matches("http://").to_owned()
    }
}

/// Ends a WebDriver session with a plain blocking request, so it works from `Drop` without a
/// runtime; ChromeDriver answers once Chromium has quit.
fn delete_session(driver: &str, session: &str) {
    let Ok(mut stream) = TcpStream::connect(driver) else { return };
    let _ = stream.set_read_timeout(Some(PATIENCE));
    let request = format!(
        "DELETE /session/{session} HTTP/1.1\r\nHost: {driver}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    if stream.write_all(request.as_bytes()).is_err() {
        return;
    }
    // Read the whole answer (ChromeDriver keeps the connection open after it).
    let mut answer = Vec::new();
    let mut chunk = [0u8; 4096];
    while let Ok(n) = stream.read(&mut chunk) {
        if n == 0 {
            break;
        }
        answer.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&answer);
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length = head
                .lines()
                .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_owned()))
                .and_then(|v| v.parse::<usize>().ok())
                .unwrap_or(0);
            if body.len() >= length {
                break;
            }
        }
    }
}

/// One browser session on the server, with the helpers tests use.
pub struct Browser {
    pub client: Client,
    base: String,
    /// The WebDriver session, ended on drop: killing ChromeDriver alone leaves Chromium running.
    session: Option<String>,
    driver: String,
    _profile: TempDir,
}

impl Drop for Browser {
    fn drop(&mut self) {
        if let Some(session) = self.session.take() {
            delete_session(&self.driver, &session);
        }
    }
}

fn css(selector: &str) -> Locator<'_> {
    Locator::Css(selector)
}

impl Browser {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn goto(&self, path: &str) {
        self.client.goto(&self.url(path)).await.unwrap_or_else(|e| panic!("open {path}: {e}"));
    }

    /// The first element matching `selector`, once there is one.
    pub async fn wait_for(&self, selector: &str) -> Element {
        self.client
            .wait()
            .at_most(PATIENCE)
            .for_element(css(selector))
            .await
            .unwrap_or_else(|e| panic!("waited for {selector}: {e}"))
    }

    /// Waits until nothing matches `selector`.
    pub async fn wait_gone(&self, selector: &str) {
        self.until(&format!("{selector} to go"), || async {
            self.client.find_all(css(selector)).await.map(|f| f.is_empty()).unwrap_or(false)
        })
        .await;
    }

    /// Waits until `selector`'s text contains `text`.
    pub async fn wait_text(&self, selector: &str, text: &str) {
        self.until(&format!("{selector} to say {text:?}"), || async {
            self.maybe_text(selector).await.is_some_and(|now| now.contains(text))
        })
        .await;
    }

    /// Waits until the address bar's query string contains `part`.
    pub async fn wait_url(&self, part: &str) {
        self.until(&format!("the URL to contain {part:?}"), || async {
            self.client.current_url().await.map(|u| u.as_str().contains(part)).unwrap_or(false)
        })
        .await;
    }

    /// Waits for a condition on the page, checking it every 50 ms.
    pub async fn until<F, Fut>(&self, what: &str, mut check: F)
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let deadline = Instant::now() + PATIENCE;
        while !check().await {
            assert!(Instant::now() < deadline, "waited for {what}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn click(&self, selector: &str) {
        self.wait_for(selector).await.click().await.unwrap_or_else(|e| panic!("click {selector}: {e}"));
    }

    /// Clicks with Shift held, as a person extends a selection.
    pub async fn shift_click(&self, selector: &str) {
        let element = self.wait_for(selector).await;
        let keys = KeyActions::new("keyboard".into())
            .then(KeyAction::Down { value: Key::Shift.into() })
            .then(KeyAction::Pause { duration: Duration::ZERO })
            .then(KeyAction::Pause { duration: Duration::ZERO })
            .then(KeyAction::Up { value: Key::Shift.into() });
        let mouse = MouseActions::new("mouse".into())
            .then(PointerAction::MoveToElement { element, duration: None, x: 0.0, y: 0.0 })
            .then(PointerAction::Down { button: MOUSE_BUTTON_LEFT })
            .then(PointerAction::Up { button: MOUSE_BUTTON_LEFT })
            .then(PointerAction::Pause { duration: Duration::ZERO });
        self.client
            .perform_actions(vec![keys.into(), mouse.into()] as Vec<fantoccini::actions::ActionSequence>)
            .await
            .unwrap();
        self.client.release_actions().await.unwrap();
    }

    /// Replaces a field's text.
    pub async fn fill(&self, selector: &str, text: &str) {
        let field = self.wait_for(selector).await;
        field.clear().await.unwrap();
        field.send_keys(text).await.unwrap_or_else(|e| panic!("type into {selector}: {e}"));
    }

    pub async fn select(&self, selector: &str, value: &str) {
        self.wait_for(selector)
            .await
            .select_by_value(value)
            .await
            .unwrap_or_else(|e| panic!("choose {value} in {selector}: {e}"));
    }

    async fn maybe_text(&self, selector: &str) -> Option<String> {
        let element = self.client.find(css(selector)).await.ok()?;
        element.text().await.ok()
    }

    pub async fn text_of(&self, selector: &str) -> String {
        self.wait_for(selector).await.text().await.unwrap()
    }

    /// The texts of every element matching `selector`, in page order.
    pub async fn texts(&self, selector: &str) -> Vec<String> {
        let mut out = Vec::new();
        for element in self.client.find_all(css(selector)).await.unwrap() {
            out.push(element.text().await.unwrap_or_default());
        }
        out
    }

    pub async fn count(&self, selector: &str) -> usize {
        self.client.find_all(css(selector)).await.map(|f| f.len()).unwrap_or(0)
    }

    pub async fn attr(&self, selector: &str, name: &str) -> Option<String> {
        self.wait_for(selector).await.attr(name).await.unwrap()
    }

    pub async fn is_checked(&self, selector: &str) -> bool {
        self.wait_for(selector).await.is_selected().await.unwrap()
    }

    /// Where the browser is: path and query.
    pub async fn location(&self) -> String {
        let url = self.client.current_url().await.unwrap();
        match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_owned(),
        }
    }

    /// Saves a PNG of the window.
    pub async fn screenshot(&self, path: &Path) {
        let png = self.client.screenshot().await.unwrap();
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(path, png).unwrap();
    }

    /// Signs in through the login form and waits for the queue.
    pub async fn sign_in(&self, login: &str, password: &str) {
        self.goto("/login").await;
        self.fill("#login", login).await;
        self.fill("#password", password).await;
        self.click("form.card button[type=submit]").await;
        self.wait_for("#queue-table").await;
    }

    pub async fn close(mut self) {
        if self.session.take().is_some() {
            let _ = self.client.clone().close().await;
        }
    }
}

/// A server, a driver and a signed-in admin's browser: what most tests start from.
pub struct Harness {
    // Dropped in this order: the browser's session ends while its driver still runs.
    pub browser: Browser,
    pub driver: Driver,
    pub server: Server,
}

impl Harness {
    /// `None` when there is no browser to drive (the test then passes, having said so).
    pub async fn start() -> Option<Harness> {
        let driver = Driver::start()?;
        let server = Server::start();
        let browser = driver.browser(&server.url).await;
        browser.sign_in("admin", &server.admin_password).await;
        Some(Harness { browser, driver, server })
    }

    /// Another browser, with its own profile, signed in as admin.
    pub async fn second_browser(&self) -> Browser {
        let browser = self.driver.browser(&self.server.url).await;
        browser.sign_in("admin", &self.server.admin_password).await;
        browser
    }
}
