//! Finding people in a large organization, and counting them, in a bounded number of reads.
//!
//! Search is a prefix match on search terms: a person's username, sign-in name, e-mail
//! address, given and family name (each word of a name, and the whole name), folded to
//! lower-case ASCII ([`fold`]: accents and letters such as `ß`, `ø`, `ł` transliterated,
//! punctuation other than `. - _ @ +` dropped). The registry keeps one index entry per person
//! and term, keyed `<term>#<person id>` ([`index_key`]), so that a query is one range read of
//! the entries starting with the folded query. A person whose several terms start with the
//! query is listed once, at the smallest such key ([`listed_at`]).
//!
//! Counts (people per status, members per role, administrators holding a login) are
//! counters that every write of a person moves by [`counter_deltas`] in the same
//! transaction; [`recount`] computes them from the records, to check or rebuild them.

use std::collections::{BTreeMap, BTreeSet};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use super::{Error, OrgId, Person, PersonStatus, Role};
use crate::domain::ports::{Page, Registry};

/// Longest search term kept, in folded characters (ASCII: bytes). DynamoDB's sort keys
/// hold 1,024 bytes; a query is cut to the same length, so a long name still matches.
pub const MAX_TERM_CHARS: usize = 200;
/// Longest query a client may send, in characters as typed.
pub const MAX_QUERY_CHARS: usize = 100;

/// Lower-case ASCII for matching: transliterated (`Ångström` -> `angstrom`, `Straße` ->
/// `strasse`), letters, digits and `. - _ @ +` kept, apostrophes dropped (`O'Brien` ->
/// `obrien`), every other character a single space, trimmed, cut to [`MAX_TERM_CHARS`].
pub fn fold(text: &str) -> String {
    let ascii = deunicode::deunicode(text).to_ascii_lowercase();
    let mut out = String::with_capacity(ascii.len());
    let mut space = false;
    for c in ascii.chars() {
        match c {
            'a'..='z' | '0'..='9' | '.' | '-' | '_' | '@' | '+' => {
                if space && !out.is_empty() {
                    out.push(' ');
                }
                space = false;
                out.push(c);
            }
            '\'' | '`' => {}
            _ => space = true,
        }
        if out.len() >= MAX_TERM_CHARS {
            break;
        }
    }
    out.truncate(MAX_TERM_CHARS);
    out
}

/// The words of a folded name: split at spaces and hyphens (`jean-luc` -> `jean`, `luc`).
fn words(folded: &str) -> impl Iterator<Item = &str> {
    folded
        .split([' ', '-'])
        .filter(|w| !w.is_empty() && w.len() < folded.len())
}

/// The search terms of a person, sorted, without duplicates and without a term that is the
/// beginning of another (every query matching it matches the longer one too).
pub fn terms(person: &Person) -> Vec<String> {
    let mut all = BTreeSet::new();
    let mut add = |term: String| {
        if !term.is_empty() {
            all.insert(term);
        }
    };
    add(fold(&person.username));
    if let Some(name) = &person.preferred_username {
        add(fold(name));
    }
    add(fold(person.email.as_str()));
    let given = person.given_name.as_deref().map(fold).unwrap_or_default();
    let family = person.family_name.as_deref().map(fold).unwrap_or_default();
    for name in [&given, &family] {
        for word in words(name) {
            add(word.to_owned());
        }
        add(name.clone());
    }
    if !given.is_empty() && !family.is_empty() {
        add(fold(&format!("{given} {family}")));
    }
    let sorted: Vec<String> = all.into_iter().collect();
    // Sorted, a term's extensions follow it directly: a term is redundant when the next
    // one starts with it.
    sorted
        .iter()
        .enumerate()
        .filter(|(i, term)| {
            sorted
                .get(i + 1)
                .is_none_or(|next| !next.starts_with(*term))
        })
        .map(|(_, term)| term.clone())
        .collect()
}

/// The index key of one term of a person: `<term>#<person id>`. Terms never hold `#`.
pub fn index_key(term: &str, person: &Person) -> String {
    format!("{term}#{}", person.id)
}

