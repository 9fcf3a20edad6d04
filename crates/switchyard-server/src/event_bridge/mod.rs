//! The event bridge Twilio's Worker SDK (`twilio-taskrouter`) connects to, under
//! `/v1/wschannels` on Switchyard's own port: a WebSocket that pushes a worker's events
//! (`socket.rs`), authenticated with access tokens (`crate::access_token`), not Basic auth.
//! See `../shared/docs/worker-sdk-protocol.md` for what the SDK expects.

mod socket;

pub(crate) use socket::socket;
