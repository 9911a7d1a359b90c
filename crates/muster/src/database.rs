//! Opening the database the URL names, and writing that URL where people can read it.

use std::sync::Arc;

use anyhow::{bail, Context};
use muster_core::store::Store;
use muster_store_postgres::PostgresStore;
use muster_store_sqlite::SqliteStore;

/// An open database. Kept concrete (not only `Arc<dyn Store>`) so shutdown can close it cleanly.
#[derive(Debug, Clone)]
pub enum Database {
    Sqlite(SqliteStore),
    Postgres(PostgresStore),
}

impl Database {
    /// Opens (a SQLite file is created if missing) and migrates. The error names the URL without
    /// its password.
    pub async fn open(url: &str) -> anyhow::Result<Self> {
        let opened = match scheme(url).as_deref() {
            Some("sqlite") => SqliteStore::open(url).await.map(Self::Sqlite),
            Some("postgres" | "postgresql") => PostgresStore::connect(url).await.map(Self::Postgres),
            _ => {
                bail!("unsupported database URL {}: use sqlite://FILE or postgres://USER:PASSWORD@HOST/DB", redact(url))
            }
        };
        // Stores keep passwords out of their messages; scrub anyway, since this line is printed.
        opened
            .map_err(|error| anyhow::anyhow!(scrub(&error.to_string(), url)))
            .with_context(|| format!("cannot open database {}", redact(url)))
    }

    pub fn store(&self) -> Arc<dyn Store> {
        match self {
            Self::Sqlite(store) => Arc::new(store.clone()),
            Self::Postgres(store) => Arc::new(store.clone()),
        }
    }

    pub fn backend(&self) -> &'static str {
        match self {
            Self::Sqlite(store) => store.backend(),
            Self::Postgres(store) => store.backend(),
        }
    }

    /// After a bulk load: PostgreSQL's planner statistics and visibility map brought up to date
    /// (autovacuum would get there later). SQLite plans by its indexes alone and needs nothing.
    pub async fn refresh_statistics(&self) -> anyhow::Result<()> {
        match self {
            Self::Sqlite(_) => Ok(()),
            Self::Postgres(store) => Ok(store.refresh_statistics().await?),
        }
    }

    /// Waits for connections in use and closes them (SQLite checkpoints its WAL).
    pub async fn close(&self) {
        match self {
            Self::Sqlite(store) => store.close().await,
            Self::Postgres(store) => store.close().await,
        }
    }
}

/// `sqlite` for `sqlite://...` and `sqlite:...`, lower-cased.
fn scheme(url: &str) -> Option<String> {
    let (scheme, _) = url.split_once(':')?;
    Some(scheme.to_ascii_lowercase())
}

const HIDDEN: &str = "***";

/// The URL with any password replaced by `***`, in the userinfo or a `password=` query parameter.
/// Works on malformed URLs too, erring towards hiding more.
pub fn redact(url: &str) -> String {
    let Some(start) = url.find("://").map(|i| i + 3) else {
        return url.to_owned();
    };
    let (before_query, query) = match url[start..].find('?') {
        Some(i) => url.split_at(start + i),
        None => (url, ""),
    };
    let mut out = String::with_capacity(url.len());
    // The last '@' ends the userinfo even if an unescaped '/' or '@' sits in the password.
    match before_query[start..].rfind('@').map(|i| start + i) {
        Some(at) => {
            let userinfo = &before_query[start..at];
            out.push_str(&before_query[..start]);
            match userinfo.split_once(':') {
                Some((user, _)) => {
                    out.push_str(user);
                    out.push(':');
                    out.push_str(HIDDEN);
                }
                None => out.push_str(userinfo),
            }
            out.push_str(&before_query[at..]);
        }
        None => out.push_str(before_query),
    }
    if let Some(params) = query.strip_prefix('?') {
        out.push('?');
        let params: Vec<String> = params
            .split('&')
            .map(|param| match param.split_once('=') {
                Some((key, _)) if key.eq_ignore_ascii_case("password") => format!("{key}={HIDDEN}"),
                _ => param.to_owned(),
            })
            .collect();
        out.push_str(&params.join("&"));
    }
    out
}

/// `text` with every password `url` holds replaced by `***`.
fn scrub(text: &str, url: &str) -> String {
    let mut text = text.to_owned();
    for secret in secrets(url) {
        if secret.len() >= 3 {
            text = text.replace(&secret, HIDDEN);
        }
    }
    text
}

/// The passwords in `url` as written and, when different, percent-decoded.
fn secrets(url: &str) -> Vec<String> {
    let Ok(parsed) = url::Url::parse(url) else {
        return Vec::new();
    };
    let mut raw: Vec<String> = parsed.password().map(str::to_owned).into_iter().collect();
    raw.extend(parsed.query_pairs().filter(|(k, _)| k.eq_ignore_ascii_case("password")).map(|(_, v)| v.into_owned()));
    let mut all = raw.clone();
    for secret in raw {
        let decoded = url::form_urlencoded::parse(format!("x={secret}").as_bytes()).next().map(|(_, v)| v.into_owned());
        if let Some(decoded) = decoded.filter(|d| *d != secret) {
            all.push(decoded);
        }
    }
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords() {
        let cases = [
            ("sqlite://muster.db", "sqlite://muster.db"),
            ("sqlite:///var/lib/muster/muster.db", "sqlite:///var/lib/muster/muster.db"),
            ("postgres://muster:s3cret@db:5432/muster", "postgres://muster:***@db:5432/muster"),
            ("postgres://muster@db/muster", "postgres://muster@db/muster"),
            ("postgresql://u:pa/ss@w@rd@db/x?sslmode=require", "postgresql://u:***@db/x?sslmode=require"),
            (
                "postgres://db/x?user=u&password=s3cret&sslmode=disable",
                "postgres://db/x?user=u&password=***&sslmode=disable",
            ),
            ("not a url", "not a url"),
        ];
        for (url, expected) in cases {
            assert_eq!(redact(url), expected, "{url}");
        }
    }

    #[test]
    fn scrubs_passwords_from_messages() {
        let url = "postgres://u:p%40ss%2Fword@db/x";
        assert_eq!(scrub("auth failed for p%40ss%2Fword and p@ss/word", url), "auth failed for *** and ***");
        assert_eq!(scrub("nothing to hide", "sqlite://x.db"), "nothing to hide");
    }

    #[tokio::test]
    async fn unknown_schemes_are_refused_without_the_password() {
        let error = Database::open("mysql://root:hunter22@db/x").await.unwrap_err();
        let message = format!("{error:#}");
        assert!(message.starts_with("unsupported database URL mysql://root:***@db/x"), "{message}");
        assert!(!message.contains("hunter22"));
    }

    #[tokio::test]
    async fn opens_and_migrates_a_new_sqlite_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new.db");
        let database = Database::open(&format!("sqlite://{}", path.display())).await.unwrap();
        assert_eq!(database.backend(), "sqlite");
        database.store().ping().await.unwrap();
        database.close().await;
        assert!(path.exists());
    }
}