/// The index keys of a person (one per term).
pub fn index_keys(person: &Person) -> Vec<String> {
    terms(person).iter().map(|t| index_key(t, person)).collect()
}

/// Where a person is listed for the folded query `q`: the smallest of their index keys that
/// starts with `q` (`None`: they do not match).
pub fn listed_at(person: &Person, q: &str) -> Option<String> {
    index_keys(person)
        .into_iter()
        .filter(|k| k.starts_with(q))
        .min()
}

/// What `GET /v1/users` asks for: a query (folded; `None`: everyone in username order), a
/// status and a role.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PeopleQuery {
    pub q: Option<String>,
    pub status: Option<PersonStatus>,
    pub role: Option<Role>,
}

impl PeopleQuery {
    /// A query as a client sends it; `q` is folded (one that folds to nothing lists
    /// everyone).
    pub fn new(
        q: Option<&str>,
        status: Option<PersonStatus>,
        role: Option<Role>,
    ) -> Result<Self, Error> {
        if let Some(q) = q {
            if q.chars().count() > MAX_QUERY_CHARS {
                return Err(Error::InvalidInput {
                    what: "q",
                    value: q.chars().take(MAX_QUERY_CHARS).collect(),
                    rule: "it must be at most 100 characters",
                });
            }
        }
        let q = q.map(fold).filter(|q| !q.is_empty());
        Ok(Self { q, status, role })
    }

    /// Whether the status and role filters hold (the query is matched by the index).
    pub fn filters_hold(&self, person: &Person) -> bool {
        self.status.is_none_or(|s| person.status == s)
            && self.role.as_ref().is_none_or(|r| person.roles.contains(r))
    }

    /// Whether a person is in the answer at all.
    pub fn matches(&self, person: &Person) -> bool {
        self.filters_hold(person)
            && self
                .q
                .as_deref()
                .is_none_or(|q| listed_at(person, q).is_some())
    }

    /// Whether a filter may make a read return entries that are not in the answer.
    pub fn filtered(&self) -> bool {
        self.status.is_some() || self.role.is_some()
    }

    /// How many index entries one page may read for `limit` answers: `limit` for a plain
    /// list, twice that when entries can be skipped (filters, a person met twice).
    pub fn read_budget(&self, limit: u32) -> u32 {
        if self.q.is_some() || self.filtered() {
            limit.saturating_mul(2)
        } else {
            limit
        }
    }

    /// Where a listing entry stands: its index key for a query, its username otherwise.
    pub fn position(&self, person: &Person) -> Option<String> {
        match &self.q {
            Some(q) => listed_at(person, q),
            None => Some(person.username.clone()),
        }
    }
}

/// One entry of a read in key order: its key (the index key for a query, the username for
/// the plain list) and the person it stands for.
#[derive(Debug, Clone)]
pub struct Entry {
    pub key: String,
    pub person: Person,
}

/// The page that entries read in key order give: the people of the answer, each once (an
/// entry is skipped unless it is where its person is listed), up to `limit`, and where the
/// next page starts: after the entry of the page's last person when the page filled up
/// before the entries ran out, else `read_on` (the key the read stopped at, when it did not
/// reach the end). A page may hold fewer than `limit` people and still have a next one: it
/// read its budget of entries.
pub fn select(
    query: &PeopleQuery,
    entries: Vec<Entry>,
    limit: usize,
    read_on: Option<String>,
) -> Page<Person> {
    let mut items = Vec::new();
    let total = entries.len();
    for (i, entry) in entries.into_iter().enumerate() {
        let listed_here = match &query.q {
            Some(_) => query.position(&entry.person).as_deref() == Some(entry.key.as_str()),
            None => true,
        };
        if !listed_here || !query.filters_hold(&entry.person) {
            continue;
        }
        items.push(entry.person);
        if items.len() == limit {
            let more = i + 1 < total || read_on.is_some();
            return Page {
                items,
                next: more.then_some(entry.key),
            };
        }
    }
    Page {
        items,
        next: read_on,
    }
}

