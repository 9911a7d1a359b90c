//! `muster ingest FILE...`: sends Graph alerts from files to a running server, in NDJSON batches.
//!
//! A reader thread turns the files into batches (each at most `--batch-size` alerts and under the
//! request size limit) while the async side posts them one after the other, so reading and sending
//! overlap. Lines are sent as they are: the server judges them, and its reasons are what the user
//! sees, each with the file and line it came from.

use std::collections::HashSet;
use std::fmt;
use std::fs::File;
use std::io::{BufRead, BufReader, IsTerminal, Read};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use reqwest::header::CONTENT_TYPE;
use reqwest::StatusCode;
use serde::Deserialize;
use tokio::sync::mpsc;

use crate::cli::IngestArgs;

/// The server's default request body limit; each request stays below it.
const MAX_REQUEST_BYTES: usize = 16 * 1024 * 1024;
/// Inputs at least this large get a progress bar (on a terminal).
const PROGRESS_MIN_BYTES: u64 = 1024 * 1024;
/// Refusals listed one by one; the rest are counted.
const LISTED_REFUSALS: usize = 20;
/// How long one request may take, the server's own processing included.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(300);

pub async fn run(args: IngestArgs) -> anyhow::Result<()> {
    let Some(token) = args.token.clone() else {
        bail!(
            "give an API token with --token or MUSTER_TOKEN (create one with \
             `muster tokens create --role ingest --name NAME`)"
        );
    };
    let endpoint = endpoint(&args.url)?;
    let inputs = open_inputs(&args.files)?;
    let total_bytes: Option<u64> = inputs.iter().map(|input| input.size).sum();
    let progress = progress_bar(total_bytes);
    let limits = Limits { batch_size: args.batch_size as usize, max_body: MAX_REQUEST_BYTES - 1024 };

    let (sender, receiver) = mpsc::channel::<Result<Batch, anyhow::Error>>(4);
    let names: Vec<String> = inputs.iter().map(|input| input.name.clone()).collect();
    let reader = std::thread::spawn(move || read_all(inputs, limits, &sender));

    let client = reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .connect_timeout(Duration::from_secs(10))
        .build()
        .context("cannot build an HTTP client")?;
    let poster = Poster { client, endpoint, token: token.expose().to_owned() };
    let started = Instant::now();
    let mut report = Report::default();
    let outcome = send_all(&poster, receiver, &mut report, &progress).await;
    if outcome.is_ok() {
        // It has finished: it closed the channel. After a failure it is left to stop on its own
        // (its next send finds the channel closed), so a read blocked on stdin cannot hold us.
        let _ = reader.join();
    }
    progress.finish_and_clear();
    let elapsed = started.elapsed();

    // After a request failed before anything was judged, the error alone says it all.
    if report.sent > 0 || report.refused > 0 {
        print!("{}", report.text(&names, elapsed));
    }
    outcome?;
    if report.refused > 0 {
        bail!(
            "{} refused, listed above ({} of {} alerts sent were accepted)",
            report.refused,
            report.accepted,
            report.sent
        );
    }
    Ok(())
}

/// The ingest URL for a server URL (`http://host:port`, with or without a path prefix).
fn endpoint(server: &str) -> anyhow::Result<String> {
    let parsed = url::Url::parse(server.trim()).with_context(|| format!("--url {server:?} is not a URL"))?;
    match parsed.scheme() {
        "http" => {}
        "https" => bail!(
            "--url {server}: this build of muster speaks plain http:// only; point it at the server's \
             listen address"
        ),
        _ => bail!("--url {server:?} must be an http:// URL"),
    }
    if !parsed.has_host() {
        bail!("--url {server:?} names no host");
    }
    Ok(format!("{}/v1.0/security/alerts_v2", parsed.as_str().trim_end_matches('/')))
}

/// One input: a file, or stdin.
struct Input {
    name: String,
    /// Its size in bytes, when it is a regular file.
    size: Option<u64>,
    reader: Box<dyn Read + Send>,
    gzip: bool,
}

