//! The rules that decide whether a change to the roster may happen.
//!
//! Every path that changes the roster (the operator's CLI and signed mail
//! commands) asks these functions, so there is exactly one place
//! that says who may vouch for whom and who may grant what. They take the
//! members involved as plain values and answer with a [`Refusal`] that
//! names the rule.

use thiserror::Error;

use super::{Member, Role, Roles, Status};

/// Why the gate refused a change. The text names the rule that refused.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum Refusal {
    #[error("sponsor {0} is not on the roster")]
    SponsorUnknown(String),
    #[error("sponsor {email} is {status}; only an active member can sponsor")]
    SponsorNotActive { email: String, status: Status },
    #[error("sponsor {email} holds {roles:?} but sponsoring needs the committer or advisor role")]
    SponsorLacksRole { email: String, roles: String },
    #[error(
        "sponsor {email} needs a new sponsor themselves (theirs was removed); only a member vouched for may sponsor"
    )]
    SponsorNeedsSponsor { email: String },
    #[error("a member cannot sponsor themselves")]
    SponsorIsSelf,
    #[error("{role} is a privileged role: name an active admin with --by")]
    PrivilegedNeedsAdmin { role: Role },
    #[error("{email} cannot act as admin: {reason}")]
    ActorNotAdmin { email: String, reason: String },
    #[error("{email} already holds the {role} role")]
    AlreadyHolds { email: String, role: Role },
    #[error("{email} does not hold the {role} role")]
    DoesNotHold { email: String, role: Role },
    #[error("a member must keep at least one role")]
    NoRolesLeft,
    #[error("{email} is {status}; {action} needs a member who is {needed}")]
    WrongStatus {
        email: String,
        status: Status,
        action: &'static str,
        needed: &'static str,
    },
    #[error("{email} is the last active admin; grant admin to someone else first")]
    LastAdmin { email: String },
    #[error("{action} needs an active maintainer or admin")]
    NotMaintainer { action: &'static str },
}

/// Checks that `actor` may steer the list by signed mail: suspend and
/// re-activate members, hold disclosures. Only an active maintainer or
/// admin may.
pub fn check_maintainer(actor: &Member, action: &'static str) -> Result<(), Refusal> {
    let allowed = actor.status == Status::Active
        && (actor.roles.contains(Role::Maintainer) || actor.roles.contains(Role::Admin));
    if allowed {
        Ok(())
    } else {
        Err(Refusal::NotMaintainer { action })
    }
}

/// Checks that `sponsor` may vouch for a new member or a member who needs
/// a new sponsor: the sponsor exists, is active, holds `committer` or
/// `advisor`, and is vouched for themselves (a member whose own sponsor
/// was removed cannot pass trust on until somebody vouches for them).
pub fn check_sponsor(sponsor_email: &str, sponsor: Option<&Member>) -> Result<(), Refusal> {
    let Some(sponsor) = sponsor else {
        return Err(Refusal::SponsorUnknown(sponsor_email.to_owned()));
    };
    if sponsor.status != Status::Active {
        return Err(Refusal::SponsorNotActive {
            email: sponsor.email.to_string(),
            status: sponsor.status,
        });
    }
    if !sponsor.roles.may_sponsor() {
        return Err(Refusal::SponsorLacksRole {
            email: sponsor.email.to_string(),
            roles: sponsor.roles.to_string(),
        });
    }
    if sponsor.needs_sponsor {
        return Err(Refusal::SponsorNeedsSponsor {
            email: sponsor.email.to_string(),
        });
    }
    Ok(())
}

/// Checks that the roles a new member starts with may be given by `actor`:
/// privileged roles need an active admin, exactly as for `grant`.
pub fn check_initial_roles(roles: Roles, actor: Option<&Member>) -> Result<(), Refusal> {
    if roles.is_empty() {
        return Err(Refusal::NoRolesLeft);
    }
    match roles.iter().find(|role| role.is_privileged()) {
        Some(role) => check_admin(role, actor),
        None => Ok(()),
    }
}

/// Checks a grant of `role` to `member` by `actor` and returns the new set
/// of roles.
pub fn check_grant(member: &Member, role: Role, actor: Option<&Member>) -> Result<Roles, Refusal> {
    if role.is_privileged() {
        check_admin(role, actor)?;
    }
    if member.status == Status::Removed {
        return Err(wrong_status(member, "granting a role", "not removed"));
    }
    if member.roles.contains(role) {
        return Err(Refusal::AlreadyHolds {
            email: member.email.to_string(),
            role,
        });
    }
    Ok(member.roles.with(role))
}

