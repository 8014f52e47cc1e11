//! Debezium's transforms (`io.debezium.transforms.*`).

pub mod envelope;
pub mod extract_changed_record_state;
pub mod extract_new_record_state;
pub mod header_to_value;
pub mod logical_table_router;
pub mod outbox;
pub mod partition_routing;
pub mod schema_change_event_filter;
pub mod scripting;
pub mod timezone_converter;
