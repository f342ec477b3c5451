//! `embargo`: the private pre-disclosure list of an open-source project's
//! security team.
//!
//! The crate is one library and one binary. The library is laid out so that
//! dependencies flow one way: `cli` → `commands` → `app` → the domain
//! modules (`roster`, `audit`) and the adapters (`store`, `pgp`). Read
//! `ARCHITECTURE.md` at the top of the repository for the codemap and the
//! invariants the code relies on.
#![forbid(unsafe_code)]

pub mod advisory;
pub mod app;
pub mod audit;
pub mod cases;
pub mod cli;
pub mod clock;
#[cfg(test)]
mod codemap;
pub mod commands;
pub mod compose;
pub mod config;
pub mod cron;
pub mod export;
pub mod inbound;
pub mod mail;
pub mod names;
pub mod pgp;
pub mod roster;
pub mod store;
pub mod text;

#[cfg(test)]
mod literal_names;
