//! Cases (issue 12): a report's metadata and its acknowledgement clock.
//! Nothing of a report's text is stored here. Every query names its list.

use chrono::{DateTime, Utc};
use sqlx::Row;

use super::announcements::{kind_word, parse_kind};
use super::{Store, StoreError, WriteTx, parse_time};
use crate::cases::{CaseId, CaseState, Step};
use crate::clock::format_instant;
use crate::compose::Kind;

/// A new case's metadata.
#[derive(Debug, Clone)]
pub struct NewCase<'a> {
    pub reporter: &'a str,
    pub reporter_norm: &'a str,
    pub reporter_fingerprint: Option<&'a str>,
    /// The reporter's certificate, when the report carried one.
    pub reporter_cert: Option<&'a [u8]>,
    /// Whether our MTA vouched for the reporter's From domain.
    pub reporter_verified: bool,
}

/// One case as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseRow {
    /// The row's id (internal; the name is `id`).
    pub row: i64,
    pub id: CaseId,
    pub state: CaseState,
    pub reporter: String,
    pub reporter_fingerprint: Option<String>,
    pub reporter_verified: bool,
    pub opened_at: DateTime<Utc>,
    pub acknowledged_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    /// The reporter's certificate (binary), when we have one.
    pub reporter_cert: Option<Vec<u8>>,
    /// The advisory this case became.
    pub advisory: Option<String>,
    /// The reporter asked not to be credited.
    pub anonymous: bool,
    /// The name the advisory's exports credit as finder.
    pub credit: Option<String>,
    /// When and how the reporter agreed to the proposed timeline.
    pub agreed: Option<(DateTime<Utc>, String)>,
    /// When the timeline they are asked to agree to was proposed.
    pub timeline_at: Option<DateTime<Utc>>,
    /// The clock's steps that fired, in order.
    pub fired: Vec<Step>,
}

/// Someone invited into one case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Participant {
    pub email: String,
    pub fingerprint: String,
    pub cert: Vec<u8>,
    pub reason: String,
    pub invited_by: String,
    pub invited_at: DateTime<Utc>,
}

/// A new participant of a case.
#[derive(Debug, Clone)]
pub struct NewParticipant<'a> {
    pub email: &'a str,
    pub email_norm: &'a str,
    pub fingerprint: &'a str,
    pub cert: &'a [u8],
    pub reason: &'a str,
    pub invited_by: &'a str,
}

impl CaseRow {
    /// A case just opened in this transaction, as it will read back.
    pub fn opened(
        row: i64,
        id: CaseId,
        reporter: &str,
        key: Option<(String, Vec<u8>)>,
        verified: bool,
        now: DateTime<Utc>,
    ) -> Self {
        let (fingerprint, cert) = key.unzip();
        CaseRow {
            row,
            id,
            state: CaseState::Open,
            reporter: reporter.to_owned(),
            reporter_fingerprint: fingerprint,
            reporter_verified: verified,
            opened_at: now,
            acknowledged_at: None,
            closed_at: None,
            reporter_cert: cert,
            advisory: None,
            anonymous: false,
            credit: None,
            agreed: None,
            timeline_at: None,
            fired: Vec::new(),
        }
    }
}

const COLUMNS: &str = "id, year, number, state, reporter, reporter_fingerprint, \
     reporter_verified, opened_at, acknowledged_at, closed_at, reporter_cert, advisory, \
     anonymous, credit, timeline_at, agreed_at, agreed_how";

