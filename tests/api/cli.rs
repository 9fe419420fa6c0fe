//! The binary's commands: check, backup, sign, admin, and option layering.

use crate::helpers::*;
use std::process::{Command, Output, Stdio};

fn run(args: &[&str], stdin: &[u8]) -> Output {
    let mut command = Command::new(BIN);
    command.args(args).env_remove("HOOKGATE_SECRET_TTL");
    run_command(command, stdin)
}

/// Run `command` with `stdin` as its input, collecting what it prints.
fn run_command(mut command: Command, stdin: &[u8]) -> Output {
    use std::io::Write;
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A command that refuses its arguments exits without reading stdin: a broken pipe is fine.
    if let Err(e) = child.stdin.take().unwrap().write_all(stdin) {
        assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "{e}");
    }
    child.wait_with_output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[tokio::test]
async fn check_passes_on_a_live_data_dir() {
    let app = spawn_app().await;
    app.approved_merchant("check@acme.example").await;
    let out = run(
        &["--data-dir", app.data_dir.to_str().unwrap(), "check"],
        b"",
    );
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn check_fails_on_a_bad_option_and_names_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(
        &[
            "--data-dir",
            dir.path().to_str().unwrap(),
            "--secret-ttl",
            "banana",
            "--ip-rate",
            "fast",
            "check",
        ],
        b"",
    );
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("--secret-ttl") && err.contains("HOOKGATE_SECRET_TTL"),
        "{err}"
    );
    assert!(
        err.contains("--ip-rate"),
        "every bad option is reported: {err}"
    );
}

#[test]
fn check_reports_every_problem_of_a_broken_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(
        &[
            "--data-dir",
            dir.path().join("absent").to_str().unwrap(),
            "check",
        ],
        b"",
    );
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("no hookgate data in"),
        "{}",
        stderr(&out)
    );

    // A data dir with a database but without its master key.
    std::fs::write(dir.path().join("hookgate.db"), b"this is not sqlite").unwrap();
    let out = run(&["--data-dir", dir.path().to_str().unwrap(), "check"], b"");
    assert!(!out.status.success());
    let err = stderr(&out);
    let problems = err.lines().filter(|l| l.starts_with("problem:")).count();
    assert!(
        problems >= 2,
        "master key and database problems on separate lines: {err}"
    );
}

#[test]
fn options_layer_flags_over_env_over_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("hookgate.toml");
    std::fs::write(&file, "secret_ttl = \"banana\"\n").unwrap();
    let data = dir.path().join("data");
    let base = [
        "--config",
        file.to_str().unwrap(),
        "--data-dir",
        data.to_str().unwrap(),
    ];

    // The file's bad value is used when nothing overrides it.
    let out = run(&[&base[..], &["check"]].concat(), b"");
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--secret-ttl"));

    // The environment beats the file...
    let out = Command::new(BIN)
        .args(base)
        .arg("check")
        .env("HOOKGATE_SECRET_TTL", "30d")
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(2), "{}", stderr(&out));
    // ...and a flag beats the environment.
    let out = Command::new(BIN)
        .args(base)
        .args(["--secret-ttl", "nope", "check"])
        .env("HOOKGATE_SECRET_TTL", "30d")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));

    // Unknown keys in the file are refused, not ignored.
    std::fs::write(&file, "secret_tll = \"30d\"\n").unwrap();
    let out = run(&[&base[..], &["check"]].concat(), b"");
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--config"), "{}", stderr(&out));
}

