//! `sextant`: the management plane in one binary.
//!
//! - `sextant demo`: the whole system on this machine, walking the seed's flows.
//! - `sextant server`: the whole management plane in one process.
//! - `sextant agent`: a runtime agent.
//! - `sextant app pair|register|config|listen|send-event`: the application client.
//! - `sextant admin token`: a signed user token for a tenant and scopes; `sextant admin
//!   console-link`: a one-time login URL for the web console.
//! - `sextant schema director|connector|provisioner`: an API's GraphQL SDL.
//!
//! Each command group lives in a module of `commands/` with its arguments; this file only
//! parses the command line and dispatches.
#![forbid(unsafe_code)]

mod commands;
mod process;

use clap::{Parser, Subcommand};

use commands::{admin, agent, app, demo, schema, server};

#[derive(Parser)]
#[command(
    name = "sextant",
    version,
    about = "Sextant: a management plane connecting applications with runtimes"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the management plane (Director, Connector, Provisioner, webhook delivery).
    // Boxed: the server's options make it far larger than the other commands.
    Server(Box<server::ServerArgs>),
    /// Administrative commands that work on the data directory.
    #[command(subcommand)]
    Admin(admin::AdminCommand),
    /// Run a runtime agent: pair with a one-time token, keep the certificate renewed, follow
    /// the runtime's configuration and report status and labels to the Director.
    Agent(agent::AgentArgs),
    /// The application client: pair an application, register its APIs, pull its
    /// configuration, serve its webhook, send events to runtimes.
    App(app::AppArgs),
    /// Bring the whole system up on this machine (management plane, a local runtime, a sample
    /// application) and walk the seed's flows; stays up until interrupted, or with --ci checks
    /// every step and exits.
    Demo(demo::DemoArgs),
    /// Print an API's GraphQL schema (SDL).
    Schema {
        #[arg(value_enum)]
        api: schema::SchemaApi,
    },
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Server(args) => server::run(*args),
        Command::Admin(command) => admin::run(command),
        Command::Agent(args) => agent::run(args),
        Command::App(args) => app::run(args),
        Command::Demo(args) => demo::run(args),
        Command::Schema { api } => schema::run(api),
    }
}
