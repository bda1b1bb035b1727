//! `tenantctl`'s identity as the holder of a migration job's leases, and the proof that a
//! holder is dead: a process of this machine (same host name and boot) whose process id no
//! longer exists, or now belongs to a process started at another moment. A killed run's
//! leases are then taken over at once by `migrate resume` instead of waited out. Anything
//! else (another machine, the Lambda worker, this very process) proves nothing: its lease
//! is waited out.

use shared::domain::ports::LeaseHolders;

const PREFIX: &str = "tenantctl@";

/// This process, as `tenantctl@<host>:<boot id>:<pid>:<start time>`.
pub struct ProcessRuns {
    this: String,
    host: String,
    boot: String,
}

/// What identifies one process of one machine.
#[derive(Debug, PartialEq, Eq)]
struct ProcessId<'a> {
    host: &'a str,
    boot: &'a str,
    pid: u32,
    start: u64,
}

fn read_trimmed(path: &str) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
}

/// A process's start time (clock ticks after boot: field 22 of `/proc/<pid>/stat`), `None`
/// when no such process exists.
fn start_time(pid: &str) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces: count after it.
    let after = stat.rsplit_once(')')?.1;
    after.split_whitespace().nth(19)?.parse().ok()
}

fn parse(holder: &str) -> Option<ProcessId<'_>> {
    let rest = holder.strip_prefix(PREFIX)?;
    let run = rest.split('#').next()?;
    let mut parts = run.rsplitn(4, ':');
    let start = parts.next()?.parse().ok()?;
    let pid = parts.next()?.parse().ok()?;
    let boot = parts.next()?;
    let host = parts.next()?;
    Some(ProcessId {
        host,
        boot,
        pid,
        start,
    })
}

impl ProcessRuns {
    pub fn new() -> Self {
        let host = read_trimmed("/proc/sys/kernel/hostname")
            .or_else(|| std::env::var("HOSTNAME").ok())
            .unwrap_or_else(|| "unknown-host".into())
            .replace([':', '#'], "-");
        let boot = read_trimmed("/proc/sys/kernel/random/boot_id")
            .unwrap_or_else(|| "unknown-boot".into())
            .replace([':', '#'], "-");
        let pid = std::process::id();
        let start = start_time("self").unwrap_or(0);
        Self {
            this: format!("{PREFIX}{host}:{boot}:{pid}:{start}"),
            host,
            boot,
        }
    }

    fn dead(&self, holder: &str, alive_start: &dyn Fn(u32) -> Option<u64>) -> bool {
        let Some(other) = parse(holder) else {
            return false;
        };
        if other.host != self.host || other.boot != self.boot || other.start == 0 {
            return false;
        }
        if holder.split('#').next() == Some(self.this.as_str()) {
            // This process: an attempt of its own may still be at work.
            return false;
        }
        alive_start(other.pid) != Some(other.start)
    }
}

/// This process's identity, made once.
pub fn this_process() -> &'static ProcessRuns {
    static RUNS: std::sync::OnceLock<ProcessRuns> = std::sync::OnceLock::new();
    RUNS.get_or_init(ProcessRuns::new)
}

impl Default for ProcessRuns {
    fn default() -> Self {
        Self::new()
    }
}

impl LeaseHolders for ProcessRuns {
    fn this_run(&self) -> &str {
        &self.this
    }

    fn provably_dead(&self, holder: &str) -> bool {
        self.dead(holder, &|pid| start_time(&pid.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_holder_names_its_process() {
        let runs = ProcessRuns::new();
        let me = parse(runs.this_run()).expect("parsed");
        assert_eq!(me.pid, std::process::id());
        assert!(me.start > 0, "{}", runs.this_run());
        assert!(!runs.provably_dead(&format!("{}#attempt", runs.this_run())));
    }

    #[test]
    fn only_a_process_of_this_machine_that_ended_is_dead() {
        let runs = ProcessRuns::new();
        let host = runs.host.clone();
        let boot = runs.boot.clone();
        let holder =
            |h: &str, b: &str, pid: u32, start: u64| format!("{PREFIX}{h}:{b}:{pid}:{start}#0190a");
        let alive = |pid: u32| (pid == 4242).then_some(777);
        // Gone, or its pid reused by a process started at another moment.
        assert!(runs.dead(&holder(&host, &boot, 4343, 777), &alive));
        assert!(runs.dead(&holder(&host, &boot, 4242, 778), &alive));
        // Still running.
        assert!(!runs.dead(&holder(&host, &boot, 4242, 777), &alive));
        // Another machine, another boot, the worker, or nonsense: nothing is proven.
        assert!(!runs.dead(&holder("elsewhere", &boot, 4343, 777), &alive));
        assert!(!runs.dead(&holder(&host, "other-boot", 4343, 777), &alive));
        assert!(!runs.dead("run#0190a", &alive));
        assert!(!runs.dead("tenantctl@garbage", &alive));
    }

    #[test]
    fn a_child_that_ended_is_proven_dead() {
        let runs = ProcessRuns::new();
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .expect("sleep runs");
        let pid = child.id();
        let start = start_time(&pid.to_string()).expect("running");
        let holder = format!("{PREFIX}{}:{}:{pid}:{start}#x", runs.host, runs.boot);
        assert!(!runs.provably_dead(&holder));
        child.kill().expect("SIGKILL");
        child.wait().expect("reaped");
        assert!(runs.provably_dead(&holder));
    }
}
