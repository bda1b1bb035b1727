//! A loopback proxy in front of moto that kills a run at an exact moment: when the n-th
//! request of an operation (the `X-Amz-Target` header, such as `AdminCreateUser` or
//! `PutItem`) whose body holds every given fragment passes, the proxy kills the process
//! (SIGKILL) or aborts the task making it, either before the request reaches moto or after
//! moto has done it but before its answer gets back. The run under test is unchanged: it
//! only talks to AWS through this proxy (`AWS_ENDPOINT_URL`), as it would through a network
//! that a kill cuts, so each kill point of a migration is hit deterministically, from
//! outside, at observed progress.

use std::process::Child;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

use crate::throttle::{header, read_message};

/// What to kill.
pub enum Victim {
    /// A process (`tenantctl`): SIGKILL.
    Process(Arc<Mutex<Child>>),
    /// An in-process task (the Lambda worker's handler): aborted, so none of its requests
    /// after this one is ever sent.
    Task(tokio::task::AbortHandle),
}

/// When to kill.
pub struct Rule {
    /// The operation, the part of `X-Amz-Target` after the dot.
    pub operation: &'static str,
    /// Fragments the request's body must all hold.
    pub body: Vec<String>,
    /// The n-th matching request (1 for the first).
    pub nth: u64,
    /// True: moto does the request, the answer never returns; false: the request is lost.
    pub after: bool,
}

struct Armed {
    rule: Rule,
    seen: u64,
    victim: Victim,
}

/// The proxy; dropped with the test.
pub struct Tripwire {
    pub endpoint: String,
    armed: Arc<Mutex<Option<Armed>>>,
    tripped: Arc<AtomicBool>,
}

fn kill(victim: &Victim) {
    match victim {
        Victim::Process(child) => {
            let _ = child.lock().unwrap_or_else(|p| p.into_inner()).kill();
        }
        Victim::Task(task) => task.abort(),
    }
}

impl Tripwire {
    /// Starts the proxy on a free loopback port in front of moto at `upstream_port`.
    pub async fn start(upstream_port: u16) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let armed: Arc<Mutex<Option<Armed>>> = Arc::new(Mutex::new(None));
        let tripped = Arc::new(AtomicBool::new(false));
        let (a, t) = (armed.clone(), tripped.clone());
        tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    continue;
                };
                let (armed, tripped) = (a.clone(), t.clone());
                tokio::spawn(async move {
                    let _ = serve(client, upstream_port, &armed, &tripped).await;
                });
            }
        });
        Self {
            endpoint: format!("http://127.0.0.1:{port}"),
            armed,
            tripped,
        }
    }

    /// Kills `victim` at `rule`'s moment.
    pub fn arm(&self, rule: Rule, victim: Victim) {
        self.tripped.store(false, Ordering::SeqCst);
        *self.armed.lock().unwrap_or_else(|p| p.into_inner()) = Some(Armed {
            rule,
            seen: 0,
            victim,
        });
    }

    /// Whether the kill happened within `limit`.
    pub async fn tripped_within(&self, limit: Duration) -> bool {
        let start = tokio::time::Instant::now();
        while start.elapsed() < limit {
            if self.tripped.load(Ordering::SeqCst) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        false
    }

    /// Disarms it (a run that ended before its moment).
    pub fn disarm(&self) {
        *self.armed.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }
}

/// Whether this request is the armed moment; kills before it when the rule says so.
/// Returns Some(victim-after) when the victim is to be killed once moto has answered.
fn check(
    armed: &Mutex<Option<Armed>>,
    tripped: &AtomicBool,
    operation: Option<&str>,
    body: &[u8],
) -> Option<Armed> {
    let mut slot = armed.lock().unwrap_or_else(|p| p.into_inner());
    let a = slot.as_mut()?;
    if operation != Some(a.rule.operation) {
        return None;
    }
    let text = String::from_utf8_lossy(body);
    if !a.rule.body.iter().all(|f| text.contains(f.as_str())) {
        return None;
    }
    a.seen += 1;
    if a.seen < a.rule.nth {
        return None;
    }
    let a = slot.take()?;
    if !a.rule.after {
        kill(&a.victim);
        tripped.store(true, Ordering::SeqCst);
    }
    Some(a)
}

async fn serve(
    client: TcpStream,
    upstream_port: u16,
    armed: &Mutex<Option<Armed>>,
    tripped: &AtomicBool,
) -> std::io::Result<()> {
    let (read, mut write) = client.into_split();
    let mut read = BufReader::new(read);
    let mut upstream: Option<BufReader<TcpStream>> = None;
    while let Some((head, body)) = read_message(&mut read).await? {
        let operation = header(&head, "x-amz-target").and_then(|t| t.rsplit('.').next());
        let moment = check(armed, tripped, operation, &body);
        if moment.as_ref().is_some_and(|m| !m.rule.after) {
            // Killed before the request: it never reaches moto.
            return Ok(());
        }
        if upstream.is_none() {
            upstream = Some(BufReader::new(
                TcpStream::connect(("127.0.0.1", upstream_port)).await?,
            ));
        }
        let Some(up) = upstream.as_mut() else {
            return Ok(());
        };
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
        if let Some(m) = moment {
            // Done by moto; the run dies before it learns so.
            kill(&m.victim);
            tripped.store(true, Ordering::SeqCst);
            return Ok(());
        }
        let mut close =
            header(&rhead, "connection").is_some_and(|c| c.eq_ignore_ascii_case("close"));
        if header(&rhead, "content-length").is_none() {
            up.read_to_end(&mut rbody).await?;
            close = true;
        }
        let mut answer = String::new();
        for h in rhead.iter().filter(|h| {
            let h = h.to_ascii_lowercase();
            !h.starts_with("content-length:") && !h.starts_with("connection:")
        }) {
            answer.push_str(h);
            answer.push_str("\r\n");
        }
        answer.push_str(&format!("content-length: {}\r\n\r\n", rbody.len()));
        write.write_all(answer.as_bytes()).await?;
        write.write_all(&rbody).await?;
        if close {
            upstream = None;
        }
    }
    Ok(())
}
