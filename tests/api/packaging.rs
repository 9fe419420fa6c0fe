//! What the Debian package ships besides the binary: the man page and shell completions are
//! generated from the CLI definition itself (clap's own generators) and committed under
//! packaging/, so `cargo deb` works from a clean clone. This test fails when they drift from the
//! CLI; `HOOKGATE_UPDATE_PACKAGING=1 cargo test --test api packaging` rewrites them.

use clap::CommandFactory;
use clap_complete::Shell;
use hookgate::cli::Cli;
use std::path::{Path, PathBuf};

fn packaging() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("packaging")
}

/// The generated files: (path under packaging/, contents).
fn generated() -> Vec<(&'static str, Vec<u8>)> {
    let mut man = Vec::new();
    clap_mangen::Man::new(Cli::command())
        .render(&mut man)
        .expect("render the man page");
    let mut files = vec![("hookgate.1", man)];
    for (shell, name) in [
        (Shell::Bash, "completions/hookgate.bash"),
        (Shell::Zsh, "completions/_hookgate"),
        (Shell::Fish, "completions/hookgate.fish"),
    ] {
        let mut out = Vec::new();
        clap_complete::generate(shell, &mut Cli::command(), "hookgate", &mut out);
        files.push((name, out));
    }
    files
}

#[test]
fn the_man_page_and_completions_match_the_cli() {
    let update = std::env::var("HOOKGATE_UPDATE_PACKAGING").is_ok_and(|v| v == "1");
    for (name, contents) in generated() {
        let path = packaging().join(name);
        if update {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &contents).unwrap();
            continue;
        }
        let committed = std::fs::read(&path).unwrap_or_default();
        assert!(
            committed == contents,
            "packaging/{name} is not what the CLI generates; run \
             HOOKGATE_UPDATE_PACKAGING=1 cargo test --test api packaging"
        );
    }
    // The man page documents every subcommand and the config option.
    let man = String::from_utf8(generated().remove(0).1).unwrap();
    for word in ["serve", "admin", "check", "backup", "sign", "config"] {
        assert!(man.contains(word), "the man page mentions {word}");
    }
}

/// The unit runs the binary the package installs, with the config file the package installs, as
/// the hookgate user, confined.
#[test]
fn the_systemd_unit_runs_the_packaged_binary_confined() {
    let unit = std::fs::read_to_string(packaging().join("hookgate.service")).unwrap();
    assert!(
        unit.contains("ExecStart=/usr/bin/hookgate --config /etc/hookgate/hookgate.toml serve")
    );
    for line in [
        "User=hookgate",
        "StateDirectory=hookgate",
        "ProtectSystem=strict",
        "NoNewPrivileges=true",
        "CapabilityBoundingSet=",
    ] {
        assert!(unit.lines().any(|l| l == line), "{line}");
    }
    let config = std::fs::read_to_string(packaging().join("hookgate.toml")).unwrap();
    let parsed: toml::Table = config.parse().expect("the packaged config is valid TOML");
    assert_eq!(parsed["data_dir"].as_str(), Some("/var/lib/hookgate"));
    let cargo =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml")).unwrap();
    let manifest: toml::Table = cargo.parse().unwrap();
    let deb = &manifest["package"]["metadata"]["deb"];
    for asset in deb["assets"].as_array().unwrap() {
        let source = asset[0].as_str().unwrap();
        if !source.starts_with("target/") {
            assert!(
                Path::new(env!("CARGO_MANIFEST_DIR")).join(source).is_file(),
                "the package's asset {source} exists"
            );
        }
    }
}
