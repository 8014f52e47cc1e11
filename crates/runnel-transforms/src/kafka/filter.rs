//! `org.apache.kafka.connect.transforms.Filter`: drops every record it sees — with a predicate
//! (and `negate`), the records the predicate selects.

use runnel_core::plugin::TransformPlugin;
use runnel_core::transform::{Transform, TransformContext};
use runnel_core::{Event, Result};

pub fn plugin() -> TransformPlugin {
    TransformPlugin {
        class: "org.apache.kafka.connect.transforms.Filter",
        aliases: &["Filter"],
        keys: &[],
        build: |_| Ok(Box::new(Filter)),
    }
}

struct Filter;

impl Transform for Filter {
    fn apply(&mut self, _event: &mut Event, _cx: &mut TransformContext<'_>) -> Result<bool> {
        Ok(false)
    }
}