/// Checks a revocation of `role` from `member` by `actor` and returns the
/// new set of roles. `active_admins` is how many active admins there are
/// now; the last one cannot lose the role.
pub fn check_revoke(
    member: &Member,
    role: Role,
    actor: Option<&Member>,
    active_admins: u64,
) -> Result<Roles, Refusal> {
    if role.is_privileged() {
        check_admin(role, actor)?;
    }
    if !member.roles.contains(role) {
        return Err(Refusal::DoesNotHold {
            email: member.email.to_string(),
            role,
        });
    }
    let remaining = member.roles.without(role);
    if remaining.is_empty() {
        return Err(Refusal::NoRolesLeft);
    }
    if role == Role::Admin {
        check_not_last_admin(member, active_admins)?;
    }
    Ok(remaining)
}

/// The changes of status an operator can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// `pending` → `active`, after the confirmation token came back.
    Confirm,
    /// `active` or `pending` → `suspended`.
    Suspend,
    /// `suspended` → `active`.
    Resume,
    /// anything but `removed` → `removed`.
    Remove,
}

impl Transition {
    /// The verb, for messages and the audit log.
    pub fn action(self) -> &'static str {
        match self {
            Transition::Confirm => "confirm",
            Transition::Suspend => "suspend",
            Transition::Resume => "resume",
            Transition::Remove => "remove",
        }
    }
}

/// Checks `transition` for `member` and returns the status it leads to.
pub fn check_transition(
    member: &Member,
    transition: Transition,
    active_admins: u64,
) -> Result<Status, Refusal> {
    let (allowed, needed, to) = match transition {
        Transition::Confirm => (member.status == Status::Pending, "pending", Status::Active),
        Transition::Suspend => (
            matches!(member.status, Status::Active | Status::Pending),
            "active or pending",
            Status::Suspended,
        ),
        Transition::Resume => (
            member.status == Status::Suspended,
            "suspended",
            Status::Active,
        ),
        Transition::Remove => (
            member.status != Status::Removed,
            "not yet removed",
            Status::Removed,
        ),
    };
    if !allowed {
        return Err(wrong_status(member, transition.action(), needed));
    }
    if matches!(transition, Transition::Suspend | Transition::Remove)
        && member.roles.contains(Role::Admin)
    {
        check_not_last_admin(member, active_admins)?;
    }
    Ok(to)
}

fn check_admin(role: Role, actor: Option<&Member>) -> Result<(), Refusal> {
    let Some(actor) = actor else {
        return Err(Refusal::PrivilegedNeedsAdmin { role });
    };
    if actor.status != Status::Active {
        return Err(Refusal::ActorNotAdmin {
            email: actor.email.to_string(),
            reason: format!("they are {}", actor.status),
        });
    }
    if !actor.roles.contains(Role::Admin) {
        return Err(Refusal::ActorNotAdmin {
            email: actor.email.to_string(),
            reason: "they do not hold the admin role".to_owned(),
        });
    }
    Ok(())
}

fn check_not_last_admin(member: &Member, active_admins: u64) -> Result<(), Refusal> {
    if member.acts_as(Role::Admin) && active_admins <= 1 {
        return Err(Refusal::LastAdmin {
            email: member.email.to_string(),
        });
    }
    Ok(())
}

