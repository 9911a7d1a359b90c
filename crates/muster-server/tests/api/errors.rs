use muster_server::ServerConfig;
use reqwest::StatusCode;

use crate::helpers::{graph_error, TestApp};

#[tokio::test]
async fn unknown_routes_get_a_graph_404() {
    let app = TestApp::spawn().await;
    let error = graph_error(app.get("/v1.0/nothing/here").await, StatusCode::NOT_FOUND, "notFound").await;
    assert_eq!(error["message"], "No resource matches GET /v1.0/nothing/here.");
    app.stop().await;
}

#[tokio::test]
async fn the_client_request_id_is_echoed() {
    let app = TestApp::spawn().await;
    let id = "7e8c1f2a-3b4d-4e5f-8a9b-0c1d2e3f4a5b";
    let response = app.client.get(app.url("/missing")).header("client-request-id", id).send().await.unwrap();
    assert_eq!(response.headers()["client-request-id"], id);
    let error = graph_error(response, StatusCode::NOT_FOUND, "notFound").await;
    assert_eq!(error["innerError"]["client-request-id"], id);
    app.stop().await;
}

#[tokio::test]
async fn bodies_over_the_limit_get_413() {
    let app = TestApp::spawn_with(ServerConfig { body_limit_bytes: 1024, ..ServerConfig::default() }).await;
    let response = app.client.post(app.url("/readyz")).body(vec![b'x'; 4096]).send().await.unwrap();
    graph_error(response, StatusCode::PAYLOAD_TOO_LARGE, "requestTooLarge").await;
    app.stop().await;
}

#[tokio::test]
async fn wrong_methods_get_405() {
    let app = TestApp::spawn().await;
    let response = app.client.delete(app.url("/healthz")).send().await.unwrap();
    assert!(response.headers().contains_key("allow"));
    graph_error(response, StatusCode::METHOD_NOT_ALLOWED, "methodNotAllowed").await;
    app.stop().await;
}