#[tokio::test]
async fn backup_of_a_live_database_passes_integrity_check() {
    let app = spawn_app().await;
    app.approved_merchant("backup@acme.example").await;
    let out_dir = tempfile::tempdir().unwrap();
    let out_file = out_dir.path().join("copy.db");
    // Keep the server writing while the backup runs.
    let writer = {
        let client = app.client.clone();
        let url = app.url("/api/v1/auth/register");
        tokio::spawn(async move {
            for i in 0..30 {
                let _ = client.post(&url).json(&serde_json::json!({
                    "email": format!("load{i}@acme.example"), "password": PASSWORD, "business_name": "L"
                })).send().await;
            }
        })
    };
    let data_dir = app.data_dir.clone();
    let out_path = out_file.clone();
    let out = tokio::task::spawn_blocking(move || {
        run(
            &[
                "--data-dir",
                data_dir.to_str().unwrap(),
                "backup",
                "--out",
                out_path.to_str().unwrap(),
            ],
            b"",
        )
    })
    .await
    .unwrap();
    writer.await.unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let conn = rusqlite::Connection::open(&out_file).unwrap();
    let ok: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(ok, "ok");
    let merchants: i64 = conn
        .query_row("SELECT count(*) FROM merchants", [], |r| r.get(0))
        .unwrap();
    assert!(merchants >= 1);
    let user_version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(user_version, hookgate::store::SCHEMA_VERSION);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&out_file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "a backup holds customer data: {mode:o}");
}

#[test]
fn a_backup_cleans_up_what_a_killed_one_left_behind() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    create_admin(&data, "ops@acme.example");
    let out = dir.path().join("copy.db");
    let leftovers = [
        dir.path().join(".copy.db.partial"),
        dir.path().join(".copy.db.partial-journal"),
    ];
    for f in &leftovers {
        std::fs::write(f, b"half a database").unwrap();
    }
    let res = run(
        &[
            "--data-dir",
            data.to_str().unwrap(),
            "backup",
            "--out",
            out.to_str().unwrap(),
        ],
        b"",
    );
    assert!(res.status.success(), "{}", stderr(&res));
    assert!(
        stderr(&res).contains("interrupted backup"),
        "{}",
        stderr(&res)
    );
    for f in &leftovers {
        assert!(!f.exists(), "{} is still there", f.display());
    }
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(
        names.iter().all(|n| n == "data" || n == "copy.db"),
        "{names:?}"
    );
}

#[test]
fn durations_beyond_what_a_timestamp_can_show_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(
        &[
            "--data-dir",
            dir.path().to_str().unwrap(),
            "--secret-ttl",
            "100000000d",
            "check",
        ],
        b"",
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--secret-ttl") && stderr(&out).contains("36500d"));
}

#[test]
fn sign_prints_the_three_headers_of_the_specification_vector() {
    let out = run(
        &[
            "sign",
            "--secret",
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "--id",
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            "--timestamp",
            "1614265330",
        ],
        br#"{"test": 2432232314}"#,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "webhook-id: msg_p5jXN8AQM9LWM0D4loKWxJek\nwebhook-timestamp: 1614265330\n\
         webhook-signature: v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=\n"
    );
    let bad = run(&["sign", "--secret", "not-a-secret"], b"{}");
    assert!(!bad.status.success());
    assert!(stderr(&bad).contains("--secret"));
}

#[test]
fn sign_refuses_ids_the_server_would_refuse() {
    let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let long = "x".repeat(257);
    for id in ["msg_1\r\nX-Injected: yes", "", "two words", long.as_str()] {
        let out = run(&["sign", "--secret", secret, "--id", id], b"{}");
        assert!(!out.status.success(), "{id:?} was signed");
        assert!(out.stdout.is_empty(), "nothing is printed for {id:?}");
        assert!(stderr(&out).contains("--id"), "{}", stderr(&out));
    }
}

#[test]
fn admin_token_prints_only_the_token_and_refuses_unknown_admins() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let token = create_admin(&data, "ops@acme.example");
    assert!(token.starts_with("hga_") && !token.contains(char::is_whitespace));
    let out = run(
        &[
            "--data-dir",
            data.to_str().unwrap(),
            "admin",
            "token",
            "--email",
            "who@acme.example",
        ],
        b"",
    );
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    // Weak passwords are refused.
    let out = run(
        &[
            "--data-dir",
            data.to_str().unwrap(),
            "admin",
            "create",
            "--email",
            "weak@acme.example",
            "--password-stdin",
        ],
        b"short\n",
    );
    assert!(!out.status.success());
    assert!(stderr(&out).contains("12 characters"));
}