impl Store {
    /// The case named `id` of this list.
    pub async fn case(&self, id: CaseId) -> Result<Option<CaseRow>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM cases WHERE year = $1 AND number = $2 AND list_id = $3"
        )))
        .bind(i64::from(id.year))
        .bind(i64::from(id.number))
        .bind(self.list)
        .fetch_optional(&self.pool)
        .await?;
        self.with_fired(row).await
    }

    /// The case of row `row`, when it is this list's.
    pub async fn case_by_row(&self, row: i64) -> Result<Option<CaseRow>, StoreError> {
        let found = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM cases WHERE id = $1 AND list_id = $2"
        )))
        .bind(row)
        .bind(self.list)
        .fetch_optional(&self.pool)
        .await?;
        self.with_fired(found).await
    }

    /// A case row read, with the clock's steps that fired.
    async fn with_fired(
        &self,
        row: Option<sqlx::any::AnyRow>,
    ) -> Result<Option<CaseRow>, StoreError> {
        let Some(row) = row else {
            return Ok(None);
        };
        let mut case = case_row(&row)?;
        case.fired = self.fired(case.row).await?;
        Ok(Some(case))
    }

    /// This list's cases that `which` takes, oldest first: two queries
    /// however many there are (the clock asks on every scheduler pass).
    pub async fn cases(&self, which: CaseFilter) -> Result<Vec<CaseRow>, StoreError> {
        let filter = match which {
            CaseFilter::All => "",
            CaseFilter::Open => "AND c.state = 'open'",
            CaseFilter::Unacknowledged => "AND c.state = 'open' AND c.acknowledged_at IS NULL",
        };
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM cases c WHERE c.list_id = $1 {filter} ORDER BY c.opened_at, c.id"
        )))
        .bind(self.list)
        .fetch_all(&self.pool)
        .await?;
        let mut cases = rows.iter().map(case_row).collect::<Result<Vec<_>, _>>()?;
        if cases.is_empty() {
            return Ok(cases);
        }
        let fired = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT k.case_id, k.step FROM case_clock k JOIN cases c ON c.id = k.case_id \
             WHERE c.list_id = $1 {filter} ORDER BY k.fired_at, k.step"
        )))
        .bind(self.list)
        .fetch_all(&self.pool)
        .await?;
        let mut steps: std::collections::HashMap<i64, Vec<Step>> = std::collections::HashMap::new();
        for row in &fired {
            let step: String = row.try_get("step")?;
            steps
                .entry(row.try_get("case_id")?)
                .or_default()
                .push(parse_step(&step)?);
        }
        for case in &mut cases {
            case.fired = steps.remove(&case.row).unwrap_or_default();
        }
        Ok(cases)
    }

    async fn fired(&self, case: i64) -> Result<Vec<Step>, StoreError> {
        let steps: Vec<String> = sqlx::query_scalar(
            "SELECT step FROM case_clock WHERE case_id = $1 AND case_id IN \
             (SELECT id FROM cases WHERE list_id = $2) ORDER BY fired_at, step",
        )
        .bind(case)
        .bind(self.list)
        .fetch_all(&self.pool)
        .await?;
        steps.iter().map(|step| parse_step(step)).collect()
    }
}

fn parse_step(text: &str) -> Result<Step, StoreError> {
    text.parse()
        .map_err(|err| StoreError::Corrupt(format!("case_clock.step: {err}")))
}

/// Which of a list's cases [`Store::cases`] reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaseFilter {
    All,
    Open,
    /// Open and not acknowledged: those whose clock runs.
    Unacknowledged,
}

impl Store {
    /// The case that received a message whose Message-ID stands in as
    /// `reference` (see `inbound::thread`).
    pub async fn case_of_message(&self, reference: &str) -> Result<Option<i64>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT m.case_id FROM case_messages m JOIN cases c ON c.id = m.case_id \
             WHERE m.ref = $1 AND c.list_id = $2",
        )
        .bind(reference)
        .bind(self.list)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// How many cases `reporter_norm` opened in this list since `since`,
    /// and how many were opened in all (the hourly limits).
    pub async fn cases_opened_since(
        &self,
        reporter_norm: &str,
        since: DateTime<Utc>,
    ) -> Result<(u64, u64), StoreError> {
        let row = sqlx::query(
            "SELECT CAST(coalesce(sum(CASE WHEN reporter_norm = $1 THEN 1 ELSE 0 END), 0) AS BIGINT) AS mine, \
               COUNT(*) AS total FROM cases WHERE opened_at >= $2 AND list_id = $3",
        )
        .bind(reporter_norm)
        .bind(format_instant(since))
        .bind(self.list)
        .fetch_one(&self.pool)
        .await?;
        let mine: i64 = row.try_get("mine")?;
        let total: i64 = row.try_get("total")?;
        Ok((
            u64::try_from(mine).unwrap_or(0),
            u64::try_from(total).unwrap_or(0),
        ))
    }
}

