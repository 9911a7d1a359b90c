//! `GET /v1.0/muster/events`: the change feed as server-sent events, filtered to the incidents the
//! caller may see. Each event is named `incident` and carries `{"incidentId": "42", "kind":
//! "commented"}`; a subscriber that fell behind gets one `lagged` event (`{"missed": n}`) and
//! should read what it shows again.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::Extension;
use futures_util::stream::{self, Stream};
use tokio::sync::broadcast::error::RecvError;

use crate::auth::{Access, Principal, Routes, Scope};
use crate::live::Change;
use crate::AppState;

/// How often an idle stream sends a comment line, so proxies keep it open.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

pub(crate) fn routes() -> Routes {
    Routes::new().get("/v1.0/muster/events", Access::Read, events)
}

fn event_of(change: &Change) -> Event {
    Event::default().event("incident").data(serde_json::to_string(change).unwrap_or_default())
}

async fn events(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let (changes, closed) = state.feed.subscribe();
    let scope: Scope = principal.scope;
    let stream = stream::unfold((changes, closed, scope), |(mut changes, mut closed, scope)| async move {
        loop {
            let next = tokio::select! {
                _ = closed.wait_for(|closed| *closed) => return None,
                next = changes.recv() => next,
            };
            let event = match next {
                Ok(change) if scope.allows_groups(&change.device_groups) => event_of(&change),
                Ok(_) => continue,
                Err(RecvError::Lagged(missed)) => {
                    Event::default().event("lagged").data(format!("{{\"missed\":{missed}}}"))
                }
                Err(RecvError::Closed) => return None,
            };
            return Some((Ok(event), (changes, closed, scope)));
        }
    });
    // A first comment line, so clients (and tests) know the stream is open.
    let opened = stream::once(async { Ok(Event::default().comment("open")) });
    Sse::new(futures_util::StreamExt::chain(opened, stream)).keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
}
