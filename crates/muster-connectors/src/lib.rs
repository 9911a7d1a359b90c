//! Connectors: parsers from detection tools' native alert formats to Muster's Graph alert model.
//! Each builds Graph alert JSON and reads it through the model, so a connector can never produce an
//! alert the API would refuse.

pub mod suricata;

/// A record a connector cannot turn into an alert.
#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    #[error("not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("missing or invalid field `{0}`")]
    Field(&'static str),
    #[error("does not fit the alert model: {0}")]
    Model(#[from] muster_core::json::FieldError),
}
