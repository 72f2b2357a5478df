//! Listing parameters (`sortBy`, `sortOrder`, `currentPage`, `pageSize`) and pagination maths.

use serde::Serialize;

/// A list query parameter that was present but not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{name}: {detail}")]
pub struct InvalidQueryParameter {
    /// The parameter's name as sent on the wire.
    pub name: &'static str,
    /// What is accepted.
    pub detail: String,
}

/// What tokens are ordered by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortBy {
    /// True creation order.
    #[default]
    CreatedAt,
    /// Remaining lifetime: by expiry instant, never-expiring tokens last (longest).
    Ttl,
}

/// Direction of the order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortOrder {
    /// Smallest first.
    #[default]
    Asc,
    /// Largest first.
    Desc,
}

/// Items per page, 1..=100 (default 25).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageSize(u32);

impl PageSize {
    /// The largest page.
    pub const MAX: u32 = 100;

    /// Validates 1..=100.
    pub fn new(n: u32) -> Option<Self> {
        (1..=Self::MAX).contains(&n).then_some(Self(n))
    }

    /// The size as a number.
    pub fn get(self) -> u32 {
        self.0
    }
}

impl Default for PageSize {
    fn default() -> Self {
        Self(25)
    }
}

/// A 1-based page number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CurrentPage(u32);

impl CurrentPage {
    /// Validates ≥ 1.
    pub fn new(n: u32) -> Option<Self> {
        (n >= 1).then_some(Self(n))
    }

    /// The page number.
    pub fn get(self) -> u32 {
        self.0
    }
}

impl Default for CurrentPage {
    fn default() -> Self {
        Self(1)
    }
}

/// A validated list request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ListQuery {
    /// Requested order, `None` when the client did not name one (default: createdAt).
    pub sort_by: Option<SortBy>,
    /// Requested direction, `None` when the client did not name one (default: asc).
    pub sort_order: Option<SortOrder>,
    /// Page wanted.
    pub current_page: CurrentPage,
    /// Items per page.
    pub page_size: PageSize,
}

impl ListQuery {
    /// Parses an URL query string. Unknown parameters are ignored; a known parameter given twice
    /// takes its first value; a present but invalid value is refused with the parameter's name.
    pub fn parse(query: Option<&str>) -> Result<Self, InvalidQueryParameter> {
        let mut q = ListQuery::default();
        let mut seen = [false; 4];
        for (key, value) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
            let slot = match key.as_ref() {
                "sortBy" => 0,
                "sortOrder" => 1,
                "currentPage" => 2,
                "pageSize" => 3,
                _ => continue,
            };
            if std::mem::replace(&mut seen[slot], true) {
                continue;
            }
            match slot {
                0 => q.sort_by = Some(parse_sort_by(&value)?),
                1 => q.sort_order = Some(parse_sort_order(&value)?),
                2 => {
                    q.current_page =
                        parse_u32(&value)
                            .and_then(CurrentPage::new)
                            .ok_or_else(|| InvalidQueryParameter {
                                name: "currentPage",
                                detail: format!(
                                    "currentPage must be an integer between 1 and {}",
                                    u32::MAX
                                ),
                            })?
                }
                _ => {
                    q.page_size = parse_u32(&value).and_then(PageSize::new).ok_or_else(|| {
                        InvalidQueryParameter {
                            name: "pageSize",
                            detail: format!(
                                "pageSize must be an integer between 1 and {}",
                                PageSize::MAX
                            ),
                        }
                    })?
                }
            }
        }
        Ok(q)
    }

    /// The order to apply.
    pub fn sort_by(&self) -> SortBy {
        self.sort_by.unwrap_or_default()
    }

    /// The direction to apply.
    pub fn sort_order(&self) -> SortOrder {
        self.sort_order.unwrap_or_default()
    }

    /// How many matching items come before the first one of this page.
    pub fn offset(&self) -> u64 {
        u64::from(self.current_page.get() - 1) * u64::from(self.page_size.get())
    }

    /// How many items a page holds at most.
    pub fn limit(&self) -> usize {
        self.page_size.get() as usize
    }

    /// How a store reads this page out of `total` matching items, or `None` when the page lies
    /// past the end (nothing to read). A page past the middle is read from the other end, in the
    /// reverse order, so that no page skips more than half of the items.
    pub fn reading(&self, total: u64) -> Option<PageReading> {
        let offset = self.offset();
        let left = total.checked_sub(offset).filter(|&n| n > 0)?;
        let take = usize::try_from(left).map_or(self.limit(), |n| n.min(self.limit()));
        let from_end = left - take as u64;
        Some(if from_end < offset {
            PageReading {
                reversed: true,
                skip: from_end,
                take,
            }
        } else {
            PageReading {
                reversed: false,
                skip: offset,
                take,
            }
        })
    }
}

