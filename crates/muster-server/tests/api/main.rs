//! The server over real HTTP, on SQLite and PostgreSQL: one test binary, one module per API area.

/// Runs each named scenario `async fn(TestApp)` on SQLite, and on PostgreSQL when configured.
macro_rules! on_both_backends {
    ($($name:ident),+ $(,)?) => {
        mod sqlite {
            use super::*;
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name(TestApp::on(TestDb::sqlite().await).await).await;
                }
            )+
        }

        mod postgres {
            use super::*;
            $(
                #[tokio::test]
                async fn $name() {
                    let Some(db) = TestDb::postgres().await else { return };
                    super::$name(TestApp::on(db).await).await;
                }
            )+
        }
    };
}

mod auth;
mod browser;
mod entities;
mod errors;
mod health;
mod helpers;
mod ingest;
mod manage;
mod openapi;
mod queries;
mod queue;
mod web_incident;