fn case_row(row: &sqlx::any::AnyRow) -> Result<CaseRow, StoreError> {
    let year: i64 = row.try_get("year")?;
    let number: i64 = row.try_get("number")?;
    let id = CaseId {
        year: i32::try_from(year).map_err(|_| StoreError::Corrupt(format!("cases.year {year}")))?,
        number: u32::try_from(number)
            .map_err(|_| StoreError::Corrupt(format!("cases.number {number}")))?,
    };
    let opened: String = row.try_get("opened_at")?;
    let acknowledged: Option<String> = row.try_get("acknowledged_at")?;
    let verified: i64 = row.try_get("reporter_verified")?;
    let anonymous: i64 = row.try_get("anonymous")?;
    let closed: Option<String> = row.try_get("closed_at")?;
    let agreed_at: Option<String> = row.try_get("agreed_at")?;
    let agreed_how: Option<String> = row.try_get("agreed_how")?;
    let timeline_at: Option<String> = row.try_get("timeline_at")?;
    Ok(CaseRow {
        row: row.try_get("id")?,
        id,
        state: {
            let state: String = row.try_get("state")?;
            state
                .parse()
                .map_err(|err| StoreError::Corrupt(format!("cases.state: {err}")))?
        },
        reporter: row.try_get("reporter")?,
        reporter_fingerprint: row.try_get("reporter_fingerprint")?,
        reporter_verified: verified != 0,
        opened_at: parse_time("cases.opened_at", &opened)?,
        acknowledged_at: acknowledged
            .map(|text| parse_time("cases.acknowledged_at", &text))
            .transpose()?,
        closed_at: closed
            .map(|text| parse_time("cases.closed_at", &text))
            .transpose()?,
        reporter_cert: row.try_get("reporter_cert")?,
        advisory: row.try_get("advisory")?,
        anonymous: anonymous != 0,
        credit: row.try_get("credit")?,
        agreed: match (agreed_at, agreed_how) {
            (Some(at), Some(how)) => Some((parse_time("cases.agreed_at", &at)?, how)),
            _ => None,
        },
        timeline_at: timeline_at
            .map(|text| parse_time("cases.timeline_at", &text))
            .transpose()?,
        fired: Vec::new(),
    })
}

impl WriteTx {
    /// Opens a case at the transaction's instant, named after the last of
    /// its year in this list (the list's write lock makes that safe).
    /// Answers its name and its row.
    pub async fn open_case(&mut self, case: &NewCase<'_>) -> Result<(CaseId, i64), StoreError> {
        use chrono::Datelike as _;
        let year = self.now.year();
        let last: Option<i64> =
            sqlx::query_scalar("SELECT MAX(number) FROM cases WHERE list_id = $1 AND year = $2")
                .bind(self.list)
                .bind(i64::from(year))
                .fetch_one(&mut *self.tx)
                .await?;
        let last = last
            .map(|number| {
                u32::try_from(number)
                    .map(|number| CaseId { year, number })
                    .map_err(|_| StoreError::Corrupt(format!("cases.number {number}")))
            })
            .transpose()?;
        let id = CaseId::next(last, self.now);
        let row: i64 = sqlx::query_scalar(
            "INSERT INTO cases (list_id, year, number, state, reporter, reporter_norm, \
               reporter_fingerprint, reporter_verified, opened_at, reporter_cert) \
             VALUES ($1, $2, $3, 'open', $4, $5, $6, $7, $8, $9) RETURNING id",
        )
        .bind(self.list)
        .bind(i64::from(id.year))
        .bind(i64::from(id.number))
        .bind(case.reporter)
        .bind(case.reporter_norm)
        .bind(case.reporter_fingerprint)
        .bind(i64::from(case.reporter_verified))
        .bind(format_instant(self.now))
        .bind(case.reporter_cert)
        .fetch_one(&mut *self.tx)
        .await?;
        Ok((id, row))
    }

