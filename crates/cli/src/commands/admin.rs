//! `sextant admin`: commands that work on the data directory.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use clap::Subcommand;
use sextant_domain::{Scope, TenantId};

#[derive(Subcommand)]
pub(crate) enum AdminCommand {
    /// Print a signed token for a tenant with the given scopes.
    Token {
        #[arg(long, env = "SEXTANT_DATA_DIR", default_value = "./sextant-data")]
        data_dir: PathBuf,
        /// The tenant (a UUID). Repeat to allow several; the first is the default and others
        /// are selected with the `Tenant` header.
        #[arg(long, required = true)]
        tenant: Vec<uuid::Uuid>,
        /// Space-separated scopes, e.g. "application:read application:write".
        #[arg(long)]
        scopes: String,
        /// The token's subject.
        #[arg(long, default_value = "admin")]
        subject: String,
        /// Lifetime, e.g. "1h", "30d".
        #[arg(long, default_value = "24h", value_parser = humantime::parse_duration)]
        ttl: Duration,
    },
    /// Print a one-time login URL for the web console: usable once, within 10 minutes; it
    /// opens a session with these tenants and scopes.
    ConsoleLink {
        #[arg(long, env = "SEXTANT_DATA_DIR", default_value = "./sextant-data")]
        data_dir: PathBuf,
        /// The database the servers use; default: SQLite in the data directory.
        #[arg(long, env = "SEXTANT_DATABASE_URL")]
        database_url: Option<String>,
        /// A tenant (a UUID) the session may act in; repeat for several (the first is where
        /// it starts). Default: the default tenant.
        #[arg(long)]
        tenant: Vec<uuid::Uuid>,
        /// Space-separated scopes. Default: every user scope except the operator's
        /// application_template:global.
        #[arg(long)]
        scopes: Option<String>,
        /// The session's subject.
        #[arg(long, default_value = "admin")]
        subject: String,
        /// The URL browsers reach the main listener at.
        #[arg(
            long,
            env = "SEXTANT_PUBLIC_URL",
            default_value = "https://localhost:3000"
        )]
        public_url: url::Url,
    },
    /// Start a CA rotation: a new CA signs client certificates from the next server start on;
    /// the current one stays trusted (and keeps issuing the listeners' certificate) until
    /// `retire-previous-ca`. See the README's "Rotating the CA".
    RotateCa {
        #[arg(long, env = "SEXTANT_DATA_DIR", default_value = "./sextant-data")]
        data_dir: PathBuf,
    },
    /// End a CA rotation: stop trusting the previous CA. Refused while clients still hold
    /// unrevoked, unexpired certificates of it, unless --force.
    RetirePreviousCa {
        #[arg(long, env = "SEXTANT_DATA_DIR", default_value = "./sextant-data")]
        data_dir: PathBuf,
        /// The database the servers use; default: SQLite in the data directory.
        #[arg(long, env = "SEXTANT_DATABASE_URL")]
        database_url: Option<String>,
        /// Retire even though clients still depend on the previous CA (they are cut off).
        #[arg(long)]
        force: bool,
    },
}

/// Runs one administrative command.
pub(crate) fn run(command: AdminCommand) -> anyhow::Result<()> {
    match command {
        AdminCommand::Token {
            data_dir,
            tenant,
            scopes,
            subject,
            ttl,
        } => token(&data_dir, tenant, &scopes, &subject, ttl),
        AdminCommand::ConsoleLink {
            data_dir,
            database_url,
            tenant,
            scopes,
            subject,
            public_url,
        } => console_link(
            &data_dir,
            database_url.as_deref(),
            tenant,
            scopes.as_deref(),
            subject,
            public_url,
        ),
        AdminCommand::RotateCa { data_dir } => rotate_ca(&data_dir),
        AdminCommand::RetirePreviousCa {
            data_dir,
            database_url,
            force,
        } => retire_previous_ca(&data_dir, database_url.as_deref(), force),
    }
}