/// How one page is read: skip `skip` items in the query's order (or, `reversed`, in the opposite
/// order), take the next `take`, and (when reversed) turn those around.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageReading {
    /// Whether the items are read in the order opposite to the query's.
    pub reversed: bool,
    /// Items passed over before the page, in the reading order.
    pub skip: u64,
    /// Items of the page.
    pub take: usize,
}

fn parse_u32(s: &str) -> Option<u32> {
    // Plain decimal digits only: no sign, no spaces, no exponent.
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn parse_sort_by(s: &str) -> Result<SortBy, InvalidQueryParameter> {
    match s {
        "createdAt" => Ok(SortBy::CreatedAt),
        "ttl" => Ok(SortBy::Ttl),
        _ => Err(InvalidQueryParameter {
            name: "sortBy",
            detail: "sortBy must be one of: createdAt, ttl".into(),
        }),
    }
}

fn parse_sort_order(s: &str) -> Result<SortOrder, InvalidQueryParameter> {
    match s {
        "asc" => Ok(SortOrder::Asc),
        "desc" => Ok(SortOrder::Desc),
        _ => Err(InvalidQueryParameter {
            name: "sortOrder",
            detail: "sortOrder must be one of: asc, desc".into(),
        }),
    }
}

impl SortBy {
    /// Wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            SortBy::CreatedAt => "createdAt",
            SortBy::Ttl => "ttl",
        }
    }
}

impl SortOrder {
    /// Wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            SortOrder::Asc => "asc",
            SortOrder::Desc => "desc",
        }
    }
}

/// One navigation link of a page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PageLink {
    /// `self`, `first`, `previous`, `next` or `last`.
    pub rel: &'static str,
    /// Path and query of the page.
    pub uri: String,
}

/// The `pagination` object of a list response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Pagination {
    /// Page number returned.
    pub current_page: u32,
    /// Items on this page.
    pub current_page_items: u32,
    /// Page size used.
    pub page_size: u32,
    /// Number of pages (0 when there are no items).
    pub pages_total: u64,
    /// Number of matching items.
    pub items_total: u64,
    /// self, first, previous (if any), next (if any), last.
    pub links: Vec<PageLink>,
}

impl Pagination {
    /// Pagination for `query` over `items_total` matches, `page_items` of them on this page,
    /// with links rooted at `path` (e.g. `/upload-tokens`).
    pub fn new(path: &str, query: &ListQuery, items_total: u64, page_items: u32) -> Self {
        let size = u64::from(query.page_size.get());
        let pages_total = items_total.div_ceil(size);
        let current = u64::from(query.current_page.get());
        let link = |rel, page: u64| PageLink {
            rel,
            uri: page_uri(path, query, page),
        };
        let mut links = vec![link("self", current), link("first", 1)];
        if current > 1 {
            links.push(link("previous", (current - 1).min(pages_total.max(1))));
        }
        if current < pages_total {
            links.push(link("next", current + 1));
        }
        links.push(link("last", pages_total.max(1)));
        Self {
            current_page: query.current_page.get(),
            current_page_items: page_items,
            page_size: query.page_size.get(),
            pages_total,
            items_total,
            links,
        }
    }
}

