//! The command line. Every option can also come from the environment.

use std::net::SocketAddr;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Portico: project data for staff, customers and portals, each seeing exactly what they may.
#[derive(Parser, Debug)]
#[command(name = "portico", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Apply migrations, then serve the GraphQL API.
    Serve(ServeArgs),
    /// Apply migrations and exit.
    Migrate(DbArgs),
    /// Create an administrator (password from PORTICO_ADMIN_PASSWORD, else standard input).
    CreateAdmin(CreateAdminArgs),
    /// Print the GraphQL schema (the content of schema.graphql).
    Schema,
    /// Fill an empty database with a deterministic synthetic world for benchmarks.
    Seed(SeedArgs),
    /// Write a consistent copy of a live SQLite database to a new file (for PostgreSQL,
    /// use pg_dump: see the README).
    Backup(BackupArgs),
}

#[derive(Args, Debug, Clone)]
pub struct BackupArgs {
    #[command(flatten)]
    pub db: DbArgs,
    /// The file to write; it must not exist yet.
    #[arg(long)]
    pub to: std::path::PathBuf,
}

#[derive(Args, Debug, Clone)]
pub struct SeedArgs {
    #[command(flatten)]
    pub db: DbArgs,
    /// small: a tenth of medium; medium: 2,000 projects, 400,000 time entries; large: five
    /// times medium.
    #[arg(long, value_enum)]
    pub scale: crate::seed::Scale,
    /// The same seed gives the same world.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// The password of every seeded user.
    #[arg(
        long,
        env = "PORTICO_SEED_PASSWORD",
        default_value = "portico-seed",
        hide_env_values = true
    )]
    pub password: String,
}

#[derive(Args, Debug, Clone)]
pub struct DbArgs {
    /// Database URL: sqlite://FILE or postgres://USER@HOST/DB.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite://portico.db",
        hide_env_values = true
    )]
    pub database_url: String,
}

impl DbArgs {
    /// PORTICO_DATABASE_URL, when set, wins over DATABASE_URL.
    pub fn url(&self) -> String {
        std::env::var("PORTICO_DATABASE_URL").unwrap_or_else(|_| self.database_url.clone())
    }
}

#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    #[command(flatten)]
    pub db: DbArgs,
    /// Address to listen on.
    #[arg(long, env = "PORTICO_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Load the demo world when the database is empty, and print its logins.
    #[arg(long, env = "PORTICO_DEMO")]
    pub demo: bool,
    /// How long a session token lives, in hours.
    #[arg(long, env = "PORTICO_SESSION_TTL_HOURS", default_value_t = 12)]
    pub session_ttl_hours: u32,
    /// How many password hashes may run at once (Argon2id is deliberately slow).
    #[arg(long, env = "PORTICO_HASH_THREADS", default_value_t = 2)]
    pub hash_threads: usize,
    /// How long one HTTP request's operations may run, in seconds; then they are cancelled
    /// (their database work with them) and answered QUERY_TOO_COMPLEX.
    #[arg(long, env = "PORTICO_REQUEST_TIMEOUT_SECS", default_value_t = crate::DEFAULT_REQUEST_TIMEOUT_SECS)]
    pub request_timeout_secs: u64,
    /// How long to keep trying to reach the database at start, in seconds (with backoff,
    /// logging each failure); then exit naming the cause.
    #[arg(long, env = "PORTICO_DB_START_WAIT_SECS", default_value_t = 30)]
    pub db_start_wait_secs: u64,
    /// Take the client's address from the first entry of X-Forwarded-For (only behind a
    /// proxy that sets it); failed logins are limited per address.
    #[arg(long, env = "PORTICO_TRUST_FORWARDED_FOR")]
    pub trust_forwarded_for: bool,
    /// Log format.
    #[arg(long, env = "PORTICO_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Args, Debug, Clone)]
pub struct CreateAdminArgs {
    #[command(flatten)]
    pub db: DbArgs,
    #[arg(long)]
    pub email: String,
    #[arg(long)]
    pub name: String,
}
