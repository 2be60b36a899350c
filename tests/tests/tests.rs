//! Rapport's integration tests: one binary, topic modules, each behaviour
//! run on both backends (in-process, and RabbitMQ + Redis) by `both_backends!`.

#[macro_use]
mod util;

mod concurrent;
mod examples;
mod failures;
mod faults;
mod formats;
mod object_storage;
mod partitioning;
mod privacy;
mod quirks;
mod registry;
mod reread;
mod ties;
