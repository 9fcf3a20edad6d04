//! Accounts: the owners of workspaces and their credentials.

use switchyard_core::sid::AccountSid;
use switchyard_core::Timestamp;

use crate::db::query;
use crate::{Result, Store};

impl Store {
    /// Creates the account if it does not exist. Credentials are not stored: the accounts that
    /// may sign in are those the server is configured with at start.
    pub async fn upsert_account(&self, account: &AccountSid, now: Timestamp) -> Result<()> {
        query(
            "INSERT INTO accounts (sid, auth_token, date_created) VALUES (?, '', ?)
             ON CONFLICT (sid) DO NOTHING",
        )
        .bind(account.as_str())
        .bind(now.as_millis())
        .execute(self.pool().await)
        .await?;
        Ok(())
    }
}
