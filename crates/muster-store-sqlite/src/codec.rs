//! Stored bodies: each incident's and alert's Graph JSON, compressed with zstd against a
//! dictionary trained on the database's own earlier bodies.
//!
//! One alert is about 1.5 KB of JSON that repeats the same property names, evidence types and
//! enum members as every other alert. Compressed alone it shrinks about 2×; against a dictionary
//! of what such bodies look like, about 7×, which is most of the bytes an ingest writes. A
//! dictionary is trained once enough bodies of a kind were written plain, and again when the
//! stream has changed so much that it no longer helps. Every dictionary ever used is kept (in
//! `codec_dictionaries`): each row names the one its body needs (`codec`, 0 for plain JSON).
//!
//! The codec is shared: callers compress on their own threads (see
//! [`muster_core::store::BodyCodec`]), the writer only stores, and the writer alone trains and
//! installs dictionaries, between transactions, so a dictionary is always stored before the first
//! body that needs it.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;

use muster_core::store::{BodyKind, PackedBody, StoreError, StoreResult};
use rusqlite::{params, Connection};

/// `codec` of a body stored as plain JSON text.
pub(crate) const PLAIN: i64 = 0;
/// Bodies collected before the first dictionary of a kind is trained.
const TRAINING_SAMPLES: usize = 1_000;
/// Bodies a retraining looks at: the most recent ones.
const RETRAIN_SAMPLES: usize = 2_000;
const DICTIONARY_BYTES: usize = 32 * 1024;
/// Fast: every body stored is compressed. (Level 3 saves another 5% of the bytes at twice the time.)
const LEVEL: i32 = 1;
/// How many bodies the compression ratio is watched over before deciding to retrain.
const RATIO_WINDOW: u64 = 50_000;
/// Retrain when the ratio over the last window fell below this share of the ratio just after
/// training.
const RETRAIN_BELOW: f64 = 0.6;

const KINDS: [BodyKind; 2] = [BodyKind::Alert, BodyKind::Incident];

fn slot(kind: BodyKind) -> usize {
    match kind {
        BodyKind::Alert => 0,
        BodyKind::Incident => 1,
    }
}

fn name(kind: BodyKind) -> &'static str {
    match kind {
        BodyKind::Alert => "alert",
        BodyKind::Incident => "incident",
    }
}

/// Bytes of the compression output buffer each thread keeps between bodies.
const OUT_KEPT: usize = 64 * 1024;

thread_local! {
    // One compression and one decompression context per thread, reused for every body: creating
    // one costs more than compressing a body.
    static CCTX: RefCell<zstd::zstd_safe::CCtx<'static>> = RefCell::new(zstd::zstd_safe::CCtx::create());
    static DCTX: RefCell<zstd::zstd_safe::DCtx<'static>> = RefCell::new(zstd::zstd_safe::DCtx::create());
    static OUT: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// The dictionary bodies of one kind are compressed with now.
struct Current {
    id: i64,
    dictionary: zstd::dict::EncoderDictionary<'static>,
}

/// The compression ratio of one kind, watched window by window.
#[derive(Default)]
struct Ratio {
    plain: AtomicU64,
    packed: AtomicU64,
    bodies: AtomicU64,
    /// The first window's ratio after training, as bits of an f64 (0 until measured).
    trained: AtomicU64,
}

/// One kind's state.
#[derive(Default)]
struct Lane {
    current: RwLock<Option<Arc<Current>>>,
    /// Plain bodies to train on, while `sampling`.
    samples: Mutex<Vec<Vec<u8>>>,
    sampling: AtomicBool,
    ratio: Ratio,
    training: Mutex<Option<JoinHandle<std::io::Result<Vec<u8>>>>>,
}

/// Compression and decompression of bodies, shared by the writer, the readers and callers.
#[derive(Default)]
pub(crate) struct Codec {
    lanes: [Lane; 2],
    decoders: RwLock<HashMap<i64, Arc<zstd::dict::DecoderDictionary<'static>>>>,
}

impl std::fmt::Debug for Codec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let current: Vec<Option<i64>> = self
            .lanes
            .iter()
            .map(|l| l.current.read().unwrap_or_else(|e| e.into_inner()).as_ref().map(|c| c.id))
            .collect();
        f.debug_struct("Codec").field("dictionaries", &current).finish()
    }
}

impl Codec {
    /// Picks up the newest dictionary of each kind.
    pub(crate) fn load(conn: &Connection) -> StoreResult<Self> {
        let codec = Self::default();
        for kind in KINDS {
            let newest = crate::optional(conn.query_row(
                "SELECT id, dictionary FROM codec_dictionaries WHERE kind = ?1 ORDER BY id DESC LIMIT 1",
                [name(kind)],
                |row| Ok((row.get::<_, i64>(0)?, row.get::<_, Vec<u8>>(1)?)),
            ))?;
            let lane = &codec.lanes[slot(kind)];
            match newest {
                Some((id, bytes)) => codec.install(kind, id, &bytes),
                None => lane.sampling.store(true, Ordering::Release),
            }
        }
        Ok(codec)
    }

