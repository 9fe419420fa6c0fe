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

/// Which side of its cursor a two-way page lies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// Older than the cursor (or the newest page, without one): read newest first.
    Older,
    /// Newer than the cursor: read oldest first, then turned.
    Newer,
}

/// A page request of a list paged both ways ("older" and "newer" links).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window<C> {
    pub limit: u32,
    pub cursor: Option<C>,
    pub side: Side,
}

/// Parse a two-way page request: `older` or `newer` (a cursor an earlier page gave), not both;
/// `parse` checks a cursor's shape. Every violation at once.
pub fn window<C>(
    limit_raw: Option<u32>,
    older: Option<&str>,
    newer: Option<&str>,
    parse: impl Fn(&str) -> Option<C>,
) -> AppResult<Window<C>> {
    let mut v = Vec::new();
    let limit = limit(limit_raw).unwrap_or_else(|e| {
        v.push(e);
        DEFAULT_LIMIT
    });
    let (raw, field, side) = match (given(older), given(newer)) {
        (Some(_), Some(_)) => {
            v.push(Violation::new("newer", "cannot be combined with older"));
            (None, "older", Side::Older)
        }
        (Some(c), None) => (Some(c), "older", Side::Older),
        (None, Some(c)) => (Some(c), "newer", Side::Newer),
        (None, None) => (None, "older", Side::Older),
    };
    let cursor = match raw.map(&parse) {
        None => None,
        Some(Some(c)) => Some(c),
        Some(None) => {
            v.push(Violation::new(field, "is not a cursor this list gave"));
            None
        }
    };
    if !v.is_empty() {
        return Err(super::Error::Invalid(v));
    }
    Ok(Window {
        limit,
        cursor,
        side,
    })
}

fn given(c: Option<&str>) -> Option<&str> {
    c.map(str::trim).filter(|c| !c.is_empty())
}

/// A positive sequence number, the cursor of lists ordered by one.
pub fn seq_cursor(c: &str) -> Option<i64> {
    c.parse::<i64>().ok().filter(|n| *n > 0)
}

/// One page of a list paged both ways, newest first, with the cursors of the pages beside it.
#[derive(Debug, Clone)]
pub struct TwoWayPage<T> {
    pub items: Vec<T>,
    /// The cursor of the next older page, if there is one.
    pub older: Option<String>,
    /// The cursor of the next newer page, if there is one.
    pub newer: Option<String>,
}

impl<T> TwoWayPage<T> {
    /// Items fetched with `limit + 1` rows in the window's reading order (newest first for
    /// `Older`, oldest first for `Newer`), trimmed to `limit` and turned newest first.
    pub fn from_overfetch<C>(
        mut items: Vec<T>,
        w: &Window<C>,
        cursor: impl Fn(&T) -> String,
    ) -> Self {
        let more = items.len() > w.limit as usize;
        items.truncate(w.limit as usize);
        // Coming from a cursor means there is something on its other side.
        let came_from = w.cursor.is_some();
        match w.side {
            Side::Older => TwoWayPage {
                older: if more {
                    items.last().map(&cursor)
                } else {
                    None
                },
                newer: if came_from {
                    items.first().map(&cursor)
                } else {
                    None
                },
                items,
            },
            Side::Newer => {
                items.reverse();
                TwoWayPage {
                    newer: if more {
                        items.first().map(&cursor)
                    } else {
                        None
                    },
                    older: if came_from {
                        items.last().map(&cursor)
                    } else {
                        None
                    },
                    items,
                }
            }
        }
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

    #[test]
    fn a_two_way_page_links_both_sides_of_its_cursor() {
        // Items 1..=9, pages of 3. The first page: 9 8 7, older from 7, nothing newer.
        let first = window(Some(3), None, None, seq_cursor).unwrap();
        let p = TwoWayPage::from_overfetch(vec![9, 8, 7, 6], &first, |n| n.to_string());
        assert_eq!(
            (p.items, p.older.as_deref(), p.newer),
            (vec![9, 8, 7], Some("7"), None)
        );
        // Older than 7: 6 5 4, both ways.
        let older = window(Some(3), Some("7"), None, seq_cursor).unwrap();
        let p = TwoWayPage::from_overfetch(vec![6, 5, 4, 3], &older, |n| n.to_string());
        assert_eq!(
            (p.older.as_deref(), p.newer.as_deref()),
            (Some("4"), Some("6"))
        );
        // Newer than 4 is read oldest first: 5 6 7 (8 is the overfetch), shown 7 6 5.
        let newer = window(Some(3), None, Some("4"), seq_cursor).unwrap();
        let p = TwoWayPage::from_overfetch(vec![5, 6, 7, 8], &newer, |n| n.to_string());
        assert_eq!(p.items, vec![7, 6, 5]);
        assert_eq!(
            (p.older.as_deref(), p.newer.as_deref()),
            (Some("5"), Some("7"))
        );
        // The newest items, read from an older cursor: no newer link.
        let p = TwoWayPage::from_overfetch(vec![8, 9], &newer, |n| n.to_string());
        assert_eq!((p.items, p.newer), (vec![9, 8], None));
    }

    #[test]
    fn a_window_refuses_both_cursors_and_foreign_ones() {
        let Err(super::super::Error::Invalid(v)) = window(Some(0), Some("x"), None, seq_cursor)
        else {
            panic!("expected violations");
        };
        let fields: Vec<_> = v.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(fields, ["limit", "older"]);
        assert!(window(None, Some("3"), Some("4"), seq_cursor).is_err());
    }
}
