//! The query layer over both backends: a query is written once, with `?` placeholders and
//! typed arguments, and runs on SQLite as written or on PostgreSQL with `$n` placeholders.
//!
//! The calls mirror sqlx's (`query_as(..).bind(..).fetch_all(pool)`), so a query reads the same
//! as before; what differs between the backends is chosen where it differs ([`Pool::backend`]).
//! Only reads run here: every write goes through the writer ([`crate::writer`]).

use std::borrow::Cow;
use std::marker::PhantomData;

use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;
use sqlx::{PgPool, Postgres, Sqlite, SqlitePool};

use crate::sql::Arg;
use crate::Result;

/// Which database a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// An SQLite file (or a private temporary one).
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

/// The connection pool of either backend.
#[derive(Debug, Clone)]
pub(crate) enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// A row type that decodes from either backend (what `#[derive(sqlx::FromRow)]` gives when
/// every field decodes from both).
pub(crate) trait FromEither:
    for<'r> sqlx::FromRow<'r, SqliteRow> + for<'r> sqlx::FromRow<'r, PgRow> + Send + Unpin
{
}

impl<T> FromEither for T where
    T: for<'r> sqlx::FromRow<'r, SqliteRow> + for<'r> sqlx::FromRow<'r, PgRow> + Send + Unpin
{
}

impl Pool {
    pub(crate) fn backend(&self) -> Backend {
        match self {
            Pool::Sqlite(_) => Backend::Sqlite,
            Pool::Postgres(_) => Backend::Postgres,
        }
    }

    /// `column = ?`, regardless of case (ASCII letters on SQLite, as its `NOCASE`): PostgreSQL's
    /// side of SQLite's `COLLATE NOCASE` column, matching its `lower(column)` unique index.
    pub(crate) fn nocase_equals(&self, column: &str) -> String {
        match self {
            Pool::Sqlite(_) => format!("{column} = ?"),
            Pool::Postgres(_) => format!("lower({column}) = lower(?)"),
        }
    }

    pub(crate) async fn close(&self) {
        match self {
            Pool::Sqlite(p) => p.close().await,
            Pool::Postgres(p) => p.close().await,
        }
    }
}

/// Rewrites SQLite's placeholders (`?`, `?N`) as PostgreSQL's (`$N`), outside quoted text. A
/// bare `?` takes the number after the highest so far, as in SQLite.
pub(crate) fn numbered(text: &str) -> Cow<'_, str> {
    if !text.contains('?') {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    let (mut highest, mut quoted) = (0u32, false);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                quoted = !quoted;
                out.push(c);
            }
            '?' if !quoted => {
                let mut digits = String::new();
                while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                    digits.push(*d);
                    chars.next();
                }
                let n = match digits.parse::<u32>() {
                    Ok(n) => n,
                    Err(_) => highest + 1,
                };
                highest = highest.max(n);
                out.push('$');
                out.push_str(&n.to_string());
            }
            _ => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Binds `args` in order to a sqlx query of either backend.
macro_rules! bound_args {
    ($query:expr, $args:expr) => {{
        let mut q = $query;
        for arg in $args {
            q = match arg {
                Arg::Text(v) => q.bind(v.as_deref()),
                Arg::Int(v) => q.bind(*v),
                Arg::Bool(v) => q.bind(*v),
            };
        }
        q
    }};
}

pub(crate) use bound_args as bound;

/// Runs `$run` (a method of sqlx's query) on whichever backend `$pool` is, with the query's text
/// and arguments bound: `$make` builds the sqlx query from the text.
macro_rules! on_backend {
    ($pool:expr, $q:expr, |$text:ident| $make:expr, $run:ident $(. $then:ident())?) => {{
        let args = &$q.args;
        match $pool {
            Pool::Sqlite(p) => {
                let $text: &str = &$q.text;
                bound_args!($make.0, args).$run(p).await?$(.$then())?
            }
            Pool::Postgres(p) => {
                let numbered = numbered(&$q.text);
                let $text: &str = &numbered;
                bound_args!($make.1, args).$run(p).await?$(.$then())?
            }
        }
    }};
}

