//! The pure core of Switchyard.
//!
//! Everything here is plain data and plain functions: no IO, no clock, no randomness. Time comes in as
//! a [`Timestamp`] parameter and fresh identifiers come in from the caller, so every decision the core
//! makes can be tested without a database, a network or a sleeping thread.
//!
//! Layout:
//! - [`sid`]: Twilio-style resource identifiers (`WS…`, `WK…`) as validated newtypes.
//! - [`time`]: [`Timestamp`] in milliseconds since the Unix epoch.
//! - [`expr`]: the TaskRouter expression language (parse, print, evaluate).
//! - [`model`]: the configuration resources (workspace, activity, worker, ...).
//! - [`workflow`]: the workflow configuration document and its validation.
//! - [`routing`]: a workspace's routing model; [`rows`]: the stored rows its decisions build on.
//! - [`decide`]: the transitions, decided on the model as units of rows to write.
#![warn(missing_docs)]

pub mod decide;
pub mod event;
pub mod expr;
pub mod lifecycle;
pub mod model;
pub mod routing;
pub mod rows;
pub mod sid;
pub mod time;
pub mod workflow;

pub use time::Timestamp;
