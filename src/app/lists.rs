//! Many lists in one instance: choosing the list a command works on
//! (`--list`, or the recipient of inbound mail), making one more (`list
//! create`), and showing them (`list show`, `list ls`).
//!
//! An [`App`] is always one list: its store handle is scoped to the list
//! (every query names it) and its config is the list's own (the instance
//! defaults with its `[lists.NAME]` table on top), so no use case can
//! reach another list's rows, key or templates.

use anyhow::{Context, Result, bail};
use serde::Serialize;

use super::init::{InitOutcome, InitRequest};
use super::{App, busy_timeout};
use crate::clock::Clock;
use crate::config::{Config, ListIdentity};
use crate::roster::Email;
use crate::store::{ListId, ListRow, Store};

/// An open instance: the config and the database holding its lists.
pub struct Instance {
    pub config: Config,
    pub store: Store,
}

/// A list as `list ls` and `list show` print it.
#[derive(Debug, Clone, Serialize)]
pub struct ListSummary {
    pub name: String,
    pub address: String,
    pub request_address: String,
    pub display_name: String,
    pub fingerprint: String,
    pub created_at: String,
    pub active_members: u64,
    pub open_advisories: u64,
}

/// What `list create` needs: the list's name and addresses, and its first
/// admin (as for `init`).
#[derive(Debug, Clone)]
pub struct CreateList {
    pub name: String,
    pub address: String,
    pub request_address: Option<String>,
    pub admin: InitRequest,
}

impl Instance {
    /// Opens the database the config names.
    pub async fn open(config: Config) -> Result<Self> {
        let location = config.storage.location();
        let store = Store::open(&location, busy_timeout(&config))
            .await
            .with_context(|| format!("open the list database {}", location.describe()))?;
        Ok(Self { config, store })
    }

    /// Every list, by name.
    pub async fn lists(&self) -> Result<Vec<ListRow>> {
        Ok(self.store.lists().await?)
    }

