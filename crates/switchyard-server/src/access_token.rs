//! Twilio Access Tokens, as the Worker SDK (`twilio-taskrouter`) presents them: HS256 JWTs
//! whose issuer is an API key SID (`SK…`), whose subject is the account, signed with that key's
//! secret, carrying `grants.task_router {workspace_sid, worker_sid, role}`. Validated with the
//! `jsonwebtoken` crate; a token is refused unless its key is configured, its signature holds,
//! it has not expired, and its account is the key's.

use std::collections::HashMap;
use std::str::FromStr;

use base64::Engine as _;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use switchyard_core::sid::{AccountSid, WorkerSid, WorkspaceSid};

/// The API key `serve` configures when none is given, for development, beside the development
/// account.
pub const DEV_API_KEY_SID: &str = "SK00000000000000000000000000000000";
/// Its secret.
pub const DEV_API_KEY_SECRET: &str = "switchyard-dev-api-key-secret";

/// An API key: what signs access tokens for an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    /// `SK` and 32 hex digits.
    pub sid: String,
    /// The account whose tokens it signs.
    pub account: AccountSid,
    /// The secret tokens are signed with.
    pub secret: String,
}

impl ApiKey {
    /// Reads `SK…:SECRET` (as `--api-keys` takes it) for `account`.
    pub fn parse(text: &str, account: AccountSid) -> Result<ApiKey, String> {
        let (sid, secret) = text
            .split_once(':')
            .ok_or_else(|| format!("an API key is SK…:SECRET, got '{text}'"))?;
        let sid = sid.trim();
        let hex = sid.strip_prefix("SK").unwrap_or_default();
        if hex.len() != 32 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(format!(
                "an API key SID is SK and 32 hex digits, got '{sid}'"
            ));
        }
        if secret.trim().is_empty() {
            return Err(format!("the secret of API key {sid} is empty"));
        }
        Ok(ApiKey {
            sid: sid.to_owned(),
            account,
            secret: secret.trim().to_owned(),
        })
    }
}

/// What a token's TaskRouter grant allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// One worker acting for itself.
    Worker,
    /// A supervisor of the workspace.
    Supervisor,
    /// The workspace's administrator.
    Admin,
}

impl FromStr for Role {
    type Err = ();
    fn from_str(s: &str) -> Result<Role, ()> {
        match s {
            "worker" => Ok(Role::Worker),
            "supervisor" => Ok(Role::Supervisor),
            "admin" => Ok(Role::Admin),
            _ => Err(()),
        }
    }
}

/// A valid token's grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// The account (the token's subject).
    pub account: AccountSid,
    /// The workspace it is for.
    pub workspace: WorkspaceSid,
    /// The worker it acts as.
    pub worker: WorkerSid,
    /// What it may do.
    pub role: Role,
    /// When it expires, in seconds since the epoch.
    pub expires_at: i64,
}

/// Why a token was refused: said to the client as is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not a JWT, or not an access token.
    #[error("The access token is malformed: {0}")]
    Malformed(String),
    /// Signed by a key this server does not know.
    #[error("The access token's API key {0} is not configured")]
    UnknownKey(String),
    /// The signature does not hold, or the algorithm is not HS256.
    #[error("The access token's signature is invalid")]
    BadSignature,
    /// Past its `exp`.
    #[error("The access token has expired")]
    Expired,
    /// For another account than its key's.
    #[error("The access token is for account {0}, not its API key's")]
    WrongAccount(String),
    /// No TaskRouter grant, or one without a workspace or worker.
    #[error("The access token has no TaskRouter grant for a worker: {0}")]
    NoGrant(String),
}

/// The API keys a server accepts tokens from, by SID.
#[derive(Debug, Clone, Default)]
pub struct ApiKeys(HashMap<String, ApiKey>);

