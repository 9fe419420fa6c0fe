//! The process's own figures for `/metrics` (the `process_*` series every Prometheus client
//! exports): resident memory, file descriptors, CPU time and start time. Read from `/proc/self`
//! at scrape time, so only on Linux; elsewhere they are left out.

/// The process now.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProcessStats {
    /// Resident set size.
    pub resident_memory_bytes: u64,
    /// File descriptors open.
    pub open_fds: u64,
    /// The soft limit on open file descriptors; `None` when unlimited.
    pub max_fds: Option<u64>,
    /// User and system CPU time spent.
    pub cpu_seconds: f64,
    /// When the process started, in Unix seconds.
    pub start_time_seconds: f64,
}

/// The process's figures, or `None` where they cannot be read (not Linux, no `/proc`).
#[cfg(target_os = "linux")]
pub fn read() -> Option<ProcessStats> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let boot_time = std::fs::read_to_string("/proc/stat")
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("btime ")?.trim().parse::<u64>().ok())?;
    let open_fds = std::fs::read_dir("/proc/self/fd").ok()?.count() as u64;
    let max_fds = rustix::process::getrlimit(rustix::process::Resource::Nofile).current;
    parse_stat(
        &stat,
        rustix::param::clock_ticks_per_second(),
        rustix::param::page_size() as u64,
        boot_time,
    )
    .map(
        |(resident_memory_bytes, cpu_seconds, start_time_seconds)| ProcessStats {
            resident_memory_bytes,
            open_fds,
            max_fds,
            cpu_seconds,
            start_time_seconds,
        },
    )
}

/// The process's figures, or `None` where they cannot be read (not Linux, no `/proc`).
#[cfg(not(target_os = "linux"))]
pub fn read() -> Option<ProcessStats> {
    None
}

/// Resident bytes, CPU seconds and start time (Unix seconds) from a `/proc/<pid>/stat` line
/// (proc(5)): times are in clock ticks, the start since boot, the resident size in pages.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
fn parse_stat(
    stat: &str,
    ticks_per_second: u64,
    page_size: u64,
    boot_time: u64,
) -> Option<(u64, f64, f64)> {
    // The command name (field 2) is in parentheses and may itself hold spaces and parentheses:
    // the fields that follow start after the last ')'. There, index 0 is field 3 (state).
    let fields: Vec<&str> = stat
        .get(stat.rfind(')')? + 1..)?
        .split_whitespace()
        .collect();
    let field = |n: usize| fields.get(n - 3)?.parse::<u64>().ok();
    let ticks = ticks_per_second.max(1) as f64;
    let (utime, stime, start, rss) = (field(14)?, field(15)?, field(22)?, field(24)?);
    Some((
        rss.saturating_mul(page_size),
        (utime + stime) as f64 / ticks,
        boot_time as f64 + start as f64 / ticks,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_read_after_the_command_name() {
        // A command name with a space and a parenthesis, as a process may name itself.
        let stat = "4242 (hook gate) x) S 1 4242 4242 0 -1 4194560 1200 0 0 0 250 50 0 0 20 0 \
                    9 0 123400 104857600 2560 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1";
        let (rss, cpu, start) = parse_stat(stat, 100, 4096, 1_700_000_000).unwrap();
        assert_eq!(rss, 2560 * 4096);
        assert_eq!(cpu, 3.0, "250 + 50 ticks at 100 per second");
        assert_eq!(start, 1_700_000_000.0 + 1234.0);
    }

    #[test]
    fn a_short_stat_line_gives_nothing() {
        assert_eq!(parse_stat("1 (x) S 1 2 3", 100, 4096, 0), None);
        assert_eq!(parse_stat("no parenthesis", 100, 4096, 0), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn this_process_is_read() {
        let p = read().expect("/proc is there on Linux");
        assert!(p.resident_memory_bytes > 0);
        assert!(p.open_fds > 0);
        assert!(p.start_time_seconds > 1_600_000_000.0);
    }
}