#[test]
fn serve_refuses_a_database_newer_than_the_binary() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    create_admin(&data, "ops@acme.example");
    let conn = rusqlite::Connection::open(data.join("hookgate.db")).unwrap();
    conn.pragma_update(None, "user_version", hookgate::store::SCHEMA_VERSION + 1)
        .unwrap();
    drop(conn);
    let out = run(
        &[
            "--data-dir",
            data.to_str().unwrap(),
            "--bind",
            "127.0.0.1:0",
            "serve",
        ],
        b"",
    );
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("newer than this binary"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn check_refuses_a_missing_or_newer_schema() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    create_admin(&data, "ops@acme.example");
    let db = data.join("hookgate.db");
    let set_version = |v: i64| {
        rusqlite::Connection::open(&db)
            .unwrap()
            .pragma_update(None, "user_version", v)
            .unwrap();
    };
    // The current schema passes; version 0 means no hookgate schema at all. (An older but valid
    // schema, which serve migrates, can only exist once there is a second migration.)
    let out = run(&["--data-dir", data.to_str().unwrap(), "check"], b"");
    assert!(out.status.success(), "{}", stderr(&out));
    set_version(0);
    let out = run(&["--data-dir", data.to_str().unwrap(), "check"], b"");
    assert!(
        stderr(&out).contains("no hookgate schema"),
        "{}",
        stderr(&out)
    );
    set_version(hookgate::store::SCHEMA_VERSION + 1);
    let out = run(&["--data-dir", data.to_str().unwrap(), "check"], b"");
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("newer than this binary"),
        "{}",
        stderr(&out)
    );
}

/// The binary with `HOME` at `home` and no data dir setting inherited from the environment, so
/// that the platform default is `home/.local/share/hookgate`.
fn at_home(home: &std::path::Path) -> Command {
    let mut command = Command::new(BIN);
    command
        .env("HOME", home)
        .env_remove("XDG_DATA_HOME")
        .env_remove("HOOKGATE_DATA_DIR")
        .env_remove("HOOKGATE_CONFIG")
        .env_remove("HOOKGATE_SECRET_TTL");
    command
}

/// Fails, listing what is there, unless `dir` is empty.
fn assert_empty(dir: &std::path::Path) {
    let names = names_in(dir);
    assert!(names.is_empty(), "{} holds {names:?}", dir.display());
}

/// A temp dir holding an installation in `data/` with one admin; returns it and the data dir.
fn installed() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    create_admin(&data, "ops@acme.example");
    (dir, data)
}

/// The names in a directory, sorted.
fn names_in(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

#[test]
fn commands_that_need_an_installation_refuse_a_data_dir_without_one_and_create_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let absent = dir.path().join("typo");
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let out_file = dir.path().join("copy.db");
    let commands: [&[&str]; 4] = [
        &["admin", "token", "--email", "ops@acme.example"],
        &["check"],
        &["backup", "--out", out_file.to_str().unwrap()],
        &["backup", "--out", "-"],
    ];
    for data in [&absent, &empty] {
        for args in commands {
            let out = run(
                &[&["--data-dir", data.to_str().unwrap()], args].concat(),
                b"",
            );
            assert_eq!(out.status.code(), Some(1), "{args:?}: {}", stderr(&out));
            let err = stderr(&out);
            assert!(
                err.contains(&format!("no hookgate data in {}", data.display()))
                    && err.contains("(given with --data-dir)")
                    && err.contains("HOOKGATE_DATA_DIR"),
                "{args:?}: {err}"
            );
            assert!(out.stdout.is_empty() || args == ["check"], "{args:?}");
        }
    }
    assert!(!absent.exists(), "a data dir was created");
    assert_empty(&empty);
    assert_eq!(names_in(dir.path()), ["empty"]);
}