/// A page cursor as clients see it: opaque, bound to the query it came from (a cursor of
/// another query is refused, not misread).
pub fn encode_cursor(query: &PeopleQuery, after: &str) -> String {
    let q = query.q.as_deref().unwrap_or("");
    URL_SAFE_NO_PAD.encode(format!("1|{q}|{after}"))
}

/// The position a cursor of [`encode_cursor`] stands for.
pub fn decode_cursor(query: &PeopleQuery, cursor: &str) -> Result<String, Error> {
    let invalid = || Error::InvalidInput {
        what: "cursor",
        value: String::new(),
        rule: "it must be the next_cursor of an earlier page of the same query",
    };
    let text = URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(invalid)?;
    let rest = text.strip_prefix("1|").ok_or_else(invalid)?;
    let q = query.q.as_deref().unwrap_or("");
    let after = rest
        .strip_prefix(q)
        .and_then(|r| r.strip_prefix('|'))
        .ok_or_else(invalid)?;
    // A query's position is one of its index keys; the plain list's a username.
    let fits = match &query.q {
        Some(q) => after.starts_with(q.as_str()) && after.contains('#'),
        None => !after.is_empty(),
    };
    if fits {
        Ok(after.to_owned())
    } else {
        Err(invalid())
    }
}

/// The counters of an organization's people: people per status (`status_<status>`), members
/// of each role, its holders among the people not unlinked (`role_<role>`), every record
/// holding it, unlinked ones too (`held_<role>`: a role still held cannot be deleted), and
/// administrators holding a login (`admins_with_login`). A counter nobody moved is absent
/// (zero).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PeopleCounts(pub BTreeMap<String, i64>);

pub const ADMINS_WITH_LOGIN: &str = "admins_with_login";

pub fn status_counter(status: PersonStatus) -> String {
    format!("status_{status}")
}

pub fn role_counter(role: &Role) -> String {
    format!("role_{}", role.as_str())
}

pub fn held_counter(role: &Role) -> String {
    format!("held_{}", role.as_str())
}

impl PeopleCounts {
    pub fn get(&self, counter: &str) -> i64 {
        self.0.get(counter).copied().unwrap_or(0)
    }

    pub fn status(&self, status: PersonStatus) -> i64 {
        self.get(&status_counter(status))
    }

    /// Members of a role: its holders among the people not unlinked.
    pub fn role(&self, role: &Role) -> i64 {
        self.get(&role_counter(role))
    }

    /// Records holding a role, unlinked ones too.
    pub fn held(&self, role: &Role) -> i64 {
        self.get(&held_counter(role))
    }

    pub fn admins_with_login(&self) -> i64 {
        self.get(ADMINS_WITH_LOGIN)
    }

    fn add(&mut self, counter: String, by: i64) {
        *self.0.entry(counter).or_insert(0) += by;
    }

    /// The counters without the ones at zero (two counts compare equal whatever zeros they
    /// carry).
    pub fn nonzero(&self) -> BTreeMap<String, i64> {
        self.0
            .iter()
            .filter(|(_, v)| **v != 0)
            .map(|(k, v)| (k.clone(), *v))
            .collect()
    }
}

/// What one person adds to the counters.
pub fn contribution(person: &Person) -> Vec<String> {
    let mut counters = vec![status_counter(person.status)];
    let mut roles: Vec<&Role> = person.roles.iter().collect();
    roles.sort();
    roles.dedup();
    counters.extend(roles.iter().copied().map(held_counter));
    if person.status != PersonStatus::Unlinked {
        counters.extend(roles.into_iter().map(role_counter));
    }
    if person.is_active_admin() {
        counters.push(ADMINS_WITH_LOGIN.to_owned());
    }
    counters
}