impl ApiKeys {
    /// The keys.
    pub fn new(keys: impl IntoIterator<Item = ApiKey>) -> ApiKeys {
        ApiKeys(keys.into_iter().map(|k| (k.sid.clone(), k)).collect())
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Checks `token` at `now_secs` and returns its grant.
    pub fn verify(&self, token: &str, now_secs: i64) -> Result<Grant, TokenError> {
        // The key is named by the issuer inside the token: read it before the signature can be
        // checked, then trust nothing of it until it has been.
        let issuer = unverified_issuer(token)?;
        let key = (self.0.get(&issuer)).ok_or(TokenError::UnknownKey(issuer))?;
        let mut validation = Validation::new(Algorithm::HS256);
        // Expiry is checked below, against the caller's `now_secs`.
        validation.validate_exp = false;
        validation.required_spec_claims.clear();
        let data = jsonwebtoken::decode::<Claims>(
            token,
            &DecodingKey::from_secret(key.secret.as_bytes()),
            &validation,
        )
        .map_err(|e| match e.kind() {
            jsonwebtoken::errors::ErrorKind::InvalidSignature
            | jsonwebtoken::errors::ErrorKind::InvalidAlgorithm => TokenError::BadSignature,
            _ => TokenError::Malformed(e.to_string()),
        })?;
        let claims = data.claims;
        if claims.exp <= now_secs {
            return Err(TokenError::Expired);
        }
        if claims.sub != key.account.as_str() {
            return Err(TokenError::WrongAccount(claims.sub));
        }
        let grant = (claims.grants.task_router)
            .ok_or_else(|| TokenError::NoGrant("grants.task_router is missing".into()))?;
        let workspace = (grant.workspace_sid.parse())
            .map_err(|_| TokenError::NoGrant(format!("workspace_sid '{}'", grant.workspace_sid)))?;
        let worker = (grant.worker_sid.parse())
            .map_err(|_| TokenError::NoGrant(format!("worker_sid '{}'", grant.worker_sid)))?;
        let role = (grant.role.as_deref().unwrap_or("worker").parse()).map_err(|()| {
            TokenError::NoGrant(format!("role '{}'", grant.role.unwrap_or_default()))
        })?;
        Ok(Grant {
            account: key.account.clone(),
            workspace,
            worker,
            role,
            expires_at: claims.exp,
        })
    }
}

#[derive(Debug, Deserialize)]
struct Claims {
    sub: String,
    exp: i64,
    #[serde(default)]
    grants: Grants,
}

#[derive(Debug, Default, Deserialize)]
struct Grants {
    task_router: Option<TaskRouterGrant>,
}

#[derive(Debug, Deserialize)]
struct TaskRouterGrant {
    #[serde(default)]
    workspace_sid: String,
    #[serde(default)]
    worker_sid: String,
    role: Option<String>,
}

fn unverified_issuer(token: &str) -> Result<String, TokenError> {
    let payload = token
        .split('.')
        .nth(1)
        .ok_or_else(|| TokenError::Malformed("not a JWT".into()))?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .map_err(|_| TokenError::Malformed("its payload is not base64url".into()))?;
    #[derive(Deserialize)]
    struct Issuer {
        iss: Option<String>,
    }
    let claims: Issuer = serde_json::from_slice(&bytes)
        .map_err(|_| TokenError::Malformed("its payload is not JSON".into()))?;
    claims
        .iss
        .ok_or_else(|| TokenError::Malformed("it names no issuer (iss)".into()))
}

#[cfg(test)]
mod tests {
    use jsonwebtoken::{encode, EncodingKey, Header};
    use serde_json::json;

    use super::*;

    const ACCOUNT: &str = "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const WS: &str = "WS0123456789abcdef0123456789abcdef";
    const WK: &str = "WK0123456789abcdef0123456789abcdef";

    fn keys() -> ApiKeys {
        let key = ApiKey::parse(
            &format!("{DEV_API_KEY_SID}:{DEV_API_KEY_SECRET}"),
            ACCOUNT.parse().unwrap(),
        )
        .unwrap();
        ApiKeys::new([key])
    }

    fn token(secret: &str, claims: serde_json::Value) -> String {
        let mut header = Header::new(Algorithm::HS256);
        header.cty = Some("twilio-fpa;v=1".into());
        encode(
            &header,
            &claims,
            &EncodingKey::from_secret(secret.as_bytes()),
        )
        .unwrap()
    }

    fn claims(exp: i64) -> serde_json::Value {
        json!({
            "jti": format!("{DEV_API_KEY_SID}-1000"), "iss": DEV_API_KEY_SID, "sub": ACCOUNT,
            "iat": 1000, "exp": exp,
            "grants": {"identity": "alice", "task_router": {"workspace_sid": WS, "worker_sid": WK, "role": "worker"}}
        })
    }

    #[test]
    fn a_token_signed_by_a_configured_key_gives_its_grant() {
        let grant = keys()
            .verify(&token(DEV_API_KEY_SECRET, claims(2000)), 1500)
            .unwrap();
        assert_eq!(grant.workspace.as_str(), WS);
        assert_eq!(grant.worker.as_str(), WK);
        assert_eq!(grant.role, Role::Worker);
        assert_eq!(grant.account.as_str(), ACCOUNT);
    }

    #[test]
    fn bad_tokens_are_refused_with_the_reason() {
        let keys = keys();
        assert_eq!(
            keys.verify(&token("wrong", claims(2000)), 1500),
            Err(TokenError::BadSignature)
        );
        assert_eq!(
            keys.verify(&token(DEV_API_KEY_SECRET, claims(1400)), 1500),
            Err(TokenError::Expired)
        );
        let mut other = claims(2000);
        other["sub"] = json!("ACbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb");
        assert!(matches!(
            keys.verify(&token(DEV_API_KEY_SECRET, other), 1500),
            Err(TokenError::WrongAccount(_))
        ));
        let mut unknown = claims(2000);
        unknown["iss"] = json!("SK11111111111111111111111111111111");
        assert!(matches!(
            keys.verify(&token(DEV_API_KEY_SECRET, unknown), 1500),
            Err(TokenError::UnknownKey(_))
        ));
        let mut no_grant = claims(2000);
        no_grant["grants"] = json!({"identity": "alice"});
        assert!(matches!(
            keys.verify(&token(DEV_API_KEY_SECRET, no_grant), 1500),
            Err(TokenError::NoGrant(_))
        ));
        assert!(matches!(
            keys.verify("not.a.jwt", 1500),
            Err(TokenError::Malformed(_))
        ));
        // A token that names no algorithm we accept ("none") is refused.
        let unsigned = format!(
            "{}.{}.",
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(r#"{"alg":"none","typ":"JWT"}"#),
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(claims(2000).to_string())
        );
        assert!(keys.verify(&unsigned, 1500).is_err());
    }

    #[test]
    fn api_keys_are_read_from_the_command_line_shape() {
        let account: AccountSid = ACCOUNT.parse().unwrap();
        assert!(ApiKey::parse("SK00000000000000000000000000000000:s", account.clone()).is_ok());
        assert!(ApiKey::parse("SK0:s", account.clone()).is_err());
        assert!(ApiKey::parse("SK00000000000000000000000000000000:", account.clone()).is_err());
        assert!(ApiKey::parse("nocolon", account).is_err());
    }
}
