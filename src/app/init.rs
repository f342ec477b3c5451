//! `embargo init`: a new list database, its key, and its first admin.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use super::{busy_timeout, cert_policy};
use crate::audit::{Actor, Record};
use crate::clock::Clock;
use crate::config::Config;
use crate::pgp::{self, ListKey};
use crate::roster::{Email, Kind, Member, Role, Roles, Status};
use crate::store::{NewList, NewMember, Store};

/// What `init` needs to know about the first admin, and an optional list
/// key to import instead of making one.
#[derive(Debug, Clone)]
pub struct InitRequest {
    pub admin_email: String,
    pub admin_name: String,
    pub admin_org: String,
    pub admin_kind: Kind,
    pub admin_key: Vec<u8>,
    /// Roles beyond `admin` the first admin also holds.
    pub extra_roles: Vec<Role>,
    pub import_key: Option<Vec<u8>>,
    /// The list's name for `--list` (default: the address's local part).
    pub list_name: Option<String>,
}

/// What `init` made.
#[derive(Debug, Clone)]
pub struct InitOutcome {
    pub list_fingerprint: String,
    pub admin: Member,
    pub warnings: Vec<String>,
    pub database: PathBuf,
    pub key_file: PathBuf,
}

/// Creates the list. Refuses when a database or key file is already
/// there; on any failure removes what it created, so a failed `init` can
/// simply be run again.
pub async fn init(config: &Config, clock: &dyn Clock, request: InitRequest) -> Result<InitOutcome> {
    let database = config.storage.database.clone();
    let key_file = config.list_key.path.clone();
    let on_file = matches!(config.storage.location(), crate::store::Location::File(_));
    let list_name = match &request.list_name {
        Some(name) => {
            crate::config::check_list_name(name)?;
            name.clone()
        }
        None => crate::config::default_list_name(&config.list.address),
    };
    for path in [&database, &key_file] {
        if (on_file || path == &key_file) && path.exists() {
            bail!(
                "a list already exists here ({} is present); refusing to overwrite it",
                path.display()
            );
        }
    }
    make(config, clock, request, &list_name, None).await
}

/// Makes a list: its key file, its row, its first admin and the first
/// entries of its audit chain. `config` is the new list's own settings
/// (see [`Config::for_list`]). With `existing`, the list joins that
/// database (`list create`); without, the database is created (`init`).
/// On any failure removes the files and folders it made.
pub(crate) async fn make(
    config: &Config,
    clock: &dyn Clock,
    request: InitRequest,
    list_name: &str,
    existing: Option<&Store>,
) -> Result<InitOutcome> {
    let now = clock.now();
    let database = config.storage.database.clone();
    let key_file = config.list_key.path.clone();
    let location = config.storage.location();
    let on_file = matches!(location, crate::store::Location::File(_));
    let email = Email::parse(&request.admin_email).context("admin address")?;
    let name = crate::text::single_line("admin name", &request.admin_name, 200)?;
    let org = crate::text::single_line("admin organisation", &request.admin_org, 200)?;
    let cert = pgp::check_member_cert(&request.admin_key, &email, &cert_policy(config), now)
        .context("admin certificate")?;
    let passphrase = config
        .list_key
        .passphrase
        .load()
        .context("read the list key passphrase")?;
    let list_key = match &request.import_key {
        Some(bytes) => {
            ListKey::import(bytes, passphrase.as_ref(), now).context("import the list key")?
        }
        None => ListKey::generate(
            &config.list.name,
            &config.list.address,
            &config.list.request_address,
            passphrase.as_ref(),
            now,
        )
        .context("make the list key")?,
    };
    if list_key.fingerprint() == cert.fingerprint {
        bail!("the admin certificate is the list key itself; give the admin's own certificate");
    }
    if let Some(store) = existing {
        refuse_another_lists_key_or_address(store, &list_key.fingerprint(), &email).await?;
    }
    let secret = list_key
        .to_secret_armored()
        .context("serialize the list key")?;

    let mut cleanup = Cleanup::default();
    let result = async {
        create_private_dir(&config.storage.data_dir, &mut cleanup)?;
        if let Some(parent) = key_file.parent() {
            create_private_dir(parent, &mut cleanup)?;
        }
        write_private_file(&key_file, &secret, &mut cleanup)?;
        let created = match existing {
            Some(_) => None,
            None => {
                if on_file {
                    if let Some(parent) = database.parent() {
                        create_private_dir(parent, &mut cleanup)?;
                    }
                    cleanup.files.push(database.clone());
                }
                Some(
                    Store::create(&location, busy_timeout(config))
                        .await
                        .context("create the list database")?,
                )
            }
        };
        let Some(store) = existing.or(created.as_ref()) else {
            bail!("no database to make the list in");
        };
        let roles = request
            .extra_roles
            .iter()
            .fold(Roles::only(Role::Admin), |roles, role| roles.with(*role));
        let mut tx = store.write(now).await?;
        let list = tx
            .insert_list(&NewList {
                name: list_name,
                address: config.list.address.as_str(),
                address_norm: config.list.address.normalized(),
                request_norm: config.list.request_address.normalized(),
                fingerprint: &list_key.fingerprint(),
            })
            .await
            .map_err(|err| match err {
                crate::store::StoreError::Conflict(_) => anyhow::anyhow!(
                    "refused: a list named {list_name}, or with the address {} or {}, already exists",
                    config.list.address,
                    config.list.request_address
                ),
                other => other.into(),
            })?;
        tx.scope_to(list);
        let admin = tx
            .insert_member(&NewMember {
                email: email.clone(),
                name,
                org,
                kind: request.admin_kind,
                roles,
                status: Status::Active,
                fingerprint: cert.fingerprint.clone(),
                cert: cert.bytes.clone(),
                sponsor: None,
                statement: None,
                confirm_token: None,
            })
            .await?;
        tx.set_member_keys(admin.id, &crate::pgp::signing_keys(&cert.bytes)?)
            .await?;
        tx.append_audit(
            &Record::new(
                Actor::Operator,
                "list.init",
                format!("list:{}", config.list.address.normalized()),
            )
            .detail("fingerprint", list_key.fingerprint())
            .detail(
                "key",
                if request.import_key.is_some() {
                    "imported"
                } else {
                    "generated"
                },
            ),
        )
        .await?;
        tx.append_audit(
            &Record::new(
                Actor::Operator,
                "member.add",
                format!("member:{}", email.normalized()),
            )
            .detail("roles", roles.to_string())
            .detail("fingerprint", cert.fingerprint.clone())
            .detail("status", Status::Active.as_str())
            .detail("sponsor", "none (first admin, created by init)"),
        )
        .await?;
        tx.commit().await?;
        if let Some(store) = created {
            store.close().await;
        }
        Ok::<_, anyhow::Error>(admin)
    }
    .await;
    match result {
        Ok(admin) => {
            cleanup.disarm();
            tracing::info!(fingerprint = %list_key.fingerprint(), "created the list");
            Ok(InitOutcome {
                list_fingerprint: list_key.fingerprint(),
                admin,
                warnings: cert.warnings,
                database,
                key_file,
            })
        }
        Err(err) => {
            cleanup.run();
            Err(err)
        }
    }
}