#[test]
fn without_a_data_dir_setting_the_refusal_names_the_default_and_how_to_point_elsewhere() {
    let home = tempfile::tempdir().unwrap();
    let default = home.path().join(".local/share/hookgate");
    let mut command = at_home(home.path());
    command.args(["admin", "token", "--email", "ops@acme.example"]);
    let out = run_command(command, b"");
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains(&format!("no hookgate data in {}", default.display())),
        "{err}"
    );
    assert!(
        err.contains("the default")
            && err.contains("--data-dir")
            && err.contains("HOOKGATE_DATA_DIR"),
        "{err}"
    );
    assert!(out.stdout.is_empty());
    assert_empty(home.path());
}

#[test]
fn a_data_dir_without_data_suggests_the_installation_that_exists() {
    let home = tempfile::tempdir().unwrap();
    let default = home.path().join(".local/share/hookgate");
    // `admin create` may start an installation, and says where it did.
    let mut command = at_home(home.path());
    command.args([
        "admin",
        "create",
        "--email",
        "ops@acme.example",
        "--password-stdin",
    ]);
    let out = run_command(command, format!("{PASSWORD}\n").as_bytes());
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!(
            "started a new installation in {}",
            default.display()
        )),
        "{}",
        stderr(&out)
    );

    let typo = home.path().join("hookgate-data");
    let config = home.path().join("hookgate.toml");
    std::fs::write(
        &config,
        format!("data_dir = {:?}\n", typo.to_str().unwrap()),
    )
    .unwrap();
    let token = ["admin", "token", "--email", "ops@acme.example"];
    let mut by_flag = at_home(home.path());
    by_flag.arg("--data-dir").arg(&typo).args(token);
    let mut by_env = at_home(home.path());
    by_env.env("HOOKGATE_DATA_DIR", &typo).args(token);
    let mut by_file = at_home(home.path());
    by_file.arg("--config").arg(&config).args(token);
    let origins = [
        "given with --data-dir".to_string(),
        "from HOOKGATE_DATA_DIR".to_string(),
        format!("data_dir in {}", config.display()),
    ];
    for (command, origin) in [by_flag, by_env, by_file].into_iter().zip(origins) {
        let out = run_command(command, b"");
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        assert!(out.stdout.is_empty());
        let err = stderr(&out);
        assert!(
            err.contains(&format!(
                "no hookgate data in {} ({origin})",
                typo.display()
            )),
            "{err}"
        );
        assert!(
            err.contains(&format!("did you mean --data-dir {}?", default.display())),
            "{err}"
        );
    }
    assert!(!typo.exists(), "a second data dir was created");

    // The default, which holds the installation, works without any setting.
    let mut command = at_home(home.path());
    command.args(token);
    let out = run_command(command, b"");
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn admin_create_without_a_terminal_says_to_use_password_stdin() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = run(
        &[
            "--data-dir",
            data.to_str().unwrap(),
            "admin",
            "create",
            "--email",
            "ops@acme.example",
        ],
        b"a password typed into a pipe\n",
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("--password-stdin"),
        "{}",
        stderr(&out)
    );
    assert!(!data.exists(), "nothing is created without a password");
}

#[test]
fn a_database_whose_master_key_is_missing_is_not_given_a_new_key() {
    let (_dir, data) = installed();
    let key = data.join("master.key");
    std::fs::remove_file(&key).unwrap();
    let data_arg = data.to_str().unwrap();
    let token = run(
        &[
            "--data-dir",
            data_arg,
            "admin",
            "token",
            "--email",
            "ops@acme.example",
        ],
        b"",
    );
    let serve = run(
        &["--data-dir", data_arg, "--bind", "127.0.0.1:0", "serve"],
        b"",
    );
    let create = run(
        &[
            "--data-dir",
            data_arg,
            "admin",
            "create",
            "--email",
            "two@acme.example",
            "--password-stdin",
        ],
        format!("{PASSWORD}\n").as_bytes(),
    );
    for out in [token, serve, create] {
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        assert!(
            stderr(&out).contains(&format!("master key {} does not", key.display())),
            "{}",
            stderr(&out)
        );
    }
    assert!(!key.exists(), "a new master key was made");
}

