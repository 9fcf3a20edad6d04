//! API tests: a real server on 127.0.0.1, driven over HTTP.
#![allow(unreachable_pub)]

mod common;

mod activities;
mod auth_and_errors;
mod backends_agree;
mod bad_input;
mod callback_log;
mod callback_recovery;
mod console;
mod event_bridge;
mod event_callbacks;
mod events;
mod explain;
mod health;
mod metrics;
mod paging;
mod persistence;
mod portable;
mod refused_changes;
mod reset;
mod routing;
mod spec_keys;
mod statistics;
mod task_channels;
mod task_queues;
mod timers;
mod workers;
mod workflows;
mod workspaces;