/// Opens every input before anything is sent, so a mistyped name stops the run at once.
fn open_inputs(paths: &[PathBuf]) -> anyhow::Result<Vec<Input>> {
    let mut inputs = Vec::with_capacity(paths.len());
    let mut stdin_taken = false;
    for path in paths {
        if path.as_os_str() == "-" {
            if stdin_taken {
                bail!("`-` (stdin) can be given only once");
            }
            stdin_taken = true;
            inputs.push(Input { name: "<stdin>".into(), size: None, reader: Box::new(std::io::stdin()), gzip: false });
            continue;
        }
        let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
        let metadata = file.metadata().with_context(|| format!("cannot read {}", path.display()))?;
        if metadata.is_dir() {
            bail!("{} is a directory; give the files in it", path.display());
        }
        let gzip = path.extension().is_some_and(|ext| ext.eq_ignore_ascii_case("gz"));
        let size = metadata.is_file().then_some(metadata.len());
        inputs.push(Input { name: path.display().to_string(), size, reader: Box::new(file), gzip });
    }
    Ok(inputs)
}

/// A bar on stderr when it is a terminal and the input is large (or of unknown size); hidden
/// otherwise, so logs and pipes get only the report.
fn progress_bar(total_bytes: Option<u64>) -> ProgressBar {
    let visible = std::io::stderr().is_terminal() && total_bytes.is_none_or(|total| total >= PROGRESS_MIN_BYTES);
    if !visible {
        return ProgressBar::hidden();
    }
    let (bar, template) = match total_bytes {
        Some(total) => (
            ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr()),
            "[{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} ({eta}) {msg}",
        ),
        None => (
            ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()),
            "{spinner} [{elapsed_precise}] {bytes} read {msg}",
        ),
    };
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style);
    }
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// Where a line came from: the input's index and the 1-based line number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Location {
    input: usize,
    line: u64,
}

/// Alerts to post together as NDJSON, and what the reader refused on the way.
#[derive(Debug, Default)]
struct Batch {
    /// Where each line of `body` came from.
    locations: Vec<Location>,
    /// Where each line starts in `body`.
    starts: Vec<usize>,
    /// The lines, each ending in `\n`.
    body: String,
    /// Lines that could not be sent at all, with the reason.
    local_refusals: Vec<(Location, String)>,
    /// Bytes of input read when the batch was complete: the progress once it is sent.
    read_bytes: u64,
}

impl Batch {
    fn len(&self) -> usize {
        self.locations.len()
    }

    fn push(&mut self, location: Location, line: &str) {
        self.locations.push(location);
        self.starts.push(self.body.len());
        self.body.push_str(line);
        self.body.push('\n');
    }

    /// Splits in two halves of lines (for a server whose size limit is lower than ours).
    fn split(self) -> (Batch, Batch) {
        let middle = self.len() / 2;
        let cut = self.starts[middle];
        let first = Batch {
            locations: self.locations[..middle].to_vec(),
            starts: self.starts[..middle].to_vec(),
            body: self.body[..cut].to_owned(),
            local_refusals: self.local_refusals,
            read_bytes: self.read_bytes,
        };
        let second = Batch {
            locations: self.locations[middle..].to_vec(),
            starts: self.starts[middle..].iter().map(|start| start - cut).collect(),
            body: self.body[cut..].to_owned(),
            local_refusals: Vec::new(),
            read_bytes: self.read_bytes,
        };
        (first, second)
    }
}

#[derive(Debug, Clone, Copy)]
struct Limits {
    batch_size: usize,
    max_body: usize,
}

/// Fills batches and hands them on. Stops early when the receiving side is gone.
struct Batcher<'a> {
    limits: Limits,
    current: Batch,
    sender: &'a mpsc::Sender<Result<Batch, anyhow::Error>>,
    /// Bytes of input read so far, when counted.
    read: Option<Arc<AtomicU64>>,
}

/// The receiving side hung up: stop reading.
struct Closed;

impl Batcher<'_> {
    fn alert(&mut self, location: Location, line: &str) -> Result<(), Closed> {
        // The server skips blank lines (Unicode white space too), which would shift the index it
        // reports refusals by; such a line holds no alert anyway.
        if line.trim().is_empty() {
            return Ok(());
        }
        if line.len() + 1 > self.limits.max_body {
            let message = format!(
                "the alert is {} bytes, more than a request may carry ({} MiB)",
                line.len(),
                MAX_REQUEST_BYTES / (1024 * 1024)
            );
            self.refuse(location, message);
            return Ok(());
        }
        if self.current.len() >= self.limits.batch_size
            || self.current.body.len() + line.len() + 1 > self.limits.max_body
        {
            self.flush()?;
        }
        self.current.push(location, line);
        Ok(())
    }

    fn refuse(&mut self, location: Location, message: String) {
        self.current.local_refusals.push((location, message));
    }

    fn flush(&mut self) -> Result<(), Closed> {
        if self.current.len() == 0 && self.current.local_refusals.is_empty() {
            return Ok(());
        }
        let mut batch = std::mem::take(&mut self.current);
        batch.read_bytes = self.read.as_ref().map_or(0, |read| read.load(Ordering::Relaxed));
        self.sender.blocking_send(Ok(batch)).map_err(|_| Closed)
    }
}