    /// Keeps one message of case row `case`: `sealed` is ciphertext to
    /// the list key; `reference` the stand-in of its Message-ID.
    pub async fn add_case_message(
        &mut self,
        case: i64,
        reference: Option<&str>,
        sealed: &[u8],
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO case_messages (case_id, received_at, ref, sealed) \
             SELECT id, $2, $3, $4 FROM cases WHERE id = $1 AND list_id = $5",
        )
        .bind(case)
        .bind(format_instant(self.now))
        .bind(reference)
        .bind(sealed)
        .bind(self.list)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    /// Records that `step` of case row `case` fired now; `false` when it
    /// had fired already (so its mail must not be queued again).
    pub async fn fire_step(&mut self, case: i64, step: Step) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO case_clock (case_id, step, fired_at) \
             SELECT id, $2, $3 FROM cases WHERE id = $1 AND list_id = $4 \
             ON CONFLICT (case_id, step) DO NOTHING",
        )
        .bind(case)
        .bind(step.as_str())
        .bind(format_instant(self.now))
        .bind(self.list)
        .execute(&mut *self.tx)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Stops the clock of case row `case` now; `false` when it was
    /// acknowledged already (or is not this list's).
    pub async fn acknowledge_case(&mut self, case: i64) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE cases SET acknowledged_at = $1 \
             WHERE id = $2 AND list_id = $3 AND acknowledged_at IS NULL",
        )
        .bind(format_instant(self.now))
        .bind(case)
        .bind(self.list)
        .execute(&mut *self.tx)
        .await?;
        Ok(done.rows_affected() == 1)
    }
}

impl Store {
    /// Those invited into case row `case`, in the order they were.
    pub async fn participants(&self, case: i64) -> Result<Vec<Participant>, StoreError> {
        let rows = sqlx::query(
            "SELECT p.email, p.fingerprint, p.cert, p.reason, p.invited_by, p.invited_at \
             FROM case_participants p JOIN cases c ON c.id = p.case_id \
             WHERE p.case_id = $1 AND c.list_id = $2 ORDER BY p.id",
        )
        .bind(case)
        .bind(self.list)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let at: String = row.try_get("invited_at")?;
                Ok(Participant {
                    email: row.try_get("email")?,
                    fingerprint: row.try_get("fingerprint")?,
                    cert: row.try_get("cert")?,
                    reason: row.try_get("reason")?,
                    invited_by: row.try_get("invited_by")?,
                    invited_at: parse_time("case_participants.invited_at", &at)?,
                })
            })
            .collect()
    }

    /// How many messages case row `case` keeps.
    pub async fn case_message_count(&self, case: i64) -> Result<u64, StoreError> {
        let count: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM case_messages m JOIN cases c ON c.id = m.case_id \
             WHERE m.case_id = $1 AND c.list_id = $2",
        )
        .bind(case)
        .bind(self.list)
        .fetch_one(&self.pool)
        .await?;
        Ok(u64::try_from(count).unwrap_or(0))
    }

    /// The case an advisory was made from, if any.
    pub async fn case_of_advisory(&self, advisory: &str) -> Result<Option<CaseRow>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM cases WHERE advisory = $1 AND list_id = $2"
        )))
        .bind(advisory)
        .bind(self.list)
        .fetch_optional(&self.pool)
        .await?;
        self.with_fired(row).await
    }
}