/// Runs `backup` against `data` with extra arguments.
fn backup(data: &std::path::Path, args: &[&str]) -> Output {
    run(
        &[&["--data-dir", data.to_str().unwrap(), "backup"], args].concat(),
        b"",
    )
}

#[tokio::test]
async fn backup_refuses_the_live_database_its_wal_shm_and_key_also_through_links() {
    let app = spawn_app().await;
    app.approved_merchant("live@acme.example").await;
    let data = app.data_dir.clone();
    let before = names_in(&data);
    assert!(
        before.contains(&"hookgate.db-wal".to_string())
            && before.contains(&"hookgate.db-shm".to_string()),
        "the server has its WAL open: {before:?}"
    );
    let key = std::fs::read(data.join("master.key")).unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let link = |name: &str, to: &str| {
        let path = elsewhere.path().join(name);
        std::os::unix::fs::symlink(data.join(to), &path).unwrap();
        path
    };
    let hard = elsewhere.path().join("hard.db");
    std::fs::hard_link(data.join("hookgate.db"), &hard).unwrap();
    let cases = [
        (data.join("hookgate.db"), "is the live database;"),
        (data.join("hookgate.db-wal"), "is the live database's WAL"),
        (data.join("hookgate.db-shm"), "(SHM)"),
        (data.join("master.key"), "is the master key"),
        (data.join("../data/backup.db"), "is in the data dir"),
        (link("db-link", "hookgate.db"), "is the live database;"),
        (
            link("wal-link", "hookgate.db-wal"),
            "is the live database's WAL",
        ),
        (link("shm-link", "hookgate.db-shm"), "(SHM)"),
        (hard.clone(), "is the live database;"),
    ];
    let dir = data.clone();
    let results = tokio::task::spawn_blocking(move || {
        cases.map(|(out, expected)| {
            let res = backup(&dir, &["--force", "--out", out.to_str().unwrap()]);
            (out, expected, res)
        })
    })
    .await
    .unwrap();
    for (out, expected, res) in &results {
        assert_eq!(
            res.status.code(),
            Some(1),
            "{}: {}",
            out.display(),
            stderr(res)
        );
        assert!(
            stderr(res).contains(expected),
            "{}: {}",
            out.display(),
            stderr(res)
        );
    }
    // Nothing was written next to the live files, and the server goes on.
    assert_eq!(names_in(&data), before);
    assert_eq!(std::fs::read(data.join("master.key")).unwrap(), key);
    app.approved_merchant("after@acme.example").await;
    let check = tokio::task::spawn_blocking(move || {
        run(&["--data-dir", data.to_str().unwrap(), "check"], b"")
    })
    .await
    .unwrap();
    assert!(check.status.success(), "{}", stderr(&check));
}

#[test]
fn backup_refuses_a_directory_and_leaves_nothing_in_it() {
    let (dir, data) = installed();
    let target = dir.path().join("backups");
    std::fs::create_dir(&target).unwrap();
    let with_slash = format!("{}/", target.display());
    let absent = format!("{}/", dir.path().join("absent").display());
    for out in [target.to_str().unwrap(), &with_slash, &absent] {
        for force in [&[][..], &["--force"]] {
            let res = backup(&data, &[force, &["--out", out]].concat());
            assert_eq!(res.status.code(), Some(1), "{out}: {}", stderr(&res));
            assert!(
                stderr(&res).contains("names a directory"),
                "{}",
                stderr(&res)
            );
        }
    }
    assert_empty(&target);
    assert_eq!(names_in(dir.path()), ["backups", "data"]);
}