/// The reader thread: every input in turn, then the last batch.
fn read_all(inputs: Vec<Input>, limits: Limits, sender: &mpsc::Sender<Result<Batch, anyhow::Error>>) {
    let read = Arc::new(AtomicU64::new(0));
    let mut batcher = Batcher { limits, current: Batch::default(), sender, read: Some(read.clone()) };
    for (index, input) in inputs.into_iter().enumerate() {
        let name = input.name.clone();
        let counted = Counted { inner: input.reader, read: read.clone() };
        let reader: Box<dyn Read> =
            if input.gzip { Box::new(flate2::read::MultiGzDecoder::new(counted)) } else { Box::new(counted) };
        let mut reader = BufReader::with_capacity(256 * 1024, reader);
        match read_input(index, &mut reader, &mut batcher) {
            Ok(()) => {}
            Err(ReadError::Closed) => return,
            Err(ReadError::Io(error)) => {
                let _ = sender.blocking_send(Err(anyhow::Error::new(error).context(format!("cannot read {name}"))));
                return;
            }
        }
    }
    let _ = batcher.flush();
}

enum ReadError {
    Io(std::io::Error),
    Closed,
}

impl From<std::io::Error> for ReadError {
    fn from(error: std::io::Error) -> Self {
        Self::Io(error)
    }
}

impl From<Closed> for ReadError {
    fn from(_: Closed) -> Self {
        Self::Closed
    }
}

/// Counts the bytes read (before any gunzip), for the progress bar.
struct Counted {
    inner: Box<dyn Read + Send>,
    read: Arc<AtomicU64>,
}

impl Read for Counted {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// One input: a JSON array when its first byte that is not white space is `[`, else NDJSON.
fn read_input(input: usize, reader: &mut impl BufRead, batcher: &mut Batcher<'_>) -> Result<(), ReadError> {
    let mut line = 1u64;
    // Skip a byte-order mark and leading white space, counting lines.
    loop {
        let buffer = reader.fill_buf()?;
        if buffer.is_empty() {
            return Ok(());
        }
        if buffer.starts_with(b"\xEF\xBB\xBF") {
            reader.consume(3);
            continue;
        }
        let blank = buffer.iter().take_while(|b| b.is_ascii_whitespace()).count();
        line += buffer[..blank].iter().filter(|&&b| b == b'\n').count() as u64;
        let done = blank < buffer.len();
        reader.consume(blank);
        if done {
            break;
        }
    }
    if reader.fill_buf()?.first() == Some(&b'[') {
        reader.consume(1);
        read_array(input, line, reader, batcher)
    } else {
        read_ndjson(input, line, reader, batcher)
    }
}

/// NDJSON: every line that is not blank is one alert.
fn read_ndjson(
    input: usize,
    first_line: u64,
    reader: &mut impl BufRead,
    batcher: &mut Batcher<'_>,
) -> Result<(), ReadError> {
    let mut buffer = Vec::new();
    let mut line = first_line;
    loop {
        buffer.clear();
        if reader.read_until(b'\n', &mut buffer)? == 0 {
            return Ok(());
        }
        let location = Location { input, line };
        line += 1;
        let text = buffer.trim_ascii();
        if text.is_empty() {
            continue;
        }
        match std::str::from_utf8(text) {
            Ok(text) => batcher.alert(location, text)?,
            Err(_) => batcher.refuse(location, "the line is not UTF-8 text".into()),
        }
    }
}

/// One JSON array: each element is sent as one NDJSON line. Line breaks inside an element are
/// JSON white space (a string cannot hold a raw one), so they become spaces and nothing changes.
fn read_array(
    input: usize,
    first_line: u64,
    reader: &mut impl BufRead,
    batcher: &mut Batcher<'_>,
) -> Result<(), ReadError> {
    let mut scanner = ArrayScanner::new(first_line);
    loop {
        let buffer = reader.fill_buf()?;
        if buffer.is_empty() {
            break;
        }
        let length = buffer.len();
        for &byte in buffer {
            match scanner.byte(byte) {
                None => {}
                Some(Piece::Element(location_line, bytes)) => {
                    element(input, location_line, bytes, batcher)?;
                }
                Some(Piece::Problem(location_line, message)) => {
                    batcher.refuse(Location { input, line: location_line }, message.into());
                }
            }
        }
        reader.consume(length);
    }
    match scanner.finish() {
        Some(Piece::Element(location_line, bytes)) => element(input, location_line, bytes, batcher)?,
        Some(Piece::Problem(location_line, message)) => {
            batcher.refuse(Location { input, line: location_line }, message.into());
        }
        None => {}
    }
    Ok(())
}

fn element(input: usize, line: u64, mut bytes: Vec<u8>, batcher: &mut Batcher<'_>) -> Result<(), Closed> {
    let location = Location { input, line };
    for byte in &mut bytes {
        if *byte == b'\n' || *byte == b'\r' {
            *byte = b' ';
        }
    }
    match String::from_utf8(bytes) {
        Ok(text) => batcher.alert(location, text.trim()),
        Err(_) => {
            batcher.refuse(location, "the element is not UTF-8 text".into());
            Ok(())
        }
    }
}

/// What the array scanner found.
#[derive(Debug, PartialEq, Eq)]
enum Piece {
    /// An element's text and the line it starts on.
    Element(u64, Vec<u8>),
    /// Something wrong with the array itself, and the line where.
    Problem(u64, &'static str),
}

/// Splits a JSON array into its top-level elements without parsing them: it tracks only strings
/// and nesting, so each element reaches the server exactly as written.
#[derive(Debug)]
struct ArrayScanner {
    line: u64,
    /// The element being read, and the line it starts on.
    element: Vec<u8>,
    element_line: u64,
    depth: usize,
    in_string: bool,
    escaped: bool,
    /// After the closing `]`.
    closed: bool,
    /// Text after the closing `]` was reported already.
    trailing_reported: bool,
    /// The last separator was a comma, so an element must follow.
    after_comma: bool,
}

impl ArrayScanner {
    fn new(line: u64) -> Self {
        Self {
            line,
            element: Vec::new(),
            element_line: line,
            depth: 0,
            in_string: false,
            escaped: false,
            closed: false,
            trailing_reported: false,
            after_comma: false,
        }
    }

