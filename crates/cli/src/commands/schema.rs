//! `sextant schema`: an API's GraphQL SDL.

#[derive(Clone, Copy, clap::ValueEnum)]
pub(crate) enum SchemaApi {
    Director,
    Connector,
    Provisioner,
}

/// Prints the SDL of `api`.
pub(crate) fn run(api: SchemaApi) -> anyhow::Result<()> {
    let sdl = match api {
        SchemaApi::Director => sextant_director::sdl(),
        SchemaApi::Connector => sextant_connector::sdl(),
        SchemaApi::Provisioner => sextant_provisioner::sdl(),
    };
    print!("{sdl}");
    Ok(())
}