/// Prints a signed user token for `tenants` with `scopes`.
fn token(
    data_dir: &Path,
    tenant: Vec<uuid::Uuid>,
    scopes: &str,
    subject: &str,
    ttl: Duration,
) -> anyhow::Result<()> {
    let scopes: Vec<String> = scopes.split_whitespace().map(str::to_owned).collect();
    if let Some(unknown) = scopes.iter().find(|s| Scope::parse(s).is_none()) {
        eprintln!("warning: {unknown:?} is not a scope Sextant checks; it grants nothing");
    }
    let issuer = sextant_server::load_issuer(data_dir).with_context(|| {
        format!(
            "no signing key in {} (start `sextant server --data-dir {}` once first)",
            data_dir.display(),
            data_dir.display()
        )
    })?;
    let tenants: Vec<TenantId> = tenant.into_iter().map(TenantId).collect();
    println!("{}", issuer.issue(subject, &tenants, &scopes, ttl)?);
    Ok(())
}

/// The scopes of a console session by default: every user scope but the operator's
/// global-template scope.
pub(crate) fn console_scopes() -> Vec<String> {
    Scope::ALL
        .into_iter()
        .filter(|s| *s != Scope::ApplicationTemplateGlobal)
        .map(|s| s.as_str().to_owned())
        .collect()
}

/// Prints a one-time console login URL.
fn console_link(
    data_dir: &Path,
    database_url: Option<&str>,
    tenant: Vec<uuid::Uuid>,
    scopes: Option<&str>,
    subject: String,
    public_url: url::Url,
) -> anyhow::Result<()> {
    let scopes: Vec<String> = match scopes {
        Some(scopes) => scopes.split_whitespace().map(str::to_owned).collect(),
        None => console_scopes(),
    };
    if let Some(unknown) = scopes.iter().find(|s| Scope::parse(s).is_none()) {
        eprintln!("warning: {unknown:?} is not a scope Sextant checks; it grants nothing");
    }
    let tenants: Vec<TenantId> = if tenant.is_empty() {
        vec![TenantId::DEFAULT]
    } else {
        tenant.into_iter().map(TenantId).collect()
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let url = runtime
        .block_on(sextant_server::console_link(
            data_dir,
            database_url,
            sextant_server::ConsoleLink {
                tenants,
                scopes,
                subject,
                public_url,
            },
        ))
        .with_context(|| format!("cannot store a login link for {}", data_dir.display()))?;
    println!("{url}");
    eprintln!("The link opens a console session once, within 10 minutes.");
    Ok(())
}

/// Starts a CA rotation in `data_dir` and says what to do next.
fn rotate_ca(data_dir: &Path) -> anyhow::Result<()> {
    let rotation = sextant_server::rotate_ca(data_dir)
        .with_context(|| format!("cannot rotate the CA in {}", data_dir.display()))?;
    print!("{}", rotation.new_ca_pem);
    eprintln!(
        "The new CA is in {dir}/ca.crt (printed above); the previous one is in \
         {dir}/ca-previous.crt.\n\
         Next: copy ca.crt, ca.key, ca-previous.crt and ca-previous.key to every \
         replica's data directory and restart the servers one by one. Clients keep \
         working and get certificates of the new CA when they renew. Once they have, \
         run `sextant admin retire-previous-ca`.",
        dir = data_dir.display()
    );
    Ok(())
}

/// Ends a CA rotation, unless clients still depend on the previous CA and not `force`.
fn retire_previous_ca(
    data_dir: &Path,
    database_url: Option<&str>,
    force: bool,
) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let outcome = runtime.block_on(sextant_server::retire_previous_ca(
        data_dir,
        database_url,
        force,
    ))?;
    match outcome {
        sextant_server::Retirement::NothingToRetire => {
            eprintln!("There is no previous CA: nothing to retire.");
            Ok(())
        }
        sextant_server::Retirement::ClientsRemain(n) => anyhow::bail!(
            "{n} client(s) hold unrevoked, unexpired certificates of the previous CA and \
             none of the current one; they must renew first (or be revoked). --force \
             retires it anyway."
        ),
        sextant_server::Retirement::Retired { clients_cut_off } => {
            eprintln!(
                "Retired the previous CA ({clients_cut_off} client(s) cut off). \
                 Remove ca-previous.crt and ca-previous.key from every replica and \
                 restart the servers: the listeners' certificate is then issued by \
                 the new CA."
            );
            Ok(())
        }
    }
}
