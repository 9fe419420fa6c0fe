//! `hookgate check`: what is wrong with an installation, one line per problem (`backup.rs`
//! copies one).

use crate::{
    config::Config,
    crypto::Crypto,
    data_dir::{self, DataPaths},
    store::{maintenance, secrets::seal_context},
};

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
