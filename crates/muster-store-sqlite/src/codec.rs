//! Stored bodies: each incident's and alert's Graph JSON, compressed with zstd against a
//! dictionary trained on the database's own earlier bodies.
//!
//! One alert is about 1.5 KB of JSON that repeats the same property names, evidence types and
//! enum members as every other alert. Compressed alone it shrinks about 2×; against a dictionary
//! of what such bodies look like, about 8×, which is most of the bytes an ingest writes. A
//! dictionary is trained once enough bodies of a kind were written plain, and again when the
//! stream has changed so much that it no longer helps. Every dictionary ever used is kept (in
//! `codec_dictionaries`): each row names the one its body needs (`codec`, 0 for plain JSON).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use muster_core::store::{StoreError, StoreResult};
use rusqlite::{params, Connection};

/// Which bodies a dictionary is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum BodyKind {
    Alert,
    Incident,
}

impl BodyKind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Alert => "alert",
            Self::Incident => "incident",
        }
    }
}

/// `codec` of a body stored as plain JSON text.
pub(crate) const PLAIN: i64 = 0;
/// Bodies collected before the first dictionary of a kind is trained.
const TRAINING_SAMPLES: usize = 1_000;
/// Bodies a retraining looks at: the most recent ones.
const RETRAIN_SAMPLES: usize = 2_000;
const DICTIONARY_BYTES: usize = 32 * 1024;
/// Fast: the writer compresses every body it stores. (Level 3 saves another 5% of the bytes at
/// twice the time.)
const LEVEL: i32 = 1;
/// How many bodies the compression ratio is watched over before deciding to retrain.
const RATIO_WINDOW: u64 = 50_000;
/// Retrain when the ratio over the last window fell below this share of the ratio just after
/// training.
const RETRAIN_BELOW: f64 = 0.6;

/// Decoding side, shared by the writer and every reader: dictionaries by id, loaded on first use.
#[derive(Default)]
pub(crate) struct Decoders {
    by_id: RwLock<HashMap<i64, Arc<zstd::dict::DecoderDictionary<'static>>>>,
}

impl std::fmt::Debug for Decoders {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let loaded = self.by_id.read().map(|m| m.len()).unwrap_or_default();
        f.debug_struct("Decoders").field("loaded", &loaded).finish()
    }
}

impl Decoders {
    /// The JSON text of a stored body.
    pub(crate) fn decode(&self, conn: &Connection, codec: i64, body: &[u8]) -> StoreResult<String> {
        if codec == PLAIN {
            return String::from_utf8(body.to_vec()).map_err(|_| corrupt("a stored body is not UTF-8"));
        }
        let dictionary = self.dictionary(conn, codec)?;
        let size = zstd::zstd_safe::get_frame_content_size(body)
            .map_err(|_| corrupt("a stored body is not a zstd frame"))?
            .ok_or_else(|| corrupt("a stored body does not say its size"))?;
        let mut decompressor = zstd::bulk::Decompressor::with_prepared_dictionary(&dictionary)
            .map_err(|e| corrupt(&format!("cannot start decompressing: {e}")))?;
        let raw = decompressor
            .decompress(body, usize::try_from(size).map_err(|_| corrupt("a stored body is too large"))?)
            .map_err(|e| corrupt(&format!("a stored body does not decompress: {e}")))?;
        String::from_utf8(raw).map_err(|_| corrupt("a stored body is not UTF-8"))
    }

    fn dictionary(&self, conn: &Connection, id: i64) -> StoreResult<Arc<zstd::dict::DecoderDictionary<'static>>> {
        if let Some(found) = self.by_id.read().unwrap_or_else(|e| e.into_inner()).get(&id) {
            return Ok(found.clone());
        }
        let bytes: Vec<u8> = conn
            .query_row("SELECT dictionary FROM codec_dictionaries WHERE id = ?1", [id], |row| row.get(0))
            .map_err(|_| corrupt(&format!("body dictionary {id} is missing")))?;
        let dictionary = Arc::new(zstd::dict::DecoderDictionary::copy(&bytes));
        self.by_id.write().unwrap_or_else(|e| e.into_inner()).insert(id, dictionary.clone());
        Ok(dictionary)
    }
}