    fn byte(&mut self, byte: u8) -> Option<Piece> {
        let line = self.line;
        if byte == b'\n' {
            self.line += 1;
        }
        if self.closed {
            if byte.is_ascii_whitespace() || self.trailing_reported {
                return None;
            }
            self.trailing_reported = true;
            return Some(Piece::Problem(line, "text after the end of the JSON array"));
        }
        if self.in_string {
            self.element.push(byte);
            if self.escaped {
                self.escaped = false;
            } else if byte == b'\\' {
                self.escaped = true;
            } else if byte == b'"' {
                self.in_string = false;
            }
            return None;
        }
        match byte {
            b',' | b']' if self.depth == 0 => {
                let piece = if !self.element.is_empty() {
                    Some(Piece::Element(self.element_line, std::mem::take(&mut self.element)))
                } else if byte == b']' && !self.after_comma {
                    // `[]`: no element at all.
                    None
                } else {
                    Some(Piece::Problem(line, "an empty element in the JSON array (two commas, or one before `]`)"))
                };
                self.after_comma = byte == b',';
                self.closed = byte == b']';
                piece
            }
            _ => {
                if self.element.is_empty() {
                    if byte.is_ascii_whitespace() {
                        return None;
                    }
                    self.element_line = line;
                }
                match byte {
                    b'"' => self.in_string = true,
                    b'{' | b'[' => self.depth += 1,
                    b'}' | b']' => self.depth = self.depth.saturating_sub(1),
                    _ => {}
                }
                self.element.push(byte);
                None
            }
        }
    }