fn wrong_status(member: &Member, action: &'static str, needed: &'static str) -> Refusal {
    Refusal::WrongStatus {
        email: member.email.to_string(),
        status: member.status,
        action,
        needed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::roster::{Email, Kind, MemberId};
    use chrono::{TimeZone, Utc};
    use rstest::rstest;

    fn member(email: &str, status: Status, roles: &str) -> Member {
        let at = Utc
            .with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
            .single()
            .expect("valid date");
        Member {
            id: MemberId(1),
            email: Email::parse(email).expect("valid address"),
            name: "Test".to_owned(),
            org: "Org".to_owned(),
            kind: Kind::Individual,
            roles: Roles::parse_list(roles).expect("valid roles"),
            status,
            fingerprint: "00".repeat(20),
            sponsor: None,
            statement: None,
            needs_sponsor: false,
            created_at: at,
            updated_at: at,
            confirmed_at: None,
        }
    }

    #[rstest]
    #[case::committer(Status::Active, "committer", true)]
    #[case::advisor(Status::Active, "advisor", true)]
    #[case::admin_and_committer(Status::Active, "admin,committer", true)]
    #[case::subscriber_only(Status::Active, "subscriber", false)]
    #[case::maintainer_only(Status::Active, "maintainer", false)]
    #[case::admin_only(Status::Active, "admin", false)]
    #[case::pending_committer(Status::Pending, "committer", false)]
    #[case::suspended_committer(Status::Suspended, "committer", false)]
    #[case::removed_advisor(Status::Removed, "advisor", false)]
    fn the_sponsor_gate(#[case] status: Status, #[case] roles: &str, #[case] allowed: bool) {
        let sponsor = member("s@example.org", status, roles);
        assert_eq!(
            check_sponsor("s@example.org", Some(&sponsor)).is_ok(),
            allowed
        );
    }

    /// A committer flagged as needing a new sponsor (theirs was removed)
    /// could still vouch for others, passing on trust nobody holds now.
    #[test]
    fn a_sponsor_who_needs_a_sponsor_cannot_sponsor() {
        for roles in ["committer", "advisor", "admin,committer"] {
            let mut sponsor = member("s@example.org", Status::Active, roles);
            sponsor.needs_sponsor = true;
            assert_eq!(
                check_sponsor("s@example.org", Some(&sponsor)),
                Err(Refusal::SponsorNeedsSponsor {
                    email: "s@example.org".to_owned()
                })
            );
            sponsor.needs_sponsor = false;
            assert_eq!(check_sponsor("s@example.org", Some(&sponsor)), Ok(()));
        }
    }

    #[test]
    fn an_unknown_sponsor_is_refused_by_name() {
        assert_eq!(
            check_sponsor("ghost@example.org", None),
            Err(Refusal::SponsorUnknown("ghost@example.org".to_owned()))
        );
    }

    #[rstest]
    #[case::subscriber_needs_nobody(Role::Subscriber, None, true)]
    #[case::committer_needs_admin(Role::Committer, None, false)]
    #[case::by_active_admin(Role::Maintainer, Some((Status::Active, "admin")), true)]
    #[case::by_suspended_admin(Role::Maintainer, Some((Status::Suspended, "admin")), false)]
    #[case::by_non_admin(Role::Advisor, Some((Status::Active, "maintainer,committer")), false)]
    fn grants(#[case] role: Role, #[case] actor: Option<(Status, &str)>, #[case] allowed: bool) {
        let target = member("t@example.org", Status::Active, "subscriber");
        let actor = actor.map(|(status, roles)| member("a@example.org", status, roles));
        let target = if role == Role::Subscriber {
            member("t@example.org", Status::Active, "committer")
        } else {
            target
        };
        assert_eq!(check_grant(&target, role, actor.as_ref()).is_ok(), allowed);
    }

    #[test]
    fn the_last_admin_cannot_be_suspended_removed_or_demoted() {
        let admin = member("a@example.org", Status::Active, "admin,committer");
        for transition in [Transition::Suspend, Transition::Remove] {
            assert!(matches!(
                check_transition(&admin, transition, 1),
                Err(Refusal::LastAdmin { .. })
            ));
            assert!(check_transition(&admin, transition, 2).is_ok());
        }
        assert!(matches!(
            check_revoke(&admin, Role::Admin, Some(&admin), 1),
            Err(Refusal::LastAdmin { .. })
        ));
    }

    #[rstest]
    #[case(Status::Pending, Transition::Confirm, Some(Status::Active))]
    #[case(Status::Active, Transition::Confirm, None)]
    #[case(Status::Active, Transition::Suspend, Some(Status::Suspended))]
    #[case(Status::Removed, Transition::Suspend, None)]
    #[case(Status::Suspended, Transition::Resume, Some(Status::Active))]
    #[case(Status::Active, Transition::Resume, None)]
    #[case(Status::Suspended, Transition::Remove, Some(Status::Removed))]
    #[case(Status::Removed, Transition::Remove, None)]
    fn transitions(
        #[case] from: Status,
        #[case] transition: Transition,
        #[case] to: Option<Status>,
    ) {
        let m = member("m@example.org", from, "subscriber");
        assert_eq!(check_transition(&m, transition, 1).ok(), to);
    }

    #[test]
    fn a_member_keeps_at_least_one_role() {
        let m = member("m@example.org", Status::Active, "subscriber");
        assert_eq!(
            check_revoke(&m, Role::Subscriber, None, 1),
            Err(Refusal::NoRolesLeft)
        );
    }
}
