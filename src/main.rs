use std::io::{IsTerminal, Read};

use anyhow::Context as _;
use clap::Parser;
use portico::config::{Cli, Command, LogFormat};
use portico::{demo, graphql, AppState};
use tracing_subscriber::EnvFilter;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn init_tracing(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

/// Opens the database, retrying with backoff for up to `wait_secs` while it cannot be
/// reached (a server may start before its database), logging where and why.
async fn open_waiting(url: &str, wait_secs: u64) -> anyhow::Result<portico::db::Db> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(wait_secs);
    let mut pause = std::time::Duration::from_millis(250);
    // The host, never the credentials of the URL.
    let host = url
        .split_once("://")
        .map(|(_, rest)| rest.rsplit_once('@').map_or(rest, |(_, h)| h))
        .unwrap_or(url);
    loop {
        match portico::open(url).await {
            Ok(db) => return Ok(db),
            Err(e) if std::time::Instant::now() + pause < deadline => {
                tracing::warn!(database = %host, error = %format!("{e:#}"), "cannot open the database yet; retrying");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(std::time::Duration::from_secs(5));
            }
            Err(e) => {
                return Err(e.context(format!(
                    "opening the database at {host} (gave up after {wait_secs} s)"
                )))
            }
        }
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Schema => {
            print!("{}", graphql::sdl());
            Ok(())
        }
        Command::Seed(args) => {
            init_tracing(LogFormat::Text);
            let db = portico::open(&args.db.url()).await?;
            let state = AppState::new(db, 2, 12);
            let started = std::time::Instant::now();
            let seeded = portico::seed::seed(
                &state.db,
                &state.hasher,
                args.scale,
                args.seed,
                &args.password,
            )
            .await
            .map_err(|e| anyhow::anyhow!("{}", e.public_message()))?;
            print!("{}", seeded.summary);
            println!(
                "Q2 project global id: {}",
                portico::graphql::ids::encode("Project", seeded.q2_project_id).0
            );
            eprintln!("seeded in {:.1} s", started.elapsed().as_secs_f64());
            Ok(())
        }
        Command::Backup(args) => {
            init_tracing(LogFormat::Text);
            let db = portico::db::Db::connect(&args.db.url()).await?;
            db.backup_to(&args.to).await?;
            eprintln!("backed up to {}", args.to.display());
            Ok(())
        }
        Command::Migrate(args) => {
            init_tracing(LogFormat::Text);
            portico::open(&args.url()).await?;
            eprintln!("migrations applied");
            Ok(())
        }
        Command::CreateAdmin(args) => {
            init_tracing(LogFormat::Text);
            let password = match std::env::var("PORTICO_ADMIN_PASSWORD") {
                Ok(p) => p,
                Err(_) => {
                    if std::io::stdin().is_terminal() {
                        eprint!("password for {}: ", args.email);
                    }
                    let mut s = String::new();
                    std::io::stdin()
                        .read_to_string(&mut s)
                        .context("reading the password from standard input")?;
                    s.lines().next().unwrap_or("").to_string()
                }
            };
            let db = portico::open(&args.db.url()).await?;
            let state = AppState::new(db, 1, 12);
            let user = demo::create_admin(&state, &args.email, &args.name, &password)
                .await
                .map_err(|e| anyhow::anyhow!("{}", e.public_message()))?;
            eprintln!("created administrator {} ({})", user.name, user.email);
            Ok(())
        }
        Command::Serve(args) => {
            init_tracing(args.log_format);
            let url = args.db.url();
            let db = open_waiting(&url, args.db_start_wait_secs).await?;
            let mut state = AppState::new(db, args.hash_threads, args.session_ttl_hours);
            state.request_timeout =
                std::time::Duration::from_secs(args.request_timeout_secs.max(1));
            state.trust_forwarded_for = args.trust_forwarded_for;
            if args.demo {
                match demo::load_if_empty(&state).await {
                    Ok(Some(world)) => println!("{world}"),
                    Ok(None) => println!(
                        "the database already has users: the demo world was not loaded (use a fresh database)"
                    ),
                    Err(e) => anyhow::bail!("loading the demo world: {}", e.cause()),
                }
            }
            let listener = tokio::net::TcpListener::bind(args.listen)
                .await
                .with_context(|| format!("binding {}", args.listen))?;
            let addr = listener.local_addr()?;
            println!("Portico listening on http://{addr}/graphql (GraphiQL: open it in a browser)");
            tracing::info!(%addr, backend = ?state.db.backend(), "serving");
            axum::serve(
                listener,
                portico::app(state).into_make_service_with_connect_info::<std::net::SocketAddr>(),
            )
            .with_graceful_shutdown(shutdown())
            .await?;
            Ok(())
        }
    }
}

async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
