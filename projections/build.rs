// `sqlx::migrate!` embeds ../migrations when this crate compiles, but cargo only rebuilds a
// crate when its own sources change: without this, a new migration file is left out of an
// incremental build (as sqlx's documentation warns). Rebuild when the folder changes.
fn main() {
    println!("cargo:rerun-if-changed=../migrations");
}
