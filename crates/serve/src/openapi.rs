//! The OpenAPI document of the service (served at `/openapi.json`, browsable at `/docs`).

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::routes::{apps, embeddings, index, ops, search};

/// The API.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "clamp3 serve",
        description = "CLaMP 3 over HTTP: embeddings of text, sheet music (ABC, MusicXML), MIDI and audio in one space; search, classification and scoring. Errors are `{\"error\": {\"message\", \"type\"}}`."
    ),
    paths(
        embeddings::embeddings,
        search::search,
        apps::classify,
        apps::score,
        index::info,
        index::add,
        index::delete,
        index::file,
        index::view,
        ops::health,
        ops::info,
        ops::metrics,
    ),
    modifiers(&BearerKey),
    tags(
        (name = "embeddings", description = "OpenAI-compatible embeddings"),
        (name = "index", description = "The music collection: search and updates"),
        (name = "applications", description = "Zero-shot classification and the CLaMP 3 score"),
        (name = "operations", description = "Health, server information, metrics"),
    )
)]
pub struct ApiDoc;

struct BearerKey;

impl Modify for BearerKey {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The document.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut d = ApiDoc::openapi();
    d.info.version = env!("CARGO_PKG_VERSION").to_string();
    d
}
