//! A loopback proxy in front of moto that throttles Cognito as Cognito does: requests of one
//! quota category above its rate within the current second are answered
//! `TooManyRequestsException` (HTTP 400, as Cognito's JSON protocol does); everything else is
//! passed to moto unchanged. moto itself never throttles (DESIGN.md), so this is how the
//! migration's rate limiting and back-off are measured.
//!
//! Categories (Cognito developer guide, "Quotas", user pool operation categories): the
//! operation is read from the `X-Amz-Target` header.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// The category of a Cognito operation, and its rate in the proxy.
pub fn category(operation: &str) -> &'static str {
    match operation {
        "AdminCreateUser" | "SignUp" => "UserCreation",
        "AdminAddUserToGroup" | "AdminRemoveUserFromGroup" => "UserResourceUpdate",
        "AdminDisableUser"
        | "AdminEnableUser"
        | "AdminUserGlobalSignOut"
        | "AdminSetUserPassword"
        | "AdminUpdateUserAttributes"
        | "AdminResetUserPassword"
        | "AdminDeleteUser" => "UserUpdate",
        "ListUsers" | "ListUsersInGroup" => "UserList",
        "AdminGetUser" => "UserRead",
        _ => "PoolOperations",
    }
}

/// Requests per second allowed per category.
#[derive(Debug, Clone)]
pub struct Quotas(pub HashMap<&'static str, u64>);

impl Quotas {
    /// Cognito's defaults.
    pub fn cognito() -> Self {
        Self(HashMap::from([
            ("UserCreation", 50),
            ("UserResourceUpdate", 25),
            ("UserUpdate", 25),
            ("UserList", 30),
            ("UserRead", 120),
            ("PoolOperations", 15),
        ]))
    }
}

/// What went through, per category: (accepted, throttled).
#[derive(Debug, Default)]
pub struct Tally {
    counts: Mutex<HashMap<&'static str, (u64, u64)>>,
    pub throttled: AtomicU64,
}

impl Tally {
    pub fn get(&self, category: &str) -> (u64, u64) {
        self.counts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(category)
            .copied()
            .unwrap_or_default()
    }
}

struct Windows {
    quotas: Quotas,
    /// category -> (second, requests in it)
    current: Mutex<HashMap<&'static str, (u64, u64)>>,
    start: Instant,
}

impl Windows {
    fn admit(&self, category: &'static str) -> bool {
        let limit = self.quotas.0.get(category).copied().unwrap_or(u64::MAX);
        let second = self.start.elapsed().as_secs();
        let mut current = self.current.lock().unwrap_or_else(|p| p.into_inner());
        let slot = current.entry(category).or_insert((second, 0));
        if slot.0 != second {
            *slot = (second, 0);
        }
        if slot.1 >= limit {
            return false;
        }
        slot.1 += 1;
        true
    }
}

/// Starts the proxy on a free loopback port in front of `upstream` (`127.0.0.1:<port>`);
/// returns its endpoint URL and the tally.
pub async fn start(upstream_port: u16, quotas: Quotas) -> (String, Arc<Tally>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let windows = Arc::new(Windows {
        quotas,
        current: Mutex::new(HashMap::new()),
        start: Instant::now(),
    });
    let tally = Arc::new(Tally::default());
    let t = tally.clone();
    tokio::spawn(async move {
        loop {
            let Ok((client, _)) = listener.accept().await else {
                continue;
            };
            let windows = windows.clone();
            let tally = t.clone();
            tokio::spawn(async move {
                let _ = serve(client, upstream_port, &windows, &tally).await;
            });
        }
    });
    (format!("http://127.0.0.1:{port}"), tally)
}

/// One HTTP/1.1 message: head lines and body.
pub(crate) async fn read_message<R: tokio::io::AsyncBufRead + Unpin>(
    r: &mut R,
) -> std::io::Result<Option<(Vec<String>, Vec<u8>)>> {
    let mut head = Vec::new();
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).await? == 0 {
            return Ok(None);
        }
        let line = line.trim_end_matches(['\r', '\n']).to_owned();
        if line.is_empty() {
            break;
        }
        head.push(line);
    }
    let len = head
        .iter()
        .find_map(|h| {
            let (k, v) = h.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse::<usize>().ok())?
        })
        .unwrap_or(0);
    let mut body = vec![0; len];
    r.read_exact(&mut body).await?;
    Ok(Some((head, body)))
}

pub(crate) fn header<'a>(head: &'a [String], name: &str) -> Option<&'a str> {
    head.iter().find_map(|h| {
        let (k, v) = h.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then_some(v.trim())
    })
}

async fn serve(
    client: TcpStream,
    upstream_port: u16,
    windows: &Windows,
    tally: &Tally,
) -> std::io::Result<()> {
    let (read, mut write) = client.into_split();
    let mut read = BufReader::new(read);
    let mut upstream: Option<BufReader<TcpStream>> = None;
    while let Some((head, body)) = read_message(&mut read).await? {
        let category = header(&head, "x-amz-target")
            .and_then(|t| t.strip_prefix("AWSCognitoIdentityProviderService."))
            .map(category);
        if let Some(category) = category {
            let admitted = windows.admit(category);
            {
                let mut counts = tally.counts.lock().unwrap_or_else(|p| p.into_inner());
                let c = counts.entry(category).or_default();
                if admitted {
                    c.0 += 1;
                } else {
                    c.1 += 1;
                }
            }
            if !admitted {
                tally.throttled.fetch_add(1, Ordering::Relaxed);
                let body = r#"{"__type":"TooManyRequestsException","message":"Too many requests"}"#;
                let answer = format!(
                    "HTTP/1.1 400 Bad Request\r\ncontent-type: application/x-amz-json-1.1\r\nx-amzn-errortype: TooManyRequestsException\r\ncontent-length: {}\r\n\r\n{body}",
                    body.len()
                );
                write.write_all(answer.as_bytes()).await?;
                continue;
            }
        }
        if upstream.is_none() {
            upstream = Some(BufReader::new(
                TcpStream::connect(("127.0.0.1", upstream_port)).await?,
            ));
        }
        let up = upstream.as_mut().expect("connected");
        let mut request = String::new();
        for h in &head {
            request.push_str(h);
            request.push_str("\r\n");
        }
        request.push_str("\r\n");
        up.get_mut().write_all(request.as_bytes()).await?;
        up.get_mut().write_all(&body).await?;
        let Some((rhead, mut rbody)) = read_message(up).await? else {
            return Ok(());
        };
        let mut close =
            header(&rhead, "connection").is_some_and(|c| c.eq_ignore_ascii_case("close"));
        if header(&rhead, "content-length").is_none() {
            // A body delimited by the end of the connection.
            up.read_to_end(&mut rbody).await?;
            close = true;
        }
        let rhead: Vec<String> = rhead
            .into_iter()
            .filter(|h| !h.to_ascii_lowercase().starts_with("content-length:"))
            .chain(std::iter::once(format!("content-length: {}", rbody.len())))
            .collect();
        let mut answer = String::new();
        for h in rhead
            .iter()
            .filter(|h| !h.to_ascii_lowercase().starts_with("connection:"))
        {
            answer.push_str(h);
            answer.push_str("\r\n");
        }
        answer.push_str("\r\n");
        write.write_all(answer.as_bytes()).await?;
        write.write_all(&rbody).await?;
        if close {
            upstream = None;
        }
    }
    Ok(())
}
