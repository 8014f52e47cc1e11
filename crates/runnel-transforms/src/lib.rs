//! Kafka Connect's and Debezium's single message transforms and predicates, with their class
//! names and options, on runnel's typed records: what they derive from a schema is built once
//! per schema, so the work per record is moving values.

pub mod debezium;
pub mod kafka;
pub mod util;

use runnel_core::plugin::{PredicatePlugin, TransformPlugin};

/// Every transform of this crate.
pub fn transforms() -> Vec<TransformPlugin> {
    let mut all = vec![
        debezium::extract_new_record_state::plugin(),
        debezium::extract_changed_record_state::plugin(),
        debezium::outbox::event_router::plugin(),
        debezium::header_to_value::plugin(),
        debezium::partition_routing::plugin(),
        debezium::schema_change_event_filter::plugin(),
        debezium::timezone_converter::plugin(),
        kafka::cast::plugin(),
        kafka::extract_field::plugin(),
        kafka::filter::plugin(),
        kafka::flatten::plugin(),
        kafka::hoist_field::plugin(),
        kafka::insert_field::plugin(),
        kafka::mask_field::plugin(),
        kafka::regex_router::plugin(),
        kafka::replace_field::plugin(),
        kafka::set_schema_metadata::plugin(),
        kafka::timestamp_converter::plugin(),
        kafka::timestamp_router::plugin(),
        kafka::value_to_key::plugin(),
    ];
    all.extend(debezium::logical_table_router::plugins());
    all.extend(debezium::scripting::plugins());
    all.extend(kafka::headers::plugins());
    all
}

/// Every predicate of this crate.
pub fn predicates() -> Vec<PredicatePlugin> {
    kafka::predicates::plugins()
}