impl WriteTx {
    /// Closes (`closed`) or rejects (`rejected`) open case row `case`;
    /// `false` when it was not open.
    pub async fn end_case(&mut self, case: i64, state: CaseState) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE cases SET state = $1, closed_at = $2 \
             WHERE id = $3 AND list_id = $4 AND state = 'open'",
        )
        .bind(state.as_str())
        .bind(format_instant(self.now))
        .bind(case)
        .bind(self.list)
        .execute(&mut *self.tx)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Keeps the reporter's certificate when the case has none yet.
    pub async fn set_reporter_cert(
        &mut self,
        case: i64,
        fingerprint: &str,
        cert: &[u8],
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE cases SET reporter_fingerprint = $1, reporter_cert = $2 \
             WHERE id = $3 AND list_id = $4 AND reporter_cert IS NULL",
        )
        .bind(fingerprint)
        .bind(cert)
        .bind(case)
        .bind(self.list)
        .execute(&mut *self.tx)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Invites a participant into case row `case`; `false` when they
    /// were invited already.
    pub async fn add_participant(
        &mut self,
        case: i64,
        who: &NewParticipant<'_>,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO case_participants (case_id, email, email_norm, fingerprint, cert, \
               reason, invited_by, invited_at) \
             SELECT id, $2, $3, $4, $5, $6, $7, $8 FROM cases WHERE id = $1 AND list_id = $9 \
             ON CONFLICT (case_id, email_norm) DO NOTHING",
        )
        .bind(case)
        .bind(who.email)
        .bind(who.email_norm)
        .bind(who.fingerprint)
        .bind(who.cert)
        .bind(who.reason)
        .bind(who.invited_by)
        .bind(format_instant(self.now))
        .bind(self.list)
        .execute(&mut *self.tx)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Links case row `case` to `advisory`; `false` when the case is
    /// linked already or the advisory has a case.
    pub async fn link_case(
        &mut self,
        case: i64,
        advisory: &str,
        anonymous: bool,
        credit: Option<&str>,
    ) -> Result<bool, StoreError> {
        let taken: Option<i64> =
            sqlx::query_scalar("SELECT id FROM cases WHERE advisory = $1 AND list_id = $2")
                .bind(advisory)
                .bind(self.list)
                .fetch_optional(&mut *self.tx)
                .await?;
        if taken.is_some() {
            return Ok(false);
        }
        let done = sqlx::query(
            "UPDATE cases SET advisory = $1, anonymous = $2, credit = $5, timeline_at = $6 \
             WHERE id = $3 AND list_id = $4 AND advisory IS NULL",
        )
        .bind(advisory)
        .bind(i64::from(anonymous))
        .bind(case)
        .bind(self.list)
        .bind(credit)
        .bind(format_instant(self.now))
        .execute(&mut *self.tx)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Closes the open case an advisory was made from (at its
    /// disclosure); the case's name when there was one.
    pub async fn close_case_of_advisory(
        &mut self,
        advisory: &str,
    ) -> Result<Option<CaseId>, StoreError> {
        let row = sqlx::query(
            "SELECT year, number FROM cases WHERE advisory = $1 AND list_id = $2 AND state = 'open'",
        )
        .bind(advisory)
        .bind(self.list)
        .fetch_optional(&mut *self.tx)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let year: i64 = row.try_get("year")?;
        let number: i64 = row.try_get("number")?;
        sqlx::query(
            "UPDATE cases SET state = 'closed', closed_at = $1 \
             WHERE advisory = $2 AND list_id = $3 AND state = 'open'",
        )
        .bind(format_instant(self.now))
        .bind(advisory)
        .bind(self.list)
        .execute(&mut *self.tx)
        .await?;
        Ok(Some(CaseId {
            year: i32::try_from(year)
                .map_err(|_| StoreError::Corrupt(format!("cases.year {year}")))?,
            number: u32::try_from(number)
                .map_err(|_| StoreError::Corrupt(format!("cases.number {number}")))?,
        }))
    }

    /// A new timeline was proposed now: the reporter's agreement to the
    /// old one no longer counts.
    pub async fn retime_case(&mut self, case: i64) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE cases SET agreed_at = NULL, agreed_how = NULL, timeline_at = $3 \
             WHERE id = $1 AND list_id = $2",
        )
        .bind(case)
        .bind(self.list)
        .bind(format_instant(self.now))
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    /// Records the reporter's agreement to the timeline (`how`: `signed`
    /// or `unsigned`); a signed agreement replaces an unsigned one.
    pub async fn record_agreement(&mut self, case: i64, how: &str) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE cases SET agreed_at = $1, agreed_how = $2 \
             WHERE id = $3 AND list_id = $4 AND advisory IS NOT NULL \
               AND (agreed_how IS NULL OR (agreed_how = 'unsigned' AND $2 = 'signed'))",
        )
        .bind(format_instant(self.now))
        .bind(how)
        .bind(case)
        .bind(self.list)
        .execute(&mut *self.tx)
        .await?;
        Ok(done.rows_affected() == 1)
    }
}

/// Who a relay's copies go to, decided when the relay runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelayReaders {
    /// The active team.
    Team,
    /// A case's participants: the team, those invited, the reporter with
    /// a key.
    Participants,
    /// A case's reporter alone (what was held until they sent a key).
    Reporter,
}

impl RelayReaders {
    fn word(self) -> &'static str {
        match self {
            RelayReaders::Team => "team",
            RelayReaders::Participants => "participants",
            RelayReaders::Reporter => "reporter",
        }
    }
}

