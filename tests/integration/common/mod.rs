//! The shared test helpers; no test module imports from another.
//!
//! Each submodule opens with its purpose in one line. [`env`] and [`keys`]
//! are re-exported at the top because nearly every test uses them.

pub mod cluster;
pub mod commands;
pub mod daemon;
pub mod env;
pub mod gnupg;
pub mod hostile;
pub mod inproc;
pub mod keys;
pub mod limits;
pub mod lists;
pub mod mail;
pub mod member;
pub mod mime;
pub mod old_release;
pub mod outbox;
pub mod smtp;
pub mod store;
pub mod team;
pub mod two_lists;

pub use env::{Env, NOW, Run, ingest, path, spawn_ingest};
pub use keys::{keys, revoked_update, who};
