//! The memory builds may use, and the kernel's out-of-memory kills.
//!
//! `/proc/meminfo` shows the whole machine even inside a container, so the memory
//! available to builds is `MemAvailable` capped by the room the memory cgroups of this
//! process leave (a container's or a worker unit's limit). Under the Zig compilers an
//! out-of-memory kill leaves no message of its own in the log (`zig c++` aborts without
//! a word when its clang child is killed), so the build step also compares the kernel's
//! `oom_kill` counter of the process's memory cgroup (or `/proc/vmstat`) before and after.

use std::path::{Path, PathBuf};

/// Limits at or above this are "no limit": cgroup v1 writes 9223372036854771712 (the
/// largest page count in bytes), v2 writes `max`.
const UNLIMITED: u64 = 1 << 60;

/// `MemAvailable` of a `/proc/meminfo` text, in bytes (the kernel writes kB, meaning KiB:
/// `MemAvailable:   23456789 kB`; see proc(5)).
pub fn parse_mem_available(meminfo: &str) -> Option<u64> {
    let line = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemAvailable:"))?;
    let mut parts = line.split_whitespace();
    let number: u64 = parts.next()?.parse().ok()?;
    match parts.next() {
        Some("kB") => number.checked_mul(1024),
        None => Some(number),
        Some(_) => None,
    }
}

/// The memory builds may use on this host, in bytes: `MemAvailable` of `/proc/meminfo`,
/// capped by [`read_cgroup_room`]; `None` where neither is known.
pub fn read_mem_available() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| parse_mem_available(&text));
    match (meminfo, read_cgroup_room()) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// One memory cgroup folder and its interface version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryCgroup {
    pub dir: PathBuf,
    /// cgroup v1 (`memory.limit_in_bytes`) rather than v2 (`memory.max`).
    pub v1: bool,
}

/// The cgroup hierarchy mounts of a `/proc/self/mountinfo` text (proc(5)): for each, the
/// mount point, the cgroup path the mount shows as its root, and whether it is a v1
/// memory hierarchy (`cgroup` with the `memory` option) rather than v2 (`cgroup2`).
fn cgroup_mounts(mountinfo: &str) -> Vec<(PathBuf, String, bool)> {
    mountinfo
        .lines()
        .filter_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            let left: Vec<&str> = left.split(' ').collect();
            let right: Vec<&str> = right.split(' ').collect();
            let (root, point) = (*left.get(3)?, *left.get(4)?);
            let v1 = match *right.first()? {
                "cgroup2" => false,
                "cgroup" if right.get(2)?.split(',').any(|o| o == "memory") => true,
                _ => return None,
            };
            let unescape = |p: &str| p.replace("\\040", " ");
            Some((PathBuf::from(unescape(point)), unescape(root), v1))
        })
        .collect()
}

/// The memory cgroup folders whose limits apply to a process whose `/proc/self/cgroup`
/// text is `proc_self_cgroup`, leaf first, found through the hierarchy mounts of
/// `mountinfo` (v1's `N:…memory…:/path`, v2's `0::/path`; a path is relative to the
/// mount's root, cgroups(7)) with `root` prefixed to the mount points (`/` on a host).
/// Each ancestor up to the mount counts (a parent's limit caps its children); folders
/// that do not exist or have no limit file are left out, so in a container whose mount
/// shows its own cgroup as the root, only the root remains.
pub fn memory_cgroups(proc_self_cgroup: &str, mountinfo: &str, root: &Path) -> Vec<MemoryCgroup> {
    let mounts = cgroup_mounts(mountinfo);
    let mut found = Vec::new();
    for line in proc_self_cgroup.lines() {
        let mut fields = line.splitn(3, ':');
        let (Some(id), Some(controllers), Some(path)) =
            (fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        let v1 = if id == "0" && controllers.is_empty() {
            false
        } else if controllers.split(',').any(|c| c == "memory") {
            true
        } else {
            continue;
        };
        let limit_file = if v1 {
            "memory.limit_in_bytes"
        } else {
            "memory.max"
        };
        for (point, mount_root, _) in mounts.iter().filter(|m| m.2 == v1) {
            let Ok(relative) = Path::new(path).strip_prefix(mount_root) else {
                continue;
            };
            let mount = root.join(point.strip_prefix("/").unwrap_or(point));
            let mut dir = mount.join(relative);
            loop {
                if dir.join(limit_file).is_file() {
                    found.push(MemoryCgroup {
                        dir: dir.clone(),
                        v1,
                    });
                }
                if dir == mount || !dir.pop() || !dir.starts_with(&mount) {
                    break;
                }
            }
        }
    }
    found
}

/// The room one memory cgroup leaves, in bytes: its limit minus its usage, with the
/// inactive file cache counted as free (the kernel reclaims it before it kills; the
/// "working set" of kubelet and cAdvisor). v1: `limit` and `usage` are
/// `memory.limit_in_bytes` and `memory.usage_in_bytes`, the cache `total_inactive_file`
/// of `memory.stat`; v2: `memory.max`, `memory.current` and `inactive_file`. `None` when
/// the cgroup has no limit or a file does not parse.
pub fn cgroup_room(limit: &str, usage: &str, stat: &str, v1: bool) -> Option<u64> {
    let limit = limit.trim();
    if limit == "max" {
        return None;
    }
    let limit: u64 = limit.parse().ok().filter(|l| *l < UNLIMITED)?;
    let usage: u64 = usage.trim().parse().ok()?;
    let key = if v1 {
        "total_inactive_file"
    } else {
        "inactive_file"
    };
    let inactive = stat
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(' ')?.trim().parse().ok())
        .unwrap_or(0u64);
    Some(limit.saturating_sub(usage.saturating_sub(inactive)))
}