/// The dictionary bodies of one kind are compressed with now, and how well it does.
struct Current {
    id: i64,
    compressor: zstd::bulk::Compressor<'static>,
    /// Bytes in and out since training (first window) and over the running window.
    trained_ratio: Option<f64>,
    window_in: u64,
    window_out: u64,
    window_bodies: u64,
}

/// Encoding side, owned by the writer.
pub(crate) struct Encoder {
    current: HashMap<BodyKind, Current>,
    /// Recent plain bodies per kind, to train on.
    samples: HashMap<BodyKind, Vec<Vec<u8>>>,
    retrain: HashMap<BodyKind, bool>,
    /// Dictionaries being trained, on threads of their own: training takes a good part of a
    /// second, which the writer should spend writing.
    training: HashMap<BodyKind, std::thread::JoinHandle<std::io::Result<Vec<u8>>>>,
}

impl std::fmt::Debug for Encoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: HashMap<_, _> = self.current.iter().map(|(k, c)| (*k, c.id)).collect();
        f.debug_struct("Encoder").field("dictionaries", &ids).finish()
    }
}

impl Encoder {
    /// Picks up the newest dictionary of each kind.
    pub(crate) fn load(conn: &Connection) -> StoreResult<Self> {
        let mut encoder = Self {
            current: HashMap::new(),
            samples: HashMap::new(),
            retrain: HashMap::new(),
            training: HashMap::new(),
        };
        for kind in [BodyKind::Alert, BodyKind::Incident] {
            let newest: Option<(i64, Vec<u8>)> = conn
                .query_row(
                    "SELECT id, dictionary FROM codec_dictionaries WHERE kind = ?1 ORDER BY id DESC LIMIT 1",
                    [kind.as_str()],
                    |row| Ok((row.get(0)?, row.get(1)?)),
                )
                .map(Some)
                .or_else(|e| if e == rusqlite::Error::QueryReturnedNoRows { Ok(None) } else { Err(e) })
                .map_err(crate::backend)?;
            if let Some((id, bytes)) = newest {
                encoder.current.insert(kind, Current::new(id, &bytes)?);
            }
        }
        Ok(encoder)
    }

    /// Compresses one body: `(codec, bytes)` to store.
    pub(crate) fn encode(&mut self, kind: BodyKind, json: String) -> StoreResult<(i64, Vec<u8>)> {
        let wants_samples = !self.current.contains_key(&kind) || self.retrain.get(&kind).copied().unwrap_or(false);
        if wants_samples {
            let samples = self.samples.entry(kind).or_default();
            if samples.len() < RETRAIN_SAMPLES {
                samples.push(json.as_bytes().to_vec());
            }
        }
        let Some(current) = self.current.get_mut(&kind) else {
            return Ok((PLAIN, json.into_bytes()));
        };
        let packed = current.compressor.compress(json.as_bytes()).map_err(|e| corrupt(&format!("zstd: {e}")))?;
        if current.observe(json.len(), packed.len()) {
            self.retrain.insert(kind, true);
        }
        Ok((current.id, packed))
    }

