//! The event log contract, run against SQLite and a real PostgreSQL.
yeyak_eventlog::conformance_tests!(
    concurrent_appenders_on_one_stream_exactly_one_wins_each_version,
    reader_sees_every_committed_event_exactly_once_in_stream_order,
    failed_append_leaves_nothing_behind,
    expected_versions_are_enforced,
    appending_a_stored_event_id_is_idempotent,
    inbox_entry_makes_the_effect_happen_once,
    concurrent_redeliveries_have_one_effect,
    checkpoints_are_durable_positions,
    the_head_is_the_last_event_read_all_returns,
    subscription_wakes_on_commit,
    a_lease_has_one_holder_at_a_time,
    metadata_is_stored_as_given,
    projection_rows_are_upserted_filtered_and_reset,
    a_stream_read_is_checked_until_the_commit,
    a_request_id_reused_for_another_request_is_refused,
);
