//! What the benchmarks read of this machine and of a process (Linux `/proc`), and free ports.

use std::process::Command;

use anyhow::{Result, anyhow};

/// Clock ticks per second (`getconf CLK_TCK`; 100 if unknown).
pub fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|t| *t > 0.0)
        .unwrap_or(100.0)
}

/// User + system CPU time of a process, in clock ticks.
pub fn cpu_ticks(pid: u32) -> Result<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let after = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .ok_or_else(|| anyhow!("bad /proc/{pid}/stat"))?;
    let fields: Vec<&str> = after.split_whitespace().collect();
    // After the command name: state is field 3, utime 14, stime 15.
    let utime: u64 = fields.get(11).ok_or_else(|| anyhow!("no utime"))?.parse()?;
    let stime: u64 = fields.get(12).ok_or_else(|| anyhow!("no stime"))?.parse()?;
    Ok(utime + stime)
}

/// User + system CPU seconds of a process.
pub fn cpu_seconds(pid: u32, ticks: f64) -> Result<f64> {
    Ok(cpu_ticks(pid)? as f64 / ticks)
}

/// A process's CPU seconds, read as often as wanted ([`cpu_seconds`] with the clock ticks
/// read once).
#[derive(Clone, Copy, Debug)]
pub struct CpuMeter {
    pid: u32,
    ticks: f64,
}

impl CpuMeter {
    /// The meter of the process `pid`.
    pub fn of(pid: u32) -> CpuMeter {
        CpuMeter {
            pid,
            ticks: clock_ticks(),
        }
    }

    /// The process's user + system CPU seconds so far.
    pub fn seconds(&self) -> Result<f64> {
        cpu_seconds(self.pid, self.ticks)
    }
}

/// VmRSS in bytes.
pub fn rss_bytes(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .ok_or_else(|| anyhow!("no VmRSS for {pid}"))?;
    let kb: u64 = line
        .split_whitespace()
        .nth(1)
        .ok_or_else(|| anyhow!("bad VmRSS line"))?
        .parse()?;
    Ok(kb * 1024)
}

/// Bytes in MiB.
pub fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// A port on 127.0.0.1 free at the moment.
pub fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// The machine, as the reports describe it.
pub fn host_description() -> String {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, m)| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|k| k.trim().to_owned())
        .unwrap_or_default();
    format!("{cpus} CPUs ({model}), Linux {kernel}")
}
