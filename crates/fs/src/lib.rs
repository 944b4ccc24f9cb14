//! Files written whole or not at all, readable only as their mode allows from the first byte:
//! the one atomic writer of the server's data directory (keys, certificates, the admin token),
//! the Provisioner's local runtimes (bootstrap files, pids) and the agent's and application
//! client's state directories.
//!
//! [`write_atomic`] writes a fresh temporary file beside the target (created with the final
//! mode, then set to it exactly, whatever the umask), syncs it, renames it over the target and
//! syncs the directory, so that a crash leaves the old file or the new one, never a mix, and
//! a secret is never readable by others, not even briefly. Temporary files are named with
//! [`TMP_PREFIX`]; [`remove_leftovers`] clears what a crash left.
//!
//! This crate must not know what the files hold or whose they are: callers map its
//! `std::io::Error`s into their own errors, naming the file.
#![forbid(unsafe_code)]

use std::fs;
use std::io::{self, Write as _};
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// How the names of temporary files begin (hidden, and never a name a caller gives a file).
pub const TMP_PREFIX: &str = ".tmp-";

/// Distinguishes the temporary files of one process.
static NEXT_TMP: AtomicU64 = AtomicU64::new(0);

/// Writes `bytes` to `path` with `mode` (for example `0o600` for a secret), atomically: see
/// the crate's documentation. On failure the target is unchanged and no temporary file stays.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "the path names no file"))?;
    let (tmp, mut file) = create_tmp(dir, &name.to_string_lossy(), mode)?;
    let written = (|| {
        // The umask may have narrowed the mode given at creation.
        file.set_permissions(fs::Permissions::from_mode(mode))?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&tmp, path)
    })();
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    sync_dir(dir)
}

/// A new temporary file in `dir` for `name`. A file of that name left by an earlier process
/// with the same pid is never reused (its mode may be wider): it is removed and the name
/// taken afresh.
fn create_tmp(dir: &Path, name: &str, mode: u32) -> io::Result<(PathBuf, fs::File)> {
    let mut attempts = 0;
    loop {
        let n = NEXT_TMP.fetch_add(1, Ordering::Relaxed);
        let tmp = dir.join(format!("{TMP_PREFIX}{name}-{}-{n}", std::process::id()));
        match fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)
        {
            Ok(file) => return Ok((tmp, file)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && attempts < 3 => {
                attempts += 1;
                fs::remove_file(&tmp)?;
            }
            Err(e) => return Err(e),
        }
    }
}

/// Makes a directory's entries (a rename into it) durable.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    fs::File::open(dir)?.sync_all()
}

/// Removes the temporary files a crash left in `dir` (answers how many). Call it only where
/// no other process writes at the same time (when a state directory is opened by its holder).
pub fn remove_leftovers(dir: &Path) -> io::Result<usize> {
    let mut removed = 0;
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_name().to_string_lossy().starts_with(TMP_PREFIX) {
            match fs::remove_file(entry.path()) {
                Ok(()) => removed += 1,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(what: &str) -> PathBuf {
        let n = NEXT_TMP.fetch_add(1, Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("sextant-fs-{what}-{}-{n}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn mode_of(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn writes_the_file_with_its_mode_and_leaves_nothing_else() {
        let dir = temp_dir("write");
        let secret = dir.join("secret.key");
        write_atomic(&secret, b"first", 0o600).unwrap();
        write_atomic(&secret, b"second", 0o600).unwrap();
        let public = dir.join("ca.crt");
        write_atomic(&public, b"cert", 0o644).unwrap();
        assert_eq!(fs::read(&secret).unwrap(), b"second");
        assert_eq!(mode_of(&secret), 0o600);
        assert_eq!(mode_of(&public), 0o644);
        let mut names: Vec<String> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["ca.crt", "secret.key"]);
        fs::remove_dir_all(dir).unwrap();
    }

    /// A secret written over a file that others could read is owner-only after the write
    /// (the file is replaced, never rewritten in place).
    #[test]
    fn a_secret_over_a_readable_file_is_owner_only() {
        let dir = temp_dir("over");
        let target = dir.join("bootstrap.env");
        fs::write(&target, b"old").unwrap();
        fs::set_permissions(&target, fs::Permissions::from_mode(0o666)).unwrap();
        write_atomic(&target, b"TOKEN=secret\n", 0o600).unwrap();
        assert_eq!(mode_of(&target), 0o600);
        assert_eq!(fs::read(&target).unwrap(), b"TOKEN=secret\n");
        fs::remove_dir_all(dir).unwrap();
    }

    /// A failed write (here: the target is a directory) changes nothing and leaves no
    /// temporary file.
    #[test]
    fn a_failed_write_leaves_no_temporary_file() {
        let dir = temp_dir("fail");
        let target = dir.join("taken");
        fs::create_dir(&target).unwrap();
        fs::write(target.join("inside"), b"kept").unwrap();
        assert!(write_atomic(&target, b"new", 0o600).is_err());
        assert_eq!(fs::read(target.join("inside")).unwrap(), b"kept");
        let leftovers = fs::read_dir(&dir)
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .starts_with(TMP_PREFIX)
            })
            .count();
        assert_eq!(leftovers, 0);
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn leftovers_are_removed_and_other_files_kept() {
        let dir = temp_dir("leftovers");
        fs::write(dir.join(format!("{TMP_PREFIX}state.json-1-0")), b"half").unwrap();
        fs::write(dir.join("state.json"), b"whole").unwrap();
        assert_eq!(remove_leftovers(&dir).unwrap(), 1);
        assert_eq!(remove_leftovers(&dir).unwrap(), 0);
        assert_eq!(fs::read(dir.join("state.json")).unwrap(), b"whole");
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_path_without_a_file_name_is_refused() {
        let err = write_atomic(Path::new("/"), b"x", 0o600).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    }
}