/// The least room any memory cgroup of this process leaves ([`memory_cgroups`],
/// [`cgroup_room`]), in bytes; `None` where none has a limit.
pub fn read_cgroup_room() -> Option<u64> {
    this_process_memory_cgroups()
        .iter()
        .filter_map(|cgroup| {
            let read = |name: &str| std::fs::read_to_string(cgroup.dir.join(name)).ok();
            let (limit, usage) = if cgroup.v1 {
                ("memory.limit_in_bytes", "memory.usage_in_bytes")
            } else {
                ("memory.max", "memory.current")
            };
            cgroup_room(
                &read(limit)?,
                &read(usage)?,
                &read("memory.stat").unwrap_or_default(),
                cgroup.v1,
            )
        })
        .min()
}

/// [`memory_cgroups`] of this process.
pub fn this_process_memory_cgroups() -> Vec<MemoryCgroup> {
    let read = |path: &str| std::fs::read_to_string(path).unwrap_or_default();
    memory_cgroups(
        &read("/proc/self/cgroup"),
        &read("/proc/self/mountinfo"),
        Path::new("/"),
    )
}

/// The `oom_kill` line of a counter file: processes the kernel's out-of-memory killer
/// ended. The same line in `/proc/vmstat` (machine-wide, Linux ≥ 4.13), a v1 cgroup's
/// `memory.oom_control` and a v2 cgroup's `memory.events`.
pub fn parse_oom_kills(counter: &str) -> Option<u64> {
    counter
        .lines()
        .find_map(|l| l.strip_prefix("oom_kill ")?.trim().parse().ok())
}

/// The file that counts the out-of-memory kills of this process's builds: the counter of
/// its own (leaf) memory cgroup, which its compilers inherit, so kills elsewhere on the
/// machine do not count; `/proc/vmstat` where it has none (a host's root cgroup).
pub fn oom_kill_counter() -> PathBuf {
    this_process_memory_cgroups()
        .into_iter()
        .next()
        .map(|cgroup| {
            let name = if cgroup.v1 {
                "memory.oom_control"
            } else {
                "memory.events"
            };
            cgroup.dir.join(name)
        })
        .filter(|path| {
            parse_oom_kills(&std::fs::read_to_string(path).unwrap_or_default()).is_some()
        })
        .unwrap_or_else(|| PathBuf::from("/proc/vmstat"))
}

