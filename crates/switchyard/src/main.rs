//! The `switchyard` command line: `serve`, `migrate`, `expr`.
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use std::sync::Arc;
use switchyard_core::sid::AccountSid;

use switchyard_engine::{
    ActivitySet, Clock, ClusterOptions, Engine, EngineOptions, ManualClock, Store, SystemClock,
};
use switchyard_server::access_token::{ApiKey, DEV_API_KEY_SECRET, DEV_API_KEY_SID};
use switchyard_server::portable::Seeded;
use switchyard_server::{
    AppState, CallbackPolicy, CallbackRule, ConnectionLimits, ServerConfig,
    DEFAULT_CALLBACK_LOG_SIZE,
};
use tokio::net::TcpListener;

mod expr_cmd;

/// `writeln!` that ignores failures: output nobody reads is not an error.
macro_rules! say {
    ($out:expr, $($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!($out, $($arg)*);
    }};
}

/// The account used when none is configured: fine on a laptop or in CI, printed at startup.
const DEV_ACCOUNT_SID: &str = "AC00000000000000000000000000000000";
const DEV_AUTH_TOKEN: &str = "switchyard-dev-token";

#[derive(Debug, Parser)]
#[command(
    name = "switchyard",
    version,
    about = "A self-hosted router that speaks Twilio TaskRouter's REST API"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the TaskRouter API server.
    Serve(Box<ServeArgs>),
    /// Create or upgrade the database, then exit.
    Migrate {
        /// Database URL: `sqlite://path.db`, a plain file path, `sqlite::memory:`, or
        /// `postgres://user:password@host:port/database`.
        #[arg(
            long,
            env = "SWITCHYARD_DATABASE_URL",
            default_value = "sqlite://switchyard.db"
        )]
        database: String,
    },
    /// Check or evaluate a TaskRouter expression.
    #[command(subcommand)]
    Expr(expr_cmd::ExprCommand),
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum ClockArg {
    /// The machine's clock.
    Real,
    /// Stands still until moved with `POST /_switchyard/Clock`.
    Manual,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum ActivitySetArg {
    /// Offline, Available, Unavailable (today's Twilio).
    Current,
    /// Offline, Idle, Busy, Reserved (the older tutorials).
    Legacy,
}

#[derive(Debug, clap::Args)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "SWITCHYARD_BIND", default_value = "127.0.0.1:7979")]
    bind: SocketAddr,
    /// Database URL: `sqlite://path.db`, a plain file path, `sqlite::memory:`, or
    /// `postgres://user:password@host:port/database` (created if missing).
    #[arg(
        long,
        env = "SWITCHYARD_DATABASE_URL",
        default_value = "sqlite://switchyard.db"
    )]
    database: String,
    /// Base of every URL in responses; derived from the bound address when absent.
    #[arg(long, env = "SWITCHYARD_PUBLIC_URL")]
    public_url: Option<String>,
    /// On PostgreSQL, where the other nodes on the same database send this node the requests
    /// for the workspaces it decides (default: the public URL).
    #[arg(long, env = "SWITCHYARD_ADVERTISE_URL")]
    advertise_url: Option<String>,
    /// On PostgreSQL, seconds a workspace's lease lasts without renewal: a node that dies
    /// loses its workspaces to the others after this long.
    #[arg(long, env = "SWITCHYARD_LEASE", default_value_t = 10.0, value_parser = positive_secs)]
    lease: f64,
    /// Account SID accepted as the Basic-auth user name.
    #[arg(long, env = "SWITCHYARD_ACCOUNT_SID", requires = "auth_token")]
    account_sid: Option<AccountSid>,
    /// Auth token accepted as the Basic-auth password.
    #[arg(
        long,
        env = "SWITCHYARD_AUTH_TOKEN",
        requires = "account_sid",
        hide_env_values = true
    )]
    auth_token: Option<String>,
    /// More accounts, as `SID:TOKEN` pairs separated by commas.
    #[arg(
        long,
        env = "SWITCHYARD_ACCOUNTS",
        value_delimiter = ',',
        hide_env_values = true
    )]
    accounts: Vec<String>,
    /// Where time comes from: `manual` stops it until moved through `/_switchyard/Clock`.
    #[arg(long, env = "SWITCHYARD_CLOCK", value_enum, default_value = "real")]
    clock: ClockArg,
    /// Activities every new workspace starts with.
    #[arg(
        long,
        env = "SWITCHYARD_ACTIVITY_SET",
        value_enum,
        default_value = "current"
    )]
    activity_set: ActivitySetArg,
    /// Seconds a request's head may take to arrive; an idle keep-alive connection closes after it.
    #[arg(long, env = "SWITCHYARD_HEADER_TIMEOUT", default_value_t = 10.0, value_parser = positive_secs)]
    header_timeout: f64,
    /// Seconds a request body may send nothing before the request is abandoned (408).
    #[arg(long, env = "SWITCHYARD_IDLE_TIMEOUT", default_value_t = 30.0, value_parser = positive_secs)]
    idle_timeout: f64,
    /// Connections open at once; one more is closed at once.
    #[arg(long, env = "SWITCHYARD_MAX_CONNECTIONS", default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..))]
    max_connections: u32,
    /// Callbacks may go only to these (IP, CIDR, host, or .domain; comma-separated). Default: anywhere.
    #[arg(long, env = "SWITCHYARD_CALLBACK_ALLOW", value_delimiter = ',')]
    callback_allow: Vec<CallbackRule>,
    /// Callbacks may never go to these (IP, CIDR, host, or .domain; comma-separated).
    #[arg(long, env = "SWITCHYARD_CALLBACK_DENY", value_delimiter = ',')]
    callback_deny: Vec<CallbackRule>,
    /// Workspace documents (as `GET /_switchyard/Workspaces/{WS}/Export` writes them) to import
    /// at start-up for the first account, skipping those whose name it already has. Repeatable.
    #[arg(
        long = "seed",
        env = "SWITCHYARD_SEED",
        value_delimiter = ',',
        value_name = "FILE"
    )]
    seeds: Vec<PathBuf>,
    /// API keys (SK…:SECRET, comma-separated) of the first account, whose access tokens the
    /// Worker SDK's event bridge (`/v1/wschannels`) accepts. With the development credentials
    /// and no key, a development key is configured and printed.
    #[arg(long, env = "SWITCHYARD_API_KEYS", value_delimiter = ',')]
    api_keys: Vec<String>,
    /// Log lines on stderr: `text` for people, `json` (one object per line) for operators.
    #[arg(
        long,
        env = "SWITCHYARD_LOG_FORMAT",
        value_enum,
        default_value = "text"
    )]
    log_format: LogFormat,
    /// Callback attempts kept per workspace for `/_switchyard/Workspaces/{WS}/Callbacks`, in
    /// memory (0 keeps none).
    #[arg(long, env = "SWITCHYARD_CALLBACK_LOG_SIZE", default_value_t = DEFAULT_CALLBACK_LOG_SIZE)]
    callback_log_size: usize,
}

