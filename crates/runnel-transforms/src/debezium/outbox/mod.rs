//! Debezium's outbox event router (`io.debezium.transforms.outbox.EventRouter`).

pub mod event_router;
pub mod json_payload;
