use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{graph_error, TestApp};

#[tokio::test]
async fn healthz_answers_ok() {
    let app = TestApp::spawn().await;
    let response = app.get("/healthz").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.text().await.unwrap(), "ok");
    app.stop().await;
}

#[tokio::test]
async fn readyz_answers_when_the_database_does() {
    let app = TestApp::spawn().await;
    let response = app.get("/readyz").await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "ready");
    assert_eq!(body["database"], "sqlite");
    app.stop().await;
}

#[tokio::test]
async fn readyz_answers_503_without_the_database() {
    let app = TestApp::spawn().await;
    app.close_store().await;
    let error = graph_error(app.get("/readyz").await, StatusCode::SERVICE_UNAVAILABLE, "serviceNotAvailable").await;
    assert_eq!(error["message"], "The sqlite database is not reachable.");
    // Liveness does not depend on the database.
    assert_eq!(app.get("/healthz").await.status(), StatusCode::OK);
    app.stop().await;
}