    /// Compresses one body with the current dictionary of its kind (plain while there is none).
    pub(crate) fn encode(&self, kind: BodyKind, json: &[u8]) -> StoreResult<PackedBody> {
        let lane = &self.lanes[slot(kind)];
        if lane.sampling.load(Ordering::Acquire) {
            let mut samples = lane.samples.lock().unwrap_or_else(|e| e.into_inner());
            if samples.len() < RETRAIN_SAMPLES {
                samples.push(json.to_vec());
            }
        }
        let current = lane.current.read().unwrap_or_else(|e| e.into_inner()).clone();
        let Some(current) = current else {
            return Ok(PackedBody { codec: PLAIN, bytes: json.to_vec() });
        };
        // Compressed into the thread's scratch buffer, which has room for the worst case, then
        // copied out at its size: a body shrinks about 7×, and rows wait in memory until written.
        let bytes = CCTX
            .with(|cctx| {
                OUT.with(|out| {
                    // Empty: it is cleared after every use.
                    let mut out = out.borrow_mut();
                    out.reserve(zstd::zstd_safe::compress_bound(json.len()));
                    let packed = cctx
                        .borrow_mut()
                        .compress_using_cdict(&mut *out, json, current.dictionary.as_cdict())
                        .map(|_| out.to_vec());
                    // A rare huge body does not keep its memory for the thread's lifetime.
                    out.clear();
                    out.shrink_to(OUT_KEPT);
                    packed
                })
            })
            .map_err(|code| corrupt(&format!("zstd: {}", zstd::zstd_safe::get_error_name(code))))?;
        self.observe(lane, json.len(), bytes.len());
        Ok(PackedBody { codec: current.id, bytes })
    }

    /// Counts one compressed body; starts sampling for a retraining when the dictionary no
    /// longer compresses the stream nearly as well as it did.
    fn observe(&self, lane: &Lane, plain: usize, packed: usize) {
        let r = &lane.ratio;
        r.plain.fetch_add(plain as u64, Ordering::Relaxed);
        r.packed.fetch_add(packed.max(1) as u64, Ordering::Relaxed);
        if r.bodies.fetch_add(1, Ordering::Relaxed) + 1 < RATIO_WINDOW {
            return;
        }
        let (plain, packed) = (r.plain.swap(0, Ordering::Relaxed), r.packed.swap(0, Ordering::Relaxed));
        r.bodies.store(0, Ordering::Relaxed);
        let ratio = plain as f64 / packed.max(1) as f64;
        let trained = f64::from_bits(r.trained.load(Ordering::Relaxed));
        if trained == 0.0 {
            r.trained.store(ratio.to_bits(), Ordering::Relaxed);
        } else if ratio < trained * RETRAIN_BELOW {
            lane.sampling.store(true, Ordering::Release);
        }
    }

    /// The JSON text of a stored body.
    pub(crate) fn decode(&self, conn: &Connection, codec: i64, body: &[u8]) -> StoreResult<String> {
        if codec == PLAIN {
            return String::from_utf8(body.to_vec()).map_err(|_| corrupt("a stored body is not UTF-8"));
        }
        let dictionary = self.decoder(conn, codec)?;
        let size = zstd::zstd_safe::get_frame_content_size(body)
            .map_err(|_| corrupt("a stored body is not a zstd frame"))?
            .ok_or_else(|| corrupt("a stored body does not say its size"))?;
        let mut raw = Vec::with_capacity(usize::try_from(size).map_err(|_| corrupt("a stored body is too large"))?);
        DCTX.with(|dctx| dctx.borrow_mut().decompress_using_ddict(&mut raw, body, dictionary.as_ddict())).map_err(
            |code| corrupt(&format!("a stored body does not decompress: {}", zstd::zstd_safe::get_error_name(code))),
        )?;
        String::from_utf8(raw).map_err(|_| corrupt("a stored body is not UTF-8"))
    }