/// A number of seconds above zero.
fn positive_secs(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v > 0.0 && v.is_finite() && v <= 86_400.0 => Ok(v),
        _ => Err(format!(
            "'{s}' is not a number of seconds between 0 and 86400"
        )),
    }
}

/// Accepts `sqlite:...` and PostgreSQL URLs as they are and turns a bare path into a SQLite one.
fn database_url(s: &str) -> String {
    if s.starts_with("sqlite:") || switchyard_engine::is_postgres_url(s) {
        s.to_owned()
    } else {
        format!("sqlite://{s}")
    }
}

/// The database URL as it may be printed and logged: without its password.
fn shown_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}

fn init_tracing(format: LogFormat) {
    // `switchyard` covers every `switchyard_*` crate: filter targets match by prefix.
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "switchyard=info,tower_http=warn".into());
    use std::io::IsTerminal;
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => logs.with_ansi(std::io::stderr().is_terminal()).init(),
        // One JSON object per line, with the spans (workspace, task, reservation SIDs) each
        // line happened in, for a log pipeline.
        LogFormat::Json => logs
            .json()
            .with_current_span(true)
            .with_span_list(true)
            .init(),
    }
}

/// How log lines are written to stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum LogFormat {
    /// For people.
    Text,
    /// One JSON object per line.
    Json,
}

