//! The CLI commands. Each returns an exit code; problems are printed one per line on stderr.

use crate::{
    app::{self, admins::Creation},
    cli::{AdminCommand, Cli, Command, EmailCommand, TokensCommand},
    clock::{Clock, SystemClock},
    config::Config,
    crypto::Crypto,
    data_dir::{self, DataPaths},
    domain::{WebhookSecret, signature},
    startup::Application,
    state::AppState,
    store::{SCHEMA_VERSION, Store},
    telemetry,
};
use std::{
    io::{IsTerminal, Read, Write},
    os::fd::AsFd,
    path::Path,
    process::ExitCode,
    sync::Arc,
};

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
        Command::Admin(AdminCommand::Token {
            email,
            name,
            expires,
        }) => admin_token(&config, &email, name, expires.as_deref()),
        Command::Admin(AdminCommand::Tokens { email, action }) => match action {
            None => admin_tokens(&config, email.as_deref()),
            Some(TokensCommand::Revoke { id }) => admin_token_revoke(&config, &id),
        },
        Command::Admin(AdminCommand::Password {
            email,
            password_stdin,
        }) => admin_password(&config, &email, password_stdin),
        Command::Admin(AdminCommand::List) => admin_list(&config),
        Command::Check => check(&config),
        Command::Backup { out, force } => backup(&config, &out, force),
        Command::Email(EmailCommand::Test { to }) => email_test(&config, &to),
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
        if !config.trusted_proxies.is_empty() {
            let ranges: Vec<_> = config
                .trusted_proxies
                .iter()
                .map(ToString::to_string)
                .collect();
            tracing::info!(trusted_proxy = %ranges.join(","),
                "client addresses forwarded by these peers are believed");
        }
        if let Some(hint) = app.first_admin_hint().await.map_err(|e| e.to_string())? {
            // Never let an unwritable stdout stop the server; the log has the hint too.
            if writeln!(std::io::stdout(), "{hint}").is_err() {
                tracing::warn!("stdout is not writable; the first-admin hint follows in the log");
            }
            tracing::info!("{hint}");
        }
        app.run().await.map_err(|e| e.to_string())
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(e),
    }
}

fn read_password(password_stdin: bool) -> Result<String, String> {
    const NO_TERMINAL: &str =
        "no terminal to prompt for the password; pipe it in with --password-stdin";
    if password_stdin {
        let mut buf = String::new();
        std::io::stdin()
            .read_to_string(&mut buf)
            .map_err(|e| format!("reading stdin: {e}"))?;
        return Ok(buf.trim_end_matches(['\r', '\n']).to_string());
    }
    // Without a terminal on stdin the prompt would fail, or wait on a terminal nobody watches.
    if !std::io::stdin().is_terminal() {
        return Err(NO_TERMINAL.into());
    }
    let prompt =
        |text| rpassword::prompt_password(text).map_err(|e| format!("{NO_TERMINAL} ({e})"));
    let first = prompt("Password: ")?;
    let again = prompt("Again: ")?;
    if first != again {
        return Err("the passwords differ".into());
    }
    Ok(first)
}

/// The application state over the existing installation in the data dir, for commands that run
/// a use case without serving; creates nothing when there is none.
fn open_state(config: &Config) -> Result<AppState, String> {
    let (store, crypto) = data_dir::open_existing(config).map_err(|e| e.to_string())?;
    Ok(state_over(config, store, crypto))
}

fn state_over(config: &Config, store: Store, crypto: Arc<Crypto>) -> AppState {
    AppState::new(config.clone(), store, crypto, Arc::new(SystemClock))
}

fn admin_create(config: &Config, email: &str, password_stdin: bool) -> ExitCode {
    let password = match read_password(password_stdin) {
        Ok(p) => p,
        Err(e) => return fail(e),
    };
    // The first admin may come before the first `serve`, so this command may start an
    // installation; it says so, since a mistyped data dir would start one too.
    let fresh = !DataPaths::new(config).database.exists();
    let state = match data_dir::open(config) {
        Ok((store, crypto)) => state_over(config, store, crypto),
        Err(e) => return fail(e),
    };
    match runtime().block_on(app::admins::create(&state, email, &password, Creation::Cli)) {
        Ok(_) => {
            if fresh {
                eprintln!(
                    "started a new installation in {} (database and master key); run every \
                     command, serve too, with this data dir",
                    config.data_dir.display()
                );
            }
            eprintln!(
                "admin created; sign in at /admin/ or mint an API token with `hookgate admin token`"
            );
            ExitCode::SUCCESS
        }
        Err(app::Error::Invalid(violations)) => {
            for v in &violations {
                let field = if v.field == "email" {
                    "--email"
                } else {
                    "password"
                };
                eprintln!("error: {field} {}", v.message);
            }
            ExitCode::FAILURE
        }
        Err(app::Error::AdminExists) => fail("an admin with this email already exists"),
        Err(e) => fail(e),
    }
}