/// Files and folders `init` made, removed again if it fails.
/// One more list of an instance shares nothing with the lists there: not
/// their key (a member could not tell the lists' signatures apart, and
/// each could read mail sealed to the other), and its first admin is no
/// list's address (the list's mail would go into that list's mailbox).
async fn refuse_another_lists_key_or_address(
    store: &Store,
    fingerprint: &str,
    admin: &Email,
) -> Result<()> {
    for list in store.lists().await? {
        if list.fingerprint.eq_ignore_ascii_case(fingerprint) {
            bail!(
                "refused: this key is already the key of the list {}; each list needs its own key",
                list.name
            );
        }
    }
    if let Some(list) = store.list_by_address(admin.normalized()).await? {
        bail!(
            "refused: {admin} is an address of the list {}; the admin must be a person",
            list.name
        );
    }
    Ok(())
}

#[derive(Default)]
struct Cleanup {
    files: Vec<PathBuf>,
    dirs: Vec<PathBuf>,
}

impl Cleanup {
    fn run(&mut self) {
        for file in self.files.drain(..) {
            for suffix in ["", "-wal", "-shm", "-journal"] {
                let mut path = file.clone().into_os_string();
                path.push(suffix);
                let _ = std::fs::remove_file(PathBuf::from(path));
            }
        }
        for dir in self.dirs.drain(..).rev() {
            let _ = std::fs::remove_dir(dir);
        }
    }

    fn disarm(&mut self) {
        self.files.clear();
        self.dirs.clear();
    }
}

fn create_private_dir(path: &Path, cleanup: &mut Cleanup) -> Result<()> {
    if path.as_os_str().is_empty() || path.is_dir() {
        return Ok(());
    }
    if let Some(parent) = path.parent() {
        create_private_dir(parent, cleanup)?;
    }
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(path)
        .with_context(|| format!("create folder {}", path.display()))?;
    cleanup.dirs.push(path.to_path_buf());
    Ok(())
}

fn write_private_file(path: &Path, bytes: &[u8], cleanup: &mut Cleanup) -> Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("create key file {}", path.display()))?;
    cleanup.files.push(path.to_path_buf());
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("write key file {}", path.display()))?;
    Ok(())
}