/// Mail waiting to be re-sealed to its readers.
#[derive(Debug, Clone)]
pub struct PendingRelay {
    pub id: i64,
    pub kind: Kind,
    /// The case's row, for a case's mail.
    pub case: Option<i64>,
    pub readers: RelayReaders,
    /// The preface and the message, encrypted to the list key.
    pub sealed: Vec<u8>,
}

impl Store {
    /// This list's relays still to run, oldest first (at most `limit`).
    pub async fn pending_relays(&self, limit: i64) -> Result<Vec<PendingRelay>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, kind, case_id, readers, sealed FROM relays \
             WHERE list_id = $1 AND relayed_at IS NULL ORDER BY id LIMIT $2",
        )
        .bind(self.list)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let kind: String = row.try_get("kind")?;
                let readers: String = row.try_get("readers")?;
                let sealed: Option<Vec<u8>> = row.try_get("sealed")?;
                Ok(PendingRelay {
                    id: row.try_get("id")?,
                    kind: parse_kind(&kind)?,
                    case: row.try_get("case_id")?,
                    readers: match readers.as_str() {
                        "team" => RelayReaders::Team,
                        "participants" => RelayReaders::Participants,
                        "reporter" => RelayReaders::Reporter,
                        other => {
                            return Err(StoreError::Corrupt(format!("relays.readers {other}")));
                        }
                    },
                    sealed: sealed.ok_or_else(|| {
                        StoreError::Corrupt("a pending relay without its message".to_owned())
                    })?,
                })
            })
            .collect()
    }
}

impl WriteTx {
    /// Keeps `sealed` (a preface and a message, encrypted to the list key)
    /// for the scheduler to re-seal to `readers` as mail of `kind`, and
    /// wakes the daemon when the transaction commits.
    pub async fn add_relay(
        &mut self,
        kind: Kind,
        case: Option<i64>,
        readers: RelayReaders,
        sealed: &[u8],
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO relays (list_id, kind, case_id, readers, sealed, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(self.list)
        .bind(kind_word(kind))
        .bind(case)
        .bind(readers.word())
        .bind(sealed)
        .bind(format_instant(self.now))
        .execute(&mut *self.tx)
        .await?;
        self.wakes_daemon();
        Ok(())
    }

    /// Holds `sealed` (a preface and a message, encrypted to the list key)
    /// for case row `case`'s reporter until they send a key.
    pub async fn withhold_for_reporter(
        &mut self,
        case: i64,
        sealed: &[u8],
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO case_messages (case_id, received_at, ref, sealed, withheld) \
             SELECT id, $2, NULL, $3, 1 FROM cases WHERE id = $1 AND list_id = $4",
        )
        .bind(case)
        .bind(format_instant(self.now))
        .bind(sealed)
        .bind(self.list)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    /// Relays everything held for case row `case`'s reporter to them (they
    /// sent a key): one relay per message, oldest first. Answers how many.
    pub async fn release_withheld(&mut self, case: i64) -> Result<u64, StoreError> {
        let released = sqlx::query(
            "INSERT INTO relays (list_id, kind, case_id, readers, sealed, created_at) \
             SELECT c.list_id, $1, m.case_id, 'reporter', m.sealed, $2 \
             FROM case_messages m JOIN cases c ON c.id = m.case_id \
             WHERE m.case_id = $3 AND m.withheld = 1 AND c.list_id = $4 ORDER BY m.id",
        )
        .bind(kind_word(Kind::CaseMail))
        .bind(format_instant(self.now))
        .bind(case)
        .bind(self.list)
        .execute(&mut *self.tx)
        .await?
        .rows_affected();
        sqlx::query(
            "UPDATE case_messages SET withheld = 0 WHERE withheld = 1 AND case_id = $1 \
             AND case_id IN (SELECT id FROM cases WHERE list_id = $2)",
        )
        .bind(case)
        .bind(self.list)
        .execute(&mut *self.tx)
        .await?;
        if released > 0 {
            self.wakes_daemon();
        }
        Ok(released)
    }

    /// Marks relay `id` done and drops its message; `false` when another
    /// pass did it first.
    pub async fn relayed(&mut self, id: i64) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE relays SET relayed_at = $1, sealed = NULL \
             WHERE id = $2 AND list_id = $3 AND relayed_at IS NULL",
        )
        .bind(format_instant(self.now))
        .bind(id)
        .bind(self.list)
        .execute(&mut *self.tx)
        .await?;
        Ok(done.rows_affected() == 1)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use chrono::{TimeZone, Utc};