    /// Starts training a dictionary for every kind that has gathered enough samples, and stores
    /// (and from now on uses) the ones that are ready. The writer calls it between transactions,
    /// so a dictionary is stored before any body that needs it; `wait` waits for training to end.
    pub(crate) fn train_if_ready(&mut self, conn: &Connection, now_micros: i64, wait: bool) -> StoreResult<()> {
        for kind in [BodyKind::Alert, BodyKind::Incident] {
            if !self.training.contains_key(&kind) {
                let needed = if self.current.contains_key(&kind) { RETRAIN_SAMPLES } else { TRAINING_SAMPLES };
                if self.samples.get(&kind).is_some_and(|s| s.len() >= needed) {
                    let samples = self.samples.remove(&kind).unwrap_or_default();
                    let handle = std::thread::Builder::new()
                        .name("muster-dictionary".into())
                        .spawn(move || zstd::dict::from_samples(&samples, DICTIONARY_BYTES))
                        .map_err(|e| StoreError::Backend(format!("cannot start training a dictionary: {e}")))?;
                    self.training.insert(kind, handle);
                }
            }
            let done = self.training.get(&kind).is_some_and(|h| wait || h.is_finished());
            if !done {
                continue;
            }
            let Some(handle) = self.training.remove(&kind) else { continue };
            let bytes = match handle.join() {
                Ok(Ok(bytes)) => bytes,
                outcome => {
                    // Too little variety to train on: keep going as before and try again later.
                    tracing::debug!(kind = kind.as_str(), ok = outcome.is_ok(), "no body dictionary trained");
                    continue;
                }
            };
            conn.execute(
                "INSERT INTO codec_dictionaries (kind, created_at, dictionary) VALUES (?1, ?2, ?3)",
                params![kind.as_str(), now_micros, bytes],
            )
            .map_err(crate::backend)?;
            let id = conn.last_insert_rowid();
            tracing::info!(kind = kind.as_str(), id, "trained a body dictionary");
            self.current.insert(kind, Current::new(id, &bytes)?);
            self.retrain.insert(kind, false);
        }
        Ok(())
    }
}

impl Current {
    fn new(id: i64, bytes: &[u8]) -> StoreResult<Self> {
        let compressor = zstd::bulk::Compressor::with_dictionary(LEVEL, bytes)
            .map_err(|e| corrupt(&format!("body dictionary {id} does not load: {e}")))?;
        Ok(Self { id, compressor, trained_ratio: None, window_in: 0, window_out: 0, window_bodies: 0 })
    }

    /// Counts one body; true when the dictionary has gone stale.
    fn observe(&mut self, plain: usize, packed: usize) -> bool {
        self.window_in += plain as u64;
        self.window_out += packed.max(1) as u64;
        self.window_bodies += 1;
        if self.window_bodies < RATIO_WINDOW {
            return false;
        }
        let ratio = self.window_in as f64 / self.window_out as f64;
        (self.window_in, self.window_out, self.window_bodies) = (0, 0, 0);
        match self.trained_ratio {
            None => {
                self.trained_ratio = Some(ratio);
                false
            }
            Some(trained) => ratio < trained * RETRAIN_BELOW,
        }
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
        let decoders = Decoders::default();
        let mut encoder = Encoder::load(&conn).unwrap();
        let (codec, bytes) = encoder.encode(BodyKind::Alert, body(0)).unwrap();
        assert_eq!(codec, PLAIN);
        assert_eq!(decoders.decode(&conn, codec, &bytes).unwrap(), body(0));
        for n in 1..TRAINING_SAMPLES {
            encoder.encode(BodyKind::Alert, body(n)).unwrap();
        }
        encoder.train_if_ready(&conn, 0, true).unwrap();
        let (codec, bytes) = encoder.encode(BodyKind::Alert, body(99_999)).unwrap();
        assert_ne!(codec, PLAIN);
        assert!(bytes.len() * 3 < body(99_999).len(), "{} bytes", bytes.len());
        assert_eq!(decoders.decode(&conn, codec, &bytes).unwrap(), body(99_999));
        // Incidents have their own dictionary, none yet.
        assert_eq!(encoder.encode(BodyKind::Incident, "{}".into()).unwrap().0, PLAIN);
        // A new encoder (a restart) picks the dictionary up.
        let mut again = Encoder::load(&conn).unwrap();
        assert_eq!(again.encode(BodyKind::Alert, body(5)).unwrap().0, codec);
    }

    #[test]
    fn a_missing_dictionary_is_corruption_not_a_panic() {
        let conn = db();
        let err = Decoders::default().decode(&conn, 7, b"\x28\xb5\x2f\xfd").unwrap_err();
        assert!(matches!(err, StoreError::Corrupt(_)), "{err:?}");
    }
}