/// Resolves on SIGTERM or SIGINT (Ctrl-C). The handlers are registered here, before the server
/// says it is ready: a signal sent as soon as it has said so stops it cleanly.
#[cfg(unix)]
fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = terminate.recv() => {},
            _ = interrupt.recv() => {},
        }
        tracing::info!("shutting down");
    })
}

/// Resolves on Ctrl-C.
#[cfg(not(unix))]
fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("shutting down");
    })
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let options = EngineOptions {
        activity_set: match args.activity_set {
            ActivitySetArg::Current => ActivitySet::Current,
            ActivitySetArg::Legacy => ActivitySet::Legacy,
        },
        ..EngineOptions::default()
    };
    let url = database_url(&args.database);
    let clock: Arc<dyn Clock> = match args.clock {
        ClockArg::Real => Arc::new(SystemClock),
        ClockArg::Manual => Arc::new(ManualClock::new(SystemClock.now())),
    };
    let store = Store::open(&url)
        .await
        .with_context(|| format!("opening the database {}", shown_url(&url)))?;
    let engine = Engine::new(store, clock, options);

    // The accounts that may sign in are exactly these; the development pair only when no
    // account is configured at all.
    let dev = args.account_sid.is_none() && args.accounts.is_empty();
    let mut accounts: Vec<(AccountSid, String)> = Vec::new();
    if let (Some(sid), Some(token)) = (args.account_sid, args.auth_token) {
        accounts.push((sid, token));
    }
    for pair in &args.accounts {
        let (sid, token) = pair
            .split_once(':')
            .context("--accounts takes SID:TOKEN pairs")?;
        let sid: AccountSid = sid.trim().parse().context("an account SID in --accounts")?;
        if token.trim().is_empty() {
            anyhow::bail!("--accounts: the auth token of {sid} is empty");
        }
        accounts.push((sid, token.trim().to_owned()));
    }
    if dev {
        let sid = DEV_ACCOUNT_SID
            .parse()
            .context("the development account SID")?;
        accounts.push((sid, DEV_AUTH_TOKEN.to_owned()));
    }

    let listener = TcpListener::bind(args.bind)
        .await
        .with_context(|| format!("binding {}", args.bind))?;
    let local = listener.local_addr().context("reading the bound address")?;
    let host = if local.ip().is_unspecified() {
        std::net::Ipv4Addr::LOCALHOST.into()
    } else {
        local.ip()
    };
    let listening = format!("http://{}", SocketAddr::new(host, local.port()));
    let public_url = args
        .public_url
        .map(|u| u.trim_end_matches('/').to_owned())
        .unwrap_or_else(|| listening.clone());
    // On PostgreSQL every server is a node of the database's cluster (docs/deploy.md).
    let engine = if switchyard_engine::is_postgres_url(&url) {
        let advertised = (args.advertise_url.as_deref()).map_or_else(
            || public_url.clone(),
            |u| u.trim_end_matches('/').to_owned(),
        );
        let mut cluster = ClusterOptions::new(advertised);
        cluster.lease = std::time::Duration::from_secs_f64(args.lease);
        engine
            .join_cluster(cluster)
            .await
            .context("joining the database's cluster of nodes")?
    } else {
        engine
    };
    let mut config = ServerConfig::new(public_url.clone());
    config.limits = ConnectionLimits {
        header_timeout: std::time::Duration::from_secs_f64(args.header_timeout),
        idle_timeout: std::time::Duration::from_secs_f64(args.idle_timeout),
        max_connections: args.max_connections as usize,
    };
    config.callback_policy = CallbackPolicy {
        allow: args.callback_allow,
        deny: args.callback_deny,
    };
    config.callback_log_size = args.callback_log_size;
    if let Some((account, _)) = accounts.first() {
        for key in &args.api_keys {
            let key = ApiKey::parse(key, account.clone())
                .map_err(|e| anyhow::anyhow!("--api-keys: {e}"))?;
            config.api_keys.push(key);
        }
        if dev && config.api_keys.is_empty() {
            let dev_key = format!("{DEV_API_KEY_SID}:{DEV_API_KEY_SECRET}");
            config
                .api_keys
                .push(ApiKey::parse(&dev_key, account.clone()).map_err(|e| anyhow::anyhow!(e))?);
        }
    }
    let dev_key = dev && args.api_keys.is_empty();
    for (sid, token) in &accounts {
        config = config.with_account(sid.clone(), token.clone());
    }
    let state = AppState::new(engine.clone(), config)
        .await
        .context("storing the accounts")?;

    let mut seeded = Vec::new();
    if let Some((account, _)) = accounts.first() {
        for file in &args.seeds {
            let bytes = std::fs::read(file)
                .with_context(|| format!("reading the seed {}", file.display()))?;
            let outcome = switchyard_server::portable::seed(&engine, account, &bytes)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))
                .with_context(|| format!("importing the seed {}", file.display()))?;
            seeded.push((file.display().to_string(), outcome));
        }
    }

    // Start-up lines go to stdout for people and scripts; a closed stdout must not stop the server.
    let mut out = std::io::stdout().lock();
    let shutdown = shutdown_signal().context("registering the shutdown signals")?;
    say!(out, "Switchyard listening on {listening}");
    if public_url != listening {
        say!(out, "  public URL:  {public_url}");
    }
    say!(out, "  database:    {}", shown_url(&url));
    if let Some(node) = engine.node_id() {
        say!(
            out,
            "  node:        {node} (one of the database's nodes; GET /_switchyard/Nodes)"
        );
    }
    if matches!(args.clock, ClockArg::Manual) {
        say!(
            out,
            "  clock:       manual (move it with POST /_switchyard/Clock)"
        );
    }
    for (file, outcome) in &seeded {
        match outcome {
            Seeded::Created(w) => say!(
                out,
                "  seeded:      {} ({}) from {file}",
                w.friendly_name,
                w.sid
            ),
            Seeded::Skipped(name) => {
                say!(out, "  seed:        {name} exists already; {file} skipped")
            }
        }
    }
    if dev_key {
        say!(out, "  API key:     {DEV_API_KEY_SID} / {DEV_API_KEY_SECRET} (development key for access tokens; set --api-keys to change)");
    }
    if dev {
        say!(out, "  credentials: {DEV_ACCOUNT_SID} / {DEV_AUTH_TOKEN} (development pair; set --account-sid and --auth-token to change)");
    } else {
        let sids: Vec<String> = accounts.iter().map(|(sid, _)| sid.to_string()).collect();
        say!(
            out,
            "  credentials: {} (auth tokens as configured)",
            sids.join(", ")
        );
    }
    drop(out);
    tracing::info!(%public_url, database = %shown_url(&url), "ready");

    switchyard_server::serve(listener, state, shutdown)
        .await
        .context("serving")?;
    engine.close().await;
    Ok(())
}

async fn migrate(database: &str) -> anyhow::Result<()> {
    let url = database_url(database);
    let engine = Engine::open(&url, SystemClock, EngineOptions::default())
        .await
        .with_context(|| format!("migrating {}", shown_url(&url)))?;
    engine.close().await;
    println!("{} is up to date", shown_url(&url));
    Ok(())
}

fn run_async(f: impl std::future::Future<Output = anyhow::Result<()>>) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: starting the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(f) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// mimalloc rather than glibc's malloc: cheaper under the runtime's and the writer's threads.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => {
            init_tracing(args.log_format);
            run_async(serve(*args))
        }
        Command::Migrate { database } => run_async(migrate(&database)),
        Command::Expr(cmd) => expr_cmd::run(cmd),
    }
}
