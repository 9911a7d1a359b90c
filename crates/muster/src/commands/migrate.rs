use crate::config::Settings;
use crate::database::{redact, Database};

/// Opening the database applies pending migrations; this command does only that.
pub async fn run(settings: &Settings) -> anyhow::Result<()> {
    let database = Database::open(&settings.database).await?;
    database.close().await;
    println!("{} database {} is migrated", database.backend(), redact(&settings.database));
    Ok(())
}
