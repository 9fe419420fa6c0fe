//! Webhooks refused before authentication (`auth_failures`): coalesced by (merchant, reason,
//! client IP) and bounded per merchant, pruned in the same write that adds a row. Rows without a
//! merchant are unknown or missing key ids, shown to admins only.

use super::StoreResult;
use rusqlite::{Connection, params};

/// Rows kept per merchant (and for the unknown key ids together); older ones are pruned.
pub const KEPT_PER_MERCHANT: u32 = 100;

/// One refused request, or several alike, as handed to the writer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewFailure {
    pub merchant_id: Option<String>,
    pub reason: &'static str,
    pub client_ip: String,
    pub key_id: String,
    pub webhook_id: String,
    /// JSON of the non-secret request headers (never the signature).
    pub headers: String,
    pub count: i64,
    pub first_at_ms: i64,
    pub last_at_ms: i64,
}

/// A stored row.
#[derive(Debug, Clone)]
pub struct Failure {
    pub id: i64,
    pub merchant_id: Option<String>,
    pub reason: String,
    pub client_ip: String,
    pub key_id: String,
    pub webhook_id: String,
    pub headers: String,
    pub count: i64,
    pub first_at_ms: i64,
    pub last_at_ms: i64,
}

/// Add failures, coalescing each into the row of the same (merchant, reason, IP) if there is one,
/// then prune the merchants that gained a row down to `KEPT_PER_MERCHANT`.
pub fn record(conn: &Connection, failures: &[NewFailure]) -> StoreResult<()> {
    let mut grew: Vec<Option<&str>> = Vec::new();
    for f in failures {
        let updated = conn
            .prepare_cached(
                "UPDATE auth_failures SET count = count + ?4, last_at_ms = max(last_at_ms, ?5),
                     webhook_id = ?6, headers = ?7, key_id = ?8
                 WHERE merchant_id IS ?1 AND reason = ?2 AND client_ip = ?3",
            )?
            .execute(params![
                f.merchant_id,
                f.reason,
                f.client_ip,
                f.count,
                f.last_at_ms,
                f.webhook_id,
                f.headers,
                f.key_id
            ])?;
        if updated > 0 {
            continue;
        }
        conn.prepare_cached(
            "INSERT INTO auth_failures (merchant_id, reason, client_ip, key_id, webhook_id, headers,
                 count, first_at_ms, last_at_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )?
        .execute(params![
            f.merchant_id,
            f.reason,
            f.client_ip,
            f.key_id,
            f.webhook_id,
            f.headers,
            f.count,
            f.first_at_ms,
            f.last_at_ms
        ])?;
        if !grew.contains(&f.merchant_id.as_deref()) {
            grew.push(f.merchant_id.as_deref());
        }
    }
    let mut prune = conn.prepare_cached(PRUNE)?;
    for merchant in grew {
        prune.execute(params![merchant, KEPT_PER_MERCHANT])?;
    }
    Ok(())
}

/// Delete a merchant's rows beyond the newest `?2` (one range of `auth_failures_by_merchant`).
pub(crate) const PRUNE: &str = "DELETE FROM auth_failures WHERE id IN
     (SELECT id FROM auth_failures WHERE merchant_id IS ?1
      ORDER BY last_at_ms DESC, id DESC LIMIT -1 OFFSET ?2)";

/// Which failures a list shows.
#[derive(Debug, Clone, Default)]
pub struct FailureFilter {
    /// One merchant's; `None` for every merchant's and the unknown key ids'.
    pub merchant_id: Option<String>,
    pub reason: Option<String>,
    pub webhook_id: Option<String>,
    pub since_ms: Option<i64>,
}

const COLUMNS: &str = "id, merchant_id, reason, client_ip, key_id, webhook_id, headers, count, \
    first_at_ms, last_at_ms";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Failure> {
    Ok(Failure {
        id: r.get(0)?,
        merchant_id: r.get(1)?,
        reason: r.get(2)?,
        client_ip: r.get(3)?,
        key_id: r.get(4)?,
        webhook_id: r.get(5)?,
        headers: r.get(6)?,
        count: r.get(7)?,
        first_at_ms: r.get(8)?,
        last_at_ms: r.get(9)?,
    })
}

/// Failures matching `f`, the most recent first, at most `limit` (the table is bounded, so an
/// admin's list of every merchant's is at most `KEPT_PER_MERCHANT` per merchant).
pub fn list(conn: &Connection, f: &FailureFilter, limit: u32) -> StoreResult<Vec<Failure>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM auth_failures
         WHERE (?1 IS NULL OR merchant_id = ?1) AND (?2 IS NULL OR reason = ?2)
           AND (?3 IS NULL OR webhook_id = ?3) AND (?4 IS NULL OR last_at_ms >= ?4)
         ORDER BY last_at_ms DESC, id DESC LIMIT ?5"
    );
    let rows = conn
        .prepare_cached(&sql)?
        .query_map(
            params![f.merchant_id, f.reason, f.webhook_id, f.since_ms, limit],
            row,
        )?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(merchant: Option<&str>, reason: &'static str, ip: &str, at: i64) -> NewFailure {
        NewFailure {
            merchant_id: merchant.map(str::to_string),
            reason,
            client_ip: ip.into(),
            key_id: "hgk_x".into(),
            webhook_id: format!("msg_{at}"),
            headers: "{}".into(),
            count: 1,
            first_at_ms: at,
            last_at_ms: at,
        }
    }

    fn db() -> Connection {
        let mut c = Connection::open_in_memory().unwrap();
        super::super::migrations::migrate(&mut c).unwrap();
        c.execute(
            "INSERT INTO merchants (id, email, business_name, password_hash, created_at)
             VALUES ('mer_1', 'a@b.c', 'A', 'x', 1)",
            [],
        )
        .unwrap();
        c
    }

    #[test]
    fn repeats_are_coalesced_and_each_merchant_keeps_its_newest_rows() {
        let c = db();
        let repeats: Vec<_> = (0..5)
            .map(|i| failure(Some("mer_1"), "invalid_signature", "10.0.0.1", i))
            .collect();
        record(&c, &repeats).unwrap();
        let all = list(&c, &FailureFilter::default(), 10).unwrap();
        assert_eq!(all.len(), 1);
        assert_eq!(
            (all[0].count, all[0].first_at_ms, all[0].last_at_ms),
            (5, 0, 4)
        );
        assert_eq!(all[0].webhook_id, "msg_4", "the latest repeat's id");

        // Distinct IPs make distinct rows: only the newest KEPT_PER_MERCHANT stay, per merchant.
        let spray: Vec<_> = (0..150)
            .map(|i| {
                failure(
                    Some("mer_1"),
                    "invalid_signature",
                    &format!("10.1.0.{i}"),
                    100 + i,
                )
            })
            .chain((0..120).map(|i| failure(None, "invalid_api_key", &format!("10.2.0.{i}"), i)))
            .collect();
        record(&c, &spray).unwrap();
        let mine = FailureFilter {
            merchant_id: Some("mer_1".into()),
            ..Default::default()
        };
        let kept = list(&c, &mine, 1000).unwrap();
        assert_eq!(kept.len(), KEPT_PER_MERCHANT as usize);
        assert_eq!(kept[0].client_ip, "10.1.0.149");
        let total: i64 = c
            .query_row("SELECT count(*) FROM auth_failures", [], |r| r.get(0))
            .unwrap();
        assert_eq!(total, 2 * KEPT_PER_MERCHANT as i64);
    }

    #[test]
    fn pruning_follows_an_index() {
        let c = db();
        crate::store::plan::assert_indexed(&c, PRUNE);
    }
}
