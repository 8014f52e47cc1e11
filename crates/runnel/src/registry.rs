//! Everything this build can run, in one registry: add a connector crate's entry here (behind
//! its Cargo feature) and it is served by `runnel run`, the worker, `/connector-plugins`,
//! `config/validate` and `runnel check`.

use runnel_runtime::Registry;
use runnel_runtime::sink::{file, stdout};

pub(crate) fn registry() -> Registry {
    let mut r = Registry::new();
    r.source(runnel_postgres::source_plugin());
    #[cfg(feature = "mysql")]
    {
        r.source(runnel_mysql::plugin::mysql());
        r.source(runnel_mysql::plugin::mariadb());
    }
    r.sink(stdout::plugin());
    r.sink(file::plugin());
    #[cfg(feature = "postgres-sink")]
    r.sink(runnel_postgres::sink_plugin());
    #[cfg(feature = "mongodb")]
    r.sink(runnel_mongodb::sink_plugin());
    #[cfg(feature = "s3")]
    {
        r.sink(runnel_objectstore::sink_plugin());
        r.sink(runnel_objectstore::files_plugin());
    }
    #[cfg(feature = "delta")]
    r.sink(runnel_delta::sink_plugin());
    for t in runnel_transforms::transforms() {
        r.transform(t);
    }
    for p in runnel_transforms::predicates() {
        r.predicate(p);
    }
    #[cfg(feature = "kafka")]
    {
        r.topic_source(runnel_kafka::source_plugin());
        r.sink(runnel_kafka::sink_plugin());
    }
    r
}