#[test]
fn backup_replaces_an_existing_file_only_with_force() {
    let (dir, data) = installed();
    let out = dir.path().join("copy.db");
    std::fs::write(&out, b"yesterday's backup").unwrap();
    let res = backup(&data, &["--out", out.to_str().unwrap()]);
    assert_eq!(res.status.code(), Some(1), "{}", stderr(&res));
    assert!(
        stderr(&res).contains("exists; pass --force"),
        "{}",
        stderr(&res)
    );
    assert_eq!(std::fs::read(&out).unwrap(), b"yesterday's backup");

    let res = backup(&data, &["--force", "--out", out.to_str().unwrap()]);
    assert!(res.status.success(), "{}", stderr(&res));
    let conn = rusqlite::Connection::open(&out).unwrap();
    let admins: i64 = conn
        .query_row("SELECT count(*) FROM admins", [], |r| r.get(0))
        .unwrap();
    assert_eq!(admins, 1);
    assert_eq!(names_in(dir.path()), ["copy.db", "data"]);
}

#[test]
fn a_backup_that_cannot_write_leaves_no_partial_file() {
    let (dir, data) = installed();
    let target = dir.path().join("backups");
    std::fs::create_dir(&target).unwrap();
    let out = target.join("copy.db");
    // Writes past 16 KiB fail (EFBIG) instead of killing the process (SIGXFSZ is ignored).
    let script = r#"trap '' XFSZ; ulimit -f 32; exec "$@""#;
    let res = Command::new("sh")
        .args([
            "-c",
            script,
            "sh",
            BIN,
            "--data-dir",
            data.to_str().unwrap(),
        ])
        .args(["backup", "--out", out.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(res.status.code(), Some(1), "{}", stderr(&res));
    assert!(stderr(&res).contains("backup failed"), "{}", stderr(&res));
    assert_empty(&target);
}

#[test]
fn a_running_backup_is_not_mistaken_for_a_killed_one() {
    let (dir, data) = installed();
    let out = dir.path().join("copy.db");
    // The copy in progress of another backup, holding its lock.
    let partial = dir.path().join(".copy.db.partial");
    let running = std::fs::File::create(&partial).unwrap();
    running.lock().unwrap();
    let res = backup(&data, &["--out", out.to_str().unwrap()]);
    assert_eq!(res.status.code(), Some(1), "{}", stderr(&res));
    assert!(stderr(&res).contains("another backup"), "{}", stderr(&res));
    assert!(partial.exists() && !out.exists());
}

#[tokio::test]
async fn backup_to_dash_streams_a_valid_copy_to_stdout() {
    let app = spawn_app().await;
    app.approved_merchant("stream@acme.example").await;
    let tmp = tempfile::tempdir().unwrap();
    let mut command = Command::new(BIN);
    command.env("TMPDIR", tmp.path()).args([
        "--data-dir",
        app.data_dir.to_str().unwrap(),
        "backup",
        "--out",
        "-",
    ]);
    let out = tokio::task::spawn_blocking(move || run_command(command, b""))
        .await
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(out.stdout.starts_with(b"SQLite format 3\0"));
    let copy_dir = tempfile::tempdir().unwrap();
    let copy = copy_dir.path().join("copy.db");
    std::fs::write(&copy, &out.stdout).unwrap();
    let conn = rusqlite::Connection::open(&copy).unwrap();
    let ok: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(ok, "ok");
    let merchants: i64 = conn
        .query_row(
            "SELECT count(*) FROM merchants WHERE email = 'stream@acme.example'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(merchants, 1);
    assert_empty(tmp.path());
}

#[test]
fn backup_to_a_stdout_that_cannot_be_written_fails_and_leaves_no_copy() {
    let (_dir, data) = installed();
    let tmp = tempfile::tempdir().unwrap();
    let full = std::fs::File::options()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let res = Command::new(BIN)
        .env("TMPDIR", tmp.path())
        .args(["--data-dir", data.to_str().unwrap(), "backup", "--out", "-"])
        .stdout(full)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert_eq!(res.status.code(), Some(1), "{}", stderr(&res));
    assert!(
        stderr(&res).contains("writing the copy"),
        "{}",
        stderr(&res)
    );
    assert_empty(tmp.path());
}