    fn finish(&mut self) -> Option<Piece> {
        if self.closed {
            return None;
        }
        if self.element.is_empty() {
            return Some(Piece::Problem(self.line, "the JSON array is not closed with `]`"));
        }
        // Sent as it is: the server says what is wrong with it.
        Some(Piece::Element(self.element_line, std::mem::take(&mut self.element)))
    }
}

/// Posts batches to the ingest endpoint.
struct Poster {
    client: reqwest::Client,
    endpoint: String,
    token: String,
}

impl fmt::Debug for Poster {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Poster").field("endpoint", &self.endpoint).finish_non_exhaustive()
    }
}

/// The server's verdict on one request.
#[derive(Debug)]
enum Answer {
    /// 200: at least one alert accepted; the others refused with their index.
    Some(IngestAnswer),
    /// 400: none accepted.
    None(GraphError),
    /// 413: the body is over the server's limit.
    TooLarge,
}

#[derive(Debug, Default, Deserialize)]
struct IngestAnswer {
    #[serde(default)]
    value: Vec<AcceptedItem>,
    #[serde(default)]
    errors: Vec<RefusedItem>,
}

#[derive(Debug, Deserialize)]
struct AcceptedItem {
    #[serde(rename = "incidentId")]
    incident_id: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
struct RefusedItem {
    index: usize,
    message: String,
}

#[derive(Debug, Default, Deserialize)]
struct GraphError {
    #[serde(default)]
    error: GraphErrorBody,
}

#[derive(Debug, Default, Deserialize)]
struct GraphErrorBody {
    #[serde(default)]
    message: String,
    #[serde(default)]
    details: Vec<GraphErrorDetail>,
}

#[derive(Debug, Deserialize)]
struct GraphErrorDetail {
    #[serde(default)]
    message: String,
    target: Option<String>,
}

impl Poster {
    /// A request that got no answer, named by its deepest cause ("Connection refused") rather than
    /// the whole chain of wrappers.
    fn send_failed(&self, error: &reqwest::Error) -> anyhow::Error {
        if error.is_timeout() {
            return anyhow::anyhow!("POST {} got no answer within {} s", self.endpoint, REQUEST_TIMEOUT.as_secs());
        }
        let mut cause: &dyn std::error::Error = error;
        while let Some(source) = cause.source() {
            cause = source;
        }
        anyhow::anyhow!("cannot reach the server: POST {} failed: {cause}", self.endpoint)
    }

    async fn post(&self, body: &str) -> anyhow::Result<Answer> {
        let response = self
            .client
            .post(&self.endpoint)
            .bearer_auth(&self.token)
            .header(CONTENT_TYPE, "application/x-ndjson")
            .body(body.to_owned())
            .send()
            .await
            .map_err(|error| self.send_failed(&error))?;
        let status = response.status();
        let text = response.text().await.with_context(|| format!("POST {} failed", self.endpoint))?;
        match status {
            StatusCode::OK => serde_json::from_str(&text).map(Answer::Some).with_context(|| {
                format!("POST {} answered 200 with a body that is not an ingest result", self.endpoint)
            }),
            StatusCode::BAD_REQUEST => Ok(Answer::None(serde_json::from_str(&text).unwrap_or_default())),
            StatusCode::PAYLOAD_TOO_LARGE => Ok(Answer::TooLarge),
            StatusCode::UNAUTHORIZED => {
                bail!("the server refused the token (401): it is unknown, expired or revoked")
            }
            StatusCode::FORBIDDEN => {
                bail!("the token may not ingest alerts (403): it needs the ingest or admin role")
            }
            status => {
                let reason = serde_json::from_str::<GraphError>(&text)
                    .map(|error| one_line(&error.error.message))
                    .ok()
                    .filter(|reason| !reason.is_empty());
                match reason {
                    Some(reason) => bail!("POST {} answered {status}: {reason}", self.endpoint),
                    None if status == StatusCode::NOT_FOUND || status == StatusCode::METHOD_NOT_ALLOWED => {
                        bail!("POST {} answered {status}: is --url a Muster server?", self.endpoint)
                    }
                    None => bail!("POST {} answered {status}", self.endpoint),
                }
            }
        }
    }
}

/// Everything the run did, for the report at the end.
#[derive(Debug, Default)]
struct Report {
    /// Alerts posted and judged by the server.
    sent: u64,
    accepted: u64,
    /// Refused by the server, or not sendable at all.
    refused: u64,
    /// Refused before sending (not UTF-8, too large, a broken array).
    refused_locally: u64,
    incidents: HashSet<String>,
    /// The first refusals, in file and line order within each batch.
    listed: Vec<(Location, String)>,
}

impl Report {
    fn refuse(&mut self, refusals: Vec<(Location, String)>) {
        self.refused += refusals.len() as u64;
        let room = LISTED_REFUSALS.saturating_sub(self.listed.len());
        self.listed.extend(refusals.into_iter().take(room));
    }

