//! The data dir: where the database and the master key live, and opening them.

use crate::{config::Config, crypto::Crypto, store::Store};
use std::{fmt, path::PathBuf, sync::Arc};

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
        DataPaths {
            dir: config.data_dir.clone(),
            database: config.data_dir.join("hookgate.db"),
            master_key: config.data_dir.join("master.key"),
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

/// Open (creating on first start) the data dir, database and master key.
pub fn open(config: &Config) -> Result<(Store, Arc<Crypto>), OpenError> {
    let paths = DataPaths::new(config);
    create_private_dir(&paths.dir).map_err(|e| {
        OpenError(format!(
            "--data-dir {}: cannot create: {e}",
            paths.dir.display()
        ))
    })?;
    let crypto = Crypto::load_or_create(&paths.master_key)
        .map_err(|e| OpenError(format!("master key {}: {e}", paths.master_key.display())))?;
    let store = Store::open(&paths.database)
        .map_err(|e| OpenError(format!("database {}: {e}", paths.database.display())))?;
    Ok((store, Arc::new(crypto)))
}

fn create_private_dir(dir: &std::path::Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}
