//! The name a previous release's list gets when its database migrates.

use crate::common::old_release::{MADE_UNTIL, restore, skip_on_postgres, sqlite};
use crate::common::{Env, NOW};

/// The fixture's list address, as the config and the database hold it.
const FIXTURE_ADDRESS: &str = "security-announce@project.example";

/// Points the config of `env` at `address` instead of the fixture's.
fn readdress(env: &Env, address: &str) {
    let config = std::fs::read_to_string(&env.config).expect("read the config");
    assert!(config.contains(FIXTURE_ADDRESS), "{config}");
    std::fs::write(&env.config, config.replace(FIXTURE_ADDRESS, address))
        .expect("write the config");
}

/// The one list's name, as `list ls --json` prints it at `now`.
fn list_name(env: &Env, now: &str) -> String {
    let run = env.run_at(now, &["list", "ls", "--json"]);
    assert_eq!(run.code, 0, "list ls: {}", run.stderr);
    let lists: serde_json::Value = serde_json::from_str(&run.stdout).expect("list ls --json");
    lists[0]["name"].as_str().expect("a name").to_owned()
}

/// The migration named the old list after its address's local part
/// merely lowered, so `Security+Announce@…` became `security+announce`, a
/// name `list create` refuses and no `[lists.NAME]` table can hold, where
/// `init` would have said `security-announce`. The migration now names it
/// as `init` does: characters a name cannot hold become `-`, and a name
/// that would not start with a letter or digit is `list`.
#[test]
fn a_migrated_list_is_named_as_init_names_a_new_one() {
    if skip_on_postgres() {
        return;
    }
    for (local, expected) in [
        ("Security+Announce", "security-announce"),
        ("Sec~Team!Announce", "sec-team-announce"),
        ("sec.team_1", "sec.team_1"),
        ("-dash", "list"),
        ("Team.Security", "team.security"),
        ("_x", "list"),
    ] {
        let address = format!("{local}@project.example");
        let migrated = restore();
        readdress(&migrated, &address);
        let quoted = address.replace('\'', "''");
        sqlite(
            &migrated.database(),
            &format!("UPDATE list SET address = '{quoted}';"),
        );
        let fresh = Env::new();
        readdress(&fresh, &address);
        fresh.init();
        let (migrated, made) = (list_name(&migrated, MADE_UNTIL), list_name(&fresh, NOW));
        assert_eq!(migrated, made, "{address}: migrated and init disagree");
        assert_eq!(migrated, expected, "{address}");
    }
}