    fn text(&self, names: &[String], elapsed: Duration) -> String {
        let mut out = String::new();
        if !self.listed.is_empty() {
            out.push_str("refused:\n");
            for (location, message) in &self.listed {
                let name = names.get(location.input).map_or("?", String::as_str);
                out.push_str(&format!("  {name}:{}: {}\n", location.line, one_line(message)));
            }
            let unlisted = self.refused.saturating_sub(self.listed.len() as u64);
            if unlisted > 0 {
                out.push_str(&format!("  ... and {unlisted} more\n"));
            }
        }
        let seconds = elapsed.as_secs_f64();
        let rate = if seconds > 0.0 { self.sent as f64 / seconds } else { 0.0 };
        let rows = [
            ("files", names.len().to_string()),
            ("alerts sent", self.sent.to_string()),
            ("accepted", self.accepted.to_string()),
            ("refused", self.refused.to_string()),
            ("incidents touched", self.incidents.len().to_string()),
            ("elapsed", format!("{seconds:.2} s")),
            ("rate", format!("{rate:.0} alerts/s")),
        ];
        for (label, value) in rows {
            out.push_str(&format!("{label:<18} {value}\n"));
        }
        out
    }
}

/// Posts every batch the reader produces, in order; stops at the first failed request.
async fn send_all(
    poster: &Poster,
    mut receiver: mpsc::Receiver<Result<Batch, anyhow::Error>>,
    report: &mut Report,
    progress: &ProgressBar,
) -> anyhow::Result<()> {
    while let Some(message) = receiver.recv().await {
        let mut batch = message?;
        let mut refusals = std::mem::take(&mut batch.local_refusals);
        let read_bytes = batch.read_bytes;
        report.refused_locally += refusals.len() as u64;
        let mut parts = std::collections::VecDeque::from([batch]);
        while let Some(part) = parts.pop_front() {
            if part.len() == 0 {
                continue;
            }
            match poster.post(&part.body).await? {
                Answer::Some(answer) => {
                    report.sent += part.len() as u64;
                    report.accepted += answer.value.len() as u64;
                    for accepted in answer.value {
                        match accepted.incident_id {
                            Some(serde_json::Value::String(id)) => report.incidents.insert(id),
                            Some(other) => report.incidents.insert(other.to_string()),
                            None => false,
                        };
                    }
                    for refused in answer.errors {
                        let location = part.locations.get(refused.index).copied().unwrap_or(part.locations[0]);
                        refusals.push((location, refused.message));
                    }
                }
                Answer::None(error) => {
                    report.sent += part.len() as u64;
                    refusals.extend(all_refused(&part, error));
                }
                Answer::TooLarge if part.len() > 1 => {
                    // The server's limit is lower than ours: halve and try again.
                    let (first, second) = part.split();
                    parts.push_front(second);
                    parts.push_front(first);
                }
                Answer::TooLarge => {
                    report.sent += 1;
                    refusals.push((part.locations[0], "the alert is larger than the server accepts (413)".into()));
                }
            }
        }
        refusals.sort_by_key(|(location, _)| *location);
        report.refuse(refusals);
        progress.set_position(read_bytes);
        progress.set_message(format!("{} sent, {} accepted, {} refused", report.sent, report.accepted, report.refused));
    }
    Ok(())
}

/// A 400: every line refused, each with its own reason where the server gave one.
fn all_refused(part: &Batch, error: GraphError) -> Vec<(Location, String)> {
    let mut reasons: Vec<Option<String>> = vec![None; part.len()];
    for detail in error.error.details {
        let index = detail
            .target
            .as_deref()
            .and_then(|target| target.strip_prefix('[')?.strip_suffix(']')?.parse::<usize>().ok());
        if let Some(slot) = index.and_then(|index| reasons.get_mut(index)) {
            *slot = Some(detail.message);
        }
    }
    let general =
        if error.error.message.is_empty() { "refused by the server (400)".to_owned() } else { error.error.message };
    part.locations
        .iter()
        .zip(reasons)
        .map(|(location, reason)| (*location, reason.unwrap_or_else(|| general.clone())))
        .collect()
}

/// A message on one line, its white space collapsed.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads `text` as input 0 and returns every batch the batcher produced.
    fn read(text: &str, batch_size: usize, max_body: usize) -> Vec<Batch> {
        let (sender, mut receiver) = mpsc::channel(1000);
        let mut batcher =
            Batcher { limits: Limits { batch_size, max_body }, current: Batch::default(), sender: &sender, read: None };
        let mut reader = BufReader::with_capacity(16, text.as_bytes());
        assert!(read_input(0, &mut reader, &mut batcher).is_ok());
        assert!(batcher.flush().is_ok());
        drop(sender);
        let mut batches = Vec::new();
        while let Ok(batch) = receiver.try_recv() {
            batches.push(batch.unwrap());
        }
        batches
    }

    /// Line numbers with a text: an alert sent, or the reason for a local refusal.
    type Numbered = Vec<(u64, String)>;