/// A statement with its arguments, built by appending text and binds.
#[derive(Debug, Clone, Default)]
pub(crate) struct Query {
    pub(crate) text: String,
    pub(crate) args: Vec<Arg>,
}

/// A statement whose rows decode as `R`.
pub(crate) struct QueryAs<R> {
    query: Query,
    rows: PhantomData<fn() -> R>,
}

/// A statement whose rows decode as `R`.
pub(crate) fn query_as<R: FromEither>(text: impl Into<String>) -> QueryAs<R> {
    Query::new(text).build_query_as()
}

impl Query {
    pub(crate) fn new(text: impl Into<String>) -> Query {
        Query {
            text: text.into(),
            args: Vec::new(),
        }
    }

    /// Appends text.
    pub(crate) fn push(&mut self, text: impl AsRef<str>) -> &mut Query {
        self.text.push_str(text.as_ref());
        self
    }

    /// Appends a placeholder bound to `arg`.
    pub(crate) fn push_bind(&mut self, arg: impl Into<Arg>) -> &mut Query {
        self.text.push('?');
        self.args.push(arg.into());
        self
    }

    /// Appends text holding one placeholder, bound to `arg`.
    pub(crate) fn push_with(&mut self, text: &str, arg: impl Into<Arg>) -> &mut Query {
        self.text.push_str(text);
        self.args.push(arg.into());
        self
    }

    /// Appends binds separated by `separator`.
    pub(crate) fn separated<'a>(&'a mut self, separator: &'static str) -> Separated<'a> {
        Separated {
            query: self,
            separator,
            first: true,
        }
    }

    /// This statement, decoding its rows as `R`.
    pub(crate) fn build_query_as<R: FromEither>(self) -> QueryAs<R> {
        QueryAs {
            query: self,
            rows: PhantomData,
        }
    }
}

/// Binds appended with a separator between them (an `IN (...)` list).
pub(crate) struct Separated<'a> {
    query: &'a mut Query,
    separator: &'static str,
    first: bool,
}

impl Separated<'_> {
    pub(crate) fn push_bind(&mut self, arg: impl Into<Arg>) -> &mut Self {
        if !self.first {
            self.query.push(self.separator);
        }
        self.first = false;
        self.query.push_bind(arg);
        self
    }
}

impl<R: FromEither> QueryAs<R> {
    /// Binds the next `?`.
    pub(crate) fn bind(mut self, arg: impl Into<Arg>) -> QueryAs<R> {
        self.query.args.push(arg.into());
        self
    }

    pub(crate) async fn fetch_all(&self, pool: &Pool) -> Result<Vec<R>> {
        Ok(on_backend!(
            pool,
            self.query,
            |text| (
                sqlx::query_as::<Sqlite, R>(text),
                sqlx::query_as::<Postgres, R>(text)
            ),
            fetch_all
        ))
    }

    pub(crate) async fn fetch_optional(&self, pool: &Pool) -> Result<Option<R>> {
        Ok(on_backend!(
            pool,
            self.query,
            |text| (
                sqlx::query_as::<Sqlite, R>(text),
                sqlx::query_as::<Postgres, R>(text)
            ),
            fetch_optional
        ))
    }

    pub(crate) async fn fetch_one(&self, pool: &Pool) -> Result<R> {
        Ok(on_backend!(
            pool,
            self.query,
            |text| (
                sqlx::query_as::<Sqlite, R>(text),
                sqlx::query_as::<Postgres, R>(text)
            ),
            fetch_one
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::numbered;

    #[test]
    fn placeholders_are_numbered_as_sqlite_numbers_them() {
        assert_eq!(numbered("a = ? AND b = ?"), "a = $1 AND b = $2");
        assert_eq!(
            numbered("a = ?1 OR b = ?1 AND c = ?2"),
            "a = $1 OR b = $1 AND c = $2"
        );
        assert_eq!(numbered("a = ?2 AND b = ?"), "a = $2 AND b = $3");
        assert_eq!(numbered("a = '?' AND b = ?"), "a = '?' AND b = $1");
        assert_eq!(numbered("no placeholders"), "no placeholders");
    }
}