    /// The list named `name`; without a name, the only list. A name that
    /// is not a list, or no name while there are several, is refused
    /// naming the lists there are.
    pub async fn select(&self, name: Option<&str>) -> Result<ListRow> {
        let lists = self.lists().await?;
        let names = || {
            lists
                .iter()
                .map(|list| list.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        match name {
            Some(name) => match lists.iter().find(|list| list.name == name) {
                Some(list) => Ok(list.clone()),
                None if lists.is_empty() => {
                    bail!(
                        "there is no list named {name}: this instance has no list yet (run `embargo init`)"
                    )
                }
                None => bail!("there is no list named {name}; the lists are: {}", names()),
            },
            None => match lists.as_slice() {
                [only] => Ok(only.clone()),
                [] => bail!("this instance has no list yet (run `embargo init`)"),
                _ => bail!(
                    "this instance has {} lists ({}); name one with --list NAME",
                    lists.len(),
                    names()
                ),
            },
        }
    }

    /// The list whose address, request address or team address is
    /// `address`.
    pub async fn by_recipient(&self, address: &Email) -> Result<Option<ListRow>> {
        if let Some(found) = self.store.list_by_address(address.normalized()).await? {
            return Ok(Some(found));
        }
        // A bounce arrives for one of a list's VERP addresses
        // (`LOCAL-bounces+ID-TOKEN@DOMAIN`): it goes to the list whose
        // address that is, which checks the token with its own secret.
        if let Some(list_address) = crate::inbound::verp::list_address(address.as_str())
            && let Some(found) = self.store.list_by_address(&list_address).await?
            && found.address.eq_ignore_ascii_case(&list_address)
        {
            return Ok(Some(found));
        }
        // A list's team address (or one of its cases' reply addresses,
        // `LOCAL+case-…@DOMAIN`) goes to the list whose team it is.
        let is_team_of = |team: &Email| {
            crate::inbound::case_address::read(team, address.as_str(), None).is_some()
        };
        for (name, table) in &self.config.lists {
            if table.team_address.as_ref().is_some_and(is_team_of) {
                return Ok(self
                    .lists()
                    .await?
                    .into_iter()
                    .find(|list| &list.name == name));
            }
        }
        // List 1 of a database made before lists existed has its request
        // address only in the config until it is first opened; `[team]
        // address` is the team of the list `[list]` describes.
        let team = self.config.team.address.as_ref().is_some_and(is_team_of);
        if team || address.normalized() == self.config.list.request_address.normalized() {
            let own = self.config.list.address.normalized();
            return Ok(self
                .lists()
                .await?
                .into_iter()
                .find(|list| list.address.eq_ignore_ascii_case(own)));
        }
        Ok(None)
    }

    /// The settings the list `row` works with.
    pub fn list_config(&self, row: &ListRow) -> Result<Config> {
        let address = Email::parse(&row.address)
            .with_context(|| format!("the stored address of list {}", row.name))?;
        let request = match &row.request_norm {
            Some(text) if !self.config.is_own_list(&address) => Email::parse(text)
                .with_context(|| format!("the stored request address of list {}", row.name))?,
            _ => self.config.list.request_address.clone(),
        };
        Ok(self.config.for_list(&ListIdentity {
            name: &row.name,
            address: &address,
            request_address: &request,
        }))
    }

    /// An [`App`] for the list `row`, on this instance's connections.
    pub async fn app(&self, row: &ListRow, clock: Box<dyn Clock>) -> Result<App> {
        let config = self.list_config(row)?;
        let store = self.store.scoped(row.id);
        if row.request_norm.is_none() {
            // Record the config's request address, so inbound mail to it
            // finds this list by the database alone from now on. Best
            // effort: a read-only command on a busy database goes on.
            let recorded = async {
                let mut tx = self.store.write(clock.now()).await?;
                tx.record_request_address(row.id, config.list.request_address.normalized())
                    .await?;
                tx.commit().await
            }
            .await;
            if let Err(err) = recorded {
                tracing::debug!(error = %err, "could not record the list's request address yet");
            }
        }
        Ok(App::with_store(config, store, clock))
    }

    /// Makes one more list in this instance: its key (in
    /// `<data_dir>/lists/NAME/` unless its `[lists.NAME]` table names
    /// one), its row, its first admin and its own audit chain. Refuses a
    /// name in use and an address or request address any list already
    /// has (as either); on failure nothing stays behind.
    pub async fn create_list(&self, clock: &dyn Clock, request: CreateList) -> Result<InitOutcome> {
        crate::config::check_list_name(&request.name)?;
        let address = Email::parse(&request.address).context("--address")?;
        let request_address = match &request.request_address {
            Some(text) => Email::parse(text).context("--request-address")?,
            None => Email::parse(&format!(
                "{}-request@{}",
                address.local_part(),
                address.domain()
            ))
            .context("the request address derived from --address")?,
        };
        if address.normalized() == request_address.normalized() {
            bail!("refused: the list address and the request address must differ");
        }
        let lists = self.lists().await?;
        if lists.iter().any(|list| list.name == request.name) {
            bail!("refused: there is already a list named {}", request.name);
        }
        for list in &lists {
            let config = self.list_config(list)?;
            for taken in [&config.list.address, &config.list.request_address] {
                for wanted in [&address, &request_address] {
                    if taken.normalized() == wanted.normalized() {
                        bail!(
                            "refused: {wanted} is already an address of the list {}",
                            list.name
                        );
                    }
                }
            }
        }
        let config = self.config.for_list(&ListIdentity {
            name: &request.name,
            address: &address,
            request_address: &request_address,
        });
        if config.list_key.path.exists() {
            bail!(
                "refused: a list key is already at {}; remove it or name another list",
                config.list_key.path.display()
            );
        }
        let name = request.name.clone();
        super::init::make(&config, clock, request.admin, &name, Some(&self.store)).await
    }

    /// Every list with its counts, by name.
    pub async fn summaries(&self) -> Result<Vec<ListSummary>> {
        let mut out = Vec::new();
        for row in self.lists().await? {
            out.push(self.summary(&row).await?);
        }
        Ok(out)
    }

    /// One list with its counts.
    pub async fn summary(&self, row: &ListRow) -> Result<ListSummary> {
        let config = self.list_config(row)?;
        let store = self.store.scoped(row.id);
        Ok(ListSummary {
            name: row.name.clone(),
            address: config.list.address.to_string(),
            request_address: config.list.request_address.to_string(),
            display_name: config.list.name.clone(),
            fingerprint: row.fingerprint.clone(),
            created_at: crate::clock::format_instant(row.created_at),
            active_members: store.count_active_members().await?,
            open_advisories: u64::try_from(store.open_advisories().await?.len())
                .unwrap_or(u64::MAX),
        })
    }

    /// Closes the connections.
    pub async fn close(self) {
        self.store.close().await;
    }
}

impl App {
    /// Opens the list named `list` (or the only one) of the instance the
    /// config names.
    pub async fn open_list(
        config: Config,
        list: Option<&str>,
        clock: Box<dyn Clock>,
    ) -> Result<Self> {
        let instance = Instance::open(config).await?;
        let row = instance.select(list).await?;
        instance.app(&row, clock).await
    }

    /// The list this app works on.
    pub fn list_id(&self) -> ListId {
        self.store.list_id()
    }
}