/// How the counters move when `before` (`None`: a new person) becomes `after` (`None`: a
/// record removed): each counter once, net, none at zero.
pub fn counter_deltas(before: Option<&Person>, after: Option<&Person>) -> Vec<(String, i64)> {
    let mut net = PeopleCounts::default();
    for counter in before.map(contribution).unwrap_or_default() {
        net.add(counter, -1);
    }
    for counter in after.map(contribution).unwrap_or_default() {
        net.add(counter, 1);
    }
    net.nonzero().into_iter().collect()
}

/// The organization's counters: the registry's when they are complete, else counted from
/// the records (every person read: an organization whose counters were not built yet).
pub async fn people_counts(registry: &dyn Registry, org: &OrgId) -> Result<PeopleCounts, Error> {
    if let Some(counts) = registry.people_counts(org).await? {
        return Ok(counts);
    }
    tracing::warn!(org_id = %org, "people counters incomplete: counting from the records; run `tenantctl org reindex`");
    let mut counts = PeopleCounts::default();
    let mut cursor: Option<String> = None;
    loop {
        let page = registry
            .people(org, &|_: &Person| true, cursor.as_deref(), 1000)
            .await?;
        for person in &page.items {
            for counter in contribution(person) {
                counts.add(counter, 1);
            }
        }
        match page.next {
            Some(next) => cursor = Some(next),
            None => return Ok(counts),
        }
    }
}

