//! Cursor paging of list reads: bounded page sizes and opaque cursors.

use super::AppResult;
use crate::domain::Violation;

/// Page size when none is asked for.
pub const DEFAULT_LIMIT: u32 = 50;
/// Largest page size.
pub const MAX_LIMIT: u32 = 500;

/// A page request: how many items, and after which cursor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    pub limit: u32,
    /// A sequence cursor returned by an earlier page.
    pub cursor: Option<i64>,
}

/// Parse the `limit` of a list query.
pub fn limit(limit: Option<u32>) -> Result<u32, Violation> {
    let limit = limit.unwrap_or(DEFAULT_LIMIT);
    if limit == 0 || limit > MAX_LIMIT {
        return Err(Violation::new(
            "limit",
            format!("must be between 1 and {MAX_LIMIT}"),
        ));
    }
    Ok(limit)
}

/// Parse `limit` and a numeric `cursor` of a list query, every violation at once.
pub fn request(limit_raw: Option<u32>, cursor: Option<&str>) -> AppResult<PageRequest> {
    let mut v = Vec::new();
    let limit = limit(limit_raw).unwrap_or_else(|e| {
        v.push(e);
        DEFAULT_LIMIT
    });
    let cursor = match cursor.filter(|c| !c.is_empty()) {
        None => None,
        Some(c) => match c.parse::<i64>() {
            Ok(n) if n > 0 => Some(n),
            _ => {
                v.push(Violation::new(
                    "cursor",
                    "is not a cursor returned by this API",
                ));
                None
            }
        },
    };
    if !v.is_empty() {
        return Err(super::Error::Invalid(v));
    }
    Ok(PageRequest { limit, cursor })
}

/// One page of items and the cursor of the next page, if there is one.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// Trim items fetched with `limit + 1` rows down to `limit`, keeping the next page's cursor.
    pub fn from_overfetch(mut items: Vec<T>, limit: u32, cursor: impl Fn(&T) -> String) -> Self {
        let next_cursor = if items.len() > limit as usize {
            items.truncate(limit as usize);
            items.last().map(cursor)
        } else {
            None
        };
        Page { items, next_cursor }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_fetched_one_long_keeps_the_next_cursor() {
        let p = Page::from_overfetch(vec![5, 4, 3], 2, |n| n.to_string());
        assert_eq!((p.items, p.next_cursor.as_deref()), (vec![5, 4], Some("4")));
        let p = Page::from_overfetch(vec![5, 4], 2, |n| n.to_string());
        assert_eq!(p.next_cursor, None);
    }

    #[test]
    fn bad_limit_and_cursor_are_reported_together() {
        let Err(super::super::Error::Invalid(v)) = request(Some(0), Some("x")) else {
            panic!("expected violations");
        };
        let fields: Vec<_> = v.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(fields, ["limit", "cursor"]);
        assert_eq!(request(None, Some("7")).unwrap().cursor, Some(7));
    }
}