fn admin_token(
    config: &Config,
    email: &str,
    name: Option<String>,
    expires: Option<&str>,
) -> ExitCode {
    let expires_in = match expires.map(crate::config::parse_duration).transpose() {
        Ok(Some(d)) if d.is_zero() => return fail("--expires must be longer than zero"),
        Ok(d) => d,
        Err(e) => return fail(format!("--expires {e}")),
    };
    let state = match open_state(config) {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    let request = app::admins::TokenRequest { name, expires_in };
    match runtime().block_on(app::admins::mint_token(&state, email, request, "cli")) {
        Ok(minted) => {
            println!("{}", minted.token);
            ExitCode::SUCCESS
        }
        Err(app::Error::NotFound(_)) => {
            fail("no admin with this email; create one with `hookgate admin create`")
        }
        Err(app::Error::Invalid(violations)) => {
            for v in &violations {
                eprintln!("error: --{} {}", v.field, v.message);
            }
            ExitCode::FAILURE
        }
        Err(e) => fail(e),
    }
}

/// A time for a listing: `2026-11-23 10:00 UTC`.
fn listed(ts: i64) -> String {
    let s = crate::clock::rfc3339(ts);
    s.get(..16)
        .map(|d| format!("{} UTC", d.replace('T', " ")))
        .unwrap_or(s)
}

/// Print rows as columns separated by two spaces, the first row being the header.
fn print_table(rows: &[Vec<String>]) {
    let widths: Vec<usize> = (0..rows[0].len())
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    for row in rows {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        println!("{}", line.join("  ").trim_end());
    }
}

fn admin_tokens(config: &Config, email: Option<&str>) -> ExitCode {
    let state = match open_state(config) {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    let tokens = match runtime().block_on(app::admins::tokens(&state, email)) {
        Ok(t) => t,
        Err(app::Error::NotFound(_)) => return fail("no admin with this email"),
        Err(e) => return fail(e),
    };
    if tokens.is_empty() {
        eprintln!("no admin API tokens; mint one with `hookgate admin token --email E`");
        return ExitCode::SUCCESS;
    }
    let now = state.now();
    let mut rows = vec![
        ["ID", "NAME", "ADMIN", "CREATED", "LAST USED", "EXPIRES"]
            .map(String::from)
            .to_vec(),
    ];
    for t in &tokens {
        rows.push(vec![
            t.id.clone(),
            t.name.clone(),
            t.admin_email.clone(),
            listed(t.created_at),
            t.last_used_at.map_or_else(|| "never".into(), listed),
            match t.expires_at {
                None => "never".into(),
                Some(at) if at <= now => format!("expired {}", listed(at)),
                Some(at) => listed(at),
            },
        ]);
    }
    print_table(&rows);
    ExitCode::SUCCESS
}

fn admin_token_revoke(config: &Config, id: &str) -> ExitCode {
    let state = match open_state(config) {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    match runtime().block_on(app::admins::revoke_token(&state, "cli", id)) {
        Ok(()) => {
            eprintln!("token {id} revoked; it is refused from now on");
            ExitCode::SUCCESS
        }
        Err(app::Error::NotFound(_)) => {
            fail("no admin API token with this id; list them with `hookgate admin tokens`")
        }
        Err(e) => fail(e),
    }
}

fn admin_password(config: &Config, email: &str, password_stdin: bool) -> ExitCode {
    let password = match read_password(password_stdin) {
        Ok(p) => p,
        Err(e) => return fail(e),
    };
    let state = match open_state(config) {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    match runtime().block_on(app::admins::reset_password_cli(&state, email, &password)) {
        Ok(()) => {
            eprintln!("password changed; every console session of this admin was ended");
            ExitCode::SUCCESS
        }
        Err(app::Error::Invalid(violations)) => {
            for v in &violations {
                eprintln!("error: password {}", v.message);
            }
            ExitCode::FAILURE
        }
        Err(app::Error::NotFound(_)) => fail("no admin with this email"),
        Err(e) => fail(e),
    }
}

fn admin_list(config: &Config) -> ExitCode {
    let state = match open_state(config) {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    let admins = match runtime().block_on(app::admins::list(&state)) {
        Ok(a) => a,
        Err(e) => return fail(e),
    };
    if admins.is_empty() {
        eprintln!("no admins; create one with `hookgate admin create --email E`");
        return ExitCode::SUCCESS;
    }
    let mut rows = vec![
        ["EMAIL", "CREATED", "LIVE TOKENS"]
            .map(String::from)
            .to_vec(),
    ];
    for a in &admins {
        rows.push(vec![
            a.email.clone(),
            listed(a.created_at),
            a.live_tokens.to_string(),
        ]);
    }
    print_table(&rows);
    ExitCode::SUCCESS
}

fn check(config: &Config) -> ExitCode {
    let problems = app::operations::check_problems(config);
    if problems.is_empty() {
        println!("ok: configuration, data dir, master key, schema v{SCHEMA_VERSION} and integrity");
        return ExitCode::SUCCESS;
    }
    for p in &problems {
        eprintln!("problem: {p}");
    }
    ExitCode::FAILURE
}

fn backup(config: &Config, out: &Path, force: bool) -> ExitCode {
    if out == Path::new("-") {
        return backup_to_stdout(config);
    }
    match app::backup::to_file(config, out, force) {
        Ok(notes) => {
            for note in &notes {
                eprintln!("{note}");
            }
            eprintln!(
                "backup written to {} and verified (integrity_check ok)",
                out.display()
            );
            eprintln!("{KEEP_THE_KEY}");
            ExitCode::SUCCESS
        }
        Err(e) => fail(e),
    }
}

const KEEP_THE_KEY: &str =
    "keep master.key from the data dir with it: secrets cannot be opened without it";

/// `backup --out -`: the verified copy streamed to stdout, like `pg_dump > file`.
fn backup_to_stdout(config: &Config) -> ExitCode {
    let stdout = std::io::stdout();
    if stdout.is_terminal() {
        return fail(
            "--out - writes a binary database to standard output, which is a terminal; \
             redirect it (> copy.db, | gzip > copy.db.gz)",
        );
    }
    // What stdout is, when a file: the live database must not be its destination either.
    let target = stdout
        .as_fd()
        .try_clone_to_owned()
        .ok()
        .and_then(|fd| std::fs::File::from(fd).metadata().ok());
    match app::backup::to_writer(config, &mut stdout.lock(), target.as_ref()) {
        Ok(bytes) => {
            eprintln!("backup of {bytes} bytes written to standard output and verified");
            eprintln!("{KEEP_THE_KEY}");
            ExitCode::SUCCESS
        }
        Err(e) => fail(e),
    }
}

/// Send one message through the configured SMTP server now, bypassing the outbox, so that a
/// wrong URL, password or certificate shows at once instead of in the outbox's last_error.
fn email_test(config: &Config, to: &str) -> ExitCode {
    let Some(smtp) = &config.smtp_url else {
        return fail("no --smtp-url (HOOKGATE_SMTP_URL) is set: nothing to test");
    };
    let subject = "hookgate test email";
    let body = format!(
        "This is a test email from hookgate at {}.\nIf you can read it, email works.\n",
        config.public_url
    );
    match runtime().block_on(crate::mailer::send(
        smtp,
        &config.smtp_ca,
        to,
        subject,
        &body,
    )) {
        Ok(answer) => {
            println!("sent to {to} through {smtp:?}; the server answered: {answer}");
            ExitCode::SUCCESS
        }
        Err(e) => fail(format!("sending to {to} through {smtp:?} failed: {e}")),
    }
}

fn sign(secret: &str, id: Option<String>, timestamp: Option<i64>) -> ExitCode {
    let secret = match WebhookSecret::parse(secret) {
        Ok(s) => s,
        Err(m) => return fail(format!("--secret {m}")),
    };
    let id = id.unwrap_or_else(|| format!("msg_{}", uuid::Uuid::new_v4().simple()));
    if let Err(m) = signature::check_webhook_id(&id) {
        return fail(format!("--id {m}"));
    }
    let mut body = Vec::new();
    if let Err(e) = std::io::stdin().read_to_end(&mut body) {
        return fail(format!("reading stdin: {e}"));
    }
    let ts = timestamp.unwrap_or_else(|| SystemClock.now());
    println!("webhook-id: {id}");
    println!("webhook-timestamp: {ts}");
    println!(
        "webhook-signature: {}",
        signature::sign(secret.key(), &id, ts, &body)
    );
    ExitCode::SUCCESS
}
