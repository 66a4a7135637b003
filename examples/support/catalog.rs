//! The built-in catalog as the routing examples load it (included with
//! `#[path = "support/catalog.rs"] mod catalog;`).

use taskroute::Catalog;

/// The built-in catalog, after printing how many models it lists and when they were checked.
pub(crate) fn builtin_catalog() -> Catalog {
    let catalog = Catalog::builtin();
    println!(
        "built-in catalog: {} models, checked {}\n",
        catalog.models.len(),
        catalog.as_of.as_deref().unwrap_or("?")
    );
    catalog
}
