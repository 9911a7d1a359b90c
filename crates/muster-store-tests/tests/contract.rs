//! Runs every contract scenario on SQLite, and on PostgreSQL when `MUSTER_TEST_DATABASE_URL` is set.

use muster_store_tests::backends::TestDb;
use muster_store_tests::{queries, scenarios};

use queries::*;
use scenarios::*;

macro_rules! contract {
    ($($name:ident),+ $(,)?) => {
        mod sqlite {
            use super::*;
            $(
                #[tokio::test]
                async fn $name() {
                    let db = TestDb::sqlite().await;
                    super::$name(db.store.as_ref()).await;
                }
            )+
        }

        mod postgres {
            use super::*;
            $(
                #[tokio::test]
                async fn $name() {
                    let Some(db) = TestDb::postgres().await else { return };
                    super::$name(db.store.as_ref()).await;
                }
            )+
        }
    };
}

contract!(
    incident_round_trips,
    versions_guard_against_lost_updates,
    batches_are_atomic,
    late_incidents_share_the_transaction,
    alerts_and_entity_keys,
    keyset_paging_is_stable,
    comments_accumulate,
    history_is_an_ordered_log,
    tag_suggestions_rank_by_use,
    incident_ids_only_grow,
    hostile_text_is_stored_verbatim,
    users_are_unique_and_updatable,
    tokens_are_hashed_and_revocable,
    audit_log_reads_newest_first,
    enums_survive_storage,
    sessions_live_and_end,
    preferences_are_per_user,
    merges_relink_alerts,
    repeated_alerts_in_a_batch_keep_the_last,
    incident_filters_select_the_same_rows,
    redirected_incidents_only_when_asked,
    incident_search_finds_names_ids_and_assets,
    incident_orders_page_by_cursor,
    default_order_is_stable_while_incidents_arrive,
    alert_queries_filter_order_and_page,
    facet_counts_follow_the_filter,
);
