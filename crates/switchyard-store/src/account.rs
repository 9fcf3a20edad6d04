//! Accounts: the owners of workspaces and their credentials.

use switchyard_core::sid::AccountSid;
use switchyard_core::Timestamp;

use crate::{sid, Result, Store};

impl Store {
    /// Creates the account, or sets its auth token if it exists.
    pub async fn upsert_account(
        &self,
        account: &AccountSid,
        auth_token: &str,
        now: Timestamp,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO accounts (sid, auth_token, date_created) VALUES (?, ?, ?)
             ON CONFLICT (sid) DO UPDATE SET auth_token = excluded.auth_token",
        )
        .bind(account.as_str())
        .bind(auth_token)
        .bind(now.as_millis())
        .execute(self.pool().await)
        .await?;
        Ok(())
    }

    /// Every account with its auth token.
    pub async fn list_accounts(&self) -> Result<Vec<(AccountSid, String)>> {
        let rows: Vec<(String, String)> =
            sqlx::query_as("SELECT sid, auth_token FROM accounts ORDER BY sid")
                .fetch_all(self.pool().await)
                .await?;
        rows.into_iter().map(|(s, t)| Ok((sid(&s)?, t))).collect()
    }
}