    use super::NewCase;
    use crate::cases::{CaseId, CaseState, Step};
    use crate::store::lists::test_list;
    use crate::store::{Location, Store};

    fn report(from: &str) -> NewCase<'_> {
        NewCase {
            reporter: from,
            reporter_norm: from,
            reporter_fingerprint: None,
            reporter_cert: None,
            reporter_verified: false,
        }
    }

    async fn store(dir: &tempfile::TempDir) -> Store {
        let store = Store::create(
            &Location::File(dir.path().join("cases.db")),
            Duration::from_secs(5),
        )
        .await
        .expect("create");
        store.mute_wake();
        store
    }

    #[tokio::test]
    async fn cases_are_numbered_per_list_and_year() {
        let dir = tempfile::tempdir().expect("dir");
        let store = store(&dir).await;
        let (alpha, beta) = (
            test_list(&store, "alpha").await,
            test_list(&store, "beta").await,
        );
        let june = Utc.with_ymd_and_hms(2026, 6, 1, 12, 0, 0).unwrap();
        let next_year = Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).unwrap();
        let mut opened = Vec::new();
        for (list, at) in [
            (&alpha, june),
            (&alpha, june),
            (&beta, june),
            (&alpha, next_year),
        ] {
            let mut tx = list.write(at).await.expect("tx");
            opened.push(
                tx.open_case(&report("r@reporter.example"))
                    .await
                    .expect("open")
                    .0,
            );
            tx.commit().await.expect("commit");
        }
        let names: Vec<String> = opened.iter().map(ToString::to_string).collect();
        assert_eq!(
            names,
            [
                "CASE-2026-0001",
                "CASE-2026-0002",
                "CASE-2026-0001",
                "CASE-2027-0001"
            ]
        );
        assert_eq!(
            alpha
                .cases(super::CaseFilter::All)
                .await
                .expect("cases")
                .len(),
            3
        );
        assert_eq!(
            beta.cases(super::CaseFilter::All)
                .await
                .expect("cases")
                .len(),
            1
        );
        // One list's name finds nothing of the other's beyond its own.
        let second = CaseId::parse("CASE-2026-0002").expect("id");
        assert!(alpha.case(second).await.expect("case").is_some());
        assert!(beta.case(second).await.expect("case").is_none());
    }

    #[tokio::test]
    async fn a_clock_step_fires_once_and_an_acknowledgement_is_recorded_once() {
        let dir = tempfile::tempdir().expect("dir");
        let store = store(&dir).await;
        let (alpha, beta) = (
            test_list(&store, "alpha").await,
            test_list(&store, "beta").await,
        );
        let opened = Utc.with_ymd_and_hms(2026, 6, 1, 12, 0, 0).unwrap();
        let mut tx = alpha.write(opened).await.expect("tx");
        let (id, row) = tx
            .open_case(&report("r@reporter.example"))
            .await
            .expect("open");
        tx.commit().await.expect("commit");
        assert_eq!(alpha.case(id).await.expect("case").expect("found").row, row);

        let later = opened + chrono::Duration::hours(12);
        let mut tx = alpha.write(later).await.expect("tx");
        assert!(tx.fire_step(row, Step::Remind).await.expect("fire"));
        assert!(!tx.fire_step(row, Step::Remind).await.expect("fire again"));
        tx.commit().await.expect("commit");
        // Another list cannot fire or acknowledge this list's case.
        let mut tx = beta.write(later).await.expect("tx");
        assert!(!tx.fire_step(row, Step::Escalate).await.expect("fire"));
        assert!(!tx.acknowledge_case(row).await.expect("ack"));
        tx.commit().await.expect("commit");

        let mut tx = alpha.write(later).await.expect("tx");
        assert!(tx.acknowledge_case(row).await.expect("ack"));
        assert!(!tx.acknowledge_case(row).await.expect("ack again"));
        tx.commit().await.expect("commit");
        let case = alpha.case(id).await.expect("case").expect("found");
        assert_eq!(case.fired, [Step::Remind]);
        assert_eq!(case.acknowledged_at, Some(later));
        assert_eq!(case.state, CaseState::Open);
    }
}