/// The counters of these people, counted one by one.
pub fn recount<'a>(people: impl IntoIterator<Item = &'a Person>) -> PeopleCounts {
    let mut counts = PeopleCounts::default();
    for person in people {
        for counter in contribution(person) {
            counts.add(counter, 1);
        }
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{EmailAddress, PersonStatus::*};

    fn person(username: &str, email: &str, given: Option<&str>, family: Option<&str>) -> Person {
        let mut p = Person::new(
            OrgId::from("org-1".to_owned()),
            username.into(),
            EmailAddress::parse(email).expect("valid"),
            vec![Role::parse("member").expect("valid")],
            Added,
        );
        p.given_name = given.map(str::to_owned);
        p.family_name = family.map(str::to_owned);
        p
    }

    #[test]
    fn folding_lowers_and_transliterates() {
        assert_eq!(fold("Ångström"), "angstrom");
        assert_eq!(fold("STRAẞE"), "strasse");
        assert_eq!(fold("Søren Kierkegaard"), "soren kierkegaard");
        assert_eq!(fold("Łukasz"), "lukasz");
        assert_eq!(fold("O'Brien"), "obrien");
        assert_eq!(fold("  José   María  "), "jose maria");
        assert_eq!(fold("Jean-Luc"), "jean-luc");
        assert_eq!(fold("a#b"), "a b", "no term holds the key separator");
        assert_eq!(fold("Jane.Doe+x@Acme.COM"), "jane.doe+x@acme.com");
        assert_eq!(fold(&"é".repeat(500)).len(), MAX_TERM_CHARS);
        assert_eq!(fold("!!!"), "");
    }

    #[test]
    fn terms_cover_every_field_and_drop_redundant_ones() {
        let mut p = person(
            "anna.k",
            "anna.k@acme.com",
            Some("Anna Maria"),
            Some("van der Berg"),
        );
        p.preferred_username = Some("annie".into());
        let t = terms(&p);
        for expected in [
            "anna.k@acme.com",
            "annie",
            "anna maria van der berg",
            "maria",
            "van der berg",
            "der",
            "berg",
        ] {
            assert!(t.contains(&expected.to_owned()), "{expected} in {t:?}");
        }
        // A term that begins another adds nothing: "anna.k" (the address), "anna maria"
        // and "anna" (the full name), "van" (the family name).
        for redundant in ["anna.k", "anna maria", "anna", "van"] {
            assert!(!t.contains(&redundant.to_owned()), "{redundant} in {t:?}");
        }
        assert!(t.windows(2).all(|w| w[0] < w[1]), "sorted: {t:?}");
    }

    #[test]
    fn a_person_is_listed_once_at_the_first_matching_key() {
        let p = person("anna", "anna@acme.com", Some("Anna"), Some("Annan"));
        let keys = index_keys(&p);
        let q = fold("ANN");
        let matching: Vec<_> = keys.iter().filter(|k| k.starts_with(&q)).collect();
        assert!(matching.len() > 1, "{keys:?}");
        assert_eq!(listed_at(&p, &q).as_ref(), matching.iter().copied().min());
        assert_eq!(listed_at(&p, "zed"), None);
        // Infix is not prefix.
        assert_eq!(listed_at(&p, "nna"), None);
        assert!(listed_at(&p, &fold("acme")).is_none());
        assert!(listed_at(&p, &fold("anna@ACME")).is_some());
    }

    #[test]
    fn queries_match_prefixes_of_each_field_with_accents_folded() {
        let p = person(
            "jdoe",
            "john.doe@acme.com",
            Some("Jöhn"),
            Some("Müller-Lüdenscheidt"),
        );
        let matches = |q: &str| {
            PeopleQuery::new(Some(q), None, None)
                .expect("valid")
                .matches(&p)
        };
        for q in [
            "jd",
            "JOHN",
            "john.d",
            "müller",
            "MULLER",
            "ludensch",
            "john muller",
            "Jöhn Mü",
        ] {
            assert!(matches(q), "{q}");
        }
        for q in ["doe", "acme.com", "ller", "muller john", "x"] {
            assert!(!matches(q), "{q}");
        }
        assert!(PeopleQuery::new(Some(&"x".repeat(101)), None, None).is_err());
        assert_eq!(
            PeopleQuery::new(Some("  "), None, None).expect("valid").q,
            None,
            "a blank query lists everyone"
        );
    }

    fn entries(query: &PeopleQuery, people: &[Person]) -> Vec<Entry> {
        let mut all: Vec<Entry> = people
            .iter()
            .flat_map(|p| match &query.q {
                Some(_) => index_keys(p)
                    .into_iter()
                    .map(|key| Entry {
                        key,
                        person: p.clone(),
                    })
                    .collect(),
                None => vec![Entry {
                    key: p.username.clone(),
                    person: p.clone(),
                }],
            })
            .filter(|e| query.q.as_deref().is_none_or(|q| e.key.starts_with(q)))
            .collect();
        all.sort_by(|a, b| a.key.cmp(&b.key));
        all
    }

    /// Pages through `people` as the registry does: each page reads at most the query's
    /// budget of entries after the cursor.
    fn page_through(query: &PeopleQuery, people: &[Person], limit: u32) -> Vec<Vec<String>> {
        let all = entries(query, people);
        let mut pages = Vec::new();
        let mut after: Option<String> = None;
        for _ in 0..1000 {
            let budget = query.read_budget(limit) as usize;
            let rest: Vec<Entry> = all
                .iter()
                .filter(|e| after.as_ref().is_none_or(|a| &e.key > a))
                .cloned()
                .collect();
            let read: Vec<Entry> = rest.iter().take(budget).cloned().collect();
            assert!(read.len() <= 2 * limit as usize);
            let read_on = (rest.len() > budget).then(|| read[budget - 1].key.clone());
            let page = select(query, read, limit as usize, read_on);
            assert!(page.items.len() <= limit as usize);
            pages.push(page.items.iter().map(|p| p.username.clone()).collect());
            // The cursor survives the trip through the client.
            match page.next {
                Some(next) => {
                    let cursor = encode_cursor(query, &next);
                    after = Some(decode_cursor(query, &cursor).expect("own cursor"));
                }
                None => return pages,
            }
        }
        panic!("paging did not end");
    }

    fn crowd() -> Vec<Person> {
        let mut people = Vec::new();
        for i in 0..60 {
            let mut p = person(
                &format!("user{i:02}"),
                &format!("user{i:02}@acme.com"),
                Some(if i % 3 == 0 { "Anna" } else { "Bert" }),
                Some(if i % 2 == 0 { "Andersson" } else { "Zola" }),
            );
            p.status = if i % 4 == 0 { Active } else { Added };
            if i % 5 == 0 {
                p.roles.push(Role::admin());
            }
            people.push(p);
        }
        people
    }

    #[test]
    fn paging_finds_every_match_exactly_once_within_the_read_budget() {
        let people = crowd();
        let admin = Role::admin();
        for (q, status, role) in [
            (None, None, None),
            (Some("an"), None, None),
            (Some("user1"), None, None),
            (Some("a"), Some(Active), None),
            (None, Some(Active), Some(admin.clone())),
            (Some("bert z"), None, Some(admin.clone())),
        ] {
            let query = PeopleQuery::new(q, status, role.clone()).expect("valid");
            let mut expected: Vec<String> = people
                .iter()
                .filter(|p| query.matches(p))
                .map(|p| p.username.clone())
                .collect();
            expected.sort();
            for limit in [1, 3, 7, 50] {
                let pages = page_through(&query, &people, limit);
                let mut found: Vec<String> = pages.into_iter().flatten().collect();
                found.sort();
                assert_eq!(found, expected, "{query:?} by {limit}");
            }
        }
    }

    #[test]
    fn cursors_are_bound_to_their_query() {
        let anna = PeopleQuery::new(Some("anna"), None, None).expect("valid");
        let bert = PeopleQuery::new(Some("bert"), None, None).expect("valid");
        let list = PeopleQuery::default();
        let cursor = encode_cursor(&anna, "anna#per-1");
        assert_eq!(decode_cursor(&anna, &cursor), Ok("anna#per-1".into()));
        assert!(decode_cursor(&bert, &cursor).is_err());
        assert!(decode_cursor(&list, &cursor).is_err());
        assert!(decode_cursor(&anna, "not base64!").is_err());
        assert!(decode_cursor(&anna, &URL_SAFE_NO_PAD.encode("1|anna|zed#x")).is_err());
        let plain = encode_cursor(&list, "user07");
        assert_eq!(decode_cursor(&list, &plain), Ok("user07".into()));
    }

    #[test]
    fn counters_move_by_the_change_only() {
        let mut p = person("a", "a@acme.com", None, None);
        p.roles.push(Role::admin());
        assert_eq!(
            counter_deltas(None, Some(&p)),
            vec![
                ("held_admin".into(), 1),
                ("held_member".into(), 1),
                ("role_admin".into(), 1),
                ("role_member".into(), 1),
                ("status_added".into(), 1)
            ]
        );
        let mut active = p.clone();
        active.status = Active;
        assert_eq!(
            counter_deltas(Some(&p), Some(&active)),
            vec![
                (ADMINS_WITH_LOGIN.into(), 1),
                ("status_active".into(), 1),
                ("status_added".into(), -1)
            ]
        );
        let mut unlinked = active.clone();
        unlinked.status = Unlinked;
        assert_eq!(
            counter_deltas(Some(&active), Some(&unlinked)),
            vec![
                (ADMINS_WITH_LOGIN.into(), -1),
                ("role_admin".into(), -1),
                ("role_member".into(), -1),
                ("status_active".into(), -1),
                ("status_unlinked".into(), 1)
            ]
        );
        let mut renamed = active.clone();
        renamed.given_name = Some("Al".into());
        assert!(counter_deltas(Some(&active), Some(&renamed)).is_empty());
    }

    #[test]
    fn counters_kept_by_deltas_agree_with_a_recount() {
        let mut people = crowd();
        let mut counts = recount(&people);
        for (i, p) in people.iter_mut().enumerate() {
            let before = p.clone();
            match i % 4 {
                0 => p.status = Unlinked,
                1 => p.roles = vec![Role::admin()],
                2 => p.status = Invited,
                _ => p.roles.clear(),
            }
            for (counter, by) in counter_deltas(Some(&before), Some(p)) {
                counts.add(counter, by);
            }
        }
        assert_eq!(counts.nonzero(), recount(&people).nonzero());
        assert_eq!(
            recount(&people).status(Unlinked),
            people.iter().filter(|p| p.status == Unlinked).count() as i64
        );
    }
}
