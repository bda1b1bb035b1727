//! `POST /v1/users/import`: many people at once, as a JSON array of the `POST /v1/users`
//! bodies or as CSV (`username,email,given_name,family_name,roles`, roles separated by `;`,
//! as PSA and CRM exports have them). Each row is validated and recorded on its own; the
//! answer says per row whether it was created, skipped as a duplicate (its username or
//! address is taken, also by an earlier row), or refused with the reason. Nobody is
//! activated by an import.

use futures_util::stream::{self, StreamExt};
use lambda_http::http::{header, StatusCode};
use serde::{Deserialize, Serialize};
use shared::domain::people::{Admin, NewPerson};
use shared::domain::{Error, Organization};

use crate::context::Call;
use crate::problem::Problem;

/// Most rows in one request.
pub const MAX_ROWS: usize = 10_000;
/// Rows recorded at once (each is one DynamoDB transaction).
const CONCURRENCY: usize = 16;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonRow {
    username: String,
    email: String,
    #[serde(default)]
    given_name: Option<String>,
    #[serde(default)]
    family_name: Option<String>,
    #[serde(default)]
    roles: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RowResult {
    Created,
    Skipped,
    Refused,
}

#[derive(Debug, Clone, Serialize)]
pub struct RowAnswer {
    /// 1-based: the first person is row 1 (in CSV, the line after the header).
    pub row: usize,
    pub result: RowResult,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct ImportAnswer {
    pub created: usize,
    pub skipped: usize,
    pub refused: usize,
    pub rows: Vec<RowAnswer>,
}

/// The rows of the body: each a person to add, or the reason the row cannot be read.
fn rows(call: &Call<'_>) -> Result<Vec<Result<NewPerson, String>>, Problem> {
    let content_type = call.header(header::CONTENT_TYPE).unwrap_or("");
    let media = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let rows = match media.as_str() {
        "application/json" => {
            let values: Vec<serde_json::Value> =
                serde_json::from_slice(call.body).map_err(|e| {
                    Problem::invalid(
                        "body",
                        format!("The body must be a JSON array of people: {e}."),
                    )
                })?;
            values
                .into_iter()
                .map(|v| {
                    serde_json::from_value::<JsonRow>(v)
                        .map(|r| NewPerson {
                            username: r.username,
                            email: r.email,
                            given_name: r.given_name,
                            family_name: r.family_name,
                            roles: r.roles,
                        })
                        .map_err(|e| e.to_string())
                })
                .collect()
        }
        "text/csv" => csv_rows(call.body)?,
        _ => {
            return Err(Problem::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "Send JSON or CSV",
                "The body must be application/json (an array) or text/csv.",
            ))
        }
    };
    if rows.len() > MAX_ROWS {
        return Err(Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too-many-rows",
            "Too many rows",
            format!("One import takes at most {MAX_ROWS} people; split the file."),
        ));
    }
    Ok(rows)
}

const COLUMNS: [&str; 5] = ["username", "email", "given_name", "family_name", "roles"];

fn csv_rows(body: &[u8]) -> Result<Vec<Result<NewPerson, String>>, Problem> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(true)
        .from_reader(body);
    let headers = reader
        .headers()
        .map_err(|e| Problem::invalid("body", format!("The CSV has no readable header row: {e}.")))?
        .clone();
    let position = |name: &str| headers.iter().position(|h| h.eq_ignore_ascii_case(name));
    if let Some(unknown) = headers
        .iter()
        .find(|h| !COLUMNS.iter().any(|c| c.eq_ignore_ascii_case(h)))
    {
        return Err(Problem::invalid(
            unknown.to_owned(),
            format!(
                "The CSV column {unknown:?} is not one of {}.",
                COLUMNS.join(", ")
            ),
        ));
    }
    let (Some(username), Some(email)) = (position("username"), position("email")) else {
        return Err(Problem::invalid(
            "body",
            "The CSV header must name at least the username and email columns.",
        ));
    };
    let (given, family, roles) = (
        position("given_name"),
        position("family_name"),
        position("roles"),
    );
    let mut rows = Vec::new();
    for record in reader.records() {
        rows.push(match record {
            Err(e) => Err(format!("the line cannot be read: {e}")),
            Ok(r) => {
                let field = |i: Option<usize>| {
                    i.and_then(|i| r.get(i))
                        .filter(|v| !v.is_empty())
                        .map(str::to_owned)
                };
                Ok(NewPerson {
                    username: field(Some(username)).unwrap_or_default(),
                    email: field(Some(email)).unwrap_or_default(),
                    given_name: field(given),
                    family_name: field(family),
                    roles: field(roles)
                        .map(|v| {
                            v.split(';')
                                .map(|r| r.trim().to_owned())
                                .filter(|r| !r.is_empty())
                                .collect()
                        })
                        .unwrap_or_default(),
                })
            }
        });
        if rows.len() > MAX_ROWS {
            break;
        }
    }
    Ok(rows)
}

/// Records every readable, valid row; the answer has one entry per row, in order.
pub async fn import(
    admin: &Admin<'_>,
    org: &Organization,
    call: &Call<'_>,
) -> Result<ImportAnswer, Problem> {
    let mut rows = rows(call)?;
    // A username or address that an earlier row of the same file has: skipped, whichever
    // row a concurrent write would have let win.
    let mut seen = std::collections::HashMap::new();
    let mut duplicates = std::collections::HashMap::new();
    for (i, row) in rows.iter().enumerate() {
        if let Ok(new) = row {
            for key in [
                format!("u:{}", new.username.trim().to_lowercase()),
                format!("e:{}", new.email.trim().to_lowercase()),
            ] {
                if let Some(first) = seen.get(&key) {
                    duplicates.entry(i).or_insert(*first);
                } else {
                    seen.insert(key, i + 1);
                }
            }
        }
    }
    for (i, first) in &duplicates {
        rows[*i] = Err(format!("duplicate of row {first}"));
    }
    let answers: Vec<RowAnswer> = stream::iter(rows.into_iter().enumerate())
        .map(|(i, row)| async move {
            let row_number = i + 1;
            match row {
                Err(reason) => RowAnswer {
                    row: row_number,
                    result: if reason.starts_with("duplicate of row") {
                        RowResult::Skipped
                    } else {
                        RowResult::Refused
                    },
                    id: None,
                    username: None,
                    reason: Some(reason),
                },
                Ok(new) => match admin.add_person(org, &new).await {
                    Ok(person) => RowAnswer {
                        row: row_number,
                        result: RowResult::Created,
                        id: Some(person.id.to_string()),
                        username: Some(person.username),
                        reason: None,
                    },
                    Err(e) => {
                        let result = match &e {
                            Error::NotAllowed { .. } => RowResult::Skipped,
                            _ => RowResult::Refused,
                        };
                        if matches!(e, Error::Unreachable { .. } | Error::Aws { .. }) {
                            tracing::error!(code = e.code(), error = %e, "import row failed");
                        }
                        RowAnswer {
                            row: row_number,
                            result,
                            id: None,
                            username: Some(new.username.trim().to_lowercase()),
                            reason: Some(e.to_string()),
                        }
                    }
                },
            }
        })
        .buffered(CONCURRENCY)
        .collect()
        .await;
    let count = |r: RowResult| answers.iter().filter(|a| a.result == r).count();
    Ok(ImportAnswer {
        created: count(RowResult::Created),
        skipped: count(RowResult::Skipped),
        refused: count(RowResult::Refused),
        rows: answers,
    })
}
