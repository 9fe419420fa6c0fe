//! `hookgate backup`: a consistent online copy of the live database, into a file or a stream.
//!
//! A file at `--out` is either left alone or replaced by a complete copy that passed
//! `integrity_check`: the copy is made in a hidden temporary file beside it (mode 0600, it holds
//! customer data), fsynced and then renamed into place; any failure, a failed write included,
//! removes it. `--out` may not name anything in the data dir (the live database, its WAL and SHM,
//! the master key), also not through a symlink or a hard link, nor a directory, nor an existing
//! file unless `force`.

use crate::{config::Config, data_dir, store::maintenance};
use std::{
    fs::{self, File, Metadata, OpenOptions},
    io::{self, Write},
    path::{Path, PathBuf},
};

/// Copy the database into the file `out`. Returns notes for the operator (leftovers removed).
pub fn to_file(config: &Config, out: &Path, force: bool) -> Result<Vec<String>, String> {
    let live = live_files(config)?;
    let target = Target::vet(out, &live, force)?;
    let mut notes = Vec::new();
    let partial = Partial::create(&target, &mut notes)?;
    maintenance::backup(&live.database, &partial.path)?;
    partial.place(&target, force)?;
    Ok(notes)
}

/// Copy the database into `w` (stdout): a verified copy is made in the temporary directory
/// (`TMPDIR`), then streamed. `w_file` describes what `w` writes to, when it is a file, so that
/// the live files are refused there too. Returns the bytes written.
pub fn to_writer(
    config: &Config,
    w: &mut impl Write,
    w_file: Option<&Metadata>,
) -> Result<u64, String> {
    let live = live_files(config)?;
    if let Some(meta) = w_file
        && let Some(which) = live.same_file(meta)
    {
        return Err(format!(
            "standard output is {which}; redirect it to a file outside the data dir"
        ));
    }
    let path = std::env::temp_dir().join(format!("hookgate-backup-{}.db", uuid::Uuid::new_v4()));
    create_private_file(&path).map_err(|e| format!("creating {}: {e}", path.display()))?;
    let copy = Removed::on_drop(path.clone());
    maintenance::backup(&live.database, &path)?;
    let mut file = File::open(&path).map_err(|e| format!("opening {}: {e}", path.display()))?;
    // The open file stays readable after its name is gone: nothing is left behind however the
    // stream ends.
    drop(copy);
    let written = io::copy(&mut file, w).map_err(|e| format!("writing the copy: {e}"))?;
    w.flush().map_err(|e| format!("writing the copy: {e}"))?;
    Ok(written)
}

/// The live files of the installation, which a backup must never overwrite.
struct LiveFiles {
    dir: PathBuf,
    database: PathBuf,
    files: Vec<(PathBuf, &'static str)>,
}

fn live_files(config: &Config) -> Result<LiveFiles, String> {
    let paths = data_dir::require_data(config).map_err(|e| e.0)?;
    if !paths.database.is_file() {
        return Err(format!(
            "database {} does not exist",
            paths.database.display()
        ));
    }
    let dir = paths
        .dir
        .canonicalize()
        .map_err(|e| format!("data dir {}: {e}", paths.dir.display()))?;
    let sibling = |suffix: &str| {
        let mut name = paths.database.as_os_str().to_owned();
        name.push(suffix);
        PathBuf::from(name)
    };
    let files = vec![
        (paths.database.clone(), "the live database"),
        (sibling("-wal"), "the live database's WAL"),
        (
            sibling("-shm"),
            "the live database's shared memory (SHM) file",
        ),
        (sibling("-journal"), "the live database's journal"),
        (paths.master_key.clone(), "the master key"),
    ];
    Ok(LiveFiles {
        dir,
        database: paths.database,
        files,
    })
}

impl LiveFiles {
    /// Which live file `meta` is, when it is one (the same inode, whatever the name).
    fn same_file(&self, meta: &Metadata) -> Option<&'static str> {
        self.files.iter().find_map(|(path, which)| {
            let live = fs::metadata(path).ok()?;
            same_inode(&live, meta).then_some(*which)
        })
    }

    /// Which live file the resolved path `path` names, when it is in the data dir.
    fn named(&self, path: &Path) -> Option<&'static str> {
        if path.parent() != Some(self.dir.as_path()) {
            return None;
        }
        let name = path.file_name()?;
        Some(
            self.files
                .iter()
                .find(|(p, _)| p.file_name() == Some(name))
                .map_or("in the data dir", |(_, which)| which),
        )
    }
}

#[cfg(unix)]
fn same_inode(a: &Metadata, b: &Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    a.dev() == b.dev() && a.ino() == b.ino()
}

#[cfg(not(unix))]
fn same_inode(_: &Metadata, _: &Metadata) -> bool {
    false
}

/// A vetted `--out`: its directory and file name.
struct Target {
    out: PathBuf,
    dir: PathBuf,
    name: String,
}

