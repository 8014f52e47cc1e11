//! Decoders turn the bytes of records read from Kafka into typed values, as Kafka Connect's
//! converters (`toConnectData`) do, so every sink reads the same model whether its records come
//! from a source in the same process or from a topic.

pub mod json;
