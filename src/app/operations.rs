//! The operator's commands that inspect or copy an installation: `check` and `backup`.

use crate::{
    config::Config,
    crypto::Crypto,
    data_dir::{self, DataPaths},
    store::{maintenance, secrets::seal_context},
};
use std::path::Path;

/// Every problem `check` finds, one line each.
pub fn check_problems(config: &Config) -> Vec<String> {
    let mut problems = Vec::new();
    let paths = match data_dir::require_data(config) {
        Ok(paths) => paths,
        Err(e) => {
            problems.push(e.0);
            return problems;
        }
    };
    let key = std::fs::read(&paths.master_key);
    match &key {
        Err(e) => problems.push(format!("master key {}: {e}", paths.master_key.display())),
        Ok(bytes) if bytes.len() != 32 => problems.push(format!(
            "master key {} is not 32 bytes",
            paths.master_key.display()
        )),
        Ok(_) => problems.extend(key_mode_problem(&paths)),
    }
    if !paths.database.is_file() {
        problems.push(format!(
            "database {} does not exist",
            paths.database.display()
        ));
        return problems;
    }
    let conn = match maintenance::open_read_only(&paths.database) {
        Ok(c) => c,
        Err(e) => {
            problems.push(format!("database {}: {e}", paths.database.display()));
            return problems;
        }
    };
    problems.extend(maintenance::schema_problem(&conn));
    problems.extend(maintenance::integrity_problems(&conn));
    if let Ok(Ok(key)) = key.map(|b| <[u8; 32]>::try_from(b.as_slice()))
        && let Ok(Some((id, sealed))) = maintenance::sample_sealed_secret(&conn)
        && Crypto::from_key(&key)
            .open(&seal_context(&id), &sealed)
            .is_err()
    {
        // A sealed secret that does not open means the key file does not belong to this database.
        problems.push("the master key does not open the stored secrets (wrong key file?)".into());
    }
    problems
}

#[cfg(unix)]
fn key_mode_problem(paths: &DataPaths) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&paths.master_key)
        .ok()?
        .permissions()
        .mode()
        & 0o777;
    (mode & 0o077 != 0).then(|| {
        format!(
            "master key {} has mode {mode:o}; it must be 600",
            paths.master_key.display()
        )
    })
}

#[cfg(not(unix))]
fn key_mode_problem(_: &DataPaths) -> Option<String> {
    None
}

/// Copy the live database to `out` with SQLite's online backup API, then verify the copy. The
/// copy is written next to `out` and renamed, so `out` is never a half-written file; it holds
/// customer data, so it is created readable by its owner only (0600). What a killed earlier
/// run left behind (`out.partial`, `out.partial-journal`) is removed first.
pub fn backup(config: &Config, out: &Path) -> Result<(), String> {
    let db = data_dir::require_data(config).map_err(|e| e.0)?.database;
    if !db.is_file() {
        return Err(format!("database {} does not exist", db.display()));
    }
    let tmp = out.with_extension("partial");
    let journal = out.with_extension("partial-journal");
    for leftover in [&tmp, &journal] {
        match std::fs::remove_file(leftover) {
            Ok(()) => eprintln!(
                "removed {} left by an interrupted backup",
                leftover.display()
            ),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(format!("removing {}: {e}", leftover.display())),
        }
    }
    create_private_file(&tmp).map_err(|e| format!("creating {}: {e}", tmp.display()))?;
    maintenance::backup(&db, &tmp)?;
    std::fs::rename(&tmp, out).map_err(|e| format!("moving into place: {e}"))
}

/// Create an empty file only its owner can read; SQLite then writes into it (and gives its
/// journal the same mode).
fn create_private_file(path: &Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path).map(drop)
}