    /// (line, text) of every alert sent, and (line, reason) of every local refusal.
    fn lines(batches: &[Batch]) -> (Numbered, Numbered) {
        let mut sent = Vec::new();
        let mut refused = Vec::new();
        for batch in batches {
            for (location, line) in batch.locations.iter().zip(batch.body.lines()) {
                sent.push((location.line, line.to_owned()));
            }
            refused.extend(batch.local_refusals.iter().map(|(location, reason)| (location.line, reason.clone())));
        }
        (sent, refused)
    }

    #[test]
    fn ndjson_lines_go_as_they_are_with_their_line_numbers() {
        let text = "\u{feff}\n{\"a\":1}\r\n\n  {\"b\": 2}  \nnot json\n\u{a0}\n{\"c\":3}";
        let (sent, refused) = lines(&read(text, 1000, 1 << 20));
        assert_eq!(
            sent,
            [(2, "{\"a\":1}".into()), (4, "{\"b\": 2}".into()), (5, "not json".into()), (7, "{\"c\":3}".into())]
        );
        assert!(refused.is_empty());
    }

    #[test]
    fn batches_respect_the_count_and_the_size() {
        let text = (1..=10).map(|i| format!("{{\"n\":{i}}}\n")).collect::<String>();
        let batches = read(&text, 4, 1 << 20);
        assert_eq!(batches.iter().map(Batch::len).collect::<Vec<_>>(), [4, 4, 2]);
        assert_eq!(batches[1].body, "{\"n\":5}\n{\"n\":6}\n{\"n\":7}\n{\"n\":8}\n");
        // Each line is 8 bytes with its newline: 20 bytes hold two.
        let batches = read(&text, 1000, 20);
        assert!(batches.iter().all(|batch| batch.body.len() <= 20 && batch.len() == 2), "{batches:?}");
        // A line larger than a request is refused here, not sent.
        let (sent, refused) = lines(&read("{\"small\":1}\n{\"large\":\"xxxxxxxxxxxxxxxxxxxx\"}\n", 1000, 20));
        assert_eq!(sent, [(1, "{\"small\":1}".into())]);
        assert_eq!(refused.len(), 1);
        assert_eq!(refused[0].0, 2);
        assert!(refused[0].1.contains("more than a request may carry"), "{refused:?}");
    }

    #[test]
    fn lines_that_are_not_utf8_are_refused_locally() {
        let text = b"{\"a\":1}\n{\"b\":\"\xff\"}\n";
        let (sender, mut receiver) = mpsc::channel(10);
        let mut batcher = Batcher {
            limits: Limits { batch_size: 10, max_body: 1000 },
            current: Batch::default(),
            sender: &sender,
            read: None,
        };
        assert!(read_input(0, &mut &text[..], &mut batcher).is_ok());
        assert!(batcher.flush().is_ok());
        let batch = receiver.try_recv().unwrap().unwrap();
        assert_eq!(batch.body, "{\"a\":1}\n");
        assert_eq!(batch.local_refusals, [(Location { input: 0, line: 2 }, "the line is not UTF-8 text".to_owned())]);
    }

    #[test]
    fn array_elements_become_lines_where_they_start() {
        let text = " \n[\n  {\"a\": [1, {\"x\": \"],\\\"[{\"}],\n   \"b\": 2},\n  {\"c\": \"\\\\\"}\n , 17 ,\"s\"]\n\n";
        let (sent, refused) = lines(&read(text, 1000, 1 << 20));
        assert_eq!(
            sent,
            [
                (3, "{\"a\": [1, {\"x\": \"],\\\"[{\"}],    \"b\": 2}".into()),
                (5, "{\"c\": \"\\\\\"}".into()),
                (6, "17".into()),
                (6, "\"s\"".into()),
            ]
        );
        assert!(refused.is_empty(), "{refused:?}");
        // Each element is still the same JSON.
        let value: serde_json::Value = serde_json::from_str(&sent[0].1).unwrap();
        assert_eq!(value["a"][1]["x"], "],\"[{");
        assert_eq!(value["b"], 2);
    }

