//! The integration tests: one binary, driving the real `embargo` program
//! against a real SQLite file, with certificates made by GnuPG.

mod advisory;
mod audit;
mod bad_input;
mod certs;
mod common;
mod daemon;
mod delivery;
mod delivery_inproc;
mod disclosure;
mod inbound;
mod inbound_answers;
mod inbound_commands;
mod inbound_limits;
mod inbound_mail;
mod inbound_replay;
mod inbound_retry;
mod init;
mod input_errors;
mod never_early;
mod never_stuck;
mod operator;
mod postgres_faults;
mod roster;
mod roster_refusals;
mod scheduler;
mod sealed;
mod sealing;
mod smtp;
mod smtp_delivery;
