//! `photobooth`: the app server, and with `session` the script that drives a full session.

use std::path::PathBuf;

use anyhow::Result;
use clap::{Parser, Subcommand};
use switchyard_example_photobooth::{session, App, Config};

#[derive(Debug, Parser)]
#[command(about = "The photo-captioning app, against Switchyard")]
struct Args {
    #[command(subcommand)]
    command: Command,
    /// TaskRouter's base URL.
    #[arg(
        long,
        env = "TASKROUTER_URL",
        default_value = "http://127.0.0.1:7979",
        global = true
    )]
    taskrouter: String,
    /// Account SID for TaskRouter.
    #[arg(
        long,
        env = "TASKROUTER_ACCOUNT_SID",
        default_value = "AC00000000000000000000000000000000",
        global = true
    )]
    account_sid: String,
    /// Auth token for TaskRouter.
    #[arg(
        long,
        env = "TASKROUTER_AUTH_TOKEN",
        default_value = "switchyard-dev-token",
        global = true
    )]
    auth_token: String,
    /// The folder watched for photos.
    #[arg(long, default_value = "photobooth/photos", global = true)]
    photos: PathBuf,
    /// Where captions are saved.
    #[arg(long, default_value = "photobooth/captions", global = true)]
    captions: PathBuf,
    /// The app's address.
    #[arg(long, default_value = "127.0.0.1:8080", global = true)]
    listen: String,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Runs the app server.
    Serve,
    /// Drives a session against a running app server.
    Session,
}

#[tokio::main]
async fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let config = Config {
        taskrouter: args.taskrouter,
        account: (args.account_sid, args.auth_token),
        public_url: format!("http://{}", args.listen),
        photos: args.photos,
        captions: args.captions,
    };
    match args.command {
        Command::Serve => {
            let listener = tokio::net::TcpListener::bind(&args.listen).await?;
            let app = App::setup(config).await?;
            tracing::info!(listen = %args.listen, "photobooth ready");
            tokio::spawn(app.clone().watch_photos());
            axum::serve(listener, app.router()).await?;
        }
        Command::Session => session::run(&config.public_url, &config).await?,
    }
    Ok(())
}
