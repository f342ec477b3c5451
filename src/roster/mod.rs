//! The roster: who is on the list, what they may do, and who vouched for
//! them.
//!
//! This is domain code: no IO, no wall clock, no SQL, no OpenPGP library.
//! The rules that decide whether a change to the roster is allowed live in
//! [`gate`], in one place, so the CLI and signed mail commands reach
//! the same verdict.

mod email;
pub mod gate;
pub mod token;

use std::fmt;

use chrono::{DateTime, Utc};
use serde::Serialize;

pub use crate::names::UnknownName;
pub use email::{Email, EmailError};

/// A role a member holds. A member holds a set of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Runs the installation: grants roles, owns the list key.
    Admin,
    /// Security response team: drafts and schedules advisories.
    Maintainer,
    /// A project committer: may sponsor new subscribers.
    Committer,
    /// A security advisor: may sponsor new subscribers.
    Advisor,
    /// Receives embargoed announcements.
    Subscriber,
}

crate::names::named_enum! {
    /// The role's name as typed and stored.
    pub fn as_str for Role, "role" {
        Admin => "admin",
        Maintainer => "maintainer",
        Committer => "committer",
        Advisor => "advisor",
        Subscriber => "subscriber",
    }
}

impl Role {
    /// Whether granting or revoking this role needs an active admin to act.
    pub fn is_privileged(self) -> bool {
        !matches!(self, Role::Subscriber)
    }

    /// Whether a holder of this role may sponsor a new member.
    pub fn may_sponsor(self) -> bool {
        matches!(self, Role::Committer | Role::Advisor)
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// A set of roles, stored as a comma-separated list of names.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Roles(u8);

impl Roles {
    /// The empty set.
    pub fn empty() -> Self {
        Self(0)
    }

    /// A set with one role.
    pub fn only(role: Role) -> Self {
        Self(role.bit())
    }

    /// Whether the set holds `role`.
    pub fn contains(self, role: Role) -> bool {
        self.0 & role.bit() != 0
    }

    /// The set with `role` added.
    pub fn with(self, role: Role) -> Self {
        Self(self.0 | role.bit())
    }

    /// The set with `role` taken away.
    pub fn without(self, role: Role) -> Self {
        Self(self.0 & !role.bit())
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The roles in display order.
    pub fn iter(self) -> impl Iterator<Item = Role> {
        Role::ALL
            .into_iter()
            .filter(move |role| self.contains(*role))
    }

    /// Whether any role in the set lets its holder sponsor.
    pub fn may_sponsor(self) -> bool {
        self.iter().any(Role::may_sponsor)
    }

    /// Parses a comma-separated list such as `admin,committer`.
    pub fn parse_list(text: &str) -> Result<Self, UnknownName> {
        text.split(',')
            .map(str::trim)
            .filter(|part| !part.is_empty())
            .try_fold(Self::empty(), |roles, part| Ok(roles.with(part.parse()?)))
    }
}

impl FromIterator<Role> for Roles {
    fn from_iter<T: IntoIterator<Item = Role>>(iter: T) -> Self {
        iter.into_iter().fold(Self::empty(), Self::with)
    }
}

impl fmt::Display for Roles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.iter().map(Role::as_str).collect();
        f.write_str(&names.join(","))
    }
}

impl Serialize for Roles {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter())
    }
}

/// What kind of organisation a member is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Vendor,
    Distribution,
    User,
    Individual,
}

crate::names::named_enum! {
    /// The kind's name as typed and stored.
    pub fn as_str for Kind, "kind" {
        Vendor => "vendor",
        Distribution => "distribution",
        User => "user",
        Individual => "individual",
    }
}

/// Where a member stands. `pending` → `active` → `suspended` / `removed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Added with a sponsor, not yet proven control of address and key.
    Pending,
    /// Receives announcements and may act in their roles.
    Active,
    /// Temporarily receives nothing and may do nothing.
    Suspended,
    /// Off the roster for good; the row stays for the record.
    Removed,
}

crate::names::named_enum! {
    /// The status's name as typed and stored.
    pub fn as_str for Status, "status" {
        Pending => "pending",
        Active => "active",
        Suspended => "suspended",
        Removed => "removed",
    }
}

/// The row id of a member in the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct MemberId(pub i64);

/// A member of the roster, without their certificate bytes (which are
/// loaded only where they are needed).
#[derive(Debug, Clone, Serialize)]
pub struct Member {
    #[serde(skip)]
    pub id: MemberId,
    pub email: Email,
    pub name: String,
    pub org: String,
    pub kind: Kind,
    pub roles: Roles,
    pub status: Status,
    /// The primary key's full fingerprint, upper-case hex: the member's
    /// identity for everything OpenPGP.
    pub fingerprint: String,
    /// The address of the member who vouched for this one, if any (the
    /// first admin, created by `init`, has none).
    pub sponsor: Option<Email>,
    pub statement: Option<String>,
    /// Set when the sponsor was removed: somebody must vouch again.
    pub needs_sponsor: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub confirmed_at: Option<DateTime<Utc>>,
}

/// What a roster listing shows of a member: enough to find them and see
/// where they stand, without the statement and timestamps that
/// `member show` prints.
#[derive(Debug, Clone, Serialize)]
pub struct MemberSummary {
    pub email: Email,
    pub name: String,
    pub org: String,
    pub kind: Kind,
    pub roles: Roles,
    pub status: Status,
    pub fingerprint: String,
    pub sponsor: Option<Email>,
    pub needs_sponsor: bool,
}

impl Member {
    /// Whether the member is active and holds `role`.
    pub fn acts_as(&self, role: Role) -> bool {
        self.status == Status::Active && self.roles.contains(role)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip_through_their_stored_form() {
        let roles = Roles::only(Role::Committer).with(Role::Admin);
        assert_eq!(roles.to_string(), "admin,committer");
        assert_eq!(Roles::parse_list("admin,committer"), Ok(roles));
        assert!(roles.may_sponsor());
        assert!(!roles.without(Role::Committer).may_sponsor());
    }

    #[test]
    fn unknown_names_list_what_is_accepted() {
        let err = "owner".parse::<Role>().expect_err("not a role");
        assert!(err.to_string().contains("admin, maintainer"));
        assert!("Vendor".parse::<Kind>().is_ok());
        assert!("bogus".parse::<Status>().is_err());
    }
}