fn page_uri(path: &str, query: &ListQuery, page: u64) -> String {
    let mut params = form_urlencoded::Serializer::new(String::new());
    if let Some(sort_by) = query.sort_by {
        params.append_pair("sortBy", sort_by.as_str());
    }
    if let Some(order) = query.sort_order {
        params.append_pair("sortOrder", order.as_str());
    }
    params.append_pair("currentPage", &page.to_string());
    params.append_pair("pageSize", &query.page_size.get().to_string());
    format!("{path}?{}", params.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rels(p: &Pagination) -> Vec<&str> {
        p.links.iter().map(|l| l.rel).collect()
    }

    #[test]
    fn defaults_apply_when_nothing_is_given() {
        let q = ListQuery::parse(None).expect("valid");
        assert_eq!(q.sort_by(), SortBy::CreatedAt);
        assert_eq!(q.sort_order(), SortOrder::Asc);
        assert_eq!(q.current_page.get(), 1);
        assert_eq!(q.page_size.get(), 25);
        assert_eq!(q.offset(), 0);
    }

    #[test]
    fn every_bad_parameter_is_named() {
        for (query, name) in [
            ("pageSize=0", "pageSize"),
            ("pageSize=101", "pageSize"),
            ("pageSize=x", "pageSize"),
            ("pageSize=", "pageSize"),
            ("pageSize=+5", "pageSize"),
            ("currentPage=0", "currentPage"),
            ("currentPage=-3", "currentPage"),
            ("currentPage=99999999999", "currentPage"),
            ("sortBy=name", "sortBy"),
            ("sortBy=CREATEDAT", "sortBy"),
            ("sortOrder=up", "sortOrder"),
        ] {
            assert_eq!(
                ListQuery::parse(Some(query)).map_err(|e| e.name),
                Err(name),
                "{query}"
            );
        }
    }

    #[test]
    fn unknown_parameters_are_ignored_and_first_value_wins() {
        let q =
            ListQuery::parse(Some("foo=bar&pageSize=10&pageSize=oops&sortBy=ttl")).expect("valid");
        assert_eq!(q.page_size.get(), 10);
        assert_eq!(q.sort_by(), SortBy::Ttl);
    }

    fn reading(page: u32, size: u32, total: u64) -> Option<PageReading> {
        let q = ListQuery {
            current_page: CurrentPage::new(page).expect("page"),
            page_size: PageSize::new(size).expect("size"),
            ..ListQuery::default()
        };
        q.reading(total)
    }

    #[test]
    fn pages_up_to_the_middle_are_read_forward() {
        let forward = |skip, take| {
            Some(PageReading {
                reversed: false,
                skip,
                take,
            })
        };
        assert_eq!(reading(1, 25, 100_000), forward(0, 25));
        assert_eq!(reading(2000, 25, 100_000), forward(49_975, 25));
        assert_eq!(reading(1, 25, 3), forward(0, 3));
        assert_eq!(reading(1, 25, 25), forward(0, 25));
    }

    #[test]
    fn pages_past_the_middle_are_read_from_the_end() {
        let reversed = |skip, take| {
            Some(PageReading {
                reversed: true,
                skip,
                take,
            })
        };
        assert_eq!(reading(4000, 25, 100_000), reversed(0, 25));
        assert_eq!(reading(2001, 25, 100_000), reversed(49_975, 25));
        // A short last page: the items left, from the very end.
        assert_eq!(reading(4, 25, 90), reversed(0, 15));
        assert_eq!(reading(2, 25, 26), reversed(0, 1));
    }

    #[test]
    fn a_page_past_the_end_reads_nothing() {
        assert_eq!(reading(2, 25, 25), None);
        assert_eq!(reading(1, 25, 0), None);
        assert_eq!(reading(u32::MAX, 100, 5), None);
    }

    #[test]
    fn every_page_covers_its_own_positions() {
        for total in 0..60u64 {
            for size in [1, 2, 7, 25] {
                let mut seen = Vec::new();
                for page in 1..=(total as u32 / size + 2) {
                    let Some(r) = reading(page, size, total) else {
                        continue;
                    };
                    let first = if r.reversed {
                        total - r.skip - r.take as u64
                    } else {
                        r.skip
                    };
                    assert_eq!(
                        first,
                        u64::from(page - 1) * u64::from(size),
                        "{total} {size}"
                    );
                    seen.extend(first..first + r.take as u64);
                }
                assert_eq!(seen, (0..total).collect::<Vec<_>>(), "{total} {size}");
            }
        }
    }

    #[test]
    fn offset_of_a_late_page_does_not_overflow() {
        let q = ListQuery::parse(Some("currentPage=4294967295&pageSize=100")).expect("valid");
        assert_eq!(q.offset(), 4294967294u64 * 100);
    }

    #[test]
    fn middle_page_has_every_link() {
        let q = ListQuery::parse(Some("sortOrder=desc&sortBy=ttl&currentPage=2&pageSize=10"))
            .expect("valid");
        let p = Pagination::new("/upload-tokens", &q, 35, 10);
        assert_eq!(p.pages_total, 4);
        assert_eq!(rels(&p), ["self", "first", "previous", "next", "last"]);
        assert_eq!(
            p.links[0].uri,
            "/upload-tokens?sortBy=ttl&sortOrder=desc&currentPage=2&pageSize=10"
        );
        assert_eq!(
            p.links[4].uri,
            "/upload-tokens?sortBy=ttl&sortOrder=desc&currentPage=4&pageSize=10"
        );
    }

    #[test]
    fn empty_listing_links_to_page_one() {
        let q = ListQuery::default();
        let p = Pagination::new("/upload-tokens", &q, 0, 0);
        assert_eq!(p.pages_total, 0);
        assert_eq!(rels(&p), ["self", "first", "last"]);
        assert!(
            p.links
                .iter()
                .all(|l| l.uri.ends_with("currentPage=1&pageSize=25"))
        );
    }

    #[test]
    fn page_past_the_end_links_back_to_the_last_page() {
        let q = ListQuery::parse(Some("currentPage=9&pageSize=10")).expect("valid");
        let p = Pagination::new("/upload-tokens", &q, 15, 0);
        assert_eq!(rels(&p), ["self", "first", "previous", "last"]);
        assert!(p.links[2].uri.contains("currentPage=2&"));
        assert!(p.links[3].uri.contains("currentPage=2&"));
    }

    #[test]
    fn last_page_has_no_next() {
        let q = ListQuery::parse(Some("currentPage=2&pageSize=10")).expect("valid");
        let p = Pagination::new("/upload-tokens", &q, 20, 10);
        assert_eq!(rels(&p), ["self", "first", "previous", "last"]);
    }
}
