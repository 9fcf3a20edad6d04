//! The event bridge Twilio's Worker SDK (`twilio-taskrouter`) connects to, under
//! `/v1/wschannels` on Switchyard's own port: a WebSocket that pushes a worker's events
//! (`socket.rs`) and the RPC channel every read and write goes through (`rpc.rs`, the
//! supervisor's lists in `listing.rs`, the SDK's own payload shapes in `payload.rs`), authenticated with access tokens
//! (`crate::access_token`), not Basic auth.
//! See `../shared/docs/worker-sdk-protocol.md` for what the SDK expects.

mod hub;
mod listing;
mod payload;
mod rpc;
mod sessions;
mod socket;

pub(crate) use hub::Hub;
pub(crate) use rpc::{call, preflight};
pub(crate) use sessions::Sessions;
pub(crate) use socket::socket;