    fn decoder(&self, conn: &Connection, id: i64) -> StoreResult<Arc<zstd::dict::DecoderDictionary<'static>>> {
        if let Some(found) = self.decoders.read().unwrap_or_else(|e| e.into_inner()).get(&id) {
            return Ok(found.clone());
        }
        let bytes: Vec<u8> = conn
            .query_row("SELECT dictionary FROM codec_dictionaries WHERE id = ?1", [id], |row| row.get(0))
            .map_err(|_| corrupt(&format!("body dictionary {id} is missing")))?;
        let dictionary = Arc::new(zstd::dict::DecoderDictionary::copy(&bytes));
        self.decoders.write().unwrap_or_else(|e| e.into_inner()).insert(id, dictionary.clone());
        Ok(dictionary)
    }

    fn install(&self, kind: BodyKind, id: i64, bytes: &[u8]) {
        let lane = &self.lanes[slot(kind)];
        let current = Current { id, dictionary: zstd::dict::EncoderDictionary::copy(bytes, LEVEL) };
        *lane.current.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(current));
        lane.ratio.trained.store(0, Ordering::Relaxed);
        lane.sampling.store(false, Ordering::Release);
        lane.samples.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }

    /// Starts training a dictionary for every kind that has gathered enough samples, and stores
    /// (and from now on uses) the ones that are trained. Only the writer calls this, between
    /// transactions; `wait` waits for training to end.
    pub(crate) fn maintain(&self, conn: &Connection, now_micros: i64, wait: bool) -> StoreResult<()> {
        for kind in KINDS {
            let lane = &self.lanes[slot(kind)];
            let mut training = lane.training.lock().unwrap_or_else(|e| e.into_inner());
            if training.is_none() && lane.sampling.load(Ordering::Acquire) {
                let first = lane.current.read().unwrap_or_else(|e| e.into_inner()).is_none();
                let needed = if first { TRAINING_SAMPLES } else { RETRAIN_SAMPLES };
                let mut samples = lane.samples.lock().unwrap_or_else(|e| e.into_inner());
                if samples.len() >= needed {
                    let taken = std::mem::take(&mut *samples);
                    // Training takes a good part of a second, which the writer should spend writing.
                    let handle = std::thread::Builder::new()
                        .name("muster-dictionary".into())
                        .spawn(move || zstd::dict::from_samples(&taken, DICTIONARY_BYTES))
                        .map_err(|e| StoreError::Backend(format!("cannot start training a dictionary: {e}")))?;
                    *training = Some(handle);
                }
            }
            let done = training.as_ref().is_some_and(|h| wait || h.is_finished());
            if !done {
                continue;
            }
            let Some(handle) = training.take() else { continue };
            let bytes = match handle.join() {
                Ok(Ok(bytes)) => bytes,
                outcome => {
                    // Too little variety to train on: keep sampling and try again later.
                    tracing::debug!(kind = name(kind), ok = outcome.is_ok(), "no body dictionary trained");
                    continue;
                }
            };
            conn.execute(
                "INSERT INTO codec_dictionaries (kind, created_at, dictionary) VALUES (?1, ?2, ?3)",
                params![name(kind), now_micros, bytes],
            )
            .map_err(crate::backend)?;
            let id = conn.last_insert_rowid();
            tracing::info!(kind = name(kind), id, "trained a body dictionary");
            self.install(kind, id, &bytes);
        }
        Ok(())
    }
}

fn corrupt(message: &str) -> StoreError {
    StoreError::Corrupt(message.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE codec_dictionaries (id INTEGER PRIMARY KEY, kind TEXT NOT NULL, \
             created_at INTEGER NOT NULL, dictionary BLOB NOT NULL)",
        )
        .unwrap();
        conn
    }

    fn body(n: usize) -> String {
        serde_json::json!({
            "providerAlertId": n.to_string(),
            "title": format!("Logon failure {}", n % 17),
            "severity": "low",
            "serviceSource": "wazuh",
            "evidence": [{"@odata.type": "#microsoft.graph.security.deviceEvidence",
                          "hostName": format!("ws-{:04}", n % 300), "roles": ["contextual"]}]
        })
        .to_string()
    }

    #[test]
    fn bodies_are_plain_until_a_dictionary_is_trained_then_compressed_and_read_back() {
        let conn = db();
        let codec = Codec::load(&conn).unwrap();
        let packed = codec.encode(BodyKind::Alert, body(0).as_bytes()).unwrap();
        assert_eq!(packed.codec, PLAIN);
        assert_eq!(codec.decode(&conn, packed.codec, &packed.bytes).unwrap(), body(0));
        for n in 1..TRAINING_SAMPLES {
            codec.encode(BodyKind::Alert, body(n).as_bytes()).unwrap();
        }
        codec.maintain(&conn, 0, true).unwrap();
        let packed = codec.encode(BodyKind::Alert, body(99_999).as_bytes()).unwrap();
        assert_ne!(packed.codec, PLAIN);
        assert!(packed.bytes.len() * 3 < body(99_999).len(), "{} bytes", packed.bytes.len());
        assert_eq!(codec.decode(&conn, packed.codec, &packed.bytes).unwrap(), body(99_999));
        // Incidents have their own dictionary, none yet.
        assert_eq!(codec.encode(BodyKind::Incident, b"{}").unwrap().codec, PLAIN);
        // Trained once: more bodies do not start another training.
        for n in 0..RETRAIN_SAMPLES {
            codec.encode(BodyKind::Alert, body(n).as_bytes()).unwrap();
        }
        codec.maintain(&conn, 0, true).unwrap();
        assert_eq!(codec.encode(BodyKind::Alert, body(5).as_bytes()).unwrap().codec, packed.codec);
        // A new codec (a restart) picks the dictionary up, and reads what the old one wrote.
        let again = Codec::load(&conn).unwrap();
        assert_eq!(again.encode(BodyKind::Alert, body(5).as_bytes()).unwrap().codec, packed.codec);
        assert_eq!(again.decode(&conn, packed.codec, &packed.bytes).unwrap(), body(99_999));
    }

    #[test]
    fn a_missing_dictionary_is_corruption_not_a_panic() {
        let conn = db();
        let err = Codec::default().decode(&conn, 7, b"\x28\xb5\x2f\xfd").unwrap_err();
        assert!(matches!(err, StoreError::Corrupt(_)), "{err:?}");
    }
}
