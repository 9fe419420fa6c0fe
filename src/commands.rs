//! The CLI commands. Each returns an exit code; problems are printed one per line on stderr.

use crate::{
    cli::{AdminCommand, Cli, Command},
    clock,
    config::Config,
    crypto::{self, Crypto},
    domain::{Email, Password, WebhookSecret, signature},
    startup::{self, Application, DataPaths},
    store::{self, SCHEMA_VERSION},
    telemetry,
};
use std::{io::Read, path::Path, process::ExitCode};

/// Exit code for configuration problems.
const EXIT_CONFIG: u8 = 2;

/// Resolve configuration and run the requested command.
pub fn dispatch(cli: Cli) -> ExitCode {
    let config = match Config::resolve(&cli.options) {
        Ok(c) => c,
        Err(errors) => {
            for e in &errors {
                eprintln!("error: {e}");
            }
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(config),
        Command::Admin(AdminCommand::Create {
            email,
            password_stdin,
        }) => admin_create(&config, &email, password_stdin),
        Command::Admin(AdminCommand::Token { email }) => admin_token(&config, &email),
        Command::Check => check(&config),
        Command::Backup { out } => backup(&config, &out),
        Command::Sign {
            secret,
            id,
            timestamp,
        } => sign(&secret, id, timestamp),
    }
}

fn fail(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::FAILURE
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a current-thread runtime can always be built")
}

fn serve(config: Config) -> ExitCode {
    telemetry::init(config.log_format);
    let result = actix_web::rt::System::new().block_on(async move {
        let app = Application::build(config.clone()).map_err(|e| e.to_string())?;
        tracing::info!(port = app.port(), public_url = %config.public_url,
            data_dir = %config.data_dir.display(), "hookgate listening");
        let admins = app.admin_count().await.map_err(|e| e.to_string())?;
        if admins == 0 {
            println!(
                "{}",
                app.first_admin_hint().await.map_err(|e| e.to_string())?
            );
        }
        app.run().await.map_err(|e| e.to_string())
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(e),
    }
}

fn read_password(password_stdin: bool) -> Result<String, String> {
    if password_stdin {
        let mut buf = String::new();
        std::io::stdin()
            .read_to_string(&mut buf)
            .map_err(|e| format!("reading stdin: {e}"))?;
        return Ok(buf.trim_end_matches(['\r', '\n']).to_string());
    }
    let first = rpassword::prompt_password("Password: ").map_err(|e| format!("prompt: {e}"))?;
    let again = rpassword::prompt_password("Again: ").map_err(|e| format!("prompt: {e}"))?;
    if first != again {
        return Err("the passwords differ".into());
    }
    Ok(first)
}

fn admin_create(config: &Config, email: &str, password_stdin: bool) -> ExitCode {
    let email = match Email::parse(email) {
        Ok(e) => e.to_string(),
        Err(m) => return fail(format!("--email {m}")),
    };
    let password = match read_password(password_stdin)
        .and_then(|p| Password::parse(&p).map_err(|m| format!("password {m}")))
    {
        Ok(p) => p,
        Err(e) => return fail(e),
    };
    let (store, crypto) = match startup::open_data(config) {
        Ok(v) => v,
        Err(e) => return fail(e),
    };
    let hash = crypto::hash_password(&crypto, password.expose());
    let id = store::new_id("adm");
    let created = runtime().block_on(
        store.write(move |c| store::admins::create(c, &id, &email, &hash, "cli", clock::now())),
    );
    match created {
        Ok(true) => {
            eprintln!(
                "admin created; sign in at /admin/ or mint an API token with `hookgate admin token`"
            );
            ExitCode::SUCCESS
        }
        Ok(false) => fail("an admin with this email already exists"),
        Err(e) => fail(e),
    }
}

fn admin_token(config: &Config, email: &str) -> ExitCode {
    let (store, crypto) = match startup::open_data(config) {
        Ok(v) => v,
        Err(e) => return fail(e),
    };
    let token = crypto.new_token("hga_");
    let hash = crypto::token_hash(&token);
    let email = email.trim().to_string();
    let minted = runtime().block_on(store.write(move |c| {
        let Some(admin) = store::admins::find_by_email(c, &email)? else {
            return Ok(false);
        };
        store::admins::insert_token(c, &hash, &admin, "cli", clock::now())?;
        Ok::<_, store::StoreError>(true)
    }));
    match minted {
        Ok(true) => {
            println!("{token}");
            ExitCode::SUCCESS
        }
        Ok(false) => fail("no admin with this email; create one with `hookgate admin create`"),
        Err(e) => fail(e),
    }
}

/// Every problem `check` finds, one line each.
pub fn check_problems(config: &Config) -> Vec<String> {
    let paths = DataPaths::new(config);
    let mut problems = Vec::new();
    if !paths.dir.is_dir() {
        problems.push(format!(
            "data dir {} does not exist (start `hookgate serve` once to create it)",
            paths.dir.display()
        ));
        return problems;
    }
    match std::fs::read(&paths.master_key) {
        Err(e) => problems.push(format!("master key {}: {e}", paths.master_key.display())),
        Ok(bytes) if bytes.len() != 32 => problems.push(format!(
            "master key {} is not 32 bytes",
            paths.master_key.display()
        )),
        Ok(_) => {
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                if let Ok(meta) = std::fs::metadata(&paths.master_key) {
                    let mode = meta.permissions().mode() & 0o777;
                    if mode & 0o077 != 0 {
                        problems.push(format!(
                            "master key {} has mode {mode:o}; it must be 600",
                            paths.master_key.display()
                        ));
                    }
                }
            }
        }
    }
    if !paths.database.is_file() {
        problems.push(format!(
            "database {} does not exist",
            paths.database.display()
        ));
        return problems;
    }
    let conn = match rusqlite::Connection::open_with_flags(
        &paths.database,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    ) {
        Ok(c) => c,
        Err(e) => {
            problems.push(format!("database {}: {e}", paths.database.display()));
            return problems;
        }
    };
    match conn.pragma_query_value(None, "user_version", |r| r.get::<_, i64>(0)) {
        Ok(0) => problems.push("the database has no hookgate schema (user_version 0)".into()),
        // An older schema is fine: `serve` migrates it forward at start.
        Ok(v) if v <= SCHEMA_VERSION => {}
        Ok(v) => problems.push(format!(
            "database schema version {v} is newer than this binary's {SCHEMA_VERSION}; run a newer hookgate"
        )),
        Err(e) => problems.push(format!("database is not readable: {e}")),
    }
    problems.extend(integrity_problems(&conn));
    if let Ok(key) = std::fs::read(&paths.master_key).map(|b| <[u8; 32]>::try_from(b.as_slice()))
        && let Ok(key) = key
    {
        // A sealed secret that does not open means the key file does not belong to this database.
        let crypto = Crypto::from_key(&key);
        let sample: Option<(String, Vec<u8>)> = conn
            .query_row(
                "SELECT id, secret_sealed FROM webhook_secrets LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .ok();
        if let Some((id, sealed)) = sample
            && crypto
                .open(&store::secrets::seal_context(&id), &sealed)
                .is_err()
        {
            problems
                .push("the master key does not open the stored secrets (wrong key file?)".into());
        }
    }
    problems
}

/// `PRAGMA integrity_check` and `foreign_key_check`, as problem lines.
pub fn integrity_problems(conn: &rusqlite::Connection) -> Vec<String> {
    let mut problems = Vec::new();
    match conn.prepare("PRAGMA integrity_check").and_then(|mut s| {
        s.query_map([], |r| r.get::<_, String>(0))?
            .collect::<rusqlite::Result<Vec<_>>>()
    }) {
        Ok(lines) if lines == ["ok"] => {}
        Ok(lines) => problems.extend(lines.into_iter().map(|l| format!("integrity: {l}"))),
        Err(e) => problems.push(format!("integrity check failed to run: {e}")),
    }
    match conn.prepare("PRAGMA foreign_key_check").and_then(|mut s| {
        s.query_map([], |r| r.get::<_, String>(0))?
            .collect::<rusqlite::Result<Vec<_>>>()
    }) {
        Ok(tables) => problems.extend(
            tables
                .into_iter()
                .map(|t| format!("foreign key violation in {t}")),
        ),
        Err(e) => problems.push(format!("foreign key check failed to run: {e}")),
    }
    problems
}

fn check(config: &Config) -> ExitCode {
    let problems = check_problems(config);
    if problems.is_empty() {
        println!("ok: configuration, data dir, master key, schema v{SCHEMA_VERSION} and integrity");
        return ExitCode::SUCCESS;
    }
    for p in &problems {
        eprintln!("problem: {p}");
    }
    ExitCode::FAILURE
}

/// Copy the live database to `out` with SQLite's online backup API, then verify the copy.
pub fn backup_to(config: &Config, out: &Path) -> Result<(), String> {
    let db = DataPaths::new(config).database;
    if !db.is_file() {
        return Err(format!("database {} does not exist", db.display()));
    }
    let src =
        rusqlite::Connection::open_with_flags(&db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .map_err(|e| format!("opening {}: {e}", db.display()))?;
    src.busy_timeout(std::time::Duration::from_secs(10))
        .map_err(|e| e.to_string())?;
    // Write next to the destination and rename, so `out` is never a half-written file.
    let tmp = out.with_extension("partial");
    let _ = std::fs::remove_file(&tmp);
    {
        let mut dst = rusqlite::Connection::open(&tmp)
            .map_err(|e| format!("creating {}: {e}", tmp.display()))?;
        let backup = rusqlite::backup::Backup::new(&src, &mut dst).map_err(|e| e.to_string())?;
        backup
            .run_to_completion(256, std::time::Duration::from_millis(5), None)
            .map_err(|e| format!("backup failed: {e}"))?;
    }
    let copy = rusqlite::Connection::open(&tmp).map_err(|e| e.to_string())?;
    // The copy is a standalone file: switch it out of WAL so it is one self-contained file.
    let _: String = copy
        .pragma_update_and_check(None, "journal_mode", "DELETE", |r| r.get(0))
        .map_err(|e| e.to_string())?;
    let problems = integrity_problems(&copy);
    drop(copy);
    if !problems.is_empty() {
        let _ = std::fs::remove_file(&tmp);
        return Err(format!(
            "the copy failed verification: {}",
            problems.join("; ")
        ));
    }
    std::fs::rename(&tmp, out).map_err(|e| format!("moving into place: {e}"))?;
    Ok(())
}

fn backup(config: &Config, out: &Path) -> ExitCode {
    match backup_to(config, out) {
        Ok(()) => {
            eprintln!(
                "backup written to {} and verified (integrity_check ok)",
                out.display()
            );
            eprintln!(
                "keep master.key from the data dir with it: secrets cannot be opened without it"
            );
            ExitCode::SUCCESS
        }
        Err(e) => fail(e),
    }
}

fn sign(secret: &str, id: Option<String>, timestamp: Option<i64>) -> ExitCode {
    let secret = match WebhookSecret::parse(secret) {
        Ok(s) => s,
        Err(m) => return fail(format!("--secret {m}")),
    };
    let mut body = Vec::new();
    if let Err(e) = std::io::stdin().read_to_end(&mut body) {
        return fail(format!("reading stdin: {e}"));
    }
    let id = id.unwrap_or_else(|| format!("msg_{}", uuid::Uuid::new_v4().simple()));
    let ts = timestamp.unwrap_or_else(clock::now);
    println!("webhook-id: {id}");
    println!("webhook-timestamp: {ts}");
    println!(
        "webhook-signature: {}",
        signature::sign(secret.key(), &id, ts, &body)
    );
    ExitCode::SUCCESS
}