/// [`parse_oom_kills`] of `counter`; `None` where it cannot be read.
pub fn read_oom_kills(counter: &Path) -> Option<u64> {
    parse_oom_kills(&std::fs::read_to_string(counter).ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meminfo_gives_mem_available_in_bytes() {
        let sample = "MemTotal:       24567612 kB\n\
                      MemFree:        21987654 kB\n\
                      MemAvailable:   23456788 kB\n\
                      Buffers:          123456 kB\n";
        assert_eq!(parse_mem_available(sample), Some(23_456_788 * 1024));
        assert_eq!(parse_mem_available("MemTotal: 1 kB\n"), None);
        assert_eq!(parse_mem_available("MemAvailable: lots kB\n"), None);
        assert_eq!(parse_mem_available("MemAvailable: 12 MB\n"), None);
    }

    #[test]
    fn a_cgroup_leaves_its_limit_minus_its_working_set() {
        const GIB: u64 = 1 << 30;
        // v1, as this machine's container shows it: no limit.
        assert_eq!(
            cgroup_room("9223372036854771712\n", "4591562752\n", "", true),
            None
        );
        assert_eq!(cgroup_room("max\n", "4591562752\n", "", false), None);
        // A 4 GiB container using 3 GiB, 1 GiB of it inactive page cache: 2 GiB left.
        let stat_v1 = "cache 1610612736\ninactive_file 16384\ntotal_inactive_file 1073741824\n";
        assert_eq!(
            cgroup_room(
                &(4 * GIB).to_string(),
                &(3 * GIB).to_string(),
                stat_v1,
                true
            ),
            Some(2 * GIB)
        );
        let stat_v2 = "anon 2147483648\nfile 1073741824\ninactive_file 1073741824\n";
        assert_eq!(
            cgroup_room(
                &(4 * GIB).to_string(),
                &(3 * GIB).to_string(),
                stat_v2,
                false
            ),
            Some(2 * GIB)
        );
        // Over the limit (reclaim pending): nothing left, not an underflow.
        assert_eq!(cgroup_room("100", "150", "", false), Some(0));
        assert_eq!(cgroup_room("lots", "1", "", false), None);
    }

    #[test]
    fn the_cgroups_of_a_process_are_its_folder_and_ancestors_that_exist() {
        let root = tempfile::tempdir().unwrap();
        let make = |dir: &str, file: &str| {
            let dir = root.path().join(dir);
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join(file), "1").unwrap();
            dir
        };
        // This machine: v1, the mount's root is `/`, yet the process's path does not exist
        // under it (the mount shows the sandbox's own cgroup): only the mount root counts.
        let mountinfo = "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n\
                         33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct\n\
                         35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n\
                         41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";
        let mount = make("sys/fs/cgroup/memory", "memory.limit_in_bytes");
        let child = make("sys/fs/cgroup/memory/job", "memory.limit_in_bytes");
        let text = "9:name=systemd:/\n4:memory:/process_api/6981\n1:cpu:/\n0::/\n";
        let got = memory_cgroups(text, mountinfo, root.path());
        assert_eq!(
            got,
            [MemoryCgroup {
                dir: mount.clone(),
                v1: true
            }]
        );
        let got = memory_cgroups("4:memory:/job\n", mountinfo, root.path());
        let dirs: Vec<_> = got.iter().map(|c| c.dir.clone()).collect();
        assert_eq!(dirs, [child.clone(), mount.clone()]);
        // Docker without a cgroup namespace: the mount's root is the container's cgroup,
        // the process's path names it from the hierarchy's top; its sub-cgroup counts.
        let docker = "35 31 0:32 /docker/abc /sys/fs/cgroup/memory ro - cgroup cgroup rw,memory\n";
        let got = memory_cgroups("4:memory:/docker/abc/job\n", docker, root.path());
        let dirs: Vec<_> = got.iter().map(|c| c.dir.clone()).collect();
        assert_eq!(dirs, [child, mount]);
        // A path outside the mount's root is not under it.
        assert!(memory_cgroups("4:memory:/other\n", docker, root.path()).is_empty());
        // v2, unified at /sys/fs/cgroup: the leaf and its parent, leaf first.
        let root = tempfile::tempdir().unwrap();
        let parent = root.path().join("sys/fs/cgroup/system.slice");
        let leaf = parent.join("refinery-worker.service");
        std::fs::create_dir_all(&leaf).unwrap();
        std::fs::write(leaf.join("memory.max"), "max").unwrap();
        std::fs::write(parent.join("memory.max"), "8589934592").unwrap();
        let unified = "30 23 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n";
        let got = memory_cgroups(
            "0::/system.slice/refinery-worker.service\n",
            unified,
            root.path(),
        );
        assert_eq!(
            got,
            [
                MemoryCgroup {
                    dir: leaf,
                    v1: false
                },
                MemoryCgroup {
                    dir: parent,
                    v1: false
                }
            ]
        );
        assert!(memory_cgroups("garbage\n", unified, root.path()).is_empty());
        assert!(memory_cgroups("0::/system.slice\n", "garbage\n", root.path()).is_empty());
    }

    #[test]
    fn the_counters_count_the_out_of_memory_kills() {
        let vmstat = "pgfault 123\noom_kill 2\nnuma_hit 9\n";
        assert_eq!(parse_oom_kills(vmstat), Some(2));
        // v1's memory.oom_control and v2's memory.events.
        assert_eq!(
            parse_oom_kills("oom_kill_disable 0\nunder_oom 0\noom_kill 4\n"),
            Some(4)
        );
        assert_eq!(
            parse_oom_kills("low 0\nhigh 0\nmax 7\noom 3\noom_kill 3\noom_group_kill 0\n"),
            Some(3)
        );
        assert_eq!(parse_oom_kills("oom_kill_disable 0\n"), None);
        assert_eq!(parse_oom_kills(""), None);
    }
}
