//! Retiring the previous CA of a data directory, by the Connector's rule: not while clients
//! still depend on it, unless forced.

use sextant_connector::Retirement;

use crate::datadir;
use crate::error::ServerError;

/// Retires the previous CA of a data directory after a rotation, unless clients still depend
/// on it (hold certificates of it and none of the current CA, counted in the database at
/// `database_url`, by default the data directory's SQLite database) and `force` is false. Takes effect at the next start of
/// each server using the directory's CA files.
pub async fn retire_previous_ca(
    data_dir: &std::path::Path,
    database_url: Option<&str>,
    force: bool,
) -> Result<Retirement, ServerError> {
    if datadir::previous_ca(data_dir)?.is_none() {
        return Ok(Retirement::NothingToRetire);
    }
    let current = datadir::current_ca(data_dir)?.ok_or_else(|| {
        ServerError::Inconsistent(format!("{} has no current CA", data_dir.display()))
    })?;
    let url = match database_url {
        Some(url) => url.to_owned(),
        None => format!("sqlite://{}", data_dir.join("sextant.db").display()),
    };
    let store = sextant_store::connect(&url).await?;
    let remaining =
        sextant_connector::clients_depending_on_other_cas(store.as_ref(), &current).await?;
    if remaining > 0 && !force {
        return Ok(Retirement::ClientsRemain(remaining));
    }
    datadir::retire_previous_ca(data_dir)?;
    Ok(Retirement::Retired {
        clients_cut_off: remaining,
    })
}