    #[test]
    fn empty_arrays_and_broken_ones() {
        assert_eq!(lines(&read("[]", 10, 1000)), (vec![], vec![]));
        assert_eq!(lines(&read("  [ \n ] \n", 10, 1000)), (vec![], vec![]));

        let (sent, refused) = lines(&read("[{\"a\":1},\n,{\"b\":2},]\n", 10, 1000));
        assert_eq!(sent, [(1, "{\"a\":1}".into()), (2, "{\"b\":2}".into())]);
        assert_eq!(refused.iter().map(|(line, _)| *line).collect::<Vec<_>>(), [2, 2]);
        assert!(refused[0].1.contains("empty element"), "{refused:?}");

        let (sent, refused) = lines(&read("[{\"a\":1}]\n[{\"b\":2}]\n", 10, 1000));
        assert_eq!(sent, [(1, "{\"a\":1}".into())]);
        assert_eq!(refused, [(2, "text after the end of the JSON array".into())]);

        // Cut short: what there is goes to the server, which says what is wrong with it.
        let (sent, refused) = lines(&read("[{\"a\":1},\n{\"b\":", 10, 1000));
        assert_eq!(sent, [(1, "{\"a\":1}".into()), (2, "{\"b\":".into())]);
        assert!(refused.is_empty());
        let (_, refused) = lines(&read("[{\"a\":1},\n", 10, 1000));
        assert_eq!(refused, [(2, "the JSON array is not closed with `]`".into())]);
    }

    #[test]
    fn a_batch_splits_in_two_halves() {
        let mut batch = Batch::default();
        for line in 1..=5 {
            batch.push(Location { input: 0, line }, &format!("{{\"n\":{line}}}"));
        }
        batch.local_refusals.push((Location { input: 0, line: 9 }, "x".into()));
        let (first, second) = batch.split();
        assert_eq!(first.body, "{\"n\":1}\n{\"n\":2}\n");
        assert_eq!(first.local_refusals.len(), 1);
        assert_eq!(second.body, "{\"n\":3}\n{\"n\":4}\n{\"n\":5}\n");
        assert_eq!(second.starts, [0, 8, 16]);
        assert_eq!(second.locations[0].line, 3);
        assert!(second.local_refusals.is_empty());
    }

    #[test]
    fn a_400_refuses_each_line_with_its_own_reason() {
        let mut batch = Batch::default();
        for line in [3, 7, 9] {
            batch.push(Location { input: 1, line }, "{}");
        }
        let error: GraphError = serde_json::from_value(serde_json::json!({"error": {
            "code": "invalidRequest",
            "message": "All 3 alerts were refused.",
            "details": [
                {"code": "invalidAlert", "message": "missing field `title`", "target": "[0]"},
                {"code": "invalidAlert", "message": "bad severity", "target": "[2]"},
            ],
        }}))
        .unwrap();
        let refused = all_refused(&batch, error);
        let reasons: Vec<(u64, &str)> = refused.iter().map(|(l, m)| (l.line, m.as_str())).collect();
        assert_eq!(reasons, [(3, "missing field `title`"), (7, "All 3 alerts were refused."), (9, "bad severity")]);
    }

    #[test]
    fn the_report_lists_twenty_refusals_then_counts() {
        let mut report = Report { sent: 30, accepted: 5, ..Report::default() };
        report.refuse((1..=25).map(|line| (Location { input: 0, line }, format!("bad\n  alert {line}"))).collect());
        let text = report.text(&["alerts.ndjson".to_owned()], Duration::from_secs(2));
        assert!(text.contains("  alerts.ndjson:1: bad alert 1\n"), "{text}");
        assert!(text.contains("  alerts.ndjson:20: bad alert 20\n"), "{text}");
        assert!(!text.contains("alerts.ndjson:21:"), "{text}");
        assert!(text.contains("  ... and 5 more\n"), "{text}");
        assert!(text.contains("refused            25\n"), "{text}");
        assert!(text.contains("rate               15 alerts/s\n"), "{text}");
    }

    #[test]
    fn endpoints() {
        assert_eq!(endpoint("http://127.0.0.1:8080").unwrap(), "http://127.0.0.1:8080/v1.0/security/alerts_v2");
        assert_eq!(endpoint("http://muster:80/base/").unwrap(), "http://muster/base/v1.0/security/alerts_v2");
        assert!(endpoint("https://muster.example.com").unwrap_err().to_string().contains("plain http://"));
        assert!(endpoint("ftp://x").is_err());
        assert!(endpoint("muster:8080").is_err());
    }

    #[test]
    fn the_token_stays_out_of_debug_output() {
        let poster = Poster {
            client: reqwest::Client::new(),
            endpoint: "http://x/v1.0/security/alerts_v2".into(),
            token: "mst_secret".into(),
        };
        assert!(!format!("{poster:?}").contains("mst_secret"));
        assert!(!format!("{:?}", crate::cli::Secret::from("mst_secret".to_owned())).contains("mst_secret"));
    }
}