impl Target {
    fn vet(out: &Path, live: &LiveFiles, force: bool) -> Result<Target, String> {
        let shown = out.display();
        let raw = out.as_os_str();
        if raw.is_empty() {
            return Err("--out is empty; give a file name, or - for standard output".into());
        }
        let named_dir = raw.as_encoded_bytes().ends_with(b"/") || out.is_dir();
        let name = match out.file_name() {
            Some(name) if !named_dir => name.to_string_lossy().into_owned(),
            _ => {
                return Err(format!(
                    "--out {shown} names a directory; give a file name in it, e.g. {}",
                    out.join("hookgate-backup.db").display()
                ));
            }
        };
        let dir = match out.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        if !dir.is_dir() {
            return Err(format!(
                "--out {shown}: directory {} does not exist",
                dir.display()
            ));
        }
        let refuse = |which: &str| {
            Err(format!(
                "--out {shown} is {which}; a backup goes to a file outside the data dir {}",
                live.dir.display()
            ))
        };
        let resolved = resolve(out).map_err(|e| format!("--out {shown}: {e}"))?;
        if let Some(which) = live.named(&resolved) {
            return refuse(which);
        }
        if let Ok(meta) = fs::metadata(out)
            && let Some(which) = live.same_file(&meta)
        {
            return refuse(which);
        }
        if fs::symlink_metadata(out).is_ok() && !force {
            return Err(format!("--out {shown} exists; pass --force to replace it"));
        }
        Ok(Target {
            out: out.to_path_buf(),
            dir,
            name,
        })
    }
}

/// Where `path` leads through any symlinks, with its directory in canonical form. Unlike
/// `canonicalize` this works for a path (or a dangling link) whose file does not exist yet.
fn resolve(path: &Path) -> io::Result<PathBuf> {
    let mut path = path.to_path_buf();
    for _ in 0..40 {
        match fs::symlink_metadata(&path) {
            Ok(meta) if meta.file_type().is_symlink() => {
                let link = fs::read_link(&path)?;
                path = path.parent().unwrap_or(Path::new(".")).join(link);
            }
            _ => {
                let parent = match path.parent() {
                    Some(p) if !p.as_os_str().is_empty() => p,
                    _ => Path::new("."),
                };
                let name = path
                    .file_name()
                    .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "names no file"))?;
                return Ok(parent.canonicalize()?.join(name));
            }
        }
    }
    Err(io::Error::new(
        io::ErrorKind::InvalidInput,
        "too many levels of symbolic links",
    ))
}

/// The copy in progress: `.<name>.partial` beside the target, locked while a backup writes it,
/// removed (with SQLite's journal) unless placed.
struct Partial {
    path: PathBuf,
    // Dropped before `file`: the name goes while the lock is still held, so another backup never
    // takes a name this one is about to remove.
    cleanup: Removed,
    // Holds the lock that tells a running backup from a killed one's leftovers.
    file: File,
}

impl Partial {
    fn create(target: &Target, notes: &mut Vec<String>) -> Result<Partial, String> {
        let path = target.dir.join(format!(".{}.partial", target.name));
        let shown = path.display();
        let mut retried = false;
        let file = loop {
            match create_private_file(&path) {
                Ok(file) => break file,
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && !retried => {
                    retried = true;
                    let old = OpenOptions::new()
                        .write(true)
                        .open(&path)
                        .map_err(|e| format!("opening {shown}: {e}"))?;
                    if old.try_lock().is_err() {
                        return Err(format!(
                            "another backup to {} is running (it writes {shown})",
                            target.out.display()
                        ));
                    }
                    fs::remove_file(&path).map_err(|e| format!("removing {shown}: {e}"))?;
                    notes.push(format!("removed {shown} left by an interrupted backup"));
                }
                Err(e) => return Err(format!("creating {shown}: {e}")),
            }
        };
        file.try_lock()
            .map_err(|e| format!("locking {shown}: {e}"))?;
        let cleanup = Removed::on_drop(path.clone());
        // A journal beside a fresh file is a killed backup's; SQLite would roll it into ours.
        match fs::remove_file(&cleanup.journal) {
            Ok(()) => notes.push(format!(
                "removed {} left by an interrupted backup",
                cleanup.journal.display()
            )),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(format!("removing {}: {e}", cleanup.journal.display())),
        }
        Ok(Partial {
            path,
            cleanup,
            file,
        })
    }

    /// Make the verified copy durable and give it the target's name.
    fn place(mut self, target: &Target, force: bool) -> Result<(), String> {
        self.file
            .sync_all()
            .map_err(|e| format!("syncing {}: {e}", self.path.display()))?;
        let out = &target.out;
        if force {
            fs::rename(&self.path, out)
                .map_err(|e| format!("renaming into {}: {e}", out.display()))?;
            // The name is gone; it may be another backup's by now.
            self.cleanup.keep();
        } else {
            // A hard link refuses an existing name atomically: a file that appeared while the
            // copy was made is not overwritten. Filesystems without links get a plain rename.
            match fs::hard_link(&self.path, out) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    return Err(format!(
                        "--out {} appeared while the backup ran; pass --force to replace it",
                        out.display()
                    ));
                }
                Err(_) => {
                    fs::rename(&self.path, out)
                        .map_err(|e| format!("renaming into {}: {e}", out.display()))?;
                    self.cleanup.keep();
                }
            }
        }
        // The directory entry is durable only once the directory is synced; not every
        // filesystem can, and the copy itself already is.
        if let Ok(dir) = File::open(&target.dir) {
            let _ = dir.sync_all();
        }
        // Removes the temporary name after a hard link, then releases the lock.
        drop(self);
        Ok(())
    }
}

/// Removes a file and its SQLite journal when dropped, unless told to keep them.
struct Removed {
    path: PathBuf,
    journal: PathBuf,
    armed: bool,
}

impl Removed {
    fn on_drop(path: PathBuf) -> Removed {
        let mut journal = path.as_os_str().to_owned();
        journal.push("-journal");
        Removed {
            path,
            journal: PathBuf::from(journal),
            armed: true,
        }
    }

    fn keep(&mut self) {
        self.armed = false;
    }
}

impl Drop for Removed {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let _ = fs::remove_file(&self.path);
        let _ = fs::remove_file(&self.journal);
    }
}

/// Create a new, empty file only its owner can read; SQLite then writes into it (and gives its
/// journal the same mode).
fn create_private_file(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}
