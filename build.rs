// `sqlx::migrate!()` embeds migrations/ at compile time; without this an
// incremental build would miss a new migration.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
