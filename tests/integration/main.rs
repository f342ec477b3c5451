//! The integration tests: one binary, driving the real `embargo` program
//! against a real SQLite file, with certificates made by GnuPG.

mod advisory;
mod audit;
mod bad_input;
mod certs;
mod common;
mod daemon;
mod delivery;
mod disclosure;
mod inbound;
mod inbound_limits;
mod inbound_mail;
mod inbound_replay;
mod init;
mod roster;
mod sealed;
mod smtp;
mod smtp_delivery;
