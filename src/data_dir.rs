//! The data dir: where the database and the master key live, and opening them.

use crate::{config::Config, crypto::Crypto, store::Store};
use std::{
    fmt,
    path::{Path, PathBuf},
    sync::Arc,
};

/// Why the data dir could not be opened.
#[derive(Debug)]
pub struct OpenError(pub String);

impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for OpenError {}

/// Paths inside the data dir.
pub struct DataPaths {
    pub dir: PathBuf,
    pub database: PathBuf,
    pub master_key: PathBuf,
}

impl DataPaths {
    pub fn new(config: &Config) -> DataPaths {
        DataPaths::at(&config.data_dir)
    }

    /// The paths of a data dir at `dir`.
    pub fn at(dir: &Path) -> DataPaths {
        DataPaths {
            dir: dir.to_path_buf(),
            database: dir.join("hookgate.db"),
            master_key: dir.join("master.key"),
        }
    }

    /// Bytes of the database and its WAL on disk.
    pub fn database_size(&self) -> u64 {
        let wal = self.database.with_extension("db-wal");
        [&self.database, &wal]
            .iter()
            .filter_map(|p| std::fs::metadata(p).ok())
            .map(|m| m.len())
            .sum()
    }
}

/// Open (creating on first start) the data dir, database and master key. Only `serve` and
/// `admin create` may start an installation; every other command goes through `open_existing`.
pub fn open(config: &Config) -> Result<(Store, Arc<Crypto>), OpenError> {
    let paths = DataPaths::new(config);
    // A database without its key would get a new key that opens none of its secrets.
    let has_database = exists(&paths.database)?;
    if has_database && !exists(&paths.master_key)? {
        return Err(missing_key(&paths));
    }
    if !has_database {
        tracing::info!(data_dir = %paths.dir.display(), "no database yet: starting a new installation");
    }
    create_private_dir(&paths.dir).map_err(|e| {
        OpenError(format!(
            "--data-dir {}: cannot create: {e}",
            paths.dir.display()
        ))
    })?;
    load(&paths)
}

/// Open the installation in the data dir, refusing (and creating nothing) when there is none.
pub fn open_existing(config: &Config) -> Result<(Store, Arc<Crypto>), OpenError> {
    let paths = require_data(config)?;
    if !exists(&paths.master_key)? {
        return Err(missing_key(&paths));
    }
    if !exists(&paths.database)? {
        return Err(OpenError(format!(
            "database {} does not exist; restore it from a backup (see `hookgate backup`)",
            paths.database.display()
        )));
    }
    load(&paths)
}

/// The data dir's paths if it holds any hookgate data (a database or a master key); otherwise
/// an error saying where it looked, why there, and where the data may be instead.
pub fn require_data(config: &Config) -> Result<DataPaths, OpenError> {
    let paths = DataPaths::new(config);
    if exists(&paths.database)? || exists(&paths.master_key)? {
        return Ok(paths);
    }
    let hint = match elsewhere(&paths.dir) {
        Some(dir) => format!("did you mean --data-dir {}?", dir.display()),
        None => "point every command at the data dir the server uses, with --data-dir DIR or \
                 HOOKGATE_DATA_DIR=DIR; `hookgate serve` or `hookgate admin create` starts a new \
                 installation"
            .into(),
    };
    Err(OpenError(format!(
        "no hookgate data in {} ({}); {hint}",
        paths.dir.display(),
        config.data_dir_from
    )))
}

/// Whether a path exists; "permission denied" is an error of its own, not "no data".
fn exists(path: &Path) -> Result<bool, OpenError> {
    path.try_exists().map_err(|e| {
        let dir = path.parent().unwrap_or(path).display();
        OpenError(if e.kind() == std::io::ErrorKind::PermissionDenied {
            format!(
                "data dir {dir}: {e}; run hookgate as the user that owns it (e.g. sudo -u hookgate)"
            )
        } else {
            format!("data dir {dir}: {e}")
        })
    })
}

fn missing_key(paths: &DataPaths) -> OpenError {
    OpenError(format!(
        "the database {} exists but its master key {} does not; put the key back (a new one \
         could not open the stored secrets)",
        paths.database.display(),
        paths.master_key.display()
    ))
}

/// The usual places of an installation, other than `dir`, that hold a database.
fn elsewhere(dir: &Path) -> Option<PathBuf> {
    let usual = [
        crate::config::default_data_dir(),
        Some(PathBuf::from("/var/lib/hookgate")),
    ];
    usual.into_iter().flatten().find(|candidate| {
        candidate != dir
            && DataPaths::at(candidate)
                .database
                .try_exists()
                .unwrap_or(false)
    })
}

fn load(paths: &DataPaths) -> Result<(Store, Arc<Crypto>), OpenError> {
    let crypto = Crypto::load_or_create(&paths.master_key)
        .map_err(|e| OpenError(format!("master key {}: {e}", paths.master_key.display())))?;
    let store = Store::open(&paths.database)
        .map_err(|e| OpenError(format!("database {}: {e}", paths.database.display())))?;
    Ok((store, Arc::new(crypto)))
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}
